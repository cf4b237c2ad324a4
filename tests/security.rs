//! The security floor: CSRF on every unsafe method, body limits, bad encodings, friendly error
//! pages and trusted proxies (what the logs may never contain: `logging.rs`).

use hms_testkit::{each_backend, Backend, TestApp, PASSWORD};
use poem::http::Method;

each_backend! {
    async fn forms_without_a_valid_csrf_token_are_refused_and_change_nothing(app) {
        app.setup_admin().await;
        let audit_before = app.count("audit_log").await;
        let sessions_before = app.count("sessions").await;

        // Anonymous form: no token, a wrong token, a token without its signed cookie.
        let c = app.client();
        c.get("/login").await;
        let none = c.post_form_raw("/login", &[("username", "admin"), ("password", PASSWORD)]).await;
        assert_eq!(none.status, 403);
        assert!(none.body.contains("Form expired"));
        let wrong = c.post_form_raw("/login", &[("csrf_token", "abc"), ("username", "admin"), ("password", PASSWORD)]).await;
        assert_eq!(wrong.status, 403);
        let token = c.csrf_token().unwrap();
        let stranger = app.client();
        let no_cookie = stranger.post_form_raw("/login", &[("csrf_token", &token), ("username", "admin"), ("password", PASSWORD)]).await;
        assert_eq!(no_cookie.status, 403, "the token must match the client's own signed cookie");
        stranger.set_cookie("hms_csrf", &format!("{token}.{}", "0".repeat(64)));
        let forged = stranger.post_form_raw("/login", &[("csrf_token", &token), ("username", "admin"), ("password", PASSWORD)]).await;
        assert_eq!(forged.status, 403, "a cookie with a forged signature is refused");
        assert_eq!(app.count("sessions").await, sessions_before);
        assert_eq!(app.count("login_throttle").await, 0);
        assert_eq!(app.count("audit_log").await, audit_before);

        // Signed-in form: logout without the session's token leaves the session alive.
        let user = app.login("admin").await;
        let out = user.post_form_raw("/logout", &[]).await;
        assert_eq!(out.status, 403);
        let anon_token = c.csrf_token().unwrap();
        let out = user.post_form_raw("/logout", &[("csrf_token", &anon_token)]).await;
        assert_eq!(out.status, 403, "another client's token does not work");
        assert_eq!(user.get("/").await.status, 200, "still signed in");

        // The header works as well as the field (HTMX sends the header).
        let token = user.csrf_token().unwrap();
        let out = user.send(Method::POST, "/logout", &[("X-CSRF-Token", &token)], Vec::new()).await;
        assert_eq!(out.status, 303);
        assert_eq!(user.get("/").await.status, 303);
    }

    async fn oversized_bodies_bad_encodings_and_wrong_content_types_get_clear_4xx(app) {
        app.setup_admin().await;
        let c = app.login("admin").await;
        let token = c.csrf_token().unwrap();
        let users_before = app.count("users").await;

        let big = vec![b'a'; 1024 * 1024 + 10];
        let r = c.send(Method::POST, "/account/password",
            &[("Content-Type", "application/x-www-form-urlencoded"), ("X-CSRF-Token", &token)], big).await;
        assert_eq!(r.status, 413);
        assert!(r.body.contains("too large"));

        let mut bad = b"csrf_token=".to_vec();
        bad.extend_from_slice(token.as_bytes());
        bad.extend_from_slice(b"&password=\xff\xfe");
        let r = c.send(Method::POST, "/account/password",
            &[("Content-Type", "application/x-www-form-urlencoded")], bad).await;
        assert_eq!(r.status, 400);

        let r = c.send(Method::POST, "/account/password",
            &[("Content-Type", "application/x-www-form-urlencoded"), ("X-CSRF-Token", &token)],
            b"password=%FF%FE".to_vec()).await;
        assert_eq!(r.status, 400, "percent-encoded invalid UTF-8");

        let r = c.send(Method::POST, "/account/password",
            &[("Content-Type", "application/json"), ("X-CSRF-Token", &token)], b"{\"a\":1}".to_vec()).await;
        assert_eq!(r.status, 415);
        assert_eq!(app.count("users").await, users_before);
    }

    async fn error_pages_are_friendly_and_never_show_internals(app) {
        app.setup_admin().await;
        let c = app.login("admin").await;
        let r = c.get("/no/such/page").await;
        assert_eq!(r.status, 404);
        assert!(r.body.contains("Page not found"));
        assert!(r.body.contains("Go to the dashboard"));
        let frag = c.get_htmx("/no/such/page").await;
        assert_eq!(frag.status, 404);
        assert!(!frag.body.contains("<html"), "a fragment for HTMX");
        assert!(frag.body.contains("Page not found"));
        let wrong_method = c.send(Method::DELETE, "/", &[("X-CSRF-Token", &c.csrf_token().unwrap())], Vec::new()).await;
        assert!(wrong_method.status >= 400 && wrong_method.status < 500);
        for body in [&r.body, &frag.body] {
            assert!(!body.contains("SELECT") && !body.contains("panicked") && !body.contains("sqlx"));
        }
    }
}

/// A wrong password for the administrator from `peer`, carrying `X-Forwarded-For: xff`.
async fn wrong_sign_in_forwarded(app: &TestApp, peer: &str, xff: &str) {
    let c = app.client_from(peer);
    c.get("/login").await;
    let body = format!(
        "csrf_token={}&username=admin&password=wrong-password-1",
        c.csrf_token().unwrap()
    );
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("X-Forwarded-For", xff),
    ];
    let r = c
        .send(Method::POST, "/login", &headers, body.into_bytes())
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
}

fn behind_the_proxy(c: &mut hms_core::config::Config) {
    c.trusted_proxies = vec![hms_core::config::TrustedNet::parse("203.0.113.0/24").unwrap()];
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    // Without trusted proxies, X-Forwarded-For is ignored: throttling keys on the peer.
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    app.setup_admin().await;
    wrong_sign_in_forwarded(&app, "203.0.113.5:1000", "10.9.9.9").await;
    assert_eq!(throttle_addrs(&app).await, ["203.0.113.5"]);

    // Behind a trusted proxy, the client's own address is used.
    let app = TestApp::start_with(Backend::Sqlite, behind_the_proxy)
        .await
        .unwrap();
    app.setup_admin().await;
    wrong_sign_in_forwarded(
        &app,
        "203.0.113.5:1000",
        "198.51.100.1, 10.1.2.3, 203.0.113.9",
    )
    .await;
    assert_eq!(
        throttle_addrs(&app).await,
        ["10.1.2.3"],
        "nearest untrusted hop"
    );
}

async fn throttle_addrs(app: &TestApp) -> Vec<String> {
    use sqlx::Row;
    sqlx::query("SELECT client_addr FROM login_throttle")
        .fetch_all(app.db().read())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect()
}

/// Signs each client's form in at once: the CSRF cookies are fetched first, then every
/// password goes out together. Returns the statuses.
async fn sign_in_together(
    clients: &[hms_testkit::Client],
    username: &str,
    password: &str,
) -> Vec<u16> {
    for c in clients {
        c.get("/login").await;
    }
    let fields = [("username", username), ("password", password)];
    let attempts = clients.iter().map(|c| c.post_form("/login", &fields));
    futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status)
        .collect()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

async fn throttle_refused(app: &TestApp) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT CAST(COALESCE(SUM(refused), 0) AS BIGINT) FROM login_throttle")
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

each_backend! {
    async fn guesses_sent_together_check_only_the_free_attempts(app) {
        app.setup_admin().await;
        app.add_user("njeri", &["doctor"]).await;
        let clients: Vec<_> = (0..40).map(|_| app.client_from("198.51.100.7:4000")).collect();
        let statuses = sign_in_together(&clients, "njeri", "guessing wrongly").await;
        assert_eq!(count(&statuses, 422), 5, "only the free attempts are checked: {statuses:?}");
        assert_eq!(count(&statuses, 429), 35, "the rest wait: {statuses:?}");
        assert_eq!(app.audit_count("auth.login_failed").await, 5);
        assert_eq!(app.audit_count("auth.login_throttled").await, 1, "one row for the episode's start");

        // Colleagues at one desk signing in to one account together all get in.
        app.add_user("desk", &["receptionist"]).await;
        let desk: Vec<_> = (0..12).map(|_| app.client_from("192.0.2.50:1000")).collect();
        let statuses = sign_in_together(&desk, "desk", PASSWORD).await;
        assert_eq!(count(&statuses, 303), 12, "{statuses:?}");
    }

    async fn a_flood_of_refused_sign_ins_is_audited_as_one_episode_with_its_count(app) {
        app.setup_admin().await;
        app.add_user("njeri", &["doctor"]).await;
        let attacker = app.client_from("198.51.100.7:4000");
        for _ in 0..5 {
            assert_eq!(attacker.login("njeri", "guessing wrongly").await.status, 422);
        }
        let audit_before = app.count("audit_log").await;
        for _ in 0..60 {
            assert_eq!(attacker.login("njeri", "guessing wrongly").await.status, 429);
        }
        assert_eq!(app.count("audit_log").await, audit_before + 1, "the start of the episode only");

        // The count reaches the row, and the episode's end is audited with it.
        let throttle = &app.app.throttle;
        throttle.sweep(app.db(), hms_core::clock::now_ms()).await.unwrap();
        assert_eq!(throttle_refused(&app).await, 60);
        // Random usernames leave rows that expire with the rest.
        for i in 0..5 {
            app.client_from("203.0.113.9:1").login(&format!("nobody{i}"), "x x x x x x").await;
        }
        throttle.sweep(app.db(), hms_core::clock::now_ms() + 2 * 3_600_000).await.unwrap();
        assert_eq!(app.count("login_throttle").await, 0, "expired rows are deleted");
        assert_eq!(app.audit_count("auth.login_throttle_ended").await, 1, "episodes that refused anything");
        let detail: String = {
            use sqlx::Row;
            sqlx::query("SELECT detail FROM audit_log WHERE action = 'auth.login_throttle_ended' AND detail LIKE '%njeri%'")
                .fetch_one(app.db().read()).await.unwrap().get(0)
        };
        assert!(detail.contains("\"refused\":60"), "{detail}");

        // A correct password after the delay ends an episode too.
        let other = app.client_from("198.51.100.8:4000");
        for _ in 0..6 {
            other.login("njeri", "guessing wrongly").await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(other.login("njeri", PASSWORD).await.status, 303);
        assert_eq!(app.audit_count("auth.login_throttle_ended").await, 2);
    }

    async fn one_password_sprayed_over_many_accounts_is_stopped_per_address(app) {
        let backend = app.backend;
        drop(app);
        let Some(app) = TestApp::start_with(backend, |c| c.login_address_failures = 8).await else {
            return;
        };
        app.setup_admin().await;
        app.add_user("njeri", &["doctor"]).await;
        let sprayer = app.client_from("198.51.100.20:4000");
        for i in 0..8 {
            assert_eq!(sprayer.login(&format!("user{i}"), "Kenya2026!").await.status, 422);
        }
        let r = sprayer.login("njeri", PASSWORD).await;
        assert_eq!(r.status, 429, "the address waits out its window, whatever the account");
        assert!(r.body.contains("from this network"), "{}", r.body);
        assert_eq!(app.audit_count("auth.login_throttled").await, 1);
        // Another address is not affected; successes do not count against an address.
        for _ in 0..10 {
            let desk = app.client_from("192.0.2.44:5000");
            assert_eq!(desk.login("njeri", PASSWORD).await.status, 303);
        }
    }

    async fn the_current_password_check_is_throttled_and_audited_like_sign_in(app) {
        app.setup_admin().await;
        app.add_user("achieng", &["accountant"]).await;
        let c = app.login("achieng").await;
        c.get("/account/password").await;
        let new_pw = "blue river morning tea";
        for _ in 0..5 {
            let r = c.post_form("/account/password", &[
                ("current_password", "not my password"), ("password", new_pw), ("password_confirm", new_pw),
            ]).await;
            assert_eq!(r.status, 422);
            assert!(r.body.contains("current password is not correct"));
        }
        assert_eq!(app.audit_count("auth.password_check_failed").await, 5);
        let r = c.post_form("/account/password", &[
            ("current_password", PASSWORD), ("password", new_pw), ("password_confirm", new_pw),
        ]).await;
        assert_eq!(r.status, 429, "even the right password waits out the delay");
        assert!(r.body.contains("Wait"));
        assert_eq!(app.client_from("192.0.2.99:1").login("achieng", new_pw).await.status, 422, "unchanged");
    }
}

#[tokio::test]
async fn forwarded_addresses_with_ports_or_unknown_are_parsed() {
    let app = TestApp::start_with(Backend::Sqlite, behind_the_proxy)
        .await
        .unwrap();
    app.setup_admin().await;
    for (xff, expected) in [
        ("198.51.100.1:5555", "198.51.100.1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8::2, 203.0.113.9:80", "2001:db8::2"),
        ("unknown", "unknown"),
    ] {
        wrong_sign_in_forwarded(&app, "203.0.113.5:1000", xff).await;
        assert!(
            throttle_addrs(&app).await.iter().any(|a| a == expected),
            "{xff} gives {expected}"
        );
    }
    assert!(
        !throttle_addrs(&app)
            .await
            .iter()
            .any(|a| a.starts_with("203.0.113.")),
        "never the proxy's own"
    );
}

each_backend! {
    async fn the_waiting_room_address_never_comes_from_the_host_header(app) {
        let backend = app.backend;
        let admin = app.setup_admin().await;
        admin.get("/displays").await;
        let token = admin.csrf_token().unwrap();
        let made = admin.send(Method::POST, "/queues/triage/display-key",
            &[("Content-Type", "application/x-www-form-urlencoded"), ("Host", "evil.example")],
            format!("csrf_token={token}").into_bytes()).await;
        assert_eq!(made.status, 200, "{}", made.body);
        assert!(!made.body.contains("evil.example"));
        assert!(made.body.contains("<code>/display/"), "the path alone without a public URL");
        drop(app);

        let Some(app) = TestApp::start_with(backend, |c| c.public_url = Some("https://hms.example.org".into())).await else {
            return;
        };
        let admin = app.setup_admin().await;
        admin.get("/displays").await;
        let made = admin.post_form("/queues/triage/display-key", &[]).await;
        assert!(made.body.contains("<code>https://hms.example.org/display/"), "{}", made.body);
    }
}
