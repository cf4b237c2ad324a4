//! The benchmark's data and server: a demo facility made by `hms demo-data` (cached between runs,
//! keyed by patients, days, seed and schema), copied fresh for each run, and the real server
//! started on it as a child process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::Row;

use hms_core::db::Backend;

/// Bump when the demo generator changes what it makes, so cached data sets are made again.
const GENERATOR_TAG: &str = "demo-5";

/// How to run `hms`: the bench binary itself (`--as-hms`, the same code as the `hms` binary)
/// or a given `hms` executable.
#[derive(Debug, Clone)]
pub struct Hms {
    pub exe: PathBuf,
    pub prefix: Vec<String>,
}

impl Hms {
    pub fn command(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.args(&self.prefix);
        // A clean environment for HMS: no hms.toml from the current folder, no HMS_* settings
        // of whoever runs the benchmark.
        cmd.current_dir(dir);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HMS_") {
                cmd.env_remove(key);
            }
        }
        cmd
    }
}

/// A demo account: username, role, password.
#[derive(Debug, Clone)]
pub struct Account {
    pub username: String,
    pub role: String,
    pub password: String,
}

/// What the run works on.
pub struct Prepared {
    pub data_dir: PathBuf,
    /// `None` on SQLite (the data directory's hms.db).
    pub database_url: Option<String>,
    pub accounts: Vec<Account>,
    /// Seconds `hms demo-data` took, when it ran in this run (not cached).
    pub generated_in: Option<f64>,
    pub key: String,
    pg: Option<PgRun>,
}

struct PgRun {
    admin_url: String,
    database: String,
}

fn schema_hash(backend: Backend) -> String {
    let mut h = Sha256::new();
    h.update(GENERATOR_TAG.as_bytes());
    for m in hms_core::db::migrations(backend) {
        h.update(m.checksum.as_bytes());
    }
    hex::encode(h.finalize())[..10].to_string()
}

/// `url` with its database name replaced.
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
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn parse_accounts(stdout: &str) -> Vec<Account> {
    stdout
        .lines()
        .filter(|l| l.starts_with("  demo."))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3).then(|| Account {
                username: f[0].to_string(),
                role: f[1].to_string(),
                password: f[2].to_string(),
            })
        })
        .collect()
}

fn save_accounts(path: &Path, accounts: &[Account]) -> std::io::Result<()> {
    let text: String = accounts
        .iter()
        .map(|a| format!("  {} {} {}\n", a.username, a.role, a.password))
        .collect();
    std::fs::write(path, text)
}

fn load_accounts(path: &Path) -> Option<Vec<Account>> {
    let accounts = parse_accounts(&std::fs::read_to_string(path).ok()?);
    (!accounts.is_empty()).then_some(accounts)
}

/// What demo facility to make: its patients, the days of history and the seed.
#[derive(Debug, Clone, Copy)]
pub struct Facility {
    pub patients: u64,
    pub days: u64,
    pub seed: u64,
}

/// Runs `hms demo-data` into `data_dir` (and `database`); returns the accounts it printed.
fn demo_data(
    hms: &Hms,
    data_dir: &Path,
    database: Option<&str>,
    facility: Facility,
) -> Result<Vec<Account>, String> {
    std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let mut cmd = hms.command(data_dir);
    cmd.arg("demo-data")
        .arg("--patients")
        .arg(facility.patients.to_string())
        .arg("--days")
        .arg(facility.days.to_string())
        .arg("--seed")
        .arg(facility.seed.to_string())
        .arg("--data-dir")
        .arg(data_dir);
    if let Some(url) = database {
        cmd.arg("--database").arg(url);
    }
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run hms demo-data: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines().filter(|l| !l.starts_with("  demo.")) {
        if !line.contains("passwords are shown") && !line.trim_start().starts_with("username") {
            println!("  demo-data: {line}");
        }
    }
    if !out.status.success() {
        return Err(format!("hms demo-data failed ({})", out.status));
    }
    let accounts = parse_accounts(&stdout);
    if accounts.is_empty() {
        return Err("hms demo-data printed no accounts".into());
    }
    Ok(accounts)
}

fn copy_sqlite(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for name in ["hms.db", "hms.db-wal", "audit-head"] {
        let src = from.join(name);
        if src.exists() {
            std::fs::copy(&src, to.join(name)).map_err(|e| format!("{}: {e}", src.display()))?;
        }
    }
    Ok(())
}

/// Removes cached data sets of the same size and seed made for an older schema or generator
/// (a million patients take half a gigabyte).
fn forget_stale(cache: &Path, key: &str) {
    let Some((family, _)) = key.rsplit_once('-') else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name != key && name.starts_with(&format!("{family}-")) && !name.contains(".tmp-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Whether the demo facility is cached between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// Reuse a cached data set when there is one, otherwise make and keep it.
    Use,
    /// Make it again and keep it.
    Renew,
    /// Make it for this run only (tests).
    Off,
}

/// Makes (or reuses) the demo facility and gives this run its own copy.
pub async fn prepare(
    hms: &Hms,
    work: &Path,
    database: Option<&str>,
    facility: Facility,
    cache_mode: Cache,
) -> Result<Prepared, String> {
    let Facility {
        patients,
        days,
        seed,
    } = facility;
    let backend = if database.is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let key = format!(
        "{}-{patients}-{days}d-{seed}-{}",
        match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "pg",
        },
        schema_hash(backend)
    );
    let cache = work.join("cache");
    let cached = cache.join(&key);
    if cache_mode != Cache::Off {
        forget_stale(&cache, &key);
    }
    let run_dir = work.join(format!("run-{}", std::process::id()));
    let data_dir = run_dir.join("data");
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
    let mut generated_in = None;

    if cache_mode == Cache::Off {
        let started = Instant::now();
        let (database_url, pg) = match database {
            None => (None, None),
            Some(url) => {
                let name = format!("hms_bench_run_{}", std::process::id());
                let admin = sqlx::postgres::PgPool::connect(url)
                    .await
                    .map_err(|e| format!("cannot connect to {url}: {e}"))?;
                exec(&admin, &format!("DROP DATABASE IF EXISTS \"{name}\"")).await?;
                exec(&admin, &format!("CREATE DATABASE \"{name}\"")).await?;
                admin.close().await;
                (
                    Some(with_database(url, &name)),
                    Some(PgRun {
                        admin_url: url.to_string(),
                        database: name,
                    }),
                )
            }
        };
        let accounts = demo_data(hms, &data_dir, database_url.as_deref(), facility)?;
        generated_in = Some(started.elapsed().as_secs_f64());
        return Ok(Prepared {
            data_dir,
            database_url,
            accounts,
            generated_in,
            key,
            pg,
        });
    }
    let fresh = cache_mode == Cache::Renew;
    match database {
        None => {
            let accounts = match load_accounts(&cached.join("users.txt")) {
                Some(a) if !fresh && cached.join("hms.db").is_file() => a,
                _ => {
                    let tmp = cache.join(format!("{key}.tmp-{}", std::process::id()));
                    let _ = std::fs::remove_dir_all(&tmp);
                    let started = Instant::now();
                    let accounts = demo_data(hms, &tmp, None, facility)?;
                    generated_in = Some(started.elapsed().as_secs_f64());
                    save_accounts(&tmp.join("users.txt"), &accounts).map_err(|e| e.to_string())?;
                    let _ = std::fs::remove_dir_all(&cached);
                    std::fs::rename(&tmp, &cached).map_err(|e| e.to_string())?;
                    accounts
                }
            };
            copy_sqlite(&cached, &data_dir)?;
            Ok(Prepared {
                data_dir,
                database_url: None,
                accounts,
                generated_in,
                key,
                pg: None,
            })
        }
        Some(url) => {
            let admin = sqlx::postgres::PgPool::connect(url)
                .await
                .map_err(|e| format!("cannot connect to {url}: {e}"))?;
            let template = format!("hms_bench_tpl_{}", key.replace('-', "_"));
            // Templates of the same size and seed for an older schema or generator go.
            let family = format!("{}_", &template[..template.rfind('_').unwrap_or(0)]);
            let stale: Vec<String> = sqlx::query(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2",
            )
            .bind(&family)
            .bind(&template)
            .fetch_all(&admin)
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| r.get(0))
            .collect();
            for name in stale {
                exec(&admin, &format!("DROP DATABASE IF EXISTS \"{name}\"")).await?;
            }
            let exists: bool = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(&template)
                .fetch_optional(&admin)
                .await
                .map_err(|e| e.to_string())?
                .is_some();
            let accounts = match load_accounts(&cached.join("users.txt")) {
                Some(a) if !fresh && exists => a,
                _ => {
                    exec(&admin, &format!("DROP DATABASE IF EXISTS \"{template}\"")).await?;
                    exec(&admin, &format!("CREATE DATABASE \"{template}\"")).await?;
                    let tmp = cache.join(format!("{key}.tmp-{}", std::process::id()));
                    let _ = std::fs::remove_dir_all(&tmp);
                    let started = Instant::now();
                    let accounts =
                        demo_data(hms, &tmp, Some(&with_database(url, &template)), facility)?;
                    generated_in = Some(started.elapsed().as_secs_f64());
                    save_accounts(&tmp.join("users.txt"), &accounts).map_err(|e| e.to_string())?;
                    let _ = std::fs::remove_dir_all(&cached);
                    std::fs::rename(&tmp, &cached).map_err(|e| e.to_string())?;
                    accounts
                }
            };
            let database = format!("hms_bench_run_{}", std::process::id());
            exec(&admin, &format!("DROP DATABASE IF EXISTS \"{database}\"")).await?;
            exec(
                &admin,
                &format!("CREATE DATABASE \"{database}\" TEMPLATE \"{template}\""),
            )
            .await?;
            admin.close().await;
            if let Ok(head) = std::fs::read(cached.join("audit-head")) {
                let _ = std::fs::write(data_dir.join("audit-head"), head);
            }
            Ok(Prepared {
                data_dir,
                database_url: Some(with_database(url, &database)),
                accounts,
                generated_in,
                key,
                pg: Some(PgRun {
                    admin_url: url.to_string(),
                    database,
                }),
            })
        }
    }
}

/// Database names here are made by the benchmark from digits, letters and underscores.
async fn exec(pool: &sqlx::PgPool, sql: &str) -> Result<(), String> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(pool)
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    Ok(())
}

impl Prepared {
    /// The database size now, in bytes.
    pub async fn database_bytes(&self) -> u64 {
        match &self.pg {
            None => ["hms.db", "hms.db-wal"]
                .iter()
                .filter_map(|n| std::fs::metadata(self.data_dir.join(n)).ok())
                .map(|m| m.len())
                .sum(),
            Some(pg) => {
                let Ok(pool) = sqlx::postgres::PgPool::connect(&pg.admin_url).await else {
                    return 0;
                };
                let size = sqlx::query("SELECT pg_database_size($1)")
                    .bind(&pg.database)
                    .fetch_one(&pool)
                    .await
                    .map(|r| r.get::<i64, _>(0).max(0) as u64)
                    .unwrap_or(0);
                pool.close().await;
                size
            }
        }
    }

    /// Removes this run's copy (the cached data set stays).
    pub async fn remove(&self) {
        if let Some(pg) = &self.pg {
            if let Ok(pool) = sqlx::postgres::PgPool::connect(&pg.admin_url).await {
                let _ = exec(
                    &pool,
                    &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", pg.database),
                )
                .await;
                pool.close().await;
            }
        }
        if let Some(run_dir) = self.data_dir.parent() {
            let _ = std::fs::remove_dir_all(run_dir);
        }
    }
}

/// The server under test.
pub struct Server {
    child: Child,
    pub addr: std::net::SocketAddr,
    pub startup: Duration,
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

impl Server {
    /// Starts `hms serve` on the prepared data and waits until `/healthz` answers 200; the
    /// time from spawning to that answer is the start-up time.
    pub async fn start(hms: &Hms, prepared: &Prepared) -> Result<Server, String> {
        let port = free_port()?;
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let run_dir = prepared.data_dir.parent().unwrap_or(&prepared.data_dir);
        let log = std::fs::File::create(run_dir.join("server.log")).map_err(|e| e.to_string())?;
        let mut cmd = hms.command(run_dir);
        cmd.arg("serve")
            .arg("--bind")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(&prepared.data_dir);
        if let Some(url) = &prepared.database_url {
            cmd.arg("--database").arg(url);
        }
        // Automatic backups would copy the whole database while we measure: a backup folder
        // inside the data directory is refused, so none is made.
        cmd.env("HMS_BACKUP_DIR", prepared.data_dir.join("no-backups"))
            // M-Pesa callbacks (`stk_callback`) come to the address with this secret.
            .env(
                "HMS_MODULES_BILLING_MPESA_CALLBACK_SECRET",
                crate::billing::CALLBACK_SECRET,
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("cannot start hms: {e}"))?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "the server exited at start ({status}); see {}",
                    run_dir.join("server.log").display()
                ));
            }
            let mut probe = crate::http::Client::new(addr);
            if let Ok(r) = probe.get("/healthz").await {
                if r.status == 200 {
                    break;
                }
            }
            if started.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                return Err("the server did not answer /healthz within 2 minutes".into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(Server {
            startup: started.elapsed(),
            child,
            addr,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Memory of the server process from /proc, in kB: resident now, peak resident, and the
    /// process's own part of the resident now (`RssAnon`: without the pages of the database
    /// file that SQLite readers map, which are the kernel's shared page cache).
    pub fn memory_kb(&self) -> (u64, u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"), field("RssAnon:"))
    }

    /// SIGTERM, as a service manager stops it; killed if it has not finished within 30 s.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }

    #[test]
    fn accounts_are_read_from_the_demo_output() {
        let out = "Demo staff accounts (the passwords are shown only this once):\n  \
                   username               role             password\n  \
                   demo.admin             admin            abc123def456ghjk\n  \
                   demo.doctor            already exists; password unchanged\n";
        let a = parse_accounts(out);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].username, "demo.admin");
        assert_eq!(a[0].password, "abc123def456ghjk");
    }
}
