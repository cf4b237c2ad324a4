//! Facility settings as an administrator uses them: saving (audited, the name shown at once),
//! validation beside the fields with nothing changed, and the logo (PNG or JPEG only, at most
//! 256 KiB, served with its type and an ETag, shown in the top bar).

use hms_testkit::{each_backend, Client, TestApp, TestResponse};
use poem::http::Method;
use sqlx::Row;

fn good_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("facility_name", "Mwangaza Sub-County Hospital"),
        ("facility_code", "13023"),
        ("facility_level", "4"),
        ("facility_address", "P.O. Box 12, Kitale"),
        ("facility_phone", "0712 345 678"),
        ("facility_email", "info@mwangaza.co.ke"),
        ("default_language", "sw"),
        ("working_days", "mon"),
        ("working_days", "tue"),
        ("working_days", "sat"),
        ("mail_from", "records@mwangaza.co.ke"),
    ]
}

/// A tiny PNG: the signature and an IHDR chunk are enough for the checks (and browsers cope).
fn png(size: usize) -> Vec<u8> {
    let mut v =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    v.resize(size.max(v.len()), 0);
    v
}

/// Posts the settings form as a browser does (multipart), with an optional logo file.
async fn post_settings(
    c: &Client,
    fields: &[(&str, &str)],
    logo: Option<(&str, &[u8])>,
) -> TestResponse {
    let token = c.csrf_token().unwrap_or_default();
    let boundary = "hms-settings-boundary-91c2";
    let mut body = Vec::new();
    let mut all = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    for (k, v) in all {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, data)) = logo {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={boundary}");
    c.send(
        Method::POST,
        "/admin/settings",
        &[("Content-Type", ct.as_str())],
        body,
    )
    .await
}

async fn setting(app: &TestApp, key: &str) -> Option<String> {
    hms_core::settings::get(app.db(), key).await.unwrap()
}

async fn snapshot(app: &TestApp) -> (Vec<(String, String)>, i64, i64) {
    let rows = sqlx::query(
        "SELECT key, value FROM settings WHERE key NOT IN ('policy_version') ORDER BY key",
    )
    .fetch_all(app.db().read())
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    let logos: i64 = sqlx::query("SELECT COUNT(*) FROM facility_logo")
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0);
    (rows, logos, app.count("audit_log").await)
}

each_backend! {
    async fn settings_are_saved_audited_and_the_name_shows_at_once(app) {
        let admin = app.setup_admin().await;
        let page = admin.get("/admin/settings").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Mwangaza Health Centre"));
        assert!(page.body.contains("KES") && page.body.contains("Africa/Nairobi"), "currency and time zone shown");
        let r = post_settings(&admin, &good_fields(), None).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(setting(&app, "facility_name").await.as_deref(), Some("Mwangaza Sub-County Hospital"));
        assert_eq!(setting(&app, "facility_code").await.as_deref(), Some("13023"));
        // The install's facility row follows its name and KMHFL code.
        let facility = sqlx::query("SELECT name, kmhfl_code FROM facilities WHERE id = 1")
            .fetch_one(app.db().read()).await.unwrap();
        assert_eq!(facility.get::<String, _>(0), "Mwangaza Sub-County Hospital");
        assert_eq!(facility.get::<Option<String>, _>(1).as_deref(), Some("13023"));
        assert_eq!(setting(&app, "facility_level").await.as_deref(), Some("4"));
        assert_eq!(setting(&app, "facility_phone").await.as_deref(), Some("+254712345678"));
        assert_eq!(setting(&app, "default_language").await.as_deref(), Some("sw"));
        assert_eq!(setting(&app, "working_days").await.as_deref(), Some("mon,tue,sat"));
        assert_eq!(setting(&app, "mail_from").await.as_deref(), Some("records@mwangaza.co.ke"));
        assert_eq!(app.app.facility_name(), "Mwangaza Sub-County Hospital", "cached name refreshed");
        assert_eq!(app.app.default_language(), "sw", "the default language applies at once");
        let visitor = app.client().get("/login").await;
        assert!(visitor.body.contains("<html lang=\"sw\">"), "a new visitor sees the facility's language");

        let text: String = sqlx::query("SELECT detail FROM audit_log WHERE action = 'settings.update' ORDER BY id DESC LIMIT 1")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        let detail: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(detail["before"]["facility_name"], "Mwangaza Health Centre");
        assert_eq!(detail["after"]["facility_name"], "Mwangaza Sub-County Hospital");
        assert_eq!(detail["after"]["working_days"], "mon,tue,sat");

        // A landline is fine too; saving the same values again changes (and audits) nothing.
        let audits = app.audit_count("settings.update").await;
        let mut fields = good_fields();
        fields[4] = ("facility_phone", "020 234 5678");
        admin.get("/admin/settings").await;
        assert_eq!(post_settings(&admin, &fields, None).await.status, 303);
        assert_eq!(setting(&app, "facility_phone").await.as_deref(), Some("+254202345678"));
        assert_eq!(app.audit_count("settings.update").await, audits + 1);
        admin.get("/admin/settings").await;
        assert_eq!(post_settings(&admin, &fields, None).await.status, 303);
        assert_eq!(app.audit_count("settings.update").await, audits + 1);

        let nurse_id = app.add_user("nurse.akinyi", &["nurse"]).await;
        assert!(nurse_id > 0);
        let nurse = app.login("nurse.akinyi").await;
        assert_eq!(nurse.get("/admin/settings").await.status, 403);
    }

    async fn bad_settings_are_explained_beside_the_fields_and_nothing_changes(app) {
        let admin = app.setup_admin().await;
        admin.get("/admin/settings").await;
        let before = snapshot(&app).await;
        let r = post_settings(&admin, &[
            ("facility_name", "X"),
            ("facility_code", "12ab"),
            ("facility_level", "9"),
            ("facility_phone", "0812"),
            ("facility_email", "nope"),
            ("default_language", "fr"),
            ("mail_from", "also nope"),
        ], None).await;
        assert_eq!(r.status, 422);
        for (field, msg) in [
            ("facility_name", "Enter the facility"),
            ("facility_code", "4 to 6 digits"),
            ("facility_level", "level from 2 to 6"),
            ("facility_phone", "020 234 5678"),
            ("facility_email", "name@example.co.ke"),
            ("default_language", "English or Kiswahili"),
            ("working_days", "at least one working day"),
            ("mail_from", "name@example.co.ke"),
        ] {
            assert!(r.body.contains(&format!("id=\"{field}-error\"")), "{field} has its message");
            assert!(r.body.contains(msg), "{msg}");
        }
        assert!(r.body.contains("value=\"12ab\""), "what was typed is kept");
        assert_eq!(snapshot(&app).await, before, "nothing changed");
    }

    async fn a_png_logo_is_stored_served_and_shown_and_other_files_are_refused(app) {
        let admin = app.setup_admin().await;
        assert_eq!(admin.get("/facility/logo").await.status, 404, "no logo yet");
        assert!(!admin.get("/").await.body.contains("brand-logo"));

        // A GIF is refused, whatever its name says.
        admin.get("/admin/settings").await;
        let before = snapshot(&app).await;
        let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        let r = post_settings(&admin, &good_fields(), Some(("logo.png", gif))).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("must be a PNG or JPEG"), "{}", r.body);
        assert!(r.body.contains("id=\"logo-error\""));
        assert_eq!(snapshot(&app).await, before, "nothing changed, not even the other fields");

        // Too large: over 256 KiB.
        admin.get("/admin/settings").await;
        let r = post_settings(&admin, &good_fields(), Some(("logo.png", &png(300 * 1024)))).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("too large"), "{}", r.body);
        assert_eq!(snapshot(&app).await, before);

        // A good PNG.
        let logo = png(2048);
        admin.get("/admin/settings").await;
        let r = post_settings(&admin, &good_fields(), Some(("logo.png", &logo))).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let served = admin.get("/facility/logo").await;
        assert_eq!(served.status, 200);
        assert_eq!(served.header("content-type"), Some("image/png"));
        assert_eq!(served.bytes, logo);
        let etag = served.header("etag").expect("ETag").to_string();
        let again = admin.send(Method::GET, "/facility/logo", &[("If-None-Match", etag.as_str())], Vec::new()).await;
        assert_eq!(again.status, 304);
        let home = admin.get("/").await;
        assert!(home.body.contains("class=\"brand-logo\""), "shown in the top bar");
        assert!(home.body.contains("alt=\"Mwangaza Sub-County Hospital\""));
        let detail: String = sqlx::query("SELECT detail FROM audit_log WHERE action = 'settings.update' ORDER BY id DESC LIMIT 1")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        assert!(detail.contains("image/png"), "{detail}");

        // A JPEG replaces it; signed-out visitors cannot fetch it.
        let jpeg = [0xFFu8, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0];
        admin.get("/admin/settings").await;
        assert_eq!(post_settings(&admin, &good_fields(), Some(("logo.jpg", &jpeg))).await.status, 303);
        let served = admin.get("/facility/logo").await;
        assert_eq!(served.header("content-type"), Some("image/jpeg"));
        assert_ne!(served.header("etag"), Some(etag.as_str()));
        assert_eq!(app.client().get("/facility/logo").await.status, 303, "sign in first");
    }
}
