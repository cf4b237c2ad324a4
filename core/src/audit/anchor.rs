//! The audit head outside the database: the head file in the data directory (and what the
//! backups card says when it cannot be kept), and the daily anchor mailed off the machine.

use super::*;

/// Where the head is kept outside the database.
pub fn head_file(data_dir: &Path) -> PathBuf {
    data_dir.join("audit-head")
}

/// Writes the head to its file (`id hash`), atomically, creating the data directory if needed
/// (a PostgreSQL site keeps nothing else there).
pub fn write_head_file(data_dir: &Path, head: &(i64, String)) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let path = head_file(data_dir);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{} {}\n", head.0, head.1))?;
    std::fs::rename(&tmp, &path)
}

pub fn read_head_file(data_dir: &Path) -> Option<(i64, String)> {
    let text = std::fs::read_to_string(head_file(data_dir)).ok()?;
    let (id, hash) = text.trim().split_once(' ')?;
    Some((id.parse().ok()?, hash.to_string()))
}

/// Keeping the head file failed.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot write the audit head file {file}: {source}")]
    Write {
        file: String,
        source: std::io::Error,
    },
}

/// What one check of the head file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadFileState {
    /// The file names the database's head.
    Current,
    /// The file names a row the log no longer holds with that hash: left as it is, as evidence.
    Diverged { row: i64 },
}

/// Moves the head file forward to the database's head; returns the database's head. The file
/// only moves forward along the chain: when the row it names no longer has its recorded hash
/// (rows were removed or rewritten), the file is left as it is, as evidence for `verify`.
pub async fn sync_head_file(db: &Db, data_dir: &Path) -> Result<(i64, String), HeadError> {
    check_head_file(db, data_dir).await.map(|(head, _)| head)
}

/// [`sync_head_file`], saying also whether the file diverged from the log.
pub async fn check_head_file(
    db: &Db,
    data_dir: &Path,
) -> Result<((i64, String), HeadFileState), HeadError> {
    let current = head(db).await?;
    let recorded = read_head_file(data_dir);
    if recorded.as_ref() == Some(&current) {
        return Ok((current, HeadFileState::Current));
    }
    if let Some((id, hash)) = &recorded {
        let stored: Option<String> = sqlx::query("SELECT hash FROM audit_log WHERE id = $1")
            .bind(id)
            .fetch_optional(db.read())
            .await
            .map_err(DbError::from)?
            .map(|r| r.get(0));
        if *id > 0 && stored.as_deref() != Some(hash.as_str()) {
            tracing::error!(
                row = id,
                "the audit log no longer holds the recorded head; run `hms audit verify`"
            );
            return Ok((current, HeadFileState::Diverged { row: *id }));
        }
    }
    write_head_file(data_dir, &current).map_err(|source| HeadError::Write {
        file: head_file(data_dir).display().to_string(),
        source,
    })?;
    Ok((current, HeadFileState::Current))
}

/// What is wrong with the head file of a running server, for the health card: empty while all
/// is well. Shared by the keeper task and the screens.
#[derive(Debug, Clone, Default)]
pub struct HeadWatch(Arc<std::sync::Mutex<Option<HeadProblem>>>);

/// A problem with the head file, as the health card shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum HeadProblem {
    /// The file cannot be written (or the head cannot be read): the detail says why.
    Unwritable(String),
    /// The log no longer holds the row the file names.
    Diverged { row: i64 },
}

impl HeadWatch {
    /// The current problem, if any.
    pub fn problem(&self) -> Option<HeadProblem> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, problem: Option<HeadProblem>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = problem;
    }

    /// One check of the head file (the keeper runs it every second); the outcome is kept for
    /// the health card.
    pub async fn check(&self, db: &Db, data_dir: &Path) {
        match check_head_file(db, data_dir).await {
            Ok((_, HeadFileState::Current)) => self.set(None),
            Ok((_, HeadFileState::Diverged { row })) => {
                self.set(Some(HeadProblem::Diverged { row }))
            }
            Err(e) => {
                let before = self.problem();
                let now = HeadProblem::Unwritable(e.to_string());
                // Said once, not every second; the card keeps showing it.
                if before.as_ref() != Some(&now) {
                    tracing::error!(error = %e, "the audit head file cannot be kept");
                }
                self.set(Some(now));
            }
        }
    }
}

/// Keeps the head file current while the server runs (checked every second); what goes wrong
/// is kept in `watch`.
pub fn spawn_head_keeper(
    db: Db,
    data_dir: PathBuf,
    watch: HeadWatch,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            watch.check(&db, &data_dir).await;
        }
    })
}

/// The setting holding the last (Nairobi) day an anchor message was queued.
const ANCHOR_DAY: &str = "audit.anchor_day";

/// How often the anchor task looks whether today's message is queued.
pub const ANCHOR_CHECK_EVERY: Duration = Duration::from_secs(3600);

/// Queues the daily anchor message to `to`: the chain head (row id and hash) by email, kept
/// outside the machine, so that `hms audit verify --head <hash>` can later show the trail was
/// not rewritten since. At most one a day (Nairobi date of `now`): the day is claimed with a
/// guarded update in the same transaction as the message and its audit row. Returns whether a
/// message was queued.
pub async fn queue_anchor(
    db: &Db,
    to: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, crate::outbox::OutboxError> {
    let day = crate::clock::to_local(now).format("%Y-%m-%d").to_string();
    let mut tx = db.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at \
         WHERE settings.value < excluded.value",
    )
    .bind(ANCHOR_DAY)
    .bind(&day)
    .bind(crate::clock::now_rfc3339())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed != 1 {
        return Ok(false);
    }
    let conn: &mut AnyConnection = &mut tx;
    let (id, hash) = lock_head(conn).await?;
    let subject = crate::i18n::t("audit.anchor_subject").replace("{day}", &day);
    let body = crate::i18n::t("audit.anchor_body")
        .replace("{day}", &day)
        .replace("{id}", &id.to_string())
        .replace("{hash}", &hash);
    let message = crate::outbox::enqueue(&mut tx, to, &subject, &body).await?;
    record(
        &mut tx,
        &Actor {
            user_id: None,
            client_addr: Some("system".into()),
            request_id: None,
        },
        Event::new("audit.anchor", "outbox", Some(message))
            .detail(serde_json::json!({"day": day, "head_id": id, "head_hash": hash})),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Queues the daily anchor message at start and then every hour, while the server runs.
pub fn spawn_anchor(db: Db, to: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(ANCHOR_CHECK_EVERY);
        loop {
            tick.tick().await;
            match queue_anchor(&db, &to, chrono::Utc::now()).await {
                Ok(true) => tracing::info!("audit anchor message queued"),
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "the audit anchor message was not queued"),
            }
        }
    })
}
