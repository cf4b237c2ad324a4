//! The HMS test kit: starts the real application on a fresh SQLite file or a fresh PostgreSQL
//! database (cloned from a migrated template, dropped afterwards), and a client that keeps
//! cookies and sends CSRF tokens like a browser.

pub mod browser;
mod client;
pub mod domain;
pub mod licensing;
pub mod pdf;
mod pg;
pub mod smtp;
pub mod standin;

use std::path::PathBuf;
use std::sync::Arc;

use hms_core::auth::password::Hasher;
use hms_core::auth::users::{self, NewUser};
use hms_core::config::Config;
use hms_core::db::Db;
use hms_core::App;

pub use client::{Client, TestResponse};

/// A strong password that passes the policy, for test accounts.
pub const PASSWORD: &str = "green mango season 2026";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub type SharedEndpoint = Arc<dyn poem::endpoint::DynEndpoint<Output = poem::Response>>;

pub struct TestApp {
    pub app: App,
    pub backend: Backend,
    pub endpoint: SharedEndpoint,
    pub data_dir: PathBuf,
    pg_database: Option<pg::TestDatabase>,
}

/// Runs a test body once on SQLite and once on PostgreSQL (when `HMS_TEST_POSTGRES_URL` is
/// set): `each_backend! { async fn name(app) { ... } }` makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! each_backend {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::TestApp::start($crate::Backend::Sqlite)
                    .await
                    .expect("SQLite test app starts");
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($app) = $crate::TestApp::start($crate::Backend::Postgres).await else {
                    return;
                };
                $body
            }
        }
    )*};
}

fn unique_name() -> String {
    let mut b = [0u8; 6];
    rand::fill(&mut b);
    hex::encode(b)
}

impl TestApp {
    /// A fresh application on `backend`; `None` for PostgreSQL when it is not configured
    /// (the skip is printed).
    pub async fn start(backend: Backend) -> Option<TestApp> {
        Self::start_with(backend, |_| {}).await
    }

    /// Like `start`, with a chance to adjust the configuration first.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        Self::start_custom(backend, adjust, |_| {}).await
    }

    /// Like `start_with`, and with a chance to adjust the application's parts: stand-in
    /// modules, the test licence key, a test clock.
    pub async fn start_custom(
        backend: Backend,
        adjust: impl FnOnce(&mut Config),
        parts: impl FnOnce(&mut hms_core::app::Parts),
    ) -> Option<TestApp> {
        if std::env::var_os("HMS_TEST_LOG").is_some() {
            // Server log lines (errors behind a 500) on the test's output, when asked for.
            let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        }
        let data_dir = std::env::temp_dir().join(format!("hms-test-{}", unique_name()));
        std::fs::create_dir_all(&data_dir).expect("temp data dir");
        let mut config = Config {
            data_dir: data_dir.clone(),
            ..Config::default()
        };
        let mut pg_database = None;
        match backend {
            Backend::Sqlite => {}
            Backend::Postgres => {
                let Some(admin) = pg::admin_url() else {
                    eprintln!("skipped: HMS_TEST_POSTGRES_URL is not set");
                    return None;
                };
                let db = pg::TestDatabase::create(&admin).await;
                config.database_url = Some(db.url.clone());
                pg_database = Some(db);
            }
        }
        adjust(&mut config);
        let db = Db::open(&config.effective_database_url())
            .await
            .expect("test database opens");
        let mut app_parts = hms_web::parts();
        parts(&mut app_parts);
        let app = hms_web::start_with_parts(config, db, app_parts)
            .await
            .expect("app starts");
        let endpoint: SharedEndpoint =
            Arc::from(poem::EndpointExt::boxed(hms_web::endpoint(app.clone())));
        Some(TestApp {
            app,
            backend,
            endpoint,
            data_dir,
            pg_database,
        })
    }

    pub fn db(&self) -> &Db {
        &self.app.db
    }

    /// What another process or app server changes in sessions, users or roles directly in the
    /// database shows here once the server's session cache lapses (a few seconds); a test that
    /// makes such a change lapses it at once.
    pub fn forget_cached_sessions(&self) {
        self.app.sessions.clear();
    }

    /// A new browser-like client (own cookie jar) talking to the real router.
    pub fn client(&self) -> Client {
        Client::new(self.endpoint.clone(), "192.0.2.10:50000".parse().unwrap())
    }

    /// A client whose requests come from another address.
    pub fn client_from(&self, addr: &str) -> Client {
        Client::new(self.endpoint.clone(), addr.parse().expect("socket address"))
    }

    /// Runs first-run setup through the screens; returns the administrator's signed-in client.
    pub async fn setup_admin(&self) -> Client {
        let c = self.client();
        let page = c.get("/setup").await;
        assert_eq!(page.status, 200, "setup page: {}", page.body);
        let r = c
            .post_form(
                "/setup",
                &[
                    ("facility_name", "Mwangaza Health Centre"),
                    ("full_name", "Amina Wanjiku"),
                    ("username", "admin"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "setup answers with a redirect: {}", r.body);
        c
    }

    /// An app with `extra` modules besides the compiled ones (a department built only in
    /// tests, such as [`standin::StandIn`]); `None` when the app does not start on `backend`.
    pub async fn start_with_modules(
        backend: Backend,
        extra: Vec<Arc<dyn hms_core::module::Module>>,
    ) -> Option<TestApp> {
        Self::start_custom(backend, |_| {}, move |p| p.modules.extend(extra)).await
    }

    /// An app with the stand-in departments, the test licence key and a clock set to `now`.
    pub async fn start_licensed(backend: Backend, clock: &licensing::TestClock) -> Option<TestApp> {
        let clock = clock.clone();
        Self::start_custom(
            backend,
            |_| {},
            move |p| {
                p.modules.extend(licensing::departments());
                p.licence_key = Some(licensing::signing_key().verifying_key());
                p.clock = Some(std::sync::Arc::new(clock));
            },
        )
        .await
    }

    /// Adds a user directly (as the CLI does); returns the id.
    pub async fn add_user(&self, username: &str, roles: &[&str]) -> i64 {
        let hash = Hasher::new().hash(PASSWORD).await.expect("hash");
        let mut tx = self.db().begin().await.expect("begin");
        let id = users::create(
            &mut tx,
            &NewUser {
                username: username.into(),
                full_name: format!("{username} Test"),
                password_hash: hash,
                roles: roles.iter().map(|r| r.to_string()).collect(),
                details: Default::default(),
                must_change_password: false,
            },
            &hms_core::audit::Actor::cli(None),
            false,
        )
        .await
        .expect("user created")
        .expect("id");
        tx.commit().await.expect("commit");
        id
    }

    /// A signed-in client for `username` (password `PASSWORD`).
    pub async fn login(&self, username: &str) -> Client {
        let c = self.client();
        let r = c.login(username, PASSWORD).await;
        assert_eq!(r.status, 303, "login of {username}: {}", r.body);
        c
    }

    /// Serves the application on 127.0.0.1 over real TCP (for browsers); returns the base URL.
    /// The server stops when the returned guard is dropped.
    pub async fn serve(&self) -> (String, tokio::sync::oneshot::Sender<()>) {
        let acceptor = hms_web::server::bind("127.0.0.1:0").await.expect("bind");
        let addr = hms_web::server::local_addr(&acceptor).expect("local address");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = self.app.clone();
        tokio::spawn(async move {
            let _ = hms_web::server::serve(app, acceptor, async {
                let _ = rx.await;
            })
            .await;
        });
        (format!("http://{addr}"), tx)
    }

    /// Counts rows of an audit action.
    pub async fn audit_count(&self, action: &str) -> i64 {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = $1")
            .bind(action)
            .fetch_one(self.db().read())
            .await
            .expect("audit count")
            .get(0)
    }

    /// The one number a statement from the test's own code answers (`SELECT COUNT(*) ...`).
    pub async fn scalar(&self, sql: &'static str) -> i64 {
        use sqlx::Row;
        sqlx::query(sql)
            .fetch_one(self.db().read())
            .await
            .expect("the test's query runs")
            .get(0)
    }

    /// Counts rows of a table (name from the test's own code, never user input).
    pub async fn count(&self, table: &'static str) -> i64 {
        use sqlx::Row;
        let sql = match table {
            "users" => "SELECT COUNT(*) FROM users",
            "sessions" => "SELECT COUNT(*) FROM sessions",
            "audit_log" => "SELECT COUNT(*) FROM audit_log",
            "settings" => "SELECT COUNT(*) FROM settings",
            "login_throttle" => "SELECT COUNT(*) FROM login_throttle",
            "role_grants_rows" => "SELECT COUNT(*) FROM role_grants WHERE voided_at IS NULL",
            "patients" => "SELECT COUNT(*) FROM patients",
            "patient_identifiers" => {
                "SELECT COUNT(*) FROM patient_identifiers WHERE voided_at IS NULL"
            }
            other => panic!("count: unknown table {other}"),
        };
        sqlx::query(sql)
            .fetch_one(self.db().read())
            .await
            .expect("count")
            .get(0)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(db) = self.pg_database.take() {
            db.drop_now();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
