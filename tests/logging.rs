//! What the server log carries (a request id and the path of every request) and what it may
//! never carry (passwords, session and form tokens, query strings, patient names).
//!
//! A test binary of its own: the subscriber is the process-wide default, installed before
//! anything logs. A subscriber scoped to the test's future misses lines when tests running
//! beside it on other threads register the same log sites first.

use std::io::Write;
use std::sync::{Arc, Mutex};

use hms_testkit::{Backend, TestApp, PASSWORD};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_request_ids_and_never_secrets_or_query_strings() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("debug,sqlx=warn")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let secret_query = "q=Wambui+Njoroge";
    app.setup_admin().await;
    let c = app.client();
    c.login("admin", "wrong password typed here").await;
    c.login("admin", PASSWORD).await;
    c.get(&format!("/no-such-page?{secret_query}")).await;
    c.get("/patients?q=Wambui").await;
    c.get("/").await;
    let (session, csrf) = (c.cookie("hms_session").unwrap(), c.csrf_token().unwrap());
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("request{id="),
        "request ids on lines:\n{logs}"
    );
    assert!(
        logs.contains("path=/no-such-page"),
        "paths are logged:\n{logs}"
    );
    for secret in [
        PASSWORD,
        "wrong password typed here",
        &session,
        &csrf,
        "Wambui",
        secret_query,
    ] {
        assert!(
            !logs.contains(secret),
            "the log contains a secret ({secret}):\n{logs}"
        );
    }
}
