//! Read-audit rows the database refused: kept in a spill file in the data directory, put into
//! the chain at the next start, never dropped.

use super::*;

/// Spill files are named `audit-reads-<pid>-<ms>.spill` in the data directory: one per
/// process, so app servers sharing a data directory never write to the same file.
const SPILL_PREFIX: &str = "audit-reads-";
const SPILL_SUFFIX: &str = ".spill";

/// This process's spill file. Each append and each replay hold the file's lock, so a server
/// starting meanwhile never reads half a batch nor removes rows it has not put in the chain.
pub(super) struct Spill {
    dir: PathBuf,
    path: PathBuf,
}

impl Spill {
    pub(super) fn new(dir: PathBuf) -> Self {
        let name = format!(
            "{SPILL_PREFIX}{}-{}{SPILL_SUFFIX}",
            std::process::id(),
            crate::clock::now_ms()
        );
        Self {
            path: dir.join(name),
            dir,
        }
    }

    /// Appends `entries` as JSON lines and syncs them to disk.
    pub(super) fn keep(&mut self, entries: &[Entry]) -> std::io::Result<PathBuf> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir)?;
        let mut text = String::new();
        for e in entries {
            text.push_str(&serde_json::to_string(e).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        let mut file = loop {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            file.lock()?;
            // A replay may have removed the file while this waited for its lock.
            if still_named(&file, &self.path) {
                break file;
            }
        };
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        sync_dir(&self.dir);
        Ok(self.path.clone())
    }
}

/// True when `path` still names the open `file`.
fn still_named(file: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

/// Makes a new or removed name in `dir` durable (Unix; elsewhere a no-op).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// The setting naming the last spill file put into the chain (`<file name> <sha-256>`): a
/// crash between that commit and the file's removal must not put it in twice.
const SPILL_REPLAYED: &str = "audit.spill_replayed";

/// Puts the read rows of spill files into the chain (with
/// their original times), one transaction per file, then removes each file. Run at start,
/// before the read writer. Returns the rows added.
pub async fn replay_spills(db: &Db, data_dir: &Path) -> Result<usize, DbError> {
    let Ok(dir) = std::fs::read_dir(data_dir) else {
        return Ok(0);
    };
    let mut files: Vec<PathBuf> = dir
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(SPILL_PREFIX) && name.ends_with(SPILL_SUFFIX)
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut added = 0;
    for path in files {
        let io = |e: std::io::Error| DbError::Sqlx(sqlx::Error::Io(e));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        // Waits for an append under way (another app server on this data directory).
        file.lock().map_err(io)?;
        let bytes = std::fs::read(&path).map_err(io)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let marker = format!("{name} {}", hex::encode(Sha256::digest(&bytes)));
        let mut entries: Vec<Entry> = Vec::new();
        for line in String::from_utf8_lossy(&bytes).lines() {
            match serde_json::from_str::<Entry>(line) {
                Ok(e) => entries.push(e),
                // Only the line being written when the process died can be cut short.
                Err(e) => {
                    tracing::error!(error = %e, file = %name, "an unreadable line of the audit spill file was skipped")
                }
            }
        }
        let mut tx = db.begin().await?;
        let done: Option<String> = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(SPILL_REPLAYED)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.get(0));
        if done.as_deref() != Some(marker.as_str()) && !entries.is_empty() {
            let conn: &mut AnyConnection = &mut tx;
            let mut head = lock_head(conn).await?;
            let links: Vec<Link> = entries.iter_mut().map(|e| chain(&mut head, e)).collect();
            insert(conn, &entries, &links).await?;
            store_head(conn, &head).await?;
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(SPILL_REPLAYED)
            .bind(&marker)
            .bind(crate::clock::now_rfc3339())
            .execute(&mut *tx)
            .await?;
            added += entries.len();
        }
        tx.commit().await?;
        std::fs::remove_file(&path).map_err(io)?;
        sync_dir(data_dir);
        tracing::info!(rows = entries.len(), file = %name, "audit read rows from the spill file added to the chain");
    }
    Ok(added)
}
