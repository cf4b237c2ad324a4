//! Upgrades and PostgreSQL dumps. Before a new version applies its migrations to a database
//! that already holds data, SQLite gets a checked copy in the backup folder
//! (`hms-before-upgrade-YYYYMMDD-HHMMSS.db`, never pruned); PostgreSQL waits until `hms backup`
//! has written a dump since the last upgrade (in the last day), unless told to proceed
//! (`upgrade_without_backup`, for sites with their own base backups).

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, TimeDelta, Utc};

use super::{create, display_path, human_size, last_result, record, rfc3339};
use super::{BackupError, LastBackup};
use crate::audit::Actor;
use crate::config::Config;
use crate::db::{Backend, Db, DbError, MigrationState};

/// A dump older than this does not count as the backup before an upgrade.
pub const DUMP_FRESH_FOR: TimeDelta = TimeDelta::hours(24);

#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error(
        "this version of HMS brings {count} database change(s) ({names}) and the database is \
         PostgreSQL: back it up first with `hms backup FILE` (it runs pg_dump and checks the \
         dump; run it the way HMS is started, with the same --config or --database), then start \
         HMS again. If the database is backed up another way (base backups with WAL archiving), \
         start once with --upgrade-without-backup (or HMS_UPGRADE_WITHOUT_BACKUP=1). Nothing \
         was changed."
    )]
    NeedsBackup { count: usize, names: String },
    #[error(
        "this version of HMS brings {count} database change(s) ({names}); before applying them \
         HMS backs the database up into {folder}, and that failed: {source} Nothing was \
         changed. Make the backup folder writable (or set backup_dir), or start once with \
         --upgrade-without-backup to go ahead without a backup."
    )]
    BackupFailed {
        count: usize,
        names: String,
        folder: String,
        source: BackupError,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What was done before the migrations ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// Nothing to apply, or a new database.
    NotNeeded,
    /// SQLite: this checked copy was made first.
    BackedUp(PathBuf),
    /// PostgreSQL: a dump from `hms backup` covers it.
    DumpRecorded,
    /// Told to go ahead without a backup.
    Proceeded,
}

/// Connects to the configured database, makes sure an upgrade is backed up (see
/// [`prepare`]), then applies the pending migrations.
pub async fn open(config: &Config) -> Result<(Db, Upgrade), UpgradeError> {
    let db = Db::connect(&config.effective_database_url()).await?;
    let prepared = match prepare(&db, config).await {
        Ok(p) => p,
        Err(e) => {
            db.close().await;
            return Err(e);
        }
    };
    if let Err(e) = db.migrate().await {
        db.close().await;
        return Err(e.into());
    }
    Ok((db, prepared))
}

/// Before pending migrations touch a database that holds data: a checked copy (SQLite), or a
/// recent `hms backup` dump (PostgreSQL); refused otherwise unless `upgrade_without_backup`.
pub async fn prepare(db: &Db, config: &Config) -> Result<Upgrade, UpgradeError> {
    let state = db.migration_state().await?;
    if state.fresh || state.pending.is_empty() {
        return Ok(Upgrade::NotNeeded);
    }
    let count = state.pending.len();
    let names = state.pending.join(", ");
    match db.backend {
        Backend::Sqlite => {
            let folder = config.backup_folder();
            let file = folder.join(file_name(Utc::now()));
            let made = match std::fs::create_dir_all(&folder) {
                Ok(()) => create(db, &config.data_dir, &file).await,
                Err(e) => Err(BackupError::io(&folder, e)),
            };
            match made {
                Ok(size) => {
                    tracing::info!(file = %file.display(), size = %human_size(size), migrations = %names,
                        "database backed up before applying this version's changes");
                    Ok(Upgrade::BackedUp(file))
                }
                Err(e) if config.upgrade_without_backup => {
                    tracing::warn!(error = %e, "no backup before the upgrade: going ahead as told");
                    Ok(Upgrade::Proceeded)
                }
                Err(source) => Err(UpgradeError::BackupFailed {
                    count,
                    names,
                    folder: display_path(&folder),
                    source,
                }),
            }
        }
        Backend::Postgres => {
            if config.upgrade_without_backup {
                tracing::warn!(migrations = %names, "upgrading without a recorded backup, as told");
                return Ok(Upgrade::Proceeded);
            }
            if dump_covers(&last_result(db).await?, &state, Utc::now()) {
                Ok(Upgrade::DumpRecorded)
            } else {
                Err(UpgradeError::NeedsBackup { count, names })
            }
        }
    }
}

/// `hms-before-upgrade-YYYYMMDD-HHMMSS.db`, Nairobi time: not an automatic backup's name, so
/// never pruned.
pub fn file_name(now: DateTime<Utc>) -> String {
    crate::clock::to_local(now)
        .format("hms-before-upgrade-%Y%m%d-%H%M%S.db")
        .to_string()
}

/// True when the last recorded dump succeeded after the last migration was applied and less
/// than [`DUMP_FRESH_FOR`] ago.
fn dump_covers(last: &Option<LastBackup>, state: &MigrationState, now: DateTime<Utc>) -> bool {
    let Some(last) = last.as_ref().filter(|l| l.ok) else {
        return false;
    };
    let Ok(at) = DateTime::parse_from_rfc3339(&last.at).map(|t| t.with_timezone(&Utc)) else {
        return false;
    };
    let after_upgrade = state
        .last_applied_at
        .as_deref()
        .and_then(|a| DateTime::parse_from_rfc3339(a).ok())
        .is_none_or(|applied| at > applied.with_timezone(&Utc));
    after_upgrade && now.signed_duration_since(at) < DUMP_FRESH_FOR && at <= now
}

/// `hms backup FILE` on PostgreSQL: `pg_dump --format=custom` into `FILE` (refused when it
/// exists or its folder does not), checked with `pg_restore --list`, and recorded like a
/// SQLite backup. The password goes to pg_dump in its environment, never on its command line.
pub async fn pg_dump(
    db: &Db,
    url: &str,
    file: &Path,
    actor: &Actor,
) -> Result<LastBackup, BackupError> {
    let shown = display_path(file);
    if std::fs::symlink_metadata(file).is_ok() {
        return Err(BackupError::Exists(shown));
    }
    match crate::config::absolute(file).parent() {
        Some(parent) if parent.is_dir() => {}
        Some(parent) => return Err(BackupError::NoFolder(display_path(parent))),
        None => return Err(BackupError::NotFound(shown)),
    }
    let (url, password) = split_password(url);
    let run = |program: &str, args: &[&std::ffi::OsStr]| {
        let mut cmd = Command::new(program);
        cmd.args(args);
        if let Some(p) = &password {
            cmd.env("PGPASSWORD", p);
        }
        cmd.output()
    };
    let dumped = run(
        "pg_dump",
        &[
            "--format=custom".as_ref(),
            "--file".as_ref(),
            file.as_os_str(),
            url.as_ref(),
        ],
    );
    let failure = match dumped {
        Err(e) => Some(format!(
            "pg_dump could not be run ({e}); install the PostgreSQL client tools"
        )),
        Ok(o) if !o.status.success() => Some(format!(
            "pg_dump could not back up the database: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(_) => match run("pg_restore", &["--list".as_ref(), file.as_os_str()]) {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(format!(
                "the dump failed its check (pg_restore --list): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Some(format!(
                "pg_restore could not be run to check the dump ({e})"
            )),
        },
    };
    if let Some(message) = failure {
        let _ = std::fs::remove_file(file);
        return Err(BackupError::Dump(message));
    }
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let outcome = LastBackup {
        at: rfc3339(Utc::now()),
        ok: true,
        message: format!("pg_dump written and checked ({})", human_size(size)),
        file: Some(shown),
    };
    record(db, actor, &outcome, false).await?;
    Ok(outcome)
}

/// The URL without its password, and the password (percent-decoded) if there was one.
fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((creds, host)) = authority.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let Some((user, password)) = creds.split_once(':') else {
        return (url.to_string(), None);
    };
    let decoded = form_urlencoded::parse(format!("p={}", password.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    (format!("{scheme}://{user}@{host}{path}"), Some(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(applied: &str) -> MigrationState {
        MigrationState {
            fresh: false,
            pending: vec!["0099_next".into()],
            last_applied_at: Some(applied.into()),
        }
    }

    fn dump(at: &str, ok: bool) -> Option<LastBackup> {
        Some(LastBackup {
            at: at.into(),
            ok,
            message: String::new(),
            file: Some("/backups/hms.dump".into()),
        })
    }

    #[test]
    fn a_dump_counts_when_it_succeeded_after_the_last_upgrade_within_a_day() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .to_utc();
        let s = state("2026-11-01T08:00:00.000Z");
        assert!(dump_covers(
            &dump("2026-12-07T09:00:00.000Z", true),
            &s,
            now
        ));
        assert!(
            !dump_covers(&dump("2026-12-07T09:00:00.000Z", false), &s, now),
            "failed"
        );
        assert!(
            !dump_covers(&dump("2026-12-05T09:00:00.000Z", true), &s, now),
            "too old"
        );
        assert!(!dump_covers(&None, &s, now), "none");
        let upgraded_since = state("2026-12-07T09:30:00.000Z");
        assert!(!dump_covers(
            &dump("2026-12-07T09:00:00.000Z", true),
            &upgraded_since,
            now
        ));
    }

    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        assert_eq!(
            split_password("postgres://hms:s%40cret@db.local:5432/hms"),
            (
                "postgres://hms@db.local:5432/hms".into(),
                Some("s@cret".into())
            )
        );
        assert_eq!(
            split_password("postgres://hms@db.local/hms"),
            ("postgres://hms@db.local/hms".into(), None)
        );
    }

    #[test]
    fn upgrade_backups_are_never_taken_for_automatic_ones() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .to_utc();
        let name = file_name(now);
        assert_eq!(name, "hms-before-upgrade-20261207-130000.db");
        assert!(!super::super::is_backup_name(&name));
    }
}
