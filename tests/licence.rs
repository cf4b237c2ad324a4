//! Licences: each tier switches on exactly its modules, bad files change nothing, and an expired
//! licence pauses administrative work but never patient care. The clock is the test's.

use hms_core::licence::Tier;
use hms_testkit::licensing::{licence_text, TestClock};
use hms_testkit::{Backend, Client, TestApp};

const NOW: &str = "2026-06-01T09:00:00+03:00";

async fn install(admin: &Client, text: &str) -> hms_testkit::TestResponse {
    admin.get("/admin/licence").await;
    admin
        .post_file("/admin/licence", "licence", "licence.json", text.as_bytes())
        .await
}

async fn statuses(c: &Client) -> Vec<(&'static str, u16)> {
    let mut out = Vec::new();
    // The pharmacy is the real module: the administrator reads its stock (dispensing is the
    // pharmacist's); the others are the kit's stand-in departments.
    for (m, path) in [
        ("patients", "/patients"),
        ("pharmacy", "/pharmacy/stock"),
        ("laboratory", "/laboratory"),
        ("reports", "/reports"),
        ("sync", "/sync"),
    ] {
        out.push((m, c.get(path).await.status));
    }
    out
}

async fn licensed(backend: Backend) -> Option<(TestApp, TestClock, Client)> {
    let clock = TestClock::at(NOW);
    let app = TestApp::start_licensed(backend, &clock).await?;
    let admin = app.setup_admin().await;
    Some((app, clock, admin))
}

async fn each_tier_switches_on_exactly_its_modules(backend: Backend) {
    let Some((_app, _clock, admin)) = licensed(backend).await else {
        return;
    };
    let all_on = vec![
        ("patients", 200),
        ("pharmacy", 200),
        ("laboratory", 200),
        ("reports", 200),
        ("sync", 200),
    ];
    assert_eq!(
        statuses(&admin).await,
        all_on,
        "evaluation: every compiled module"
    );

    let r = install(
        &admin,
        &licence_text(Tier::Clinic, "12345", "2027-05-31", &[]),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        statuses(&admin).await,
        vec![
            ("patients", 200),
            ("pharmacy", 200),
            ("laboratory", 404),
            ("reports", 404),
            ("sync", 404)
        ],
        "clinic tier"
    );
    let home = admin.get("/").await;
    assert!(
        home.body.contains("href=\"/pharmacy/stock\"")
            && !home.body.contains("href=\"/laboratory\""),
        "menu follows the licence"
    );
    assert!(admin
        .get("/admin/licence")
        .await
        .body
        .contains("Not licensed"));

    install(
        &admin,
        &licence_text(Tier::Clinic, "12345", "2027-05-31", &["laboratory"]),
    )
    .await;
    assert_eq!(
        admin.get("/laboratory").await.status,
        200,
        "an extra module"
    );
    install(
        &admin,
        &licence_text(Tier::Hospital, "12345", "2027-05-31", &[]),
    )
    .await;
    assert_eq!(
        statuses(&admin).await,
        vec![
            ("patients", 200),
            ("pharmacy", 200),
            ("laboratory", 200),
            ("reports", 200),
            ("sync", 404)
        ],
        "hospital tier"
    );
    install(
        &admin,
        &licence_text(Tier::Enterprise, "12345", "2027-05-31", &[]),
    )
    .await;
    assert_eq!(statuses(&admin).await, all_on, "enterprise tier");
}

async fn bad_licence_files_are_explained_and_change_nothing(backend: Backend) {
    let Some((app, _clock, admin)) = licensed(backend).await else {
        return;
    };
    assert_eq!(
        install(
            &admin,
            &licence_text(Tier::Clinic, "12345", "2027-05-31", &[])
        )
        .await
        .status,
        303
    );
    let good = licence_text(Tier::Clinic, "12345", "2027-05-31", &[]);
    let audit_before = app.audit_count("licence.install").await;

    let tampered = good.replace("\"clinic\"", "\"enterprise\"");
    let other_key = {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let payload: serde_json::Value = serde_json::from_str(&good).unwrap();
        let payload: hms_core::licence::Payload =
            serde_json::from_value(payload["licence"].clone()).unwrap();
        serde_json::to_string(&hms_core::licence::sign(&key, payload)).unwrap()
    };
    let cases = [
        (tampered, "signature is not valid"),
        (other_key, "signature is not valid"),
        (
            licence_text(Tier::Hospital, "99999", "2027-05-31", &[]),
            "another facility",
        ),
        (
            licence_text(Tier::Hospital, "12345", "2026-05-01", &[]),
            "already expired",
        ),
        ("not a licence at all".to_string(), "not an HMS licence"),
    ];
    for (text, message) in cases {
        let r = install(&admin, &text).await;
        assert_eq!(r.status, 422, "{message}");
        assert!(r.body.contains(message), "{message}: {}", r.body);
        assert!(r.body.contains("Nothing was changed."));
    }
    let empty = install(&admin, "").await;
    assert_eq!(empty.status, 422);
    assert_eq!(app.audit_count("licence.install").await, audit_before);
    assert_eq!(
        admin.get("/laboratory").await.status,
        404,
        "still the clinic licence"
    );
}

async fn an_expired_licence_pauses_administration_but_never_patient_care(backend: Backend) {
    let Some((app, clock, admin)) = licensed(backend).await else {
        return;
    };
    app.add_user("reception", &["receptionist"]).await;
    let desk = app.login("reception").await;

    // Evaluation: a banner for whoever manages the licence, none at the desk.
    assert!(admin
        .get("/")
        .await
        .body
        .contains("running in evaluation: 59 days left"));
    assert!(!desk.get("/").await.body.contains("licence-banner"));

    // Evaluation over: grace, with a banner for everyone; everything still works.
    clock.advance_days(60);
    assert!(desk
        .get("/")
        .await
        .body
        .contains("Administrative work will pause in 29 days"));
    assert_eq!(admin.get("/admin/users/new").await.status, 200);

    // Past grace: administrative work is paused, care goes on.
    clock.advance_days(30);
    let paused = admin.get("/admin/users/new").await;
    assert_eq!(paused.status, 403);
    assert!(
        paused.body.contains("Licence expired") && paused.body.contains("Patient care carries on")
    );
    admin.get("/admin/users").await;
    let add = admin
        .post_form(
            "/admin/users",
            &[
                ("username", "late"),
                ("full_name", "Late Hire"),
                ("roles", "nurse"),
                ("password", "kitale maize harvest"),
            ],
        )
        .await;
    assert_eq!(add.status, 403, "no new users");
    assert_eq!(
        admin.get("/reports").await.status,
        403,
        "reports are administrative"
    );
    assert_eq!(
        admin.get("/admin/users").await.status,
        200,
        "looking is not paused"
    );
    assert!(
        !admin
            .get("/admin/users")
            .await
            .body
            .contains("Add a staff account"),
        "buttons for paused work are hidden"
    );
    for (c, first, last) in [(&desk, "Grace", "Mutua"), (&admin, "Wambui", "Njeri")] {
        assert_eq!(
            c.get("/patients").await.status,
            200,
            "patient care is never paused"
        );
        c.get("/patients/new").await;
        let fields = [
            ("first_name", first),
            ("last_name", last),
            ("sex", "female"),
            ("age_years", "30"),
            ("id_type", "none"),
            ("register_anyway", "1"),
        ];
        let r = c.post_form("/patients", &fields).await;
        assert_eq!(
            r.status, 303,
            "and a patient can still be registered: {}",
            r.body
        );
    }
    assert!(desk
        .get("/")
        .await
        .body
        .contains("Administrative work is paused"));

    // A new licence lifts the pause at once.
    assert_eq!(
        admin.get("/admin/licence").await.status,
        200,
        "the licence can always be replaced"
    );
    let r = install(
        &admin,
        &licence_text(Tier::Hospital, "12345", "2027-12-31", &[]),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(admin.get("/admin/users/new").await.status, 200);
    assert!(!desk.get("/").await.body.contains("licence-banner"));

    // Thirty days before expiry: a banner for the administrator only.
    clock.set("2027-12-21T09:00:00+03:00");
    let home = admin.get("/").await;
    assert!(
        home.body.contains("licence expires in 10 days"),
        "{}",
        home.body
    );
    assert!(!desk.get("/").await.body.contains("licence-banner"));
}

async fn deleting_the_evaluation_start_does_not_restart_the_evaluation(backend: Backend) {
    let clock = TestClock::at(NOW);
    let Some(app) = TestApp::start_licensed(backend, &clock).await else {
        return;
    };
    let start = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let loaded = app.app.licensing.loaded(app.db()).await.unwrap();
    assert_eq!(loaded.first_start, start);
    assert_eq!(
        app.audit_count(hms_core::licence::EVALUATION_START).await,
        1,
        "the first start is in the audit trail"
    );

    // Ten days on, someone removes the setting and starts the server again.
    clock.advance_days(10);
    let mut tx = app.db().begin().await.unwrap();
    sqlx::query("DELETE FROM settings WHERE key = 'licence.first_start'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let moved = clock.clone();
    let mut parts = hms_web::parts();
    parts.modules.extend(hms_testkit::licensing::departments());
    parts.licence_key = Some(hms_testkit::licensing::signing_key().verifying_key());
    parts.clock = Some(std::sync::Arc::new(moved));
    let restarted = hms_web::start_with_parts(app.app.config.clone(), app.db().clone(), parts)
        .await
        .unwrap();
    let loaded = restarted.licensing.loaded(app.db()).await.unwrap();
    assert_eq!(
        loaded.first_start, start,
        "still the original day, not today"
    );
    let stored: String =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'licence.first_start'")
            .fetch_one(app.db().read())
            .await
            .unwrap();
    assert_eq!(stored, "2026-06-01");
    let verdict = loaded.verdict(restarted.licensing.today());
    assert!(
        matches!(
            verdict.standing,
            hms_core::licence::Standing::Evaluation { days_left: 49 }
        ),
        "{:?}",
        verdict.standing
    );
}

macro_rules! both {
    ($($name:ident),*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name(hms_testkit::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name(hms_testkit::Backend::Postgres).await }
        }
    )*};
}

both!(
    each_tier_switches_on_exactly_its_modules,
    bad_licence_files_are_explained_and_change_nothing,
    an_expired_licence_pauses_administration_but_never_patient_care,
    deleting_the_evaluation_start_does_not_restart_the_evaluation
);
