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

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    // Without trusted proxies, X-Forwarded-For is ignored: throttling keys on the peer.
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    app.setup_admin().await;
    let c = app.client_from("203.0.113.5:1000");
    c.get("/login").await;
    c.send(
        Method::POST,
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Forwarded-For", "10.9.9.9"),
        ],
        format!(
            "csrf_token={}&username=admin&password=wrong-password-1",
            c.csrf_token().unwrap()
        )
        .into_bytes(),
    )
    .await;
    let addrs = throttle_addrs(&app).await;
    assert_eq!(addrs, ["203.0.113.5"]);

    // Behind a trusted proxy, the client's own address is used.
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.trusted_proxies = vec![hms_core::config::TrustedNet::parse("203.0.113.0/24").unwrap()];
    })
    .await
    .unwrap();
    app.setup_admin().await;
    let proxy = app.client_from("203.0.113.5:1000");
    proxy.get("/login").await;
    proxy
        .send(
            Method::POST,
            "/login",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("X-Forwarded-For", "198.51.100.1, 10.1.2.3, 203.0.113.9"),
            ],
            format!(
                "csrf_token={}&username=admin&password=wrong-password-1",
                proxy.csrf_token().unwrap()
            )
            .into_bytes(),
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
