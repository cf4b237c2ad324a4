//! The `hms` command line, run as a real process on a fresh data directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_hms");
const PW: &str = "green mango season 2026";

struct DataDir(PathBuf);

impl DataDir {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hms-cli-{}-{nanos}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        DataDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hms(dir: &DataDir, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("HMS_DATABASE_URL")
        .env_remove("HMS_CONFIG")
        .env_remove("HMS_BIND")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("hms runs");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn version_and_help_answer() {
    let v = Command::new(BIN).arg("--version").output().unwrap();
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("hms "));
    let h = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&h.stdout);
    for cmd in ["serve", "migrate", "config", "user"] {
        assert!(help.contains(cmd), "help lists {cmd}");
    }
}

#[test]
fn migrate_creates_only_the_one_database_file() {
    let dir = DataDir::new();
    let out = hms(&dir, &["migrate"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.path().join("hms.db").exists());
    let again = hms(&dir, &["migrate"], None);
    assert!(text(&again).contains("0 migration"), "{}", text(&again));
    let stray: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| (n.ends_with(".db") && n != "hms.db") || n.contains(".sqlite"))
        .collect();
    assert!(stray.is_empty(), "no other database files: {stray:?}");
}

#[test]
fn users_are_added_listed_given_passwords_and_disabled_with_clear_errors() {
    let dir = DataDir::new();
    let add = hms(
        &dir,
        &[
            "user",
            "add",
            "Mwangi",
            "--role",
            "doctor",
            "--role",
            "nurse",
            "--full-name",
            "Peter Mwangi",
        ],
        Some(&format!("{PW}\n")),
    );
    assert!(add.status.success(), "{}", text(&add));

    let dup = hms(
        &dir,
        &["user", "add", "mwangi", "--role", "doctor"],
        Some(&format!("{PW}\n")),
    );
    assert_eq!(dup.status.code(), Some(1));
    assert!(text(&dup).contains("already taken"), "{}", text(&dup));

    let role = hms(
        &dir,
        &["user", "add", "kamau", "--role", "surgeon"],
        Some(&format!("{PW}\n")),
    );
    assert_eq!(role.status.code(), Some(1));
    assert!(
        text(&role).contains("unknown role 'surgeon'"),
        "{}",
        text(&role)
    );

    let weak = hms(
        &dir,
        &["user", "add", "kamau", "--role", "nurse"],
        Some("password123\n"),
    );
    assert_eq!(weak.status.code(), Some(1));
    assert!(text(&weak).contains("too common"), "{}", text(&weak));

    let list = hms(&dir, &["user", "list"], None);
    let listed = text(&list);
    assert!(
        listed.contains("mwangi")
            && listed.contains("Peter Mwangi")
            && listed.contains("doctor,nurse")
    );
    assert!(!listed.contains("kamau"), "failed adds changed nothing");

    let setpw = hms(
        &dir,
        &["user", "set-password", "mwangi"],
        Some("another long passphrase\n"),
    );
    assert!(setpw.status.success(), "{}", text(&setpw));
    let missing = hms(&dir, &["user", "disable", "nobody"], None);
    assert_eq!(missing.status.code(), Some(1));
    let disable = hms(&dir, &["user", "disable", "mwangi"], None);
    assert!(disable.status.success(), "{}", text(&disable));
    assert!(text(&hms(&dir, &["user", "list"], None)).contains("disabled"));
    let clear = hms(&dir, &["user", "clear-throttle", "mwangi"], None);
    assert!(clear.status.success(), "{}", text(&clear));

    // Every change made here is audited like a change made on screen.
    let db = dir.path().join("hms.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let actions: Vec<String> = rt.block_on(async {
        let db = hms_core::db::Db::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT action, client_addr FROM audit_log ORDER BY id")
                .fetch_all(db.read())
                .await
                .unwrap();
        assert!(rows.iter().all(|(_, addr)| addr == "cli"));
        rows.into_iter().map(|(a, _)| a).collect()
    });
    assert_eq!(
        actions,
        [
            "user.create",
            "user.set_password",
            "user.disable",
            "auth.throttle_clear"
        ]
    );
}

#[test]
fn config_prints_values_and_their_sources_with_secrets_redacted() {
    let dir = DataDir::new();
    let out = Command::new(BIN)
        .args(["config", "--bind", "0.0.0.0:9090"])
        .env("HMS_DATABASE_URL", "postgres://hms:s3cret@db.local/hms")
        .env("HMS_COOKIE_SECURE", "1")
        .env("HMS_DATA_DIR", dir.path())
        .output()
        .unwrap();
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains("bind = 0.0.0.0:9090    # command line"),
        "{printed}"
    );
    assert!(
        printed.contains("cookie_secure = true    # environment HMS_COOKIE_SECURE"),
        "{printed}"
    );
    assert!(
        printed.contains("postgres://hms:***@db.local/hms"),
        "{printed}"
    );
    assert!(!printed.contains("s3cret"));
    assert!(
        printed.contains("session_idle_minutes = 30    # default"),
        "{printed}"
    );
}

#[test]
fn modules_are_listed_with_whether_and_why_they_are_enabled() {
    let on = Command::new(BIN)
        .arg("modules")
        .env_remove("HMS_MODULES_DISABLED")
        .output()
        .unwrap();
    let listed = text(&on);
    assert!(on.status.success(), "{listed}");
    assert!(
        listed.contains("admin") && listed.contains("enabled") && listed.contains("compiled in"),
        "{listed}"
    );
    let off = Command::new(BIN)
        .arg("modules")
        .env("HMS_MODULES_DISABLED", "admin")
        .output()
        .unwrap();
    let listed = text(&off);
    assert!(
        listed.contains("disabled") && listed.contains("modules_disabled"),
        "{listed}"
    );
}

#[test]
fn bad_configuration_is_reported_with_exit_code_1() {
    let out = Command::new(BIN)
        .args(["config"])
        .env("HMS_BIND", "nonsense")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("bind"));
}

#[cfg(unix)]
#[test]
fn the_server_starts_answers_and_stops_cleanly_on_sigterm() {
    let dir = DataDir::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let bind = format!("127.0.0.1:{port}");
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", &bind, "--data-dir"])
        .arg(dir.path())
        .env_remove("HMS_DATABASE_URL")
        // Inside the data directory: the automatic backup is refused, nothing lands in ./
        .env("HMS_BACKUP_DIR", dir.path().join("backups"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut answered = false;
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(&bind) {
            use std::io::Read;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut resp = String::new();
            let _ = s.read_to_string(&mut resp);
            answered = resp.starts_with("HTTP/1.1 200") && resp.ends_with("ok");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(answered, "the health check answered ok");
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
}
