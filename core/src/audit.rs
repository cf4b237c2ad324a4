//! The audit trail: an append-only, hash-chained log of every change and every read of patient
//! data. Each row's hash is SHA-256 over the previous row's hash and the row's canonical encoding,
//! and ids follow one another without gaps, so an edited, deleted or reordered row breaks the
//! chain. Database triggers refuse UPDATE and DELETE.
//!
//! Writes: the row goes in the same transaction as the change, appended last, just before
//! COMMIT ([`record`]); a job of the group writer appends all its rows together when it ends
//! ([`deferring`]). Every append reads the chain head under a lock (`audit_head`, one row:
//! `FOR UPDATE` on PostgreSQL; SQLite's single writer with `BEGIN IMMEDIATE`), never from a cache,
//! so concurrent writers and the command line never fork the chain.
//!
//! Reads are many: they go through one writer task with group commit ([`AuditReads`]). What
//! queued since the previous commit goes into the next transaction, at most every
//! `COMMIT_EVERY` (at once while a backlog lasts), so one fsync covers many reads, inserted
//! 100 rows to a statement. A page may be answered before its read row is
//! durable: the window is at most `COMMIT_EVERY` plus one commit. A batch the database refuses
//! `ATTEMPTS` times is not dropped: it goes to a spill file in the data directory, put into the
//! chain at the next start ([`replay_spills`]).
//!
//! Outside the database, the head is kept in `DATA_DIR/audit-head` ([`HeadWatch`] says when
//! that fails) and, once a day, mailed to `audit_anchor_email` ([`queue_anchor`]): a trail
//! rewritten with every hash recomputed no longer holds a mailed hash ([`verify_with`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use tokio::sync::{mpsc, oneshot};

use crate::db::{values_sql, values_statement, Db, DbError, Placeholders, Tx};

mod anchor;
mod spill;

pub use anchor::*;
pub use spill::replay_spills;
use spill::Spill;

/// The `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

impl Actor {
    /// A change made from the command line on this machine.
    pub fn cli(user_id: Option<i64>) -> Self {
        Self {
            user_id,
            client_addr: Some("cli".into()),
            request_id: None,
        }
    }
}

/// What happened.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: &'static str,
    pub entity: &'static str,
    pub entity_id: Option<String>,
    pub patient_id: Option<i64>,
    pub detail: Value,
}

impl Event {
    pub fn new(action: &'static str, entity: &'static str, entity_id: Option<i64>) -> Self {
        Self {
            action,
            entity,
            entity_id: entity_id.map(|id| id.to_string()),
            patient_id: None,
            detail: Value::Object(Default::default()),
        }
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    pub fn patient(mut self, patient_id: i64) -> Self {
        self.patient_id = Some(patient_id);
        self
    }
}

/// One stored row, as hashed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub id: i64,
    pub at: String,
    pub user_id: Option<i64>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub patient_id: Option<i64>,
    pub detail: String,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

impl Entry {
    /// The canonical encoding: a compact JSON array of the columns in a fixed order.
    pub fn canonical(&self) -> String {
        serde_json::json!([
            self.id,
            self.at,
            self.user_id,
            self.action,
            self.entity,
            self.entity_id,
            self.patient_id,
            self.detail,
            self.client_addr,
            self.request_id,
        ])
        .to_string()
    }

    /// SHA-256 over the previous hash and the canonical encoding, hex.
    pub fn hash(&self, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(self.canonical().as_bytes());
        hex::encode(h.finalize())
    }
}

fn is_postgres(conn: &AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("postgresql")
}

/// Reads the chain head, locking it until the transaction ends.
async fn lock_head(conn: &mut AnyConnection) -> Result<(i64, String), sqlx::Error> {
    let sql = if is_postgres(conn) {
        "SELECT last_id, last_hash FROM audit_head WHERE singleton = 1 FOR UPDATE"
    } else {
        // The transaction already holds SQLite's write lock (BEGIN IMMEDIATE).
        "SELECT last_id, last_hash FROM audit_head WHERE singleton = 1"
    };
    let row = sqlx::query(sql).fetch_one(&mut *conn).await?;
    Ok((row.get(0), row.get(1)))
}

/// A row's place in the chain: the hash before it and its own.
struct Link {
    prev_hash: String,
    hash: String,
}

impl Entry {
    /// A row selected as `id, at, user_id, action, entity, entity_id, patient_id, detail,
    /// client_addr, request_id` (further columns are left alone).
    pub fn from_row(r: &sqlx::any::AnyRow) -> Self {
        Entry {
            id: r.get(0),
            at: r.get(1),
            user_id: r.get(2),
            action: r.get(3),
            entity: r.get(4),
            entity_id: r.get(5),
            patient_id: r.get(6),
            detail: r.get(7),
            client_addr: r.get(8),
            request_id: r.get(9),
        }
    }
}

/// An audit row not yet placed in the chain (its `id` is given by [`chain`]).
fn unplaced(actor: &Actor, event: &Event, at: String) -> Entry {
    Entry {
        id: 0,
        at,
        user_id: actor.user_id,
        action: event.action.to_string(),
        entity: event.entity.to_string(),
        entity_id: event.entity_id.clone(),
        patient_id: event.patient_id,
        detail: event.detail.to_string(),
        client_addr: actor.client_addr.clone(),
        request_id: actor.request_id.clone(),
    }
}

/// Places `entry` next in the chain after `head` (giving it its id); `head` moves on to it.
fn chain(head: &mut (i64, String), entry: &mut Entry) -> Link {
    entry.id = head.0 + 1;
    let hash = entry.hash(&head.1);
    let prev_hash = std::mem::replace(&mut head.1, hash.clone());
    head.0 = entry.id;
    Link { prev_hash, hash }
}

/// Columns of an audit row.
const AUDIT_COLUMNS: usize = 12;

/// Rows per INSERT: a batch of read rows is a few statements, not one round trip to the
/// database per row while it holds the single writer.
const ROWS_PER_INSERT: usize = 100;

fn insert_sql(p: Placeholders, rows: usize) -> String {
    values_sql(
        p,
        "INSERT INTO audit_log (id, at, user_id, action, entity, entity_id, patient_id, detail, \
         client_addr, request_id, prev_hash, hash) VALUES ",
        AUDIT_COLUMNS,
        rows,
        "",
    )
}

async fn insert(
    conn: &mut AnyConnection,
    entries: &[Entry],
    links: &[Link],
) -> Result<(), sqlx::Error> {
    // Kept: a full chunk of read rows, and the one row of a change (every write has one).
    static INSERT: [OnceLock<Arc<str>>; 2] = [OnceLock::new(), OnceLock::new()];
    static INSERT_ONE: [OnceLock<Arc<str>>; 2] = [OnceLock::new(), OnceLock::new()];
    let p = Placeholders::of(conn);
    for (chunk, links) in entries
        .chunks(ROWS_PER_INSERT)
        .zip(links.chunks(ROWS_PER_INSERT))
    {
        let statement = if chunk.len() == 1 {
            values_statement(&INSERT_ONE, p, 1, 1, insert_sql)
        } else {
            values_statement(&INSERT, p, ROWS_PER_INSERT, chunk.len(), insert_sql)
        };
        let mut q = sqlx::query(statement);
        for (e, r) in chunk.iter().zip(links) {
            q = bind_entry(q, e, r);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Binds the [`AUDIT_COLUMNS`] values of one row, in column order.
fn bind_entry<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    e: &'q Entry,
    r: &'q Link,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(e.id)
        .bind(&e.at)
        .bind(e.user_id)
        .bind(&e.action)
        .bind(&e.entity)
        .bind(&e.entity_id)
        .bind(e.patient_id)
        .bind(&e.detail)
        .bind(&e.client_addr)
        .bind(&e.request_id)
        .bind(&r.prev_hash)
        .bind(&r.hash)
}

async fn store_head(conn: &mut AnyConnection, head: &(i64, String)) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE singleton = 1")
        .bind(head.0)
        .bind(&head.1)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Appends the audit row of a change inside the caller's transaction; call it last, just
/// before COMMIT, so the head stays locked only briefly.
///
/// Inside [`deferring`] (the jobs of the group writer) the row is kept and written with the
/// job's others when the job ends, in the same transaction.
pub async fn record(tx: &mut Tx, actor: &Actor, event: Event) -> Result<(), sqlx::Error> {
    let mut entry = unplaced(actor, &event, crate::clock::now_rfc3339());
    let kept = DEFERRED.try_with(|rows| match rows.borrow_mut().as_mut() {
        Some(rows) => {
            rows.push(std::mem::take(&mut entry));
            true
        }
        None => false,
    });
    if kept == Ok(true) {
        return Ok(());
    }
    let conn: &mut AnyConnection = tx;
    let mut head = lock_head(conn).await?;
    let link = chain(&mut head, &mut entry);
    if is_postgres(conn) {
        insert(conn, std::slice::from_ref(&entry), &[link]).await?;
        return store_head(conn, &head).await;
    }
    // SQLite runs both statements of one string in one call to its connection's thread: a
    // write's audit row costs two round trips, not three (a busy writer makes many of them).
    bind_entry(sqlx::query(RECORD_SQLITE), &entry, &link)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

tokio::task_local! {
    /// Audit rows of changes kept by [`record`] until the end of a [`deferring`] job.
    static DEFERRED: std::cell::RefCell<Option<Vec<Entry>>>;
}

/// Runs `work` (a job writing in a transaction), keeping the audit rows [`record`] is given
/// meanwhile: the caller then appends them with [`Deferred::append`] in the same transaction,
/// all at once. One read of the locked head, one insert and one head update a job, however
/// many changes it audited (a dispense audits eleven), and on PostgreSQL the head stays locked
/// only from then to COMMIT. A job that fails appends none of them.
pub async fn deferring<F: std::future::Future>(work: F) -> (F::Output, Deferred) {
    DEFERRED
        .scope(std::cell::RefCell::new(Some(Vec::new())), async {
            let outcome = work.await;
            let rows = DEFERRED.with(|rows| rows.borrow_mut().take().unwrap_or_default());
            (outcome, Deferred(rows))
        })
        .await
}

/// Audit rows kept by [`deferring`], not yet in the chain.
#[must_use = "the audit rows must be appended"]
pub struct Deferred(Vec<Entry>);

impl Deferred {
    /// Appends the rows to the chain in `tx`, in the order they were recorded.
    pub async fn append(mut self, tx: &mut Tx) -> Result<(), DbError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let conn: &mut AnyConnection = tx;
        let mut head = lock_head(conn).await?;
        let links: Vec<Link> = self.0.iter_mut().map(|e| chain(&mut head, e)).collect();
        insert(conn, &self.0, &links).await?;
        store_head(conn, &head).await?;
        Ok(())
    }
}

/// The row of a change and the chain head moved on to it, in one string for SQLite (its
/// parameters are numbered: both statements read `$1` and `$12`).
const RECORD_SQLITE: &str = "INSERT INTO audit_log (id, at, user_id, action, entity, \
     entity_id, patient_id, detail, client_addr, request_id, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12); \
     UPDATE audit_head SET last_id = $1, last_hash = $12 WHERE singleton = 1";

struct ReadEvent {
    actor: Actor,
    event: Event,
    at: String,
}

enum Message {
    Read(Box<ReadEvent>),
    /// Answered once everything queued before it is committed (or spilled).
    Flush(oneshot::Sender<()>),
}

/// Rows per group commit, at most. A full batch is followed by the next commit at once, without
/// waiting for `COMMIT_EVERY`: 2,000 rows every half second would hold a busy server's reads to
/// about 3,500 a second once the queue is full.
const MAX_BATCH: usize = 2000;

/// Read rows are committed at most this often (and at once when nothing was committed for
/// this long): a read is durable within this time plus one commit, inside the ~1 s window
/// ARCHITECTURE.md sets. Each commit makes every SQLite reader connection drop its page cache
/// (WAL: the database changed), so fewer commits keep them warm: 500 ms instead of 50 ms gave
/// the live search and the chart about 10% more at a million patients.
const COMMIT_EVERY: Duration = Duration::from_millis(500);

/// Attempts at writing one batch before it goes to the spill file.
const ATTEMPTS: u64 = 5;

/// The writer of read-audit rows: one task, group commit.
#[derive(Clone)]
pub struct AuditReads {
    tx: mpsc::Sender<Message>,
    stats: Arc<Stats>,
}

/// Counters of the read writer (for benchmarks and monitoring).
#[derive(Debug, Default)]
pub struct Stats {
    pub commits: AtomicU64,
    pub rows: AtomicU64,
    /// Rows the database refused and that went to the spill file instead.
    pub spilled: AtomicU64,
}

impl AuditReads {
    /// Starts the writer task on `db`. A batch the database refuses [`ATTEMPTS`] times goes to
    /// a spill file in `data_dir` ([`replay_spills`] puts it into the chain at the next start).
    pub fn start(db: Db, data_dir: PathBuf) -> Self {
        let (tx, rx) = mpsc::channel(20_000);
        let stats = Arc::new(Stats::default());
        tokio::spawn(writer(db, rx, stats.clone(), Spill::new(data_dir)));
        Self { tx, stats }
    }

    /// Records a read of patient data (a chart view, a search without its typed text, a print,
    /// an export). Returns once queued; the row is durable within the documented window.
    pub async fn read(&self, actor: Actor, event: Event) {
        let msg = Message::Read(Box::new(ReadEvent {
            actor,
            event,
            at: crate::clock::now_rfc3339(),
        }));
        if self.tx.send(msg).await.is_err() {
            tracing::error!("audit read writer has stopped; a read was not recorded");
        }
    }

    /// Group commits made and read rows written so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.commits.load(Ordering::Relaxed),
            self.stats.rows.load(Ordering::Relaxed),
        )
    }

    /// Read rows kept in the spill file because the database refused them.
    pub fn spilled(&self) -> u64 {
        self.stats.spilled.load(Ordering::Relaxed)
    }

    /// Waits until every read queued so far is committed or spilled (shutdown, tests).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn writer(db: Db, mut rx: mpsc::Receiver<Message>, stats: Arc<Stats>, mut spill: Spill) {
    let mut batch: Vec<Entry> = Vec::new();
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut last_commit: Option<Instant> = None;
    // The last batch was full: more were waiting, and waiting again would let the queue grow
    // until the pages that record reads wait for room in it.
    let mut behind = false;
    while let Some(first) = rx.recv().await {
        // A busy server gathers reads for a moment after its last commit instead of committing
        // each few: every commit costs an fsync, and makes each SQLite reader connection drop
        // its page cache (the database changed), which then reads its pages again.
        if let (Some(at), false) = (last_commit, behind) {
            let quiet = at.elapsed();
            if quiet < COMMIT_EVERY && !matches!(first, Message::Flush(_)) {
                tokio::time::sleep(COMMIT_EVERY - quiet).await;
            }
        }
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Message::Read(r) => batch.push(unplaced(&r.actor, &r.event, r.at)),
                Message::Flush(w) => waiters.push(w),
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
            next = rx.try_recv().ok();
        }
        behind = batch.len() >= MAX_BATCH;
        if !batch.is_empty() {
            let mut tries = 0;
            loop {
                match write_batch(&db, &mut batch).await {
                    Ok(()) => {
                        last_commit = Some(Instant::now());
                        stats.commits.fetch_add(1, Ordering::Relaxed);
                        stats.rows.fetch_add(batch.len() as u64, Ordering::Relaxed);
                        break;
                    }
                    Err(e) if tries + 1 < ATTEMPTS => {
                        tries += 1;
                        tracing::warn!(error = %e, rows = batch.len(), "audit read batch failed; retrying");
                        tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                    }
                    Err(e) => {
                        // Never dropped: kept on local disk and put into the chain at the
                        // next start. Only a failing disk as well loses them.
                        match spill.keep(&batch) {
                            Ok(file) => {
                                stats
                                    .spilled
                                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                                tracing::error!(error = %e, rows = batch.len(), file = %file.display(),
                                    "audit read batch refused by the database; kept in the spill file until the next start");
                            }
                            Err(io) => {
                                tracing::error!(error = %e, spill_error = %io, rows = batch.len(),
                                "audit read batch lost: refused by the database and the spill file cannot be written")
                            }
                        }
                        break;
                    }
                }
            }
            batch.clear();
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

/// Appends `entries` to the chain in a transaction of its own (their ids are given here).
async fn write_batch(db: &Db, entries: &mut [Entry]) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    let conn: &mut AnyConnection = &mut tx;
    let mut head = lock_head(conn).await?;
    let links: Vec<Link> = entries.iter_mut().map(|e| chain(&mut head, e)).collect();
    insert(conn, entries, &links).await?;
    store_head(conn, &head).await?;
    tx.commit().await?;
    Ok(())
}

/// The current chain head: last id and its hash.
pub async fn head(db: &Db) -> Result<(i64, String), DbError> {
    let row = sqlx::query("SELECT last_id, last_hash FROM audit_head WHERE singleton = 1")
        .fetch_one(db.read())
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact {
        rows: i64,
        head: String,
    },
    /// The first row where the chain breaks, and why.
    Broken {
        row: i64,
        reason: String,
    },
}

/// Walks the whole chain in id order. `expected_heads` are heads recorded elsewhere (the head
/// file, a number written down): each must be a row of the chain, so a deleted tail is caught.
pub async fn verify(db: &Db, expected_heads: &[(i64, String)]) -> Result<Verdict, DbError> {
    verify_with(db, expected_heads, &[]).await
}

/// [`verify`], and each of `anchors` (hashes kept outside the machine, from the daily anchor
/// message) must be the hash of some row: a trail rewritten since, even with every hash
/// recomputed, no longer holds it.
pub async fn verify_with(
    db: &Db,
    expected_heads: &[(i64, String)],
    anchors: &[String],
) -> Result<Verdict, DbError> {
    let mut anchored: Vec<bool> = vec![false; anchors.len()];
    let mut prev_id = 0i64;
    let mut prev_hash = GENESIS.to_string();
    let mut rows = 0i64;
    let mut found: Vec<bool> = vec![false; expected_heads.len()];
    loop {
        let page = sqlx::query(
            "SELECT id, at, user_id, action, entity, entity_id, patient_id, detail, client_addr, \
             request_id, prev_hash, hash FROM audit_log WHERE id > $1 ORDER BY id LIMIT 5000",
        )
        .bind(prev_id)
        .fetch_all(db.read())
        .await?;
        if page.is_empty() {
            break;
        }
        for r in page {
            let entry = Entry::from_row(&r);
            let stored_prev: String = r.get(10);
            let stored_hash: String = r.get(11);
            if entry.id != prev_id + 1 {
                return Ok(Verdict::Broken {
                    row: prev_id + 1,
                    reason: format!(
                        "row {} is missing (the next row is {})",
                        prev_id + 1,
                        entry.id
                    ),
                });
            }
            if stored_prev != prev_hash {
                return Ok(Verdict::Broken {
                    row: entry.id,
                    reason: "its previous-hash does not match the row before it (rows deleted, inserted or reordered)".into(),
                });
            }
            if entry.hash(&prev_hash) != stored_hash {
                return Ok(Verdict::Broken {
                    row: entry.id,
                    reason: "its contents do not match its hash (the row was edited)".into(),
                });
            }
            for (i, (id, hash)) in expected_heads.iter().enumerate() {
                if *id == entry.id {
                    if *hash != stored_hash {
                        return Ok(Verdict::Broken {
                            row: entry.id,
                            reason: "its hash differs from the head recorded outside the database"
                                .into(),
                        });
                    }
                    found[i] = true;
                }
            }
            for (i, hash) in anchors.iter().enumerate() {
                if hash.eq_ignore_ascii_case(&stored_hash) {
                    anchored[i] = true;
                }
            }
            prev_id = entry.id;
            prev_hash = stored_hash;
            rows += 1;
        }
    }
    for (i, (id, _)) in expected_heads.iter().enumerate() {
        if !found[i] && *id > 0 {
            return Ok(Verdict::Broken {
                row: prev_id + 1,
                reason: format!(
                    "the chain ends at row {prev_id}, but row {id} was recorded outside the database (rows were removed from the end)"
                ),
            });
        }
    }
    if let Some(i) = anchored.iter().position(|a| !a) {
        return Ok(Verdict::Broken {
            row: 0,
            reason: format!(
                "no row of the chain has the hash {} recorded outside the machine (the trail was rewritten or replaced)",
                anchors[i]
            ),
        });
    }
    let head = head(db).await?;
    if head.0 != prev_id || head.1 != prev_hash {
        return Ok(Verdict::Broken {
            row: prev_id + 1,
            reason: format!(
                "the chain head says row {} but the log ends at row {prev_id}",
                head.0
            ),
        });
    }
    Ok(Verdict::Intact {
        rows,
        head: prev_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            id: 1,
            at: "2026-11-25T10:00:00.000Z".into(),
            user_id: Some(3),
            action: "patient.view".into(),
            entity: "patient".into(),
            entity_id: Some("9".into()),
            patient_id: Some(9),
            detail: "{}".into(),
            client_addr: Some("10.0.0.5".into()),
            request_id: Some("ab".into()),
        }
    }

    #[test]
    fn the_hash_covers_every_column_and_the_previous_hash() {
        let base = entry().hash(GENESIS);
        assert_eq!(base.len(), 64);
        let mut other = entry();
        other.patient_id = Some(10);
        assert_ne!(other.hash(GENESIS), base);
        let mut other = entry();
        other.id = 2;
        assert_ne!(other.hash(GENESIS), base);
        assert_ne!(entry().hash(&"1".repeat(64)), base);
        assert_eq!(entry().hash(GENESIS), base, "deterministic");
    }

    #[test]
    fn head_files_round_trip() {
        let dir = std::env::temp_dir().join(format!("hms-audit-head-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_head_file(&dir, &(42, "ab".repeat(32))).unwrap();
        assert_eq!(read_head_file(&dir), Some((42, "ab".repeat(32))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
