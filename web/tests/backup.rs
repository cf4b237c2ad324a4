//! Backups and restores with the real `hms` binary: `hms backup` while the server runs,
//! `hms restore` into a new data directory, the refusals, and the lock a running server holds.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::Connection;

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Opens an SQLite file read-only on its own connection: the result of
/// `PRAGMA integrity_check`, and the usernames in it.
fn inspect(file: &Path) -> (Vec<String>, Vec<String>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let opts = SqliteConnectOptions::new()
            .filename(file)
            .read_only(true)
            .immutable(true);
        let mut conn = SqliteConnection::connect_with(&opts).await.unwrap();
        let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let users: Vec<String> = sqlx::query_scalar("SELECT username FROM users ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        (check, users)
    })
}

/// Rows of the data directory's database (opened as the server opens it).
fn query(data: &Path, sql: &'static str) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}", data.join("hms.db").display());
        let db = hms_core::db::Db::connect(&url).await.unwrap();
        let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(db.read()).await.unwrap();
        db.close().await;
        rows
    })
}

fn add_user(data: &Path, backups: &Path, username: &str) {
    let add = hms(
        &["user", "add", username, "--role", "nurse"],
        data,
        backups,
        Some(&format!("{PW}\n")),
    );
    assert!(add.status.success(), "{}", text(&add));
}

#[test]
fn a_backup_is_checked_and_restores_into_a_new_data_directory() {
    let data = TempDir::new("data");
    let out = TempDir::new("out");
    let backups = out.path().join("automatic");
    add_user(data.path(), &backups, "wanjiru");

    let file = out.path().join("clinic.db");
    let backup = hms(
        &["backup", file.to_str().unwrap()],
        data.path(),
        &backups,
        None,
    );
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(text(&backup).contains("checked"), "{}", text(&backup));
    let (check, users) = inspect(&file);
    assert_eq!(check, ["ok"], "the copy passes the integrity check");
    assert_eq!(users, ["wanjiru"]);
    assert_eq!(
        query(
            data.path(),
            "SELECT value FROM settings WHERE key = 'backup.last_status'"
        ),
        ["ok"]
    );
    let audited = query(
        data.path(),
        "SELECT detail FROM audit_log WHERE action = 'backup.create'",
    );
    assert_eq!(audited.len(), 1);
    assert!(audited[0].contains("clinic.db"), "{}", audited[0]);

    // A laptop was lost: a new machine, a new data directory, the backup from the USB disk.
    let fresh = TempDir::new("fresh");
    let new_data = fresh.path().join("hms-data");
    let restore = hms(
        &["restore", file.to_str().unwrap()],
        &new_data,
        &backups,
        None,
    );
    assert!(restore.status.success(), "{}", text(&restore));
    let list = hms(&["user", "list"], &new_data, &backups, None);
    assert!(list.status.success(), "{}", text(&list));
    assert!(text(&list).contains("wanjiru"), "{}", text(&list));
    assert_eq!(
        query(
            &new_data,
            "SELECT action FROM audit_log WHERE action LIKE 'backup.%' ORDER BY id"
        ),
        ["backup.restore"],
        "the restore is audited (the backup's own record came after the copy)"
    );
    let stray: Vec<String> = file_names(&new_data)
        .into_iter()
        .filter(|n| n.contains(".db") && n != "hms.db" && !n.starts_with("hms.db-"))
        .collect();
    assert!(stray.is_empty(), "no stray database files: {stray:?}");
    assert!(!backups.exists(), "no server ran, no automatic backups");

    // Restoring again over an existing database replaces it.
    add_user(&new_data, &backups, "otieno");
    let again = hms(
        &["restore", file.to_str().unwrap()],
        &new_data,
        &backups,
        None,
    );
    assert!(again.status.success(), "{}", text(&again));
    let list = text(&hms(&["user", "list"], &new_data, &backups, None));
    assert!(
        list.contains("wanjiru") && !list.contains("otieno"),
        "{list}"
    );
}

#[test]
fn backups_into_the_data_directory_or_over_a_file_are_refused() {
    let data = TempDir::new("data");
    let out = TempDir::new("out");
    let backups = out.path().join("automatic");
    add_user(data.path(), &backups, "wanjiru");

    let inside = data.path().join("copy.db");
    let refused = hms(
        &["backup", inside.to_str().unwrap()],
        data.path(),
        &backups,
        None,
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("inside the data directory"),
        "{}",
        text(&refused)
    );
    assert!(!inside.exists(), "nothing written");

    let taken = out.path().join("taken.db");
    std::fs::write(&taken, b"yesterday's backup").unwrap();
    let refused = hms(
        &["backup", taken.to_str().unwrap()],
        data.path(),
        &backups,
        None,
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("already exists"),
        "{}",
        text(&refused)
    );
    assert_eq!(std::fs::read(&taken).unwrap(), b"yesterday's backup");

    let missing = hms(
        &["restore", out.path().join("nothing.db").to_str().unwrap()],
        data.path(),
        &backups,
        None,
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing).contains("no backup file"),
        "{}",
        text(&missing)
    );

    assert!(
        query(
            data.path(),
            "SELECT value FROM settings WHERE key LIKE 'backup.%'"
        )
        .is_empty(),
        "refusals are not recorded as backups"
    );
    assert_eq!(file_names(out.path()), ["taken.db"]);

    // PostgreSQL has its own tools: both commands explain them and touch nothing.
    let pg = "postgres://hms@127.0.0.1:1/hms";
    let file = out.path().join("pg.db");
    let dump = hms(
        &["backup", file.to_str().unwrap(), "--database", pg],
        data.path(),
        &backups,
        None,
    );
    assert_eq!(dump.status.code(), Some(1));
    assert!(text(&dump).contains("pg_dump"), "{}", text(&dump));
    let back = hms(
        &["restore", taken.to_str().unwrap(), "--database", pg],
        data.path(),
        &backups,
        None,
    );
    assert_eq!(back.status.code(), Some(1));
    assert!(text(&back).contains("pg_restore"), "{}", text(&back));
    assert_eq!(file_names(out.path()), ["taken.db"]);
}

#[cfg(unix)]
#[test]
fn a_running_server_backs_up_daily_and_keeps_restore_and_other_servers_off() {
    let data = TempDir::new("data");
    let out = TempDir::new("out");
    let backups = out.path().join("automatic");
    add_user(data.path(), &backups, "wanjiru");

    let mut server = Server::start(data.path(), &backups);

    // The daily backup is checked at start: none yet, so one is written at once.
    let deadline = Instant::now() + Duration::from_secs(20);
    let automatic = loop {
        let names: Vec<String> = file_names(&backups)
            .into_iter()
            .filter(|n| n.starts_with("hms-") && n.ends_with(".db"))
            .collect();
        if let Some(name) = names.first() {
            if query(
                data.path(),
                "SELECT value FROM settings WHERE key = 'backup.last_status'",
            ) == ["ok"]
            {
                break backups.join(name);
            }
        }
        assert!(Instant::now() < deadline, "no automatic backup appeared");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(file_names(&backups).len(), 1);
    let (check, users) = inspect(&automatic);
    assert_eq!(check, ["ok"]);
    assert_eq!(users, ["wanjiru"]);

    // On demand while it runs.
    let file = out.path().join("during.db");
    let backup = hms(
        &["backup", file.to_str().unwrap()],
        data.path(),
        &backups,
        None,
    );
    assert!(backup.status.success(), "{}", text(&backup));
    assert_eq!(inspect(&file).0, ["ok"]);

    let restore = hms(
        &["restore", file.to_str().unwrap()],
        data.path(),
        &backups,
        None,
    );
    assert_eq!(restore.status.code(), Some(1), "{}", text(&restore));
    assert!(
        text(&restore).contains("an HMS server is using the data directory"),
        "{}",
        text(&restore)
    );
    assert!(!file_names(data.path())
        .iter()
        .any(|n| n.ends_with(".restoring")));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let second = command(
        &["serve", "--bind", &format!("127.0.0.1:{port}")],
        data.path(),
        &backups,
    )
    .stdin(Stdio::null())
    .output()
    .unwrap();
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    assert!(
        text(&second).contains("another HMS server is using"),
        "{}",
        text(&second)
    );

    let status = server.terminate();
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");

    // Once it has stopped, the restore goes ahead.
    let restore = hms(
        &["restore", file.to_str().unwrap()],
        data.path(),
        &backups,
        None,
    );
    assert!(restore.status.success(), "{}", text(&restore));
    assert!(text(&hms(&["user", "list"], data.path(), &backups, None)).contains("wanjiru"));
}

#[test]
fn an_interrupted_backup_is_cleared_at_start_and_never_counted_as_a_backup() {
    let data = TempDir::new("data");
    let out = TempDir::new("out");
    let backups = out.path().join("automatic");
    add_user(data.path(), &backups, "wanjiru");

    // What a crash during a backup leaves: a half-written copy under its temporary name with
    // its journal, and (from versions that wrote under the final name) a real name beside its
    // own journal. Named in the future so that, if counted, they would be the "newest".
    std::fs::create_dir_all(&backups).unwrap();
    let leftovers = [
        "hms-29990101-000000.db.partial",
        "hms-29990101-000000.db.partial-journal",
        "hms-29990102-000000.db",
        "hms-29990102-000000.db-journal",
    ];
    for name in leftovers {
        std::fs::write(backups.join(name), b"SQLite format 3\0truncated").unwrap();
    }
    let notes = backups.join("notes.txt");
    std::fs::write(&notes, b"not ours").unwrap();

    let mut server = Server::start(data.path(), &backups);
    let deadline = Instant::now() + Duration::from_secs(20);
    let names = loop {
        if query(
            data.path(),
            "SELECT value FROM settings WHERE key = 'backup.last_status'",
        ) == ["ok"]
        {
            break file_names(&backups);
        }
        assert!(Instant::now() < deadline, "no automatic backup appeared");
        std::thread::sleep(Duration::from_millis(100));
    };
    server.terminate();
    for name in leftovers {
        assert!(
            !names.iter().any(|n| n == name),
            "{name} removed: {names:?}"
        );
    }
    assert!(notes.exists(), "other files are left alone");
    let made: Vec<&String> = names.iter().filter(|n| n.starts_with("hms-")).collect();
    assert_eq!(made.len(), 1, "only the new, checked backup: {names:?}");
    assert!(hms_core::backup::is_backup_name(made[0]), "{names:?}");
    assert_eq!(inspect(&backups.join(made[0])).0, ["ok"]);
    assert_eq!(
        hms_core::backup::newest(&backups).map(|(n, _)| n),
        Some(made[0].clone())
    );
}
