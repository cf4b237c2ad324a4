//! PostgreSQL test databases: one migrated template per migration set (made once, under an
//! advisory lock so parallel test binaries agree), cloned for each test and dropped after it.

use sha2::{Digest, Sha256};
use sqlx::{Connection, Executor, PgConnection, Row};
use tokio::sync::OnceCell;

use hms_core::db::{migrations, Backend, Db};

pub fn admin_url() -> Option<String> {
    std::env::var("HMS_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// The URL of another database on the same server.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..host_end], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

async fn template(admin: &str) -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let mut hasher = Sha256::new();
            for m in migrations(Backend::Postgres) {
                hasher.update(m.checksum.as_bytes());
            }
            let name = format!("hms_tpl_{}", &hex::encode(hasher.finalize())[..16]);
            let mut conn = PgConnection::connect(admin)
                .await
                .expect("connect to PostgreSQL");
            conn.execute("SELECT pg_advisory_lock(7301002)")
                .await
                .expect("lock");
            let exists = sqlx::query("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
                .bind(&name)
                .fetch_one(&mut conn)
                .await
                .expect("query")
                .get::<i64, _>(0)
                == 1;
            if !exists {
                let building = format!("{name}_building");
                let drop = format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)");
                conn.execute(sqlx::AssertSqlSafe(drop)).await.expect("drop");
                let create = format!("CREATE DATABASE {building}");
                conn.execute(sqlx::AssertSqlSafe(create))
                    .await
                    .expect("create");
                let db = Db::open(&with_database(admin, &building))
                    .await
                    .expect("migrate template");
                db.close().await;
                let rename = format!("ALTER DATABASE {building} RENAME TO {name}");
                conn.execute(sqlx::AssertSqlSafe(rename))
                    .await
                    .expect("rename");
            }
            conn.execute("SELECT pg_advisory_unlock(7301002)")
                .await
                .expect("unlock");
            let _ = conn.close().await;
            name
        })
        .await
}

pub struct TestDatabase {
    admin: String,
    name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create(admin: &str) -> Self {
        let template = template(admin).await;
        let name = format!("hms_test_{}", super::unique_name());
        let mut conn = PgConnection::connect(admin)
            .await
            .expect("connect to PostgreSQL");
        // Names are generated here from hex digits: safe to splice.
        let sql = format!("CREATE DATABASE {name} TEMPLATE {template}");
        let mut tries = 0;
        loop {
            match conn.execute(sqlx::AssertSqlSafe(sql.clone())).await {
                Ok(_) => break,
                // Another test may be cloning the template this very moment.
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("create test database: {e}"),
            }
        }
        let _ = conn.close().await;
        TestDatabase {
            admin: admin.to_string(),
            url: with_database(admin, &name),
            name,
        }
    }

    /// Drops the database (from a thread of its own: `Drop` cannot await).
    pub fn drop_now(self) {
        let TestDatabase { admin, name, .. } = self;
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = conn.execute(sqlx::AssertSqlSafe(sql)).await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u:p@h/db?sslmode=disable", "y"),
            "postgres://u:p@h/y?sslmode=disable"
        );
    }
}
