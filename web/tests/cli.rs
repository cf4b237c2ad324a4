//! The `hms` command line, run as a real process on a fresh data directory.

mod common;

use std::process::Command;

use common::{text, TempDir, BIN, PW};

/// `hms ARGS` on the data folder of `site` (backups, if any, beside it).
fn hms(site: &TempDir, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    common::hms(
        args,
        &site.path().join("data"),
        &site.path().join("backups"),
        stdin,
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
    let dir = TempDir::new("cli");
    let out = hms(&dir, &["migrate"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.path().join("data/hms.db").exists());
    let again = hms(&dir, &["migrate"], None);
    assert!(text(&again).contains("0 migration"), "{}", text(&again));
    let stray: Vec<_> = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| (n.ends_with(".db") && n != "hms.db") || n.contains(".sqlite"))
        .collect();
    assert!(stray.is_empty(), "no other database files: {stray:?}");
}

#[test]
fn users_are_added_listed_given_passwords_and_disabled_with_clear_errors() {
    let dir = TempDir::new("cli");
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
    let db = dir.path().join("data/hms.db");
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
    let dir = TempDir::new("cli");
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

/// Module settings (`[modules.<id>]`, `HMS_MODULES_<ID>_<KEY>`) are listed like the platform's,
/// with their sources; the old top-level names are refused with their new place named.
#[cfg(feature = "appointments")]
#[test]
fn module_settings_are_shown_with_their_sources_and_old_names_are_refused() {
    let dir = TempDir::new("cli");
    let file = dir.path().join("hms.toml");
    std::fs::write(&file, "[modules.appointments]\nreminder_days_before = 2\n").unwrap();
    let out = Command::new(BIN)
        .args(["config", "--config"])
        .arg(&file)
        .env("HMS_MODULES_APPOINTMENTS_REMINDER_HOUR", "7")
        .env("HMS_DATA_DIR", dir.path())
        .output()
        .unwrap();
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains(&format!(
            "modules.appointments.reminder_days_before = 2    # file {}",
            file.display()
        )),
        "{printed}"
    );
    assert!(
        printed.contains(
            "modules.appointments.reminder_hour = 7    # environment HMS_MODULES_APPOINTMENTS_REMINDER_HOUR"
        ),
        "{printed}"
    );

    std::fs::write(&file, "[modules.appointments]\nreminder_hour = 24\n").unwrap();
    let bad = Command::new(BIN)
        .args(["config", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad).contains("modules.appointments.reminder_hour: 24 is not from 0 to 23"),
        "{}",
        text(&bad)
    );
    std::fs::write(&file, "reminder_hour = 8\n").unwrap();
    let old = Command::new(BIN)
        .args(["config", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(old.status.code(), Some(1));
    assert!(
        text(&old).contains("[modules.appointments] reminder_hour"),
        "{}",
        text(&old)
    );
}

/// A module's subcommand is listed by `hms --help` and refused while its module is off.
#[cfg(feature = "appointments")]
#[test]
fn module_commands_join_the_command_line_and_need_their_module() {
    let h = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&h.stdout);
    assert!(help.contains("reminders"), "{help}");
    let dir = TempDir::new("cli");
    let off = Command::new(BIN)
        .args(["reminders", "run", "--day", "2026-05-12"])
        .env("HMS_DATA_DIR", dir.path().join("data"))
        .env("HMS_MODULES_DISABLED", "appointments")
        .output()
        .unwrap();
    assert_eq!(off.status.code(), Some(1));
    assert!(
        text(&off).contains("the appointments module is disabled"),
        "{}",
        text(&off)
    );
    let on = hms(&dir, &["reminders", "run", "--day", "2026-05-12"], None);
    assert!(on.status.success(), "{}", text(&on));
    assert!(
        text(&on).contains("0 reminder(s) queued for appointments on 2026-05-12"),
        "{}",
        text(&on)
    );
    // Day first is read (12/05/2026); a day that does not exist is refused.
    let bad = hms(&dir, &["reminders", "run", "--day", "31/02/2026"], None);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
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
    let dir = TempDir::new("serve");
    let mut server = common::Server::start(&dir.path().join("data"), &dir.path().join("backups"));
    let status = server.terminate();
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
}

#[test]
fn audit_verify_passes_an_intact_chain_and_names_the_first_tampered_row() {
    let dir = TempDir::new("audit");
    for name in ["wanjiru", "otieno", "akinyi"] {
        let add = hms(
            &dir,
            &["user", "add", name, "--role", "nurse"],
            Some(&format!("{PW}\n")),
        );
        assert!(add.status.success(), "{}", text(&add));
    }
    let ok = hms(&dir, &["audit", "verify"], None);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("intact: 3 row(s)"), "{}", text(&ok));
    let head = hms(&dir, &["audit", "head"], None);
    let head = text(&head).trim().to_string();
    assert!(head.starts_with("3:") && head.len() == 2 + 64, "{head}");
    assert!(
        std::fs::read_to_string(dir.path().join("data/audit-head"))
            .unwrap()
            .starts_with("3 "),
        "the head is also kept in a file"
    );

    // Someone with the database file removes the last row and rewinds the head table.
    let db = dir.path().join("data/hms.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = hms_core::db::Db::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        for sql in [
            "DROP TRIGGER audit_log_no_delete",
            "DELETE FROM audit_log WHERE id = 3",
            "UPDATE audit_head SET last_id = 2, last_hash = (SELECT hash FROM audit_log WHERE id = 2)",
        ] {
            sqlx::query(sql).execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        db.close().await;
    });
    // Commands run after the tampering do not overwrite the evidence in the head file.
    let list = hms(&dir, &["user", "list"], None);
    assert!(list.status.success());
    let broken = hms(&dir, &["audit", "verify"], None);
    assert_eq!(broken.status.code(), Some(2), "{}", text(&broken));
    assert!(
        text(&broken).contains("BROKEN at row 3"),
        "{}",
        text(&broken)
    );
    let bad_arg = hms(&dir, &["audit", "verify", "--head", "nonsense"], None);
    assert_eq!(bad_arg.status.code(), Some(1));
}

#[test]
fn resellers_make_keys_and_issue_licences_that_verify() {
    const TOOL: &str = env!("CARGO_BIN_EXE_hms-licence");
    let dir = TempDir::new("reseller");
    let keys = dir.path().join("keys");
    let keygen = Command::new(TOOL)
        .args(["keygen", "--out"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", text(&keygen));
    let again = Command::new(TOOL)
        .args(["keygen", "--out"])
        .arg(&keys)
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(1),
        "an existing key pair is never overwritten"
    );

    let issue = |tier: &str, expires: &str| {
        Command::new(TOOL)
            .args(["issue", "--key"])
            .arg(keys.join("licence-signing.key"))
            .args([
                "--facility",
                "Mwangaza Health Centre",
                "--code",
                "12345",
                "--tier",
                tier,
            ])
            .args([
                "--expires",
                expires,
                "--module",
                "laboratory",
                "--branches",
                "2",
            ])
            .output()
            .unwrap()
    };
    let issued = issue("clinic", "2027-12-31");
    assert!(issued.status.success(), "{}", text(&issued));
    let licence_json = String::from_utf8(issued.stdout).unwrap();
    let public = std::fs::read_to_string(keys.join("licence-verifying.key")).unwrap();
    let key = hms_core::licence::parse_verifying_key(&public).unwrap();
    let payload = hms_core::licence::verify(&licence_json, Some(&key)).unwrap();
    assert_eq!(payload.tier, hms_core::licence::Tier::Clinic);
    assert_eq!(payload.modules, ["laboratory"]);
    assert_eq!(payload.branches, 2);
    assert_eq!(
        issue("gold", "2027-12-31").status.code(),
        Some(1),
        "unknown tier"
    );
    assert_eq!(
        issue("clinic", "31/02/2027").status.code(),
        Some(1),
        "bad date"
    );

    // This build has no licence key: a development build. It says so, takes no licence and
    // never counts down.
    let file = dir.path().join("licence.json");
    std::fs::write(&file, &licence_json).unwrap();
    let site = TempDir::new("licensed");
    let install = hms(&site, &["licence", "install", file.to_str().unwrap()], None);
    assert_eq!(install.status.code(), Some(1), "{}", text(&install));
    assert!(
        text(&install).contains("development build"),
        "{}",
        text(&install)
    );
    let show = hms(&site, &["licence", "show"], None);
    assert!(show.status.success(), "{}", text(&show));
    assert!(
        text(&show).contains("development build: every compiled module on, nothing ever pauses")
            && !text(&show).contains("day(s) left"),
        "{}",
        text(&show)
    );
    assert!(text(&show).contains("module:   admin"), "{}", text(&show));
}

/// A fresh PostgreSQL database for one test (dropped when the guard goes), when
/// `HMS_TEST_POSTGRES_URL` names a server.
struct PgDatabase {
    admin: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn create() -> Option<PgDatabase> {
        let admin = std::env::var("HMS_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("hms_cli_{}_{nanos}", std::process::id());
        let (base, _) = admin.rsplit_once('/').expect("a database URL");
        let url = format!("{base}/{name}");
        run_pg(&admin, format!("CREATE DATABASE {name}"));
        Some(PgDatabase { admin, name, url })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        run_pg(
            &self.admin,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Runs one statement (built here from generated names only) on `url`.
fn run_pg(url: &str, sql: String) {
    use sqlx::{Connection, Executor};
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
        conn.close().await.unwrap();
    });
}

/// Runs statements in one transaction as someone with direct database access would.
fn tamper(url: &str, statements: &[&'static str]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = hms_core::db::Db::connect(url).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        for sql in statements {
            sqlx::query(*sql).execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        db.close().await;
    });
}

#[test]
fn on_postgresql_the_default_data_directory_keeps_the_head_and_a_deleted_tail_fails_verify() {
    let Some(pg) = PgDatabase::create() else {
        eprintln!("skipped: HMS_TEST_POSTGRES_URL is not set");
        return;
    };
    let site = TempDir::new("pg-head");
    // As a PostgreSQL site runs it: no --data-dir, so the default ./hms-data, not yet made.
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(site.path())
            .env("HMS_DATABASE_URL", &pg.url)
            .env_remove("HMS_CONFIG")
            .env_remove("HMS_DATA_DIR")
            .env_remove("HMS_BIND")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).unwrap();
            }
        }
        child.wait_with_output().unwrap()
    };
    for name in ["wanjiru", "otieno", "akinyi"] {
        let add = run(
            &["user", "add", name, "--role", "nurse"],
            Some(&format!("{PW}\n")),
        );
        assert!(add.status.success(), "{}", text(&add));
    }
    let head_file = site.path().join("hms-data/audit-head");
    let recorded = std::fs::read_to_string(&head_file).expect("the head file is written");
    assert!(recorded.starts_with("3 "), "{recorded}");
    let ok = run(&["audit", "verify"], None);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));

    tamper(
        &pg.url,
        &[
            "ALTER TABLE audit_log DISABLE TRIGGER USER",
            "DELETE FROM audit_log WHERE id = 3",
            "UPDATE audit_head SET last_id = 2, last_hash = (SELECT hash FROM audit_log WHERE id = 2)",
            "ALTER TABLE audit_log ENABLE TRIGGER USER",
        ],
    );
    let broken = run(&["audit", "verify"], None);
    assert_eq!(broken.status.code(), Some(2), "{}", text(&broken));
    assert!(
        text(&broken).contains("BROKEN at row 3"),
        "{}",
        text(&broken)
    );
}

#[test]
fn a_trail_rewritten_with_every_hash_recomputed_fails_against_the_head_kept_elsewhere() {
    let dir = TempDir::new("anchor");
    for name in ["wanjiru", "otieno", "akinyi"] {
        let add = hms(
            &dir,
            &["user", "add", name, "--role", "nurse"],
            Some(&format!("{PW}\n")),
        );
        assert!(add.status.success(), "{}", text(&add));
    }
    let head = hms(&dir, &["audit", "head"], None);
    assert!(head.status.success(), "{}", text(&head));
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let (id, hash) = head.split_once(':').unwrap();
    assert_eq!(id, "3");
    assert_eq!(hash.len(), 64);
    for given in [head.as_str(), hash] {
        let ok = hms(&dir, &["audit", "verify", "--head", given], None);
        assert_eq!(ok.status.code(), Some(0), "{given}: {}", text(&ok));
    }

    // Someone with the database file and the data directory rewrites the first row and
    // recomputes every hash after it, so the chain is consistent again, and removes the
    // head file.
    let url = format!("sqlite://{}", dir.path().join("data/hms.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = hms_core::db::Db::connect(&url).await.unwrap();
        let rows = sqlx::query(
            "SELECT id, at, user_id, action, entity, entity_id, patient_id, detail, client_addr, \
             request_id FROM audit_log ORDER BY id",
        )
        .fetch_all(db.read())
        .await
        .unwrap();
        let mut tx = db.begin().await.unwrap();
        for sql in [
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
            "DELETE FROM audit_log",
        ] {
            sqlx::query(sql).execute(&mut *tx).await.unwrap();
        }
        let mut prev = hms_core::audit::GENESIS.to_string();
        for r in rows {
            let mut e = hms_core::audit::Entry::from_row(&r);
            if e.id == 1 {
                e.client_addr = Some("10.0.0.99".into());
            }
            let hash = e.hash(&prev);
            sqlx::query(
                "INSERT INTO audit_log (id, at, user_id, action, entity, entity_id, patient_id, \
                 detail, client_addr, request_id, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(e.id)
            .bind(&e.at)
            .bind(e.user_id)
            .bind(&e.action)
            .bind(&e.entity)
            .bind(&e.entity_id)
            .bind(e.patient_id)
            .bind(&e.detail)
            .bind(&e.client_addr)
            .bind(&e.request_id)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *tx)
            .await
            .unwrap();
            prev = hash;
        }
        sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE singleton = 1")
            .bind(&prev)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        db.close().await;
    });
    std::fs::remove_file(dir.path().join("data/audit-head")).unwrap();

    let fooled = hms(&dir, &["audit", "verify"], None);
    assert_eq!(
        fooled.status.code(),
        Some(0),
        "nothing on this machine shows it: {}",
        text(&fooled)
    );
    for given in [head.as_str(), hash] {
        let caught = hms(&dir, &["audit", "verify", "--head", given], None);
        assert_eq!(caught.status.code(), Some(2), "{given}: {}", text(&caught));
        assert!(text(&caught).contains("BROKEN"), "{}", text(&caught));
    }
}

#[cfg(unix)]
#[test]
fn a_running_server_mails_the_audit_anchor_once_a_day() {
    let dir = TempDir::new("anchor-serve");
    let data = dir.path().join("data");
    let backups = dir.path().join("backups");
    let anchors = |data: &std::path::Path| -> Vec<String> {
        let url = format!("sqlite://{}", data.join("hms.db").display());
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let db = hms_core::db::Db::connect(&url).await.unwrap();
            let bodies: Vec<String> = sqlx::query_scalar(
                "SELECT body_text FROM outbox WHERE to_address = 'auditor@example.org' ORDER BY id",
            )
            .fetch_all(db.read())
            .await
            .unwrap();
            db.close().await;
            bodies
        })
    };
    let env = [("HMS_AUDIT_ANCHOR_EMAIL", "auditor@example.org")];
    let mut server = common::Server::start_with_env(&data, &backups, &env);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while anchors(&data).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no anchor queued at start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(server.terminate().success());
    // Started again the same day: nothing more.
    let mut again = common::Server::start_with_env(&data, &backups, &env);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(again.terminate().success());
    let bodies = anchors(&data);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let line = bodies[0]
        .lines()
        .find(|l| l.contains("hms audit verify --head"))
        .expect("the check to run");
    let given = line.trim().trim_start_matches("hms audit verify --head ");
    let ok = hms(&dir, &["audit", "verify", "--head", given], None);
    assert_eq!(ok.status.code(), Some(0), "{given}: {}", text(&ok));
}
