//! User administration as an administrator does it: adding staff, editing roles and details,
//! disabling, resetting passwords, ending sessions, clearing sign-in delays, and the dashboard.

use hms_testkit::{each_backend, Client, TestApp, PASSWORD};
use sqlx::Row;

const TEMP: &str = "kitale maize harvest";

async fn add_receptionist(admin: &Client) -> i64 {
    admin.get("/admin/users/new").await;
    let r = admin
        .post_form(
            "/admin/users",
            &[
                ("username", "Mary.Atieno"),
                ("full_name", "Mary Atieno"),
                ("roles", "receptionist"),
                ("cadre", "records_officer"),
                ("phone", "0722 111 222"),
                ("email", "mary@mwangaza.co.ke"),
                ("password", TEMP),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let loc = r.location().unwrap().to_string();
    assert!(loc.starts_with("/admin/users/"));
    loc.rsplit('/').next().unwrap().parse().unwrap()
}

async fn audit_detail(app: &TestApp, action: &str) -> serde_json::Value {
    let text: String =
        sqlx::query("SELECT detail FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT 1")
            .bind(action)
            .fetch_one(app.db().read())
            .await
            .unwrap()
            .get(0);
    serde_json::from_str(&text).unwrap()
}

each_backend! {
    async fn admin_adds_a_receptionist_who_must_choose_a_password_and_sees_only_her_menu(app) {
        let admin = app.setup_admin().await;
        let id = add_receptionist(&admin).await;
        let page = admin.get(&format!("/admin/users/{id}")).await;
        assert!(page.body.contains("Mary Atieno"));
        assert!(page.body.contains("0722 111 222"), "phone shown as people write it");
        assert!(page.body.contains("Account created for Mary Atieno"));
        let created = audit_detail(&app, "user.create").await;
        assert_eq!(created["after"]["details"]["phone"], "+254722111222");

        let mary = app.client();
        assert_eq!(mary.login("mary.atieno", TEMP).await.status, 303);
        let first = mary.get("/").await;
        assert_eq!(first.status, 303);
        assert_eq!(first.location(), Some("/account/password"), "the temporary password must go");
        let new_pw = "mombasa road traffic jam";
        mary.get("/account/password").await;
        let r = mary.post_form("/account/password", &[
            ("current_password", TEMP), ("password", new_pw), ("password_confirm", new_pw),
        ]).await;
        assert_eq!(r.status, 303);
        let home = mary.get("/").await;
        assert_eq!(home.status, 200);
        assert!(!home.body.contains("Staff accounts"), "no admin menu for reception");
        assert_eq!(mary.get("/admin/users").await.status, 403);
    }

    async fn bad_account_details_are_explained_and_nothing_is_created(app) {
        let admin = app.setup_admin().await;
        let users_before = app.count("users").await;
        admin.get("/admin/users/new").await;
        let r = admin.post_form("/admin/users", &[
            ("username", "admin"), ("full_name", "X"), ("phone", "0812 000 000"),
            ("email", "not-an-email"), ("registration_no", "NCK/1"), ("password", "password123"),
        ]).await;
        assert_eq!(r.status, 422);
        for msg in ["already taken", "Enter the person", "Choose at least one role", "Kenyan mobile",
                    "name@example.co.ke", "Choose the cadre", "too common"] {
            assert!(r.body.contains(msg), "message: {msg}");
        }
        assert!(r.body.contains("value=\"0812 000 000\""), "typed values kept");
        assert_eq!(app.count("users").await, users_before);
    }

    async fn roles_and_details_are_edited_with_before_and_after_in_the_audit(app) {
        let admin = app.setup_admin().await;
        let id = add_receptionist(&admin).await;
        admin.get(&format!("/admin/users/{id}")).await;
        let r = admin.post_form(&format!("/admin/users/{id}"), &[
            ("full_name", "Mary A. Atieno"), ("roles", "receptionist"), ("roles", "nurse"),
            ("cadre", "nurse"), ("registration_no", "nck/12345"), ("phone", "+254 722 111 222"), ("email", ""),
        ]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let d = audit_detail(&app, "user.update").await;
        assert_eq!(d["before"]["roles"], serde_json::json!(["receptionist"]));
        assert_eq!(d["after"]["roles"], serde_json::json!(["receptionist", "nurse"]));
        assert_eq!(d["after"]["details"]["registration_no"], "NCK/12345");
        assert_eq!(d["before"]["full_name"], "Mary Atieno");
        let page = admin.get(&format!("/admin/users/{id}")).await;
        assert!(page.body.contains("Mary A. Atieno") && page.body.contains("Changes saved."));
    }

    async fn the_last_active_administrator_can_be_neither_disabled_nor_demoted(app) {
        let admin = app.setup_admin().await;
        let admin_id: i64 = sqlx::query("SELECT id FROM users WHERE username = 'admin'")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        admin.get(&format!("/admin/users/{admin_id}")).await;
        let r = admin.post_form(&format!("/admin/users/{admin_id}/disable"), &[]).await;
        assert_eq!(r.status, 409);
        assert!(r.body.contains("last active administrator"));
        let r = admin.post_form(&format!("/admin/users/{admin_id}"), &[
            ("full_name", "Amina Wanjiku"), ("roles", "doctor"),
        ]).await;
        assert_eq!(r.status, 409);
        assert_eq!(admin.get("/admin/users").await.status, 200, "still an administrator");

        // With a second administrator, the second may take the role from the first.
        let second = app.add_user("second.admin", &["admin"]).await;
        assert!(second > 0);
        let other = app.login("second.admin").await;
        other.get(&format!("/admin/users/{admin_id}")).await;
        let r = other.post_form(&format!("/admin/users/{admin_id}"), &[
            ("full_name", "Amina Wanjiku"), ("roles", "doctor"),
        ]).await;
        assert_eq!(r.status, 303);
        assert_eq!(admin.get("/admin/users").await.status, 403, "the change applies at once");
    }

    async fn disabling_ends_sessions_and_enabling_lets_the_person_back(app) {
        let admin = app.setup_admin().await;
        let id = app.add_user("kipchoge", &["pharmacist"]).await;
        let kip = app.login("kipchoge").await;
        admin.get(&format!("/admin/users/{id}")).await;
        assert!(admin.get(&format!("/admin/users/{id}")).await.body.contains("192.0.2.10"), "session listed");
        assert_eq!(admin.post_form(&format!("/admin/users/{id}/disable"), &[]).await.status, 303);
        assert_eq!(kip.get("/").await.status, 303, "signed out at once");
        assert_eq!(app.client().login("kipchoge", PASSWORD).await.status, 422);
        assert_eq!(admin.post_form(&format!("/admin/users/{id}/enable"), &[]).await.status, 303);
        assert_eq!(app.client().login("kipchoge", PASSWORD).await.status, 303);
        assert_eq!(app.audit_count("user.disable").await, 1);
        assert_eq!(app.audit_count("user.enable").await, 1);
    }

    async fn password_resets_force_a_change_and_sessions_can_be_ended(app) {
        let admin = app.setup_admin().await;
        let id = app.add_user("chebet", &["lab_tech"]).await;
        let laptop = app.login("chebet").await;
        let phone = app.login("chebet").await;
        admin.get(&format!("/admin/users/{id}")).await;
        assert_eq!(admin.post_form(&format!("/admin/users/{id}/sessions/end"), &[]).await.status, 303);
        assert_eq!(laptop.get("/").await.status, 303);
        assert_eq!(phone.get("/").await.status, 303);

        let weak = admin.post_form(&format!("/admin/users/{id}/reset-password"), &[("password", "short")]).await;
        assert_eq!(weak.status, 422);
        assert!(weak.body.contains("at least 10 characters"));
        let ok = admin.post_form(&format!("/admin/users/{id}/reset-password"), &[("password", TEMP)]).await;
        assert_eq!(ok.status, 303);
        assert_eq!(app.client().login("chebet", PASSWORD).await.status, 422, "old password gone");
        let c = app.client();
        assert_eq!(c.login("chebet", TEMP).await.status, 303);
        assert_eq!(c.get("/").await.location(), Some("/account/password"));
        assert_eq!(app.audit_count("user.sessions_end").await, 1);
    }

    async fn sign_in_delays_are_shown_and_cleared_by_the_administrator(app) {
        let admin = app.setup_admin().await;
        let id = app.add_user("omondi", &["doctor"]).await;
        let typo = app.client_from("198.51.100.20:1234");
        for _ in 0..6 {
            typo.login("omondi", "wrong wrong wrong").await;
        }
        let page = admin.get(&format!("/admin/users/{id}")).await;
        assert!(page.body.contains("198.51.100.20"));
        assert_eq!(admin.post_form(&format!("/admin/users/{id}/throttle/clear"), &[]).await.status, 303);
        assert_eq!(app.count("login_throttle").await, 0);
        assert_eq!(typo.login("omondi", PASSWORD).await.status, 303);
    }

    async fn staff_are_found_by_name_a_page_at_a_time(app) {
        let admin = app.setup_admin().await;
        for i in 0..30 {
            app.add_user(&format!("staff{i:02}"), &["nurse"]).await;
        }
        app.add_user("zawadi", &["doctor"]).await;
        let first = admin.get("/admin/users").await;
        assert!(first.body.contains("staff00") && !first.body.contains("zawadi"));
        assert!(first.body.contains("Next page"));
        let next = first.body.split("after=").nth(1).unwrap().split('"').next().unwrap().to_string();
        let second = admin.get(&format!("/admin/users?q=&after={next}")).await;
        assert!(second.body.contains("zawadi") && !second.body.contains(">staff00<"));
        let found = admin.get("/admin/users?q=zaw").await;
        assert!(found.body.contains("zawadi") && !found.body.contains("staff01"));
        let live = admin.get_htmx("/admin/users?q=zaw").await;
        assert!(live.body.contains("id=\"user-results\"") && !live.body.contains("<html"));
        let none = admin.get("/admin/users?q=%25").await;
        assert!(none.body.contains("No staff account matches"), "wildcards are literal");
    }

    async fn the_admin_dashboard_loads_cards_on_their_own_and_shows_missing_backups_in_red(app) {
        let admin = app.setup_admin().await;
        let home = admin.get("/").await;
        assert!(home.body.contains("hx-get=\"/admin/cards/users\""));
        assert!(home.body.contains("hx-get=\"/admin/cards/backup\""));
        assert!(home.body.contains("Staff accounts"), "menu item");
        let users = admin.get_htmx("/admin/cards/users").await;
        assert!(users.body.contains("Active accounts") && !users.body.contains("<html"));
        let backup = admin.get_htmx("/admin/cards/backup").await;
        if app.backend == hms_testkit::Backend::Sqlite {
            assert!(backup.body.contains("backup-alert"), "no backup yet: shown in red");
            assert!(backup.body.contains("No backup has been made yet."));
        } else {
            assert!(backup.body.contains("pg_dump"));
        }
        let nurse = app.add_user("nurse.only", &["nurse"]).await;
        assert!(nurse > 0);
        let n = app.login("nurse.only").await;
        let home = n.get("/").await;
        assert!(!home.body.contains("/admin/cards/"), "no admin cards for a nurse");
    }
}

each_backend! {
    async fn an_admin_grants_a_permission_and_the_receptionist_has_it_on_her_next_page(app) {
        let admin = app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        assert!(!desk.get("/").await.body.contains("Staff accounts"));

        let matrix = admin.get("/admin/roles").await;
        assert_eq!(matrix.status, 200, "{}", matrix.body);
        assert!(matrix.body.contains("admin.users.view") && matrix.body.contains("See staff accounts"));
        let r = admin.grant_on_screen("receptionist", "admin.users.view").await;
        assert_eq!(r.status, 303, "{}", r.body);
        let home = desk.get("/").await;
        assert!(home.body.contains("Staff accounts"), "the new menu item appears without signing in again");
        assert_eq!(desk.get("/admin/users").await.status, 200);
        let detail = audit_detail(&app, "roles.permissions").await;
        assert_eq!(detail["granted"], serde_json::json!([["receptionist", "admin.users.view"]]));

        // Unticking everything leaves the administrator with this screen.
        assert_eq!(admin.post_form("/admin/roles", &[]).await.status, 400, "an incomplete form changes nothing");
        assert_eq!(desk.get("/admin/users").await.status, 200);
        let r = admin.post_form("/admin/roles", &[("matrix", "1")]).await;
        assert_eq!(r.status, 303);
        assert_eq!(admin.get("/admin/roles").await.status, 200, "admin.roles.manage is kept");
        assert_eq!(desk.get("/admin/users").await.status, 403);
        let bogus = admin.post_form("/admin/roles", &[("matrix", "1"), ("grant", "nobody|admin.users.view")]).await;
        assert_eq!(bogus.status, 400);
    }

    async fn custom_roles_are_added_and_removed_only_when_nobody_holds_them(app) {
        let admin = app.setup_admin().await;
        admin.get("/admin/roles/new").await;
        let bad = admin.post_form("/admin/roles/new", &[("name", "Records Clerk"), ("title", "R")]).await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("Short name:") && bad.body.contains("Title:"));
        let ok = admin.post_form("/admin/roles/new", &[("name", "records_clerk"), ("title", "Records clerk"), ("description", "Files and retrieves records")]).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let dup = admin.post_form("/admin/roles/new", &[("name", "records_clerk"), ("title", "Again")]).await;
        assert_eq!(dup.status, 422);
        assert!(admin.get("/admin/roles").await.body.contains("Records clerk"));

        app.add_user("clerk", &["records_clerk"]).await;
        let in_use = admin.post_form("/admin/roles/records_clerk/delete", &[]).await;
        assert_eq!(in_use.status, 409);
        assert!(in_use.body.contains("held by 1 people"));
        let builtin = admin.post_form("/admin/roles/nurse/delete", &[]).await;
        assert_eq!(builtin.status, 409);

        let clerk_id: i64 = sqlx::query("SELECT id FROM users WHERE username = 'clerk'")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        admin.get(&format!("/admin/users/{clerk_id}")).await;
        let r = admin.post_form(&format!("/admin/users/{clerk_id}"), &[("full_name", "Clerk Test"), ("roles", "receptionist")]).await;
        assert_eq!(r.status, 303);
        let gone = admin.post_form("/admin/roles/records_clerk/delete", &[]).await;
        assert_eq!(gone.status, 303);
        assert!(!admin.get("/admin/roles").await.body.contains("<strong>Records clerk</strong>"));
        assert_eq!(app.audit_count("role.create").await, 1);
        assert_eq!(app.audit_count("role.delete").await, 1);
    }

    async fn an_administrator_cannot_take_the_admin_role_from_themselves(app) {
        let admin = app.setup_admin().await;
        app.add_user("second.admin", &["admin"]).await;
        let me: i64 = sqlx::query("SELECT id FROM users WHERE username = 'admin'")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        admin.get(&format!("/admin/users/{me}")).await;
        let r = admin.post_form(&format!("/admin/users/{me}"), &[("full_name", "Amina Wanjiku"), ("roles", "doctor")]).await;
        assert_eq!(r.status, 403, "nobody changes their own roles");
        assert!(r.body.contains("You cannot change your own roles"));
        assert_eq!(admin.get("/admin/users").await.status, 200);
    }
}
