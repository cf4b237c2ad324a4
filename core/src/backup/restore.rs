//! Restoring a backup over the data directory, the lock file by which a running server keeps
//! `hms restore` off, and the check every backup file passes before it counts.

use super::*;

/// The lock a running server holds on its data directory (released when dropped).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Takes the lock file `DATA_DIR/hms.lock` (creating the directory), without waiting.
/// `Busy` when another process holds it.
pub fn lock_data_dir(data_dir: &Path) -> Result<DataDirLock, BackupError> {
    std::fs::create_dir_all(data_dir).map_err(|e| BackupError::io(data_dir, e))?;
    let path = data_dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| BackupError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(BackupError::Busy(display_path(data_dir))),
        Err(TryLockError::Error(e)) => Err(BackupError::io(&path, e)),
    }
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The database file replaced.
    pub database: PathBuf,
    /// Users in the restored database.
    pub users: i64,
}

/// Replaces the SQLite database with the backup `src`: refuses while a server holds the data
/// directory, checks the backup first, copies it to a temporary name in the database folder,
/// checks the copy, removes the old `-wal`/`-shm` files, renames the copy into place, migrates
/// it and appends a `backup.restore` audit row.
pub async fn restore(config: &Config, src: &Path) -> Result<Restored, BackupError> {
    let url = config.effective_database_url();
    if Backend::from_url(&url)? != Backend::Sqlite {
        return Err(BackupError::NotSqlite);
    }
    let database = PathBuf::from(db::sqlite_path(&url));
    let folder = match database.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !src.is_file() {
        return Err(BackupError::NotFound(display_path(src)));
    }
    if resolve(src) == resolve(&database) {
        return Err(BackupError::SameFile(display_path(src)));
    }
    let mut wal = src.as_os_str().to_owned();
    wal.push("-wal");
    if Path::new(&wal).exists() {
        return Err(BackupError::InUse(display_path(src)));
    }
    let _lock = lock_data_dir(&config.data_dir)?;
    std::fs::create_dir_all(&folder).map_err(|e| BackupError::io(&folder, e))?;
    check_file(src, true).await?;

    let file_name = database
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "hms.db".into());
    // Not ending in .db, and removed on every failure.
    let temp = folder.join(format!("{file_name}.restoring"));
    let _ = std::fs::remove_file(&temp);
    let placed = async {
        std::fs::copy(src, &temp).map_err(|e| BackupError::io(&temp, e))?;
        File::open(&temp)
            .and_then(|f| f.sync_all())
            .map_err(|e| BackupError::io(&temp, e))?;
        check_file(&temp, true).await?;
        for suffix in ["-wal", "-shm"] {
            let side = folder.join(format!("{file_name}{suffix}"));
            match std::fs::remove_file(&side) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(BackupError::io(&side, e)),
            }
        }
        std::fs::rename(&temp, &database).map_err(|e| BackupError::io(&database, e))
    }
    .await;
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    sync_dir(&folder);

    let db = Db::open(&url).await?;
    let result = async {
        let mut tx = db.begin().await?;
        audit::record(
            &mut tx,
            &Actor::cli(None),
            Event::new("backup.restore", "backup", None)
                .detail(json!({ "file": display_path(src) })),
        )
        .await?;
        tx.commit().await?;
        // The restored chain is the chain now: record its head outside the database, so a
        // later verification compares against it and not against the replaced database.
        let head = audit::head(&db).await?;
        if let Err(e) = audit::write_head_file(&config.data_dir, &head) {
            tracing::warn!(error = %e, "cannot write the audit head file");
        }
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(db.read())
            .await?;
        Ok::<_, DbError>(users)
    }
    .await;
    db.close().await;
    Ok(Restored {
        database,
        users: result?,
    })
}

/// Checks an SQLite file with `PRAGMA integrity_check` on a connection of its own (read-only;
/// the file's own `-wal`, if any, is ignored, as a backup is the main file alone). With
/// `hms`, also checks that it is an HMS database.
pub async fn check_file(path: &Path, hms: bool) -> Result<(), BackupError> {
    let shown = display_path(path);
    let integrity = |detail: String| BackupError::Integrity {
        file: shown.clone(),
        detail,
    };
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true);
    let mut conn = SqliteConnection::connect_with(&opts)
        .await
        .map_err(|e| integrity(e.to_string()))?;
    let checked = async {
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await?;
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
             AND name IN ('schema_migrations', 'settings', 'users', 'audit_log')",
        )
        .fetch_one(&mut conn)
        .await?;
        Ok::<_, sqlx::Error>((rows, tables))
    }
    .await;
    let _ = conn.close().await;
    let (rows, tables) = checked.map_err(|e| integrity(e.to_string()))?;
    if rows != ["ok"] {
        let detail = rows.into_iter().take(3).collect::<Vec<_>>().join("; ");
        return Err(integrity(detail));
    }
    if hms && tables != 4 {
        return Err(BackupError::NotHms(shown));
    }
    Ok(())
}
