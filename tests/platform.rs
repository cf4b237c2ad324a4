//! The platform as staff meet it: first-run setup, signing in and out, the dashboard, sessions,
//! passwords, static files and the health check. Every test runs on SQLite and, when configured,
//! on PostgreSQL.

use hms_testkit::{each_backend, TestApp, PASSWORD};
use sqlx::Row;

async fn session_row_count(app: &TestApp) -> i64 {
    app.count("sessions").await
}

each_backend! {
    async fn health_check_answers_ok_when_the_database_answers(app) {
        let r = app.client().get("/healthz").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "ok");
    }

    async fn first_run_sends_every_page_to_setup_until_an_administrator_exists(app) {
        let c = app.client();
        for path in ["/", "/login", "/account/password", "/no-such-page"] {
            let r = c.get(path).await;
            assert_eq!(r.status, 303, "{path}");
            assert_eq!(r.location(), Some("/setup"), "{path}");
        }
        assert_eq!(c.get("/healthz").await.status, 200);
        assert_eq!(c.get("/static/htmx.min.js").await.status, 200);
        assert_eq!(app.count("users").await, 0);

        let admin = app.setup_admin().await;
        let home = admin.get("/").await;
        assert_eq!(home.status, 200);
        assert!(home.body.contains("Amina Wanjiku"), "dashboard greets the admin");
        assert!(home.body.contains("Administrator"), "dashboard shows the role");
        assert!(home.body.contains("Mwangaza Health Centre"), "top bar shows the facility");
        assert_eq!(app.audit_count("user.create").await, 1);
        assert_eq!(app.audit_count("setup.complete").await, 1);

        // No second setup, by page or by form.
        let other = app.client();
        assert_eq!(other.get("/setup").await.status, 404);
        let again = other
            .post_form("/setup", &[
                ("facility_name", "Other"), ("full_name", "Mallory"), ("username", "mallory"),
                ("password", PASSWORD), ("password_confirm", PASSWORD),
            ])
            .await;
        assert_eq!(again.status, 404);
        assert_eq!(app.count("users").await, 1);
    }

    async fn setup_explains_bad_input_and_creates_nothing(app) {
        let c = app.client();
        c.get("/setup").await;
        let r = c
            .post_form("/setup", &[
                ("facility_name", ""), ("full_name", "A"), ("username", "bad name"),
                ("password", "password123"), ("password_confirm", "password124"),
            ])
            .await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("Enter the facility"), "facility message");
        assert!(r.body.contains("Enter the person"), "full name message");
        assert!(r.body.contains("no spaces"), "username message");
        assert!(r.body.contains("too common"), "common password message");
        assert!(r.body.contains("not the same"), "confirmation message");
        assert!(r.body.contains("value=\"bad name\""), "typed values are kept");
        assert_eq!(app.count("users").await, 0);
        assert_eq!(app.count("sessions").await, 0);
    }

    async fn staff_sign_in_see_their_dashboard_and_sign_out(app) {
        app.setup_admin().await;
        app.add_user("wanjiru", &["nurse", "receptionist"]).await;
        let c = app.client();
        let r = c.login("wanjiru", PASSWORD).await;
        assert_eq!(r.status, 303);
        assert_eq!(r.location(), Some("/"));
        let home = c.get("/").await;
        assert_eq!(home.status, 200);
        assert!(home.body.contains("wanjiru Test"));
        assert!(home.body.contains("Nurse") && home.body.contains("Receptionist"));
        assert!(home.body.contains("/appointments/cards/today"), "her roles' cards");
        assert!(!home.body.contains("/admin/cards/users"), "and no one else's");
        assert_eq!(app.audit_count("auth.login").await, 1);

        let out = c.post_form("/logout", &[]).await;
        assert_eq!(out.status, 303);
        assert_eq!(out.location(), Some("/login"));
        let login = c.get("/login").await;
        assert!(login.body.contains("You have signed out."), "flash after sign out");
        assert_eq!(app.audit_count("auth.logout").await, 1);
        let after = c.get("/").await;
        assert_eq!(after.status, 303, "the old session no longer works");
        assert_eq!(after.location(), Some("/login?next=%2F"));
    }

    async fn wrong_password_and_unknown_user_get_the_same_answer(app) {
        app.setup_admin().await;
        app.add_user("otieno", &["doctor"]).await;
        let c = app.client();
        let wrong = c.login("otieno", "not the right password").await;
        let unknown = c.login("nobody-here", "not the right password").await;
        assert_eq!(wrong.status, 422);
        assert_eq!(unknown.status, 422);
        let msg = "The username or password is not correct";
        assert!(wrong.body.contains(msg) && unknown.body.contains(msg));
        assert!(c.cookie("hms_session").is_none());
        assert_eq!(app.audit_count("auth.login_failed").await, 2);
    }

    async fn disabled_users_cannot_sign_in_and_their_sessions_end_at_once(app) {
        app.setup_admin().await;
        let id = app.add_user("kiprono", &["pharmacist"]).await;
        let c = app.login("kiprono").await;
        assert_eq!(c.get("/").await.status, 200);

        let mut tx = app.db().begin().await.unwrap();
        hms_core::auth::users::disable(&mut tx, id, &hms_core::audit::Actor::cli(None)).await.unwrap();
        tx.commit().await.unwrap();
        // Disabled from the command line, another process: seen once the session cache lapses.
        app.forget_cached_sessions();

        assert_eq!(c.get("/").await.status, 303, "session ended with the account");
        let again = app.client().login("kiprono", PASSWORD).await;
        assert_eq!(again.status, 422);
        assert!(again.body.contains("disabled"));
        assert_eq!(app.audit_count("user.disable").await, 1);
    }

    async fn login_returns_to_the_page_asked_for_but_never_off_site(app) {
        app.setup_admin().await;
        let c = app.client();
        let r = c.get("/account/password").await;
        assert_eq!(r.status, 303);
        assert_eq!(r.location(), Some("/login?next=%2Faccount%2Fpassword"));
        let page = c.get("/login?next=%2Faccount%2Fpassword").await;
        assert!(page.body.contains("action=\"/login?next=%2Faccount%2Fpassword\""));
        let r = c.post_form("/login?next=%2Faccount%2Fpassword", &[("username", "admin"), ("password", PASSWORD)]).await;
        assert_eq!(r.location(), Some("/account/password"));

        let c2 = app.client();
        c2.get("/login").await;
        let r = c2.post_form("/login?next=https%3A%2F%2Fevil.example%2F", &[("username", "admin"), ("password", PASSWORD)]).await;
        assert_eq!(r.location(), Some("/"));
    }

    async fn unauthenticated_htmx_requests_get_401_with_a_redirect_header(app) {
        app.setup_admin().await;
        let r = app.client().get_htmx("/").await;
        assert_eq!(r.status, 401);
        assert_eq!(r.header("HX-Redirect"), Some("/login"));
    }

    async fn sessions_are_stored_hashed_and_renewed_at_login(app) {
        app.setup_admin().await;
        let c = app.client();
        c.set_cookie("hms_session", &"a".repeat(64));
        c.login("admin", PASSWORD).await;
        let token = c.cookie("hms_session").expect("session cookie");
        assert_ne!(token, "a".repeat(64), "a new id at login");
        assert_eq!(token.len(), 64);
        let rows = sqlx::query("SELECT id_hash FROM sessions")
            .fetch_all(app.db().read()).await.unwrap();
        let hashes: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert!(!hashes.contains(&token), "the id itself is never stored");
        assert!(hashes.contains(&hms_core::auth::token_hash(&token)));
    }

    async fn sessions_end_after_idle_and_absolute_timeouts(app) {
        app.setup_admin().await;
        let idle = app.login("admin").await;
        let long = app.login("admin").await;
        let now = hms_core::clock::now_ms();
        let idle_hash = hms_core::auth::token_hash(&idle.cookie("hms_session").unwrap());
        let long_hash = hms_core::auth::token_hash(&long.cookie("hms_session").unwrap());
        let mut tx = app.db().begin().await.unwrap();
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now - 31 * 60_000).bind(&idle_hash).execute(&mut *tx).await.unwrap();
        sqlx::query("UPDATE sessions SET created_at = $1 WHERE id_hash = $2")
            .bind(now - 13 * 3_600_000).bind(&long_hash).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        app.forget_cached_sessions();
        assert_eq!(idle.get("/").await.status, 303, "idle timeout");
        assert_eq!(long.get("/").await.status, 303, "absolute timeout");
        let fresh = app.login("admin").await;
        assert_eq!(fresh.get("/").await.status, 200);
    }

    async fn page_views_write_nothing_and_last_seen_is_refreshed_about_once_a_minute(app) {
        app.setup_admin().await;
        let c = app.login("admin").await;
        let hash = hms_core::auth::token_hash(&c.cookie("hms_session").unwrap());
        let seen = |app: &TestApp, hash: String| {
            let db = app.db().clone();
            async move {
                sqlx::query("SELECT last_seen_at FROM sessions WHERE id_hash = $1")
                    .bind(hash).fetch_one(db.read()).await.unwrap().get::<i64, _>(0)
            }
        };
        let before = seen(&app, hash.clone()).await;
        let audit_before = app.count("audit_log").await;
        for _ in 0..5 {
            assert_eq!(c.get("/").await.status, 200);
        }
        assert_eq!(seen(&app, hash.clone()).await, before, "no write within a minute");
        assert_eq!(app.count("audit_log").await, audit_before);

        // Two minutes later the next view refreshes it.
        let mut tx = app.db().begin().await.unwrap();
        sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 120000 WHERE id_hash = $1")
            .bind(&hash).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        app.forget_cached_sessions();
        c.get("/").await;
        assert!(seen(&app, hash).await >= before, "refreshed");
    }

    async fn page_views_reuse_a_session_for_seconds_and_forms_end_it_at_once(app) {
        let admin = app.setup_admin().await;
        let id = app.add_user("wanjiru", &["receptionist"]).await;
        let desk = app.login("wanjiru").await;
        assert_eq!(desk.get("/").await.status, 200);
        // Another app server signs the receptionist out: this one still knows the session for
        // a few seconds, then reads the database again and finds it gone.
        let mut tx = app.db().begin().await.unwrap();
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(hms_core::auth::token_hash(&desk.cookie("hms_session").unwrap()))
            .execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(desk.get("/").await.status, 200, "served from the cache");
        app.forget_cached_sessions();
        assert_eq!(desk.get("/").await.status, 303, "gone once the cache lapses");

        // A change made through this server counts at once: the admin disables a user whose
        // session was just cached.
        let desk = app.login("wanjiru").await;
        assert_eq!(desk.get("/").await.status, 200);
        assert_eq!(admin.get(&format!("/admin/users/{id}")).await.status, 200);
        let r = admin.post_form(&format!("/admin/users/{id}/disable"), &[]).await;
        assert_eq!(r.status, 303);
        assert_eq!(desk.get("/").await.status, 303, "refused at the next page");
    }

    async fn showing_the_login_page_writes_nothing_to_the_database(app) {
        app.setup_admin().await;
        let counts = |app: &TestApp| {
            let app_db = app.db().clone();
            async move {
                let mut out = Vec::new();
                for sql in ["SELECT COUNT(*) FROM sessions", "SELECT COUNT(*) FROM audit_log",
                            "SELECT COUNT(*) FROM settings", "SELECT COUNT(*) FROM login_throttle"] {
                    out.push(sqlx::query(sql).fetch_one(app_db.read()).await.unwrap().get::<i64, _>(0));
                }
                out
            }
        };
        let before = counts(&app).await;
        for _ in 0..3 {
            let c = app.client();
            let r = c.get("/login").await;
            assert_eq!(r.status, 200);
            assert!(c.cookie("hms_csrf").is_some(), "signed CSRF cookie instead of a row");
        }
        assert_eq!(counts(&app).await, before);
    }

    async fn staff_change_their_password_and_other_devices_are_signed_out(app) {
        app.setup_admin().await;
        app.add_user("achieng", &["accountant"]).await;
        let laptop = app.login("achieng").await;
        let phone = app.login("achieng").await;
        laptop.get("/account/password").await;
        let bad = laptop.post_form("/account/password", &[
            ("current_password", "wrong one here"), ("password", "short"), ("password_confirm", "other"),
        ]).await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("current password is not correct"));
        assert!(bad.body.contains("at least 10 characters"));
        let new_pw = "blue river morning tea";
        let ok = laptop.post_form("/account/password", &[
            ("current_password", PASSWORD), ("password", new_pw), ("password_confirm", new_pw),
        ]).await;
        assert_eq!(ok.status, 303);
        let home = laptop.get("/").await;
        assert_eq!(home.status, 200, "this device stays signed in");
        assert!(home.body.contains("Your password has been changed."));
        assert_eq!(phone.get("/").await.status, 303, "the other device is signed out");
        assert_eq!(app.client().login("achieng", PASSWORD).await.status, 422);
        assert_eq!(app.client().login("achieng", new_pw).await.status, 303);
        assert_eq!(app.audit_count("user.set_password").await, 1);
    }

    async fn repeated_failures_slow_down_one_address_but_never_lock_others_out(app) {
        app.setup_admin().await;
        app.add_user("njeri", &["doctor"]).await;
        let attacker = app.client_from("198.51.100.7:4000");
        for _ in 0..5 {
            assert_eq!(attacker.login("njeri", "guessing wrongly").await.status, 422);
        }
        let slowed = attacker.login("njeri", PASSWORD).await;
        assert_eq!(slowed.status, 429, "even the right password waits out the delay");
        assert!(slowed.body.contains("Wait"), "tells how long to wait");
        assert_eq!(app.audit_count("auth.login_throttled").await, 1);

        // The doctor at her own desk is not affected.
        let desk = app.client_from("192.0.2.44:5000");
        assert_eq!(desk.login("njeri", PASSWORD).await.status, 303);

        // An administrator clears the delay (the CLI does this).
        let mut tx = app.db().begin().await.unwrap();
        let cleared = hms_core::auth::throttle::clear_user(&mut tx, "njeri").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(cleared, 1);
        assert_eq!(attacker.login("njeri", PASSWORD).await.status, 303);
    }

    async fn htmx_requests_get_the_fragment_and_history_restores_get_the_page(app) {
        app.setup_admin().await;
        let c = app.login("admin").await;
        let full = c.get("/").await;
        assert!(full.body.starts_with("<!doctype html>"));
        let frag = c.get_htmx("/").await;
        assert_eq!(frag.status, 200);
        assert!(!frag.body.contains("<html"), "fragment only");
        assert!(frag.body.contains("<h1"));
        let restore = c.send(poem::http::Method::GET, "/", &[("HX-Request", "true"), ("HX-History-Restore-Request", "true")], Vec::new()).await;
        assert!(restore.body.starts_with("<!doctype html>"), "whole page for history restore");
    }

    async fn every_response_carries_the_security_headers(app) {
        app.setup_admin().await;
        let c = app.login("admin").await;
        let csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
        for path in ["/", "/login", "/healthz", "/static/hms.css", "/no-such-page"] {
            let r = c.get(path).await;
            assert_eq!(r.header("content-security-policy"), Some(csp), "{path}");
            assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{path}");
            assert_eq!(r.header("referrer-policy"), Some("same-origin"), "{path}");
            let vary: Vec<&str> = r.headers.get_all("vary").iter().filter_map(|v| v.to_str().ok()).collect();
            assert!(vary.contains(&"HX-Request"), "{path}: {vary:?}");
        }
        assert_eq!(c.get("/").await.header("cache-control"), Some("no-store"));
        assert!(!c.get("/").await.body.contains("<script>"), "no inline scripts");
        assert!(!c.get("/").await.body.contains("style=\""), "no inline styles");
    }

    async fn static_files_are_embedded_with_etags_and_long_lives_when_versioned(app) {
        let c = app.client();
        let htmx = c.get("/static/htmx.min.js").await;
        assert_eq!(htmx.status, 200);
        assert!(htmx.body.contains("2.0."), "htmx 2.0.x");
        assert!(htmx.header("content-type").unwrap().starts_with("text/javascript"));
        let etag = htmx.header("etag").unwrap().to_string();
        let again = c.send(poem::http::Method::GET, "/static/htmx.min.js", &[("If-None-Match", &etag)], Vec::new()).await;
        assert_eq!(again.status, 304);
        let version = etag.trim_matches('"');
        let versioned = c.get(&format!("/static/htmx.min.js?v={version}")).await;
        assert!(versioned.header("cache-control").unwrap().contains("immutable"));
        assert_eq!(c.get("/favicon.ico").await.header("content-type"), Some("image/x-icon"));
        assert!(c.get("/static/bootstrap.min.css").await.body.contains("Bootstrap"));
        assert_eq!(c.get("/static/nope.js").await.status, 404);

        // Compressed for browsers that accept it (slow clinic links), identical once unpacked.
        let gz = c.send(poem::http::Method::GET, "/static/bootstrap.min.css", &[("Accept-Encoding", "gzip, deflate")], Vec::new()).await;
        assert_eq!(gz.header("content-encoding"), Some("gzip"));
        assert_ne!(gz.header("etag"), c.get("/static/bootstrap.min.css").await.header("etag"));
        let plain = c.get("/static/bootstrap.min.css").await;
        assert_eq!(&gz.bytes[..2], &[0x1f, 0x8b], "a gzip stream");
        assert!(gz.bytes.len() * 3 < plain.bytes.len(), "{} vs {}", gz.bytes.len(), plain.bytes.len());
    }

    async fn the_audit_log_refuses_updates_and_deletes(app) {
        app.setup_admin().await;
        let mut tx = app.db().begin().await.unwrap();
        let upd = sqlx::query("UPDATE audit_log SET action = 'x'").execute(&mut *tx).await;
        assert!(upd.is_err(), "update refused");
        drop(tx);
        let mut tx = app.db().begin().await.unwrap();
        let del = sqlx::query("DELETE FROM audit_log").execute(&mut *tx).await;
        assert!(del.is_err(), "delete refused");
        drop(tx);
        assert!(app.count("audit_log").await >= 2);
    }

    async fn the_seven_roles_of_the_roadmap_are_seeded(app) {
        let roles = hms_core::auth::users::all_roles(app.db()).await.unwrap();
        let names: Vec<_> = roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["admin", "receptionist", "doctor", "nurse", "lab_tech", "pharmacist", "accountant"]);
        let _ = session_row_count(&app).await;
    }
}

/// Both migration streams define the same tables and views, and the same columns (`hms_uuid7`,
/// SQLite's view standing in for PostgreSQL's uuid function, aside).
#[tokio::test]
async fn sqlite_and_postgres_schemas_have_the_same_tables_and_columns() {
    let Some(pg) = TestApp::start(hms_testkit::Backend::Postgres).await else {
        return;
    };
    let lite = TestApp::start(hms_testkit::Backend::Sqlite).await.unwrap();
    let mut sqlite_cols: Vec<(String, String)> = Vec::new();
    let tables = sqlx::query("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' \
         AND name <> 'hms_uuid7' ORDER BY name")
        .fetch_all(lite.db().read()).await.unwrap();
    for t in tables {
        let table: String = t.get(0);
        let cols = sqlx::query("SELECT name FROM pragma_table_info($1)")
            .bind(&table)
            .fetch_all(lite.db().read())
            .await
            .unwrap();
        for c in cols {
            sqlite_cols.push((table.clone(), c.get(0)));
        }
    }
    let mut pg_cols: Vec<(String, String)> = sqlx::query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public'")
        .fetch_all(pg.db().read()).await.unwrap()
        .into_iter().map(|r| (r.get(0), r.get(1))).collect();
    sqlite_cols.sort();
    pg_cols.sort();
    assert!(sqlite_cols.len() > 20);
    assert_eq!(sqlite_cols, pg_cols);
}

each_backend! {
    async fn staff_choose_english_or_kiswahili_and_the_choice_sticks(app) {
        app.setup_admin().await;
        app.add_user("amani", &["nurse"]).await;
        let sw_title = hms_core::i18n::t_in("sw", "login.title");
        assert_ne!(sw_title, hms_core::i18n::t_in("en", "login.title"));

        // Before signing in: the switch on the sign-in page, kept in a cookie.
        let c = app.client();
        let page = c.get("/login").await;
        assert!(page.body.contains("<html lang=\"en\">"));
        let r = c.post_form("/language", &[("lang", "sw"), ("next", "/login")]).await;
        assert_eq!(r.status, 303);
        assert_eq!(r.location(), Some("/login"));
        let page = c.get("/login").await;
        assert!(page.body.contains("<html lang=\"sw\">"));
        assert!(page.body.contains(&sw_title), "the sign-in page in Kiswahili");

        // Signed in: the choice is kept on the account, on any device.
        assert_eq!(c.login("amani", PASSWORD).await.status, 303);
        c.get("/").await;
        c.post_form("/language", &[("lang", "sw"), ("next", "/")]).await;
        let other_device = app.login("amani").await;
        let home = other_device.get("/").await;
        assert!(home.body.contains("<html lang=\"sw\">"), "the account remembers");
        assert_eq!(app.audit_count("user.language").await, 1);
        let r = other_device.post_form("/language", &[("lang", "fr"), ("next", "/")]).await;
        assert_eq!(r.status, 400, "only the languages HMS speaks");
        let r = other_device.post_form("/language", &[("lang", "en"), ("next", "https://evil.example/")]).await;
        assert_eq!(r.location(), Some("/"), "never off-site");
    }
}

/// Inserts `value` into the scratch table of the group-commit test through [`Db::write`].
async fn write_value(db: hms_core::db::Db, value: String) -> Result<String, String> {
    db.write(move |tx| {
        let value = value.clone();
        Box::pin(async move {
            sqlx::query("INSERT INTO group_scratch (v) VALUES ($1)")
                .bind(&value)
                .execute(&mut **tx)
                .await?;
            Ok(value)
        })
    })
    .await
    .map_err(|e| e.to_string())
}

each_backend! {
    async fn writes_queued_together_share_a_commit_and_a_refused_one_takes_no_other_with_it(app) {
        let db = app.db().clone();
        sqlx::query("CREATE TABLE group_scratch (v TEXT PRIMARY KEY)")
            .execute(db.read()).await.unwrap();
        // Hold the writer so that the writes below queue up and are taken as groups.
        let mut hold = db.begin().await.unwrap();
        if app.backend == hms_testkit::Backend::Postgres {
            sqlx::query("LOCK TABLE group_scratch IN EXCLUSIVE MODE")
                .execute(&mut *hold).await.unwrap();
        }
        let mut writes = Vec::new();
        for i in 0..40 {
            // Two desks enter the same value (a document number) at the same moment.
            let value = if i == 10 || i == 20 { "dup".to_string() } else { format!("v{i:02}") };
            writes.push(tokio::spawn(write_value(db.clone(), value)));
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        hold.rollback().await.unwrap();
        let mut done = Vec::new();
        for w in writes {
            done.push(w.await.unwrap());
        }
        let refused: Vec<&String> = done.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(refused.len(), 1, "only the second 'dup' is refused: {refused:?}");
        assert!(refused[0].to_lowercase().contains("unique"), "{}", refused[0]);
        let mut stored: Vec<String> = sqlx::query("SELECT v FROM group_scratch ORDER BY v")
            .fetch_all(db.read()).await.unwrap()
            .into_iter().map(|r| r.get(0)).collect();
        assert_eq!(stored.len(), 39);
        let mut returned: Vec<String> = done.into_iter().filter_map(Result::ok).collect();
        returned.sort();
        stored.sort();
        assert_eq!(returned, stored, "each write returns its own result, once committed");
        let (commits, jobs) = db.write_stats();
        assert_eq!(jobs, 39);
        // The first write alone, then groups of up to 16; the group that held the refused write
        // ran again one write per commit (16), the rest shared theirs.
        assert!(commits <= 19, "39 writes queued together took {commits} commits");
        sqlx::query("DROP TABLE group_scratch").execute(db.read()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_committed_pages_reach_the_database_file_without_the_writer_copying_them() {
    let app = TestApp::start(hms_testkit::Backend::Sqlite).await.unwrap();
    let db = app.db().clone();
    let file = db.sqlite_file().unwrap().to_path_buf();
    sqlx::query("CREATE TABLE wal_scratch (v TEXT)")
        .execute(db.read())
        .await
        .unwrap();
    // Let the checkpointer catch up with the set-up, then note the file's size.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let before = std::fs::metadata(&file).unwrap().len();
    // About 400 pages: fewer than the writer's own checkpoint mark, so only the
    // background checkpointer can copy them into the database file.
    let mut tx = db.begin().await.unwrap();
    for i in 0..400 {
        sqlx::query("INSERT INTO wal_scratch (v) VALUES ($1)")
            .bind(format!("{i:04}{}", "x".repeat(4000)))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let grown = before + 400 * 4000;
    let mut size = 0;
    for _ in 0..50 {
        size = std::fs::metadata(&file).unwrap().len();
        if size >= grown {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        size >= grown,
        "database file {size} bytes, expected at least {grown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_fails_unexpectedly_leaves_the_writer_working() {
    let app = TestApp::start(hms_testkit::Backend::Sqlite).await.unwrap();
    let db = app.db().clone();
    sqlx::query("CREATE TABLE group_scratch (v TEXT PRIMARY KEY)")
        .execute(db.read())
        .await
        .unwrap();
    let broken = db
        .write(|tx| {
            Box::pin(async move {
                sqlx::query("INSERT INTO group_scratch (v) VALUES ('half')")
                    .execute(&mut **tx)
                    .await?;
                if true {
                    panic!("a bug in a write");
                }
                Ok(())
            })
        })
        .await;
    assert!(broken.is_err());
    assert_eq!(
        write_value(db.clone(), "after".into()).await,
        Ok("after".to_string())
    );
    let stored: Vec<String> = sqlx::query("SELECT v FROM group_scratch")
        .fetch_all(db.read())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, ["after"], "the broken write left nothing behind");
}

each_backend! {
    async fn a_read_dropped_halfway_leaves_every_reader_current_and_working(app) {
        use futures_util::StreamExt;
        let db = app.db().clone();
        sqlx::query("CREATE TABLE read_scratch (v BIGINT NOT NULL)")
            .execute(db.read()).await.unwrap();
        // A long result read in part, then dropped (a request cancelled by the browser), three
        // at a time, more often than there are connections.
        for _ in 0..8 {
            let mut partial = Vec::new();
            for _ in 0..3 {
                partial.push(sqlx::query(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
                     SELECT i FROM n",
                ).fetch(db.read()));
            }
            for rows in partial.iter_mut() {
                assert!(rows.next().await.unwrap().is_ok());
            }
            drop(partial);
        }
        // A write after them: every reader sees it (none is left inside an older snapshot).
        let mut tx = db.begin().await.unwrap();
        sqlx::query("INSERT INTO read_scratch (v) VALUES (42)").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let reads: Vec<_> = (0..24)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    sqlx::query("SELECT COUNT(*) FROM read_scratch WHERE v = 42")
                        .fetch_one(db.read()).await.map(|r| r.get::<i64, _>(0))
                })
            })
            .collect();
        for r in reads {
            assert_eq!(r.await.unwrap().unwrap(), 1, "a reader missed the committed row");
        }
        // A connection lent for several statements goes back for the next.
        for _ in 0..20 {
            let mut conn = db.read().acquire().await.unwrap();
            let one: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM read_scratch").fetch_one(&mut *conn).await.unwrap();
            assert_eq!(one, 1);
        }
        sqlx::query("DROP TABLE read_scratch").execute(db.read()).await.unwrap();
    }
}

each_backend! {
    async fn typed_values_round_trip_and_unique_violations_are_known_by_their_code(app) {
        use hms_core::{day::Day, db::DbError, ids::PatientId, money::Money};
        let db = app.db();
        sqlx::query("CREATE TABLE vocab_scratch (id BIGINT PRIMARY KEY, d TEXT NOT NULL, m BIGINT NOT NULL, code TEXT NOT NULL UNIQUE)")
            .execute(db.read()).await.unwrap();
        let day = Day::event("2026-12-06").unwrap();
        sqlx::query("INSERT INTO vocab_scratch (id, d, m, code) VALUES ($1, $2, $3, 'a')")
            .bind(PatientId(7)).bind(day).bind(Money::from_cents(125_050))
            .execute(db.read()).await.unwrap();
        let row = sqlx::query("SELECT id, d, m FROM vocab_scratch").fetch_one(db.read()).await.unwrap();
        assert_eq!(row.get::<PatientId, _>(0), PatientId(7));
        assert_eq!(row.get::<Day, _>(1), day);
        assert_eq!(row.get::<Money, _>(2).to_string(), "KES 1,250.50");

        let again = sqlx::query("INSERT INTO vocab_scratch (id, d, m, code) VALUES (8, '2026-12-07', 0, 'a')")
            .execute(db.read()).await.map_err(DbError::from).unwrap_err();
        let constraint = again.unique_constraint().expect("a unique violation").to_string();
        assert!(constraint.contains("code"), "names the constraint or column: {constraint}");
        let key = sqlx::query("INSERT INTO vocab_scratch (id, d, m, code) VALUES (7, '2026-12-07', 0, 'b')")
            .execute(db.read()).await.map_err(DbError::from).unwrap_err();
        assert!(key.is_unique(), "a taken primary key is a unique violation: {key}");
        let other = sqlx::query("INSERT INTO vocab_scratch (id, d, m, code) VALUES (9, NULL, 0, 'c')")
            .execute(db.read()).await.map_err(DbError::from).unwrap_err();
        assert!(!other.is_unique(), "a NOT NULL violation is not a unique one: {other}");

        let moved = sqlx::query("UPDATE vocab_scratch SET m = 1 WHERE id = 7 AND m = 0")
            .execute(db.read()).await.unwrap();
        assert!(matches!(hms_core::db::one_row(moved), Err(DbError::Conflict)));
        sqlx::query("DROP TABLE vocab_scratch").execute(db.read()).await.unwrap();
    }

    async fn the_install_facility_has_a_uuid_v7_that_never_changes(app) {
        let db = app.db();
        let uuid: String = sqlx::query_scalar("SELECT uuid FROM facilities WHERE id = 1")
            .fetch_one(db.read()).await.unwrap();
        let parts: Vec<&str> = uuid.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{uuid}");
        assert!(uuid.bytes().all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{uuid}");
        assert!(parts[2].starts_with('7') && "89ab".contains(&parts[3][..1]), "version 7, variant 10: {uuid}");
        let ms = i64::from_str_radix(&format!("{}{}", parts[0], parts[1]), 16).unwrap();
        let age = hms_core::clock::now_ms() - ms;
        assert!((0..86_400_000).contains(&age), "carries the time it was made: {age} ms ago");
        let changed = sqlx::query("UPDATE facilities SET uuid = 'x' WHERE id = 1").execute(db.read()).await;
        assert!(changed.is_err(), "a uuid never changes");
        sqlx::query("UPDATE facilities SET name = 'Kliniki' WHERE id = 1").execute(db.read()).await.unwrap();
    }
}
