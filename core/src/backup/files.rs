//! The backup folder's files: backups written under a temporary name and checked before they
//! get their real one, leftovers of an interrupted backup, the names of automatic backups and
//! pruning to the newest few.

use super::*;

/// Where a backup to `file` is written before it is checked: `FILE.partial`.
pub fn temp_name(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(TEMP_SUFFIX);
    PathBuf::from(name)
}

/// The suffix of a backup being written.
pub const TEMP_SUFFIX: &str = ".partial";

/// Removes `file` and the rollback journal SQLite may have left beside it.
pub(super) fn remove_with_journal(file: &Path) {
    let mut journal = file.as_os_str().to_owned();
    journal.push("-journal");
    let _ = std::fs::remove_file(journal);
    let _ = std::fs::remove_file(file);
}

/// Checks the freshly written `temp` (integrity check), makes it durable and renames it to
/// `target`; on any failure `temp` is removed and `target` never appears.
pub(super) async fn place_checked(temp: &Path, target: &Path) -> Result<(), BackupError> {
    let placed = async {
        check_file(temp, false).await?;
        File::open(temp)
            .and_then(|f| f.sync_all())
            .map_err(|e| BackupError::io(temp, e))?;
        if std::fs::symlink_metadata(target).is_ok() {
            return Err(BackupError::Exists(display_path(target)));
        }
        std::fs::rename(temp, target).map_err(|e| BackupError::io(target, e))
    }
    .await;
    if placed.is_err() {
        remove_with_journal(temp);
    }
    if let Some(dir) = target.parent() {
        sync_dir(dir);
    }
    placed
}

/// Removes what an automatic backup cut short (a crash, a power cut) left in `dir`: files
/// still under their temporary name, their journals, and a backup name beside its own
/// `-journal` (left by versions that wrote backups under their final name). Run at start.
/// Returns the removed files.
pub fn clear_leftovers(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(d) => d
            .filter_map(Result::ok)
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    for name in &names {
        let base = name.strip_suffix("-journal").unwrap_or(name);
        let leftover = match base.strip_suffix(TEMP_SUFFIX) {
            Some(backup) => is_backup_name(backup),
            // A journal beside a backup: that backup was never finished.
            None => base != name && is_backup_name(base),
        };
        if leftover {
            let path = dir.join(name);
            std::fs::remove_file(&path)?;
            removed.push(path);
            if base != name && is_backup_name(base) && names.iter().any(|n| n == base) {
                let path = dir.join(base);
                match std::fs::remove_file(&path) {
                    Ok(()) => removed.push(path),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(removed)
}

/// The newest automatic backup in `dir` and its size: backups get their name only once
/// checked, so this is the newest good one.
pub fn newest(dir: &Path) -> Option<(String, u64)> {
    let mut found: Vec<(String, u64)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let meta = e.metadata().ok()?;
            (meta.is_file() && is_backup_name(&name)).then_some((name, meta.len()))
        })
        .collect();
    found.sort_unstable_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().next()
}

/// The name of an automatic backup made at `now`: `hms-YYYYMMDD-HHMMSS.db`, Nairobi time.
pub fn file_name(now: DateTime<Utc>) -> String {
    crate::clock::to_local(now)
        .format("hms-%Y%m%d-%H%M%S.db")
        .to_string()
}

/// True for names of automatic backups (`hms-YYYYMMDD-HHMMSS.db`), the only files pruned.
pub fn is_backup_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 22
        && name.starts_with("hms-")
        && name.ends_with(".db")
        && b[12] == b'-'
        && b[4..12].iter().all(u8::is_ascii_digit)
        && b[13..19].iter().all(u8::is_ascii_digit)
}

/// Deletes all but the `keep` newest automatic backups in `dir`; other files are never
/// touched. Returns the deleted files.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_backup_name(n))
        .collect();
    // The timestamp in the name sorts like the time itself: newest first.
    names.sort_unstable_by(|a, b| b.cmp(a));
    let mut removed = Vec::new();
    for name in names.into_iter().skip(keep) {
        let path = dir.join(name);
        std::fs::remove_file(&path)?;
        removed.push(path);
    }
    Ok(removed)
}
