//! Security of staff accounts: a delegated staff officer (a custom role holding
//! `admin.users.manage`) cannot raise themselves or others above their own permissions, nor
//! take over an administrator's account; two administrators disabling each other at the same
//! moment always leave one; and an expired licence never stops an account being shut.

use hms_core::licence::Tier;
use hms_testkit::licensing::{licence_text, TestClock};
use hms_testkit::{each_backend, Backend, Client, TestApp, PASSWORD};
use sqlx::Row;

const TEMP: &str = "kitale maize harvest";

async fn user_id(app: &TestApp, username: &str) -> i64 {
    sqlx::query("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

async fn roles_of(app: &TestApp, username: &str) -> Vec<String> {
    sqlx::query(
        "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         JOIN users u ON u.id = ur.user_id WHERE u.username = $1 AND ur.voided_at IS NULL ORDER BY r.name",
    )
    .bind(username)
    .fetch_all(app.db().read())
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.get(0))
    .collect()
}

async fn is_active(app: &TestApp, username: &str) -> bool {
    sqlx::query("SELECT is_active FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get::<i64, _>(0)
        == 1
}

/// Adds a custom role on the roles screen and ticks its permissions there.
async fn custom_role(admin: &Client, name: &str, title: &str, permissions: &[&str]) {
    admin.get("/admin/roles/new").await;
    let r = admin
        .post_form("/admin/roles/new", &[("name", name), ("title", title)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    for p in permissions {
        let r = admin.grant_on_screen(name, p).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
}

/// An administrator, a staff officer who manages accounts (and may view patients), and a
/// records clerk role that only views patients: within the staff officer's own permissions.
async fn delegation(app: &TestApp) -> (Client, Client) {
    let admin = app.setup_admin().await;
    custom_role(
        &admin,
        "staff_officer",
        "Staff officer",
        &["admin.users.view", "admin.users.manage", "patients.view"],
    )
    .await;
    custom_role(&admin, "records_clerk", "Records clerk", &["patients.view"]).await;
    app.add_user("officer", &["staff_officer"]).await;
    let officer = app.login("officer").await;
    (admin, officer)
}

fn account_fields<'a>(name: &'a str, roles: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![("full_name", name)];
    f.extend(roles.iter().map(|r| ("roles", *r)));
    f
}

each_backend! {
    async fn a_staff_officer_cannot_make_themselves_administrator(app) {
        let (_admin, officer) = delegation(&app).await;
        let me = user_id(&app, "officer").await;
        officer.get(&format!("/admin/users/{me}")).await;
        for roles in [vec!["staff_officer", "admin"], vec!["admin"], vec!["staff_officer", "records_clerk"]] {
            let r = officer
                .post_form(&format!("/admin/users/{me}"), &account_fields("Officer Test", &roles))
                .await;
            assert_eq!(r.status, 403, "{roles:?}: {}", r.body);
            assert!(r.body.contains("You cannot change your own roles"), "{roles:?}");
            assert!(r.body.contains("id=\"roles-error\""), "the message stands beside the roles");
        }
        assert_eq!(roles_of(&app, "officer").await, vec!["staff_officer"]);
        app.forget_cached_sessions();
        assert_eq!(officer.get("/admin/roles").await.status, 403);
        assert_eq!(officer.get("/admin/users").await.status, 200, "still a staff officer");

        // Their own name and details they may still correct.
        let r = officer
            .post_form(&format!("/admin/users/{me}"), &account_fields("Officer Kamau", &["staff_officer"]))
            .await;
        assert_eq!(r.status, 303, "{}", r.body);

        // The refusal is in Kiswahili for a Kiswahili speaker.
        assert_eq!(officer.post_form("/language", &[("lang", "sw")]).await.status, 303);
        app.forget_cached_sessions();
        officer.get(&format!("/admin/users/{me}")).await;
        let r = officer
            .post_form(&format!("/admin/users/{me}"), &account_fields("Officer Kamau", &["admin"]))
            .await;
        assert_eq!(r.status, 403);
        assert!(r.body.contains(&hms_core::i18n::t_in("sw", "admin.error_own_roles")), "{}", r.body);
        assert!(r.body.contains("Huwezi kubadilisha majukumu yako mwenyewe"));
    }

    async fn a_staff_officer_grants_only_roles_within_their_own_permissions(app) {
        let (_admin, officer) = delegation(&app).await;
        app.add_user("wanjiru", &["nurse"]).await;
        app.add_user("desk", &["receptionist"]).await;
        let wanjiru = user_id(&app, "wanjiru").await;
        let desk = user_id(&app, "desk").await;
        let audit_before = app.audit_count("user.update").await;

        officer.get(&format!("/admin/users/{wanjiru}")).await;
        let r = officer
            .post_form(&format!("/admin/users/{wanjiru}"), &account_fields("Wanjiru Test", &["nurse", "admin"]))
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("only roles whose permissions you hold yourself. Not allowed: Administrator"), "{}", r.body);
        let r = officer
            .post_form(&format!("/admin/users/{wanjiru}"), &account_fields("Wanjiru Test", &["nurse", "receptionist"]))
            .await;
        assert_eq!(r.status, 403);
        assert!(r.body.contains("Not allowed: Receptionist"));
        // Taking a role is giving it back to someone else's judgement: the same rule.
        let r = officer
            .post_form(&format!("/admin/users/{desk}"), &account_fields("Desk Test", &["records_clerk"]))
            .await;
        assert_eq!(r.status, 403);
        assert!(r.body.contains("Not allowed: Receptionist"));
        assert_eq!(roles_of(&app, "wanjiru").await, vec!["nurse"]);
        assert_eq!(roles_of(&app, "desk").await, vec!["receptionist"]);
        assert_eq!(app.audit_count("user.update").await, audit_before, "nothing changed");

        // A new account with the administrator role: refused, nothing created.
        let users_before = app.count("users").await;
        officer.get("/admin/users/new").await;
        let r = officer
            .post_form("/admin/users", &[
                ("username", "newboss"), ("full_name", "New Boss"), ("roles", "admin"), ("password", TEMP),
            ])
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("Not allowed: Administrator"));
        assert_eq!(app.count("users").await, users_before);

        // Roles within their own permissions: given, taken and on new accounts.
        let r = officer
            .post_form(&format!("/admin/users/{wanjiru}"), &account_fields("Wanjiru Test", &["nurse", "records_clerk"]))
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(roles_of(&app, "wanjiru").await, vec!["nurse", "records_clerk"]);
        let r = officer
            .post_form(&format!("/admin/users/{wanjiru}"), &account_fields("Wanjiru Test", &["nurse"]))
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        officer.get("/admin/users/new").await;
        let r = officer
            .post_form("/admin/users", &[
                ("username", "clerk"), ("full_name", "Clerk Test"), ("roles", "records_clerk"), ("password", TEMP),
            ])
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(roles_of(&app, "clerk").await, vec!["records_clerk"]);
    }

    async fn only_an_administrator_resets_signs_out_or_disables_an_administrator(app) {
        let (admin, officer) = delegation(&app).await;
        let admin_id = user_id(&app, "admin").await;
        let page = officer.get(&format!("/admin/users/{admin_id}")).await;
        assert!(page.body.contains("Only an administrator can reset"), "explained on the page");
        assert!(!page.body.contains(&format!("/admin/users/{admin_id}/reset-password")), "no reset form");

        let r = officer
            .post_form(&format!("/admin/users/{admin_id}/reset-password"), &[("password", TEMP)])
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("Only an administrator can reset"));
        assert_eq!(app.client().login("admin", PASSWORD).await.status, 303, "password unchanged");
        assert_eq!(app.client().login("admin", TEMP).await.status, 422);

        let r = officer.post_form(&format!("/admin/users/{admin_id}/sessions/end"), &[]).await;
        assert_eq!(r.status, 403);
        assert!(r.body.contains("Only an administrator can reset"));
        let r = officer.post_form(&format!("/admin/users/{admin_id}/disable"), &[]).await;
        assert_eq!(r.status, 403);
        app.forget_cached_sessions();
        assert_eq!(admin.get("/admin/roles").await.status, 200, "still signed in, still active");
        assert!(is_active(&app, "admin").await);
        assert_eq!(app.audit_count("user.set_password").await, 0);
        assert_eq!(app.audit_count("user.sessions_end").await, 0);
        assert_eq!(app.audit_count("user.disable").await, 0);

        // Staff below them the officer looks after as before.
        let nurse = app.add_user("nurse.n", &["nurse"]).await;
        officer.get(&format!("/admin/users/{nurse}")).await;
        let r = officer.post_form(&format!("/admin/users/{nurse}/reset-password"), &[("password", TEMP)]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(officer.post_form(&format!("/admin/users/{nurse}/sessions/end"), &[]).await.status, 303);
        assert_eq!(officer.post_form(&format!("/admin/users/{nurse}/disable"), &[]).await.status, 303);
        assert!(!is_active(&app, "nurse.n").await);

        // Another administrator may; and a disabled administrator comes back only through one.
        app.add_user("second.admin", &["admin"]).await;
        let second = app.login("second.admin").await;
        second.get(&format!("/admin/users/{admin_id}")).await;
        let r = second.post_form(&format!("/admin/users/{admin_id}/sessions/end"), &[]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let r = second.post_form(&format!("/admin/users/{admin_id}/disable"), &[]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let r = officer.post_form(&format!("/admin/users/{admin_id}/enable"), &[]).await;
        assert_eq!(r.status, 403);
        assert!(!is_active(&app, "admin").await);
        assert_eq!(second.post_form(&format!("/admin/users/{admin_id}/enable"), &[]).await.status, 303);
        assert!(is_active(&app, "admin").await);
    }

    async fn two_administrators_disabling_or_demoting_each_other_at_once_leave_one(app) {
        let mut first = app.setup_admin().await;
        app.add_user("second.admin", &["admin"]).await;
        let first_id = user_id(&app, "admin").await;
        let second_id = user_id(&app, "second.admin").await;
        let mut second = app.login("second.admin").await;
        let mut refused = 0;
        for round in 0..30 {
            // Even rounds disable, odd rounds take the administrator role.
            let demote = round % 2 == 1;
            let path = |id: i64| {
                if demote { format!("/admin/users/{id}") } else { format!("/admin/users/{id}/disable") }
            };
            let (to_second, to_first) = (path(second_id), path(first_id));
            let fields = if demote { account_fields("Demoted Test", &["doctor"]) } else { Vec::new() };
            first.get(&format!("/admin/users/{second_id}")).await;
            second.get(&format!("/admin/users/{first_id}")).await;
            let (a, b) = tokio::join!(
                first.post_form(&to_second, &fields),
                second.post_form(&to_first, &fields),
            );
            let left: i64 = sqlx::query(
                "SELECT COUNT(*) FROM users u JOIN user_roles ur ON ur.user_id = u.id \
                 JOIN roles r ON r.id = ur.role_id WHERE r.name = 'admin' AND u.is_active = 1 AND ur.voided_at IS NULL",
            )
            .fetch_one(app.db().read())
            .await
            .unwrap()
            .get(0);
            assert!(
                left >= 1,
                "round {round} (demote: {demote}): no active administrator left ({} and {})",
                a.status,
                b.status
            );
            refused += i32::from(a.status == 409) + i32::from(b.status == 409);
            // Both active administrators again, for the next round.
            let mut tx = app.db().begin().await.unwrap();
            for id in [first_id, second_id] {
                sqlx::query("UPDATE users SET is_active = 1 WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query(
                    "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles \
                     WHERE name = 'admin' ON CONFLICT (user_id, role_id) DO NOTHING",
                )
                .bind(id)
                .execute(&mut *tx)
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
            app.forget_cached_sessions();
            if first.get("/admin/users").await.status != 200 {
                first = app.login("admin").await;
            }
            if second.get("/admin/users").await.status != 200 {
                second = app.login("second.admin").await;
            }
        }
        assert!(refused > 0, "the last administrator was refused at least once");
    }
}

async fn security_actions_go_on_when_the_licence_pauses_administration(backend: Backend) {
    let clock = TestClock::at("2026-06-01T09:00:00+03:00");
    let Some(app) = TestApp::start_licensed(backend, &clock).await else {
        return;
    };
    let admin = app.setup_admin().await;
    admin.get("/admin/licence").await;
    let text = licence_text(Tier::Clinic, "12345", "2026-07-01", &[]);
    let r = admin
        .post_file("/admin/licence", "licence", "licence.json", text.as_bytes())
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let id = app.add_user("leaver", &["nurse"]).await;
    let leaver = app.login("leaver").await;
    app.add_user("other", &["nurse"]).await;
    let other = app.login("other").await;
    let other_id = user_id(&app, "other").await;

    // Past expiry and the 30 days of grace: administration is read-only.
    clock.advance_days(31 + 31);
    let page = admin.get(&format!("/admin/users/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/sessions/end") && page.body.contains("/reset-password"));
    assert!(page.body.contains(&format!("/admin/users/{id}/disable")));
    assert!(
        !page.body.contains("Save changes"),
        "editing details stays paused"
    );

    let r = admin
        .post_form(&format!("/admin/users/{id}/sessions/end"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(leaver.get("/").await.status, 303, "signed out");
    let r = admin
        .post_form(
            &format!("/admin/users/{id}/reset-password"),
            &[("password", TEMP)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(app.client().login("leaver", PASSWORD).await.status, 422);
    let r = admin
        .post_form(&format!("/admin/users/{other_id}/disable"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(other.get("/").await.status, 303, "signed out");
    assert!(!is_active(&app, "other").await);
    let r = admin
        .post_form(&format!("/admin/users/{id}/throttle/clear"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Adding people, giving roles back and settings stay paused.
    let r = admin
        .post_form(
            "/admin/users",
            &[
                ("username", "late"),
                ("full_name", "Late Hire"),
                ("roles", "nurse"),
                ("password", TEMP),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "no new users");
    assert!(r.body.contains("Licence expired"));
    assert_eq!(
        admin
            .post_form(&format!("/admin/users/{other_id}/enable"), &[])
            .await
            .status,
        403
    );
    assert_eq!(admin.get("/admin/settings").await.status, 403);
    assert_eq!(app.audit_count("user.disable").await, 1);
    assert_eq!(app.audit_count("user.sessions_end").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_actions_go_on_when_the_licence_pauses_administration_sqlite() {
    security_actions_go_on_when_the_licence_pauses_administration(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_actions_go_on_when_the_licence_pauses_administration_postgres() {
    security_actions_go_on_when_the_licence_pauses_administration(Backend::Postgres).await;
}
