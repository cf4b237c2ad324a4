//! Backups of the SQLite database: `hms backup FILE` on demand, a daily automatic backup while
//! the server runs (the newest 14 kept, outside the data directory), `hms restore FILE`, and the
//! lock file by which a running server tells `hms restore` to keep off. Every copy is checked
//! with `PRAGMA integrity_check` before it counts. On PostgreSQL `hms backup` runs pg_dump
//! ([`upgrade::pg_dump`]); before a new version migrates a database, [`upgrade::prepare`]
//! makes or asks for a backup.
//!
//! The last result is kept in `settings` (`backup.last_at`, `backup.last_status`,
//! `backup.last_message`, `backup.last_file`) with an audit row in the same transaction, so the
//! admin dashboard can show it ([`last_result`], [`is_overdue`]).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};

use crate::audit::{self, Actor, Event};
use crate::config::Config;
use crate::db::{self, Backend, Db, DbError};

mod files;
mod restore;
pub mod upgrade;

pub use files::*;
use files::{place_checked, remove_with_journal};
pub use restore::*;

/// How many automatic backups are kept.
pub const KEEP: usize = 14;
/// How often the server checks whether a backup is due.
pub const CHECK_EVERY: Duration = Duration::from_secs(3600);
/// An automatic backup is made when the last successful one is older than this.
pub const DUE_AFTER: TimeDelta = TimeDelta::hours(24);
/// The dashboard warns when the last successful backup is older than this (a day and a bit of
/// slack for the hourly check).
pub const OVERDUE_AFTER: TimeDelta = TimeDelta::hours(26);
/// The lock file a running server holds in the data directory.
pub const LOCK_FILE: &str = "hms.lock";

const KEY_AT: &str = "backup.last_at";
const KEY_STATUS: &str = "backup.last_status";
const KEY_MESSAGE: &str = "backup.last_message";
const KEY_FILE: &str = "backup.last_file";

/// What `hms backup` adds on PostgreSQL when the database cannot be reached.
pub const POSTGRES_BACKUP_HELP: &str = "\
On PostgreSQL, `hms backup FILE` runs pg_dump (custom format) and checks the dump with
`pg_restore --list`: it needs the PostgreSQL client tools and the database HMS uses. For nightly
dumps, base backups (pg_basebackup) and WAL archiving, see the README section \"Backups\".";

/// What `hms restore` says on PostgreSQL (nothing is changed).
pub const POSTGRES_RESTORE_HELP: &str = "\
this HMS uses PostgreSQL, and `hms restore` only restores the built-in SQLite database; nothing was changed.
Restore a pg_dump file with pg_restore while every HMS server is stopped, for example:
    pg_restore --clean --if-exists --no-owner --dbname=\"$HMS_DATABASE_URL\" hms-20261125.dump
then start HMS (it applies any newer migrations). See the README section \"Backups\".";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("backups with hms are for SQLite; this HMS uses PostgreSQL (use pg_dump)")]
    NotSqlite,
    #[error("{0} already exists; a backup never overwrites a file, so choose a new name. Nothing was written.")]
    Exists(String),
    #[error("{file} is inside the data directory {dir}; keep backups somewhere else (another folder or a USB disk) so that losing the data directory does not lose them too. Nothing was written.")]
    InsideDataDir { file: String, dir: String },
    #[error("the folder {0} does not exist (is the USB disk plugged in?). Nothing was written.")]
    NoFolder(String),
    #[error("there is no backup file at {0}")]
    NotFound(String),
    #[error("{0} is the database in use itself, not a backup")]
    SameFile(String),
    #[error("an HMS server is using the data directory {0}: stop it first, then run the restore again. Nothing was changed.")]
    Busy(String),
    #[error("{file} failed the integrity check ({detail})")]
    Integrity { file: String, detail: String },
    #[error("{0} is not an HMS database")]
    NotHms(String),
    #[error("{0}-wal lies beside {0}, so it is (or was) a database in use and may be incomplete; make a backup of it with `hms backup` and restore that. Nothing was changed.")]
    InUse(String),
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    /// pg_dump or its check failed (PostgreSQL).
    #[error("{0}. Nothing was written.")]
    Dump(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl BackupError {
    /// True when the request was refused before anything was tried (a wrong file name, a
    /// running server): such refusals are not recorded as failed backups.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            BackupError::NotSqlite
                | BackupError::Exists(_)
                | BackupError::InsideDataDir { .. }
                | BackupError::NoFolder(_)
                | BackupError::NotFound(_)
                | BackupError::SameFile(_)
                | BackupError::Busy(_)
                | BackupError::InUse(_)
        )
    }

    fn io(file: &Path, source: std::io::Error) -> Self {
        BackupError::Io {
            file: file.display().to_string(),
            source,
        }
    }
}

/// The last backup attempt, as the admin dashboard shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LastBackup {
    /// When (RFC 3339, UTC).
    pub at: String,
    pub ok: bool,
    pub message: String,
    pub file: Option<String>,
}

/// Writes a consistent copy of the (SQLite) database to `file` while the server runs, then
/// checks the copy with `PRAGMA integrity_check`; a copy that fails is deleted. Refuses a file
/// inside the data directory (or the database's own folder) and an existing file. Returns the
/// size of the copy in bytes. Records nothing: see [`backup_now`].
pub async fn create(db: &Db, data_dir: &Path, file: &Path) -> Result<u64, BackupError> {
    if db.backend != Backend::Sqlite {
        return Err(BackupError::NotSqlite);
    }
    let shown = display_path(file);
    let target = resolve(file);
    let mut protected = vec![resolve(data_dir)];
    if let Some(dir) = db.sqlite_file().and_then(Path::parent) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        protected.push(resolve(dir));
    }
    if let Some(dir) = protected.iter().find(|d| target.starts_with(d)) {
        return Err(BackupError::InsideDataDir {
            file: shown,
            dir: display_path(dir),
        });
    }
    if std::fs::symlink_metadata(&target).is_ok() {
        return Err(BackupError::Exists(shown));
    }
    match target.parent() {
        Some(parent) if parent.is_dir() => {}
        Some(parent) => return Err(BackupError::NoFolder(display_path(parent))),
        None => return Err(BackupError::NotFound(shown)),
    }
    // Written under a temporary name and renamed only once checked: a crash meanwhile leaves
    // a file no one takes for a backup, and [`clear_leftovers`] removes it.
    let temp = temp_name(&target);
    remove_with_journal(&temp);
    if let Err(e) = db.vacuum_into(&temp).await {
        remove_with_journal(&temp);
        return Err(e.into());
    }
    place_checked(&temp, &target).await?;
    std::fs::metadata(&target)
        .map(|m| m.len())
        .map_err(|e| BackupError::io(&target, e))
}

/// [`create`], then records the attempt (settings and audit row) unless it was refused
/// outright. `hms backup` uses this; so could a "back up now" button.
pub async fn backup_now(
    db: &Db,
    data_dir: &Path,
    file: &Path,
    actor: &Actor,
) -> Result<LastBackup, BackupError> {
    let result = match create(db, data_dir, file).await {
        Err(e) if e.is_refusal() => return Err(e),
        result => result,
    };
    let outcome = LastBackup {
        at: rfc3339(Utc::now()),
        ok: result.is_ok(),
        message: match &result {
            Ok(size) => format!("backup written and checked ({})", human_size(*size)),
            Err(e) => e.to_string(),
        },
        file: Some(display_path(file)),
    };
    record(db, actor, &outcome, false).await?;
    result.map(|_| outcome)
}

/// Stores the result of an attempt in `settings` and appends a `backup.create` audit row, in
/// one transaction.
pub async fn record(
    db: &Db,
    actor: &Actor,
    result: &LastBackup,
    automatic: bool,
) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    let status = if result.ok { "ok" } else { "failed" };
    let file = result.file.clone().unwrap_or_default();
    let now = crate::clock::now_rfc3339();
    for (key, value) in [
        (KEY_AT, result.at.as_str()),
        (KEY_STATUS, status),
        (KEY_MESSAGE, result.message.as_str()),
        (KEY_FILE, file.as_str()),
    ] {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    }
    audit::record(
        &mut tx,
        actor,
        Event::new("backup.create", "backup", None).detail(json!({
            "status": status,
            "file": result.file,
            "message": result.message,
            "automatic": automatic,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The last recorded attempt, if any.
pub async fn last_result(db: &Db) -> Result<Option<LastBackup>, DbError> {
    let rows = sqlx::query("SELECT key, value FROM settings WHERE key IN ($1, $2, $3, $4)")
        .bind(KEY_AT)
        .bind(KEY_STATUS)
        .bind(KEY_MESSAGE)
        .bind(KEY_FILE)
        .fetch_all(db.read())
        .await?;
    let mut last = LastBackup {
        at: String::new(),
        ok: false,
        message: String::new(),
        file: None,
    };
    for row in rows {
        let key: String = row.get(0);
        let value: String = row.get(1);
        match key.as_str() {
            KEY_AT => last.at = value,
            KEY_STATUS => last.ok = value == "ok",
            KEY_MESSAGE => last.message = value,
            KEY_FILE if !value.is_empty() => last.file = Some(value),
            _ => {}
        }
    }
    Ok((!last.at.is_empty()).then_some(last))
}

/// True when there is no backup, the last attempt failed, or the last backup is older than
/// [`OVERDUE_AFTER`] (about 26 hours).
pub fn is_overdue(last: &Option<LastBackup>, now: DateTime<Utc>) -> bool {
    match last {
        Some(last) if last.ok => older_than(&last.at, now, OVERDUE_AFTER),
        _ => true,
    }
}

/// True when `at` is older than `limit`, unreadable, or more than an hour in the future (the
/// clock was put back): in doubt, a backup is due.
fn older_than(at: &str, now: DateTime<Utc>, limit: TimeDelta) -> bool {
    match DateTime::parse_from_rfc3339(at) {
        Ok(at) => {
            let age = now.signed_duration_since(at.with_timezone(&Utc));
            age >= limit || age < -TimeDelta::hours(1)
        }
        Err(_) => true,
    }
}

/// RFC 3339 UTC with milliseconds, the form of [`crate::clock::now_rfc3339`].
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// What one check of the daily backup did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The last successful backup is recent (or the database is PostgreSQL): nothing done.
    NotDue,
    /// A backup was attempted and recorded; `ok` says whether it worked.
    Ran(LastBackup),
}

/// One check of the daily automatic backup: when the last successful backup is older than 24
/// hours (or there is none, or the last attempt failed), writes `hms-YYYYMMDD-HHMMSS.db` into
/// `backup_dir`, keeps the newest [`KEEP`] and records the result. A backup folder inside the
/// data directory is recorded as a failure.
pub async fn daily_check(db: &Db, data_dir: &Path, backup_dir: &Path) -> Result<Check, DbError> {
    daily_check_at(db, data_dir, backup_dir, Utc::now()).await
}

/// [`daily_check`] at a given time (tests move the clock).
pub async fn daily_check_at(
    db: &Db,
    data_dir: &Path,
    backup_dir: &Path,
    now: DateTime<Utc>,
) -> Result<Check, DbError> {
    if db.backend != Backend::Sqlite {
        return Ok(Check::NotDue);
    }
    if let Some(last) = last_result(db).await? {
        if last.ok && !older_than(&last.at, now, DUE_AFTER) {
            return Ok(Check::NotDue);
        }
    }
    let file = backup_dir.join(file_name(now));
    let (ok, message) = match automatic_backup(db, data_dir, backup_dir, &file).await {
        Ok(message) => (true, message),
        Err(message) => (false, message),
    };
    let outcome = LastBackup {
        at: rfc3339(now),
        ok,
        message,
        file: Some(display_path(&file)),
    };
    if ok {
        tracing::info!(file = %display_path(&file), "automatic backup written and checked");
    } else {
        tracing::error!(message = %outcome.message, "automatic backup failed");
    }
    record(db, &system_actor(), &outcome, true).await?;
    Ok(Check::Ran(outcome))
}

async fn automatic_backup(
    db: &Db,
    data_dir: &Path,
    backup_dir: &Path,
    file: &Path,
) -> Result<String, String> {
    if resolve(backup_dir).starts_with(resolve(data_dir)) {
        return Err(format!(
            "the backup folder {} is inside the data directory {}; set HMS_BACKUP_DIR (or \
             backup_dir in hms.toml) to a folder outside it",
            display_path(backup_dir),
            display_path(data_dir)
        ));
    }
    std::fs::create_dir_all(backup_dir).map_err(|e| {
        format!(
            "cannot create the backup folder {}: {e}",
            display_path(backup_dir)
        )
    })?;
    let size = create(db, data_dir, file)
        .await
        .map_err(|e| e.to_string())?;
    let mut message = format!("backup written and checked ({})", human_size(size));
    match prune(backup_dir, KEEP) {
        Ok(removed) if !removed.is_empty() => {
            message.push_str(&format!("; {} older backup(s) removed", removed.len()));
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "old backups could not be removed");
            message.push_str(&format!("; old backups could not be removed: {e}"));
        }
    }
    Ok(message)
}

/// Who makes automatic backups in the audit trail.
fn system_actor() -> Actor {
    Actor {
        user_id: None,
        client_addr: Some("system".into()),
        request_id: None,
    }
}

/// The daily backup task of a running server: checks at once and then every hour, until
/// stopped.
pub struct DailyBackups {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl DailyBackups {
    /// Starts the task. On PostgreSQL it only says once that pg_dump is the way.
    pub fn spawn(db: Db, data_dir: PathBuf, backup_dir: PathBuf) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            if db.backend != Backend::Sqlite {
                tracing::info!(
                    "automatic backups are for SQLite; back up PostgreSQL with pg_dump or base \
                     backups (see the README section \"Backups\")"
                );
                return;
            }
            match clear_leftovers(&backup_dir) {
                Ok(removed) if !removed.is_empty() => tracing::warn!(
                    files = ?removed,
                    "unfinished backups left by an interrupted backup were removed"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "unfinished backups could not be removed"),
            }
            loop {
                if *stopped.borrow() {
                    return;
                }
                if let Err(e) = daily_check(&db, &data_dir, &backup_dir).await {
                    tracing::error!(error = %e, "the backup check failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(CHECK_EVERY) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        Self { stop, task }
    }

    /// Stops the task; a backup under way is finished first (waiting at most `wait`).
    pub async fn stop(self, wait: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(wait, &mut task).await.is_err() {
            tracing::warn!("the backup under way did not finish in time; stopping it");
            task.abort();
        }
    }
}

/// Makes a rename durable (Unix; elsewhere a no-op).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// The path as people read it: absolute, without resolving links.
fn display_path(path: &Path) -> String {
    crate::config::absolute(path).display().to_string()
}

/// The path to compare: absolute, `.` and `..` removed, and links resolved as far as the path
/// exists (a file yet to be written lives in a folder that may be a link).
fn resolve(path: &Path) -> PathBuf {
    let full = crate::config::absolute(path);
    let mut existing = full.clone();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.into_iter().rev().fold(real, |p, part| p.join(part));
        }
        match existing.file_name() {
            Some(name) => {
                rest.push(name.to_os_string());
                existing.pop();
            }
            None => return full,
        }
    }
}

/// A size as people read it (KB or MB).
pub fn human_size(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            let dir = std::env::temp_dir().join(format!(
                "hms-backup-{tag}-{}-{nanos}-{n}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn backup_names_carry_the_nairobi_time_and_are_recognised() {
        let name = file_name(at("2026-11-25T14:30:00Z"));
        assert_eq!(name, "hms-20261125-173000.db");
        assert!(is_backup_name(&name));
        for other in [
            "hms.db",
            "hms-20261125-173000.db-wal",
            "hms-20261125-1730.db",
            "hms-2026112x-173000.db",
            "my-20261125-173000.db",
            "hms-20261125_173000.db",
            "hms-20261125-173000.dbx",
        ] {
            assert!(!is_backup_name(other), "{other}");
        }
    }

    #[test]
    fn retention_keeps_the_14_newest_backups_and_ignores_other_files() {
        let dir = TempDir::new("prune");
        let start = at("2026-01-01T00:00:00Z");
        // Made out of order, so only the names decide.
        for day in (0..20).rev() {
            let name = file_name(start + TimeDelta::days(day));
            std::fs::write(dir.0.join(name), b"x").unwrap();
        }
        let others = [
            "hms-19990101-000000.db.keep",
            "hms-19990101-000000.db-wal",
            "notes.txt",
            "hms-before-restore.db",
            "hms.db",
        ];
        for other in others {
            std::fs::write(dir.0.join(other), b"x").unwrap();
        }
        std::fs::create_dir(dir.0.join("hms-19990101-000000.db")).unwrap();

        let removed = prune(&dir.0, KEEP).unwrap();
        assert_eq!(removed.len(), 6);
        let left = names(&dir.0);
        for day in 0..20 {
            let name = file_name(start + TimeDelta::days(day));
            assert_eq!(left.contains(&name), day >= 6, "{name}");
        }
        for other in others.iter().chain(&["hms-19990101-000000.db"]) {
            assert!(left.contains(&other.to_string()), "{other} untouched");
        }
        assert!(
            prune(&dir.0, KEEP).unwrap().is_empty(),
            "nothing more to do"
        );
    }

    #[test]
    fn a_backup_is_overdue_when_missing_failed_or_older_than_26_hours() {
        let now = at("2026-11-25T17:30:00Z");
        let last = |at: &str, ok: bool| {
            Some(LastBackup {
                at: at.into(),
                ok,
                message: String::new(),
                file: None,
            })
        };
        assert!(is_overdue(&None, now));
        assert!(!is_overdue(&last("2026-11-25T03:00:00.000Z", true), now));
        assert!(!is_overdue(&last("2026-11-24T16:00:00.000Z", true), now));
        assert!(is_overdue(&last("2026-11-24T15:00:00.000Z", true), now));
        assert!(is_overdue(&last("2026-11-25T17:00:00.000Z", false), now));
        assert!(is_overdue(&last("yesterday", true), now));
        assert!(
            is_overdue(&last("2027-11-25T17:00:00.000Z", true), now),
            "a time far in the future means the clock moved"
        );
    }

    async fn sqlite(dir: &Path) -> Db {
        Db::open(&format!("sqlite://{}", dir.join("hms.db").display()))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_daily_check_backs_up_records_and_then_waits_a_day() {
        let data = TempDir::new("data");
        let backups = TempDir::new("daily");
        let db = sqlite(&data.0).await;
        assert_eq!(last_result(&db).await.unwrap(), None);

        let now = at("2026-11-25T14:30:00Z");
        let Check::Ran(first) = daily_check_at(&db, &data.0, &backups.0, now).await.unwrap() else {
            panic!("a first backup is due");
        };
        assert!(first.ok, "{}", first.message);
        assert_eq!(names(&backups.0), ["hms-20261125-173000.db"]);
        check_file(&backups.0.join("hms-20261125-173000.db"), true)
            .await
            .unwrap();
        let recorded = last_result(&db).await.unwrap().unwrap();
        assert_eq!(recorded, first);
        assert_eq!(recorded.at, "2026-11-25T14:30:00.000Z");
        assert!(!is_overdue(&Some(recorded), now));

        let later = now + TimeDelta::hours(23);
        assert_eq!(
            daily_check_at(&db, &data.0, &backups.0, later)
                .await
                .unwrap(),
            Check::NotDue
        );
        assert_eq!(names(&backups.0).len(), 1, "nothing written within 24 h");

        let next_day = now + TimeDelta::hours(25);
        let Check::Ran(second) = daily_check_at(&db, &data.0, &backups.0, next_day)
            .await
            .unwrap()
        else {
            panic!("due again after 24 h");
        };
        assert!(second.ok);
        assert_eq!(names(&backups.0).len(), 2);

        let audited: Vec<String> = sqlx::query_scalar(
            "SELECT detail FROM audit_log WHERE action = 'backup.create' ORDER BY id",
        )
        .fetch_all(db.read())
        .await
        .unwrap();
        assert_eq!(audited.len(), 2);
        assert!(audited[0].contains("\"automatic\":true"), "{}", audited[0]);
        db.close().await;
        // A database in WAL mode, closed cleanly, passes as it is.
        check_file(&data.0.join("hms.db"), true).await.unwrap();
    }

    #[tokio::test]
    async fn a_backup_folder_inside_the_data_directory_is_recorded_as_a_failure() {
        let data = TempDir::new("inside");
        let db = sqlite(&data.0).await;
        let inside = data.0.join("backups");
        let now = at("2026-11-25T14:30:00Z");
        let Check::Ran(result) = daily_check_at(&db, &data.0, &inside, now).await.unwrap() else {
            panic!("a backup is due");
        };
        assert!(!result.ok);
        assert!(result.message.contains("inside the data directory"));
        assert!(!inside.exists(), "nothing written");
        let last = last_result(&db).await.unwrap();
        assert_eq!(last.as_ref().map(|l| l.ok), Some(false));
        assert!(is_overdue(&last, now));
        // A failure is retried at the next hourly check.
        assert!(matches!(
            daily_check_at(&db, &data.0, &inside, now + TimeDelta::hours(1))
                .await
                .unwrap(),
            Check::Ran(_)
        ));
        db.close().await;
    }

    #[tokio::test]
    async fn backups_refuse_existing_files_and_the_data_directory() {
        let data = TempDir::new("refuse");
        let out = TempDir::new("out");
        let db = sqlite(&data.0).await;
        let existing = out.0.join("taken.db");
        std::fs::write(&existing, b"keep me").unwrap();
        let err = create(&db, &data.0, &existing).await.unwrap_err();
        assert!(matches!(err, BackupError::Exists(_)), "{err}");
        assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");

        let sneaky = out
            .0
            .join("..")
            .join(data.0.file_name().unwrap())
            .join("x.db");
        let err = create(&db, &data.0, &sneaky).await.unwrap_err();
        assert!(matches!(err, BackupError::InsideDataDir { .. }), "{err}");
        assert!(!data.0.join("x.db").exists());

        let err = create(&db, &data.0, &out.0.join("no/such/folder.db"))
            .await
            .unwrap_err();
        assert!(matches!(err, BackupError::NoFolder(_)), "{err}");
        assert!(err.is_refusal());
        db.close().await;
    }

    #[tokio::test]
    async fn a_copy_gets_its_real_name_only_after_passing_the_check() {
        let dir = TempDir::new("place");
        let target = dir.0.join("hms-20261125-173000.db");
        let temp = temp_name(&target);
        assert_eq!(
            temp.file_name().unwrap(),
            "hms-20261125-173000.db.partial",
            "not a backup name, so never counted or pruned as one"
        );
        assert!(!is_backup_name("hms-20261125-173000.db.partial"));
        // A copy cut short: the check refuses it, and neither name is left.
        std::fs::write(&temp, b"SQLite format 3\0cut short").unwrap();
        let err = place_checked(&temp, &target).await.unwrap_err();
        assert!(matches!(err, BackupError::Integrity { .. }), "{err}");
        assert!(!target.exists() && !temp.exists(), "{:?}", names(&dir.0));

        let data = TempDir::new("place-data");
        let db = sqlite(&data.0).await;
        let size = create(&db, &data.0, &target).await.unwrap();
        assert!(size > 0);
        assert_eq!(names(&dir.0), ["hms-20261125-173000.db"]);
        check_file(&target, true).await.unwrap();
        db.close().await;
    }

    #[test]
    fn leftovers_of_an_interrupted_backup_are_cleared() {
        let dir = TempDir::new("leftovers");
        for name in [
            "hms-20261125-173000.db.partial",
            "hms-20261125-173000.db.partial-journal",
            "hms-20261126-173000.db",
            "hms-20261126-173000.db-journal",
            "hms-20261127-173000.db",
            "clinic.db.partial",
            "notes.txt",
        ] {
            std::fs::write(dir.0.join(name), b"x").unwrap();
        }
        let removed = clear_leftovers(&dir.0).unwrap();
        assert_eq!(removed.len(), 4, "{removed:?}");
        assert_eq!(
            names(&dir.0),
            ["clinic.db.partial", "hms-20261127-173000.db", "notes.txt"]
        );
        assert_eq!(
            newest(&dir.0),
            Some(("hms-20261127-173000.db".to_string(), 1))
        );
        assert!(clear_leftovers(&dir.0.join("missing")).unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_damaged_or_foreign_file_fails_the_check() {
        let dir = TempDir::new("check");
        let junk = dir.0.join("junk.db");
        std::fs::write(&junk, vec![7u8; 8192]).unwrap();
        assert!(matches!(
            check_file(&junk, false).await,
            Err(BackupError::Integrity { .. })
        ));
        let other = dir.0.join("other.db");
        let opts = SqliteConnectOptions::new()
            .filename(&other)
            .create_if_missing(true);
        let mut conn = SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::query("CREATE TABLE t (x)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        check_file(&other, false).await.unwrap();
        assert!(matches!(
            check_file(&other, true).await,
            Err(BackupError::NotHms(_))
        ));
    }
}
