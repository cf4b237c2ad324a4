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
        issue("clinic", "31/12/2027").status.code(),
        Some(1),
        "bad date"
    );

    // This build has no licence key: it says so, changes nothing and keeps evaluating.
    let file = dir.path().join("licence.json");
    std::fs::write(&file, &licence_json).unwrap();
    let site = TempDir::new("licensed");
    let install = hms(&site, &["licence", "install", file.to_str().unwrap()], None);
    assert_eq!(install.status.code(), Some(1), "{}", text(&install));
    assert!(
        text(&install).contains("no licence key"),
        "{}",
        text(&install)
    );
    let show = hms(&site, &["licence", "show"], None);
    assert!(show.status.success(), "{}", text(&show));
    assert!(
        text(&show).contains("evaluation, 59 day(s) left"),
        "{}",
        text(&show)
    );
    assert!(text(&show).contains("module:   admin"), "{}", text(&show));
}
