//! Group commit for short write transactions that arrive together (registrations at a busy
//! desk): one task takes every job waiting, runs them one after another in one transaction and
//! commits once. Every commit costs an fsync and rewrites the pages it touched (at a million
//! patients about 0.8 ms of the single SQLite writer's time, the jobs themselves about 1 ms), so
//! sharing a commit lets more of them through.
//!
//! A job is a closure that may run more than once: when any job of a group fails, the group is
//! rolled back and each of its jobs runs again in a transaction of its own, so one refused
//! registration (a document registered a moment ago by another desk) never takes the others
//! with it. A job returns its result only after the commit that holds its writes.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::db::{Db, DbError, Tx};

/// The future a job returns, borrowing the transaction.
pub type JobFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, DbError>> + Send + 'c>>;

/// Jobs in one transaction, at most: bounds the time the first of them waits for its commit.
const MAX_GROUP: usize = 16;

/// A queued job with its result slot, type-erased for the queue.
pub(crate) trait Job: Send {
    fn run<'c>(&'c mut self, tx: &'c mut Tx) -> JobFuture<'c, ()>;
    fn finish(self: Box<Self>, outcome: Result<(), DbError>);
}

struct Typed<T, F> {
    work: F,
    output: Option<T>,
    done: oneshot::Sender<Result<T, DbError>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send + 'static,
    F: for<'c> Fn(&'c mut Tx) -> JobFuture<'c, T> + Send + 'static,
{
    fn run<'c>(&'c mut self, tx: &'c mut Tx) -> JobFuture<'c, ()> {
        Box::pin(async move {
            let (output, audited) = crate::audit::deferring((self.work)(&mut *tx)).await;
            let output = output?;
            audited.append(tx).await?;
            self.output = Some(output);
            Ok(())
        })
    }

    fn finish(self: Box<Self>, outcome: Result<(), DbError>) {
        let Typed { output, done, .. } = *self;
        let result = outcome.and_then(|()| {
            output.ok_or_else(|| failed("the write finished without a result".into()))
        });
        let _ = done.send(result);
    }
}

/// The queue of one database's group writer, and what it has done.
#[derive(Debug)]
pub(crate) struct Queue {
    jobs: mpsc::UnboundedSender<Box<dyn Job>>,
    stats: Arc<Stats>,
}

/// Commits made and jobs committed by a group writer.
#[derive(Debug, Default)]
struct Stats {
    commits: AtomicU64,
    jobs: AtomicU64,
}

impl Stats {
    fn committed(&self, jobs: usize) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.jobs.fetch_add(jobs as u64, Ordering::Relaxed);
    }
}

/// Starts the group writer of `db` (a handle without its own queue, so the writer ends when
/// the last handle that can queue work is dropped).
///
/// The writer runs on a thread of its own, not among the server's tasks: a job is a chain of
/// statements, each a round trip to the connection's thread, and between two of them the job
/// must run again at once. On the shared runtime it waited behind every request being served
/// after each statement (under load the single writer's connection was busy 39% of the time
/// and waited the rest).
pub(crate) fn start(db: Db) -> Queue {
    let (jobs, queued) = mpsc::unbounded_channel();
    let stats = Arc::new(Stats::default());
    let own = stats.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let spawned = runtime.map_err(|e| e.to_string()).and_then(|rt| {
        std::thread::Builder::new()
            .name("hms-db-writer".into())
            .spawn(move || rt.block_on(writer(db, queued, own)))
            .map_err(|e| e.to_string())
    });
    if let Err(e) = spawned {
        panic!("the database writer's thread could not start: {e}");
    }
    Queue { jobs, stats }
}

impl Queue {
    /// (commits, jobs committed) so far.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.stats.commits.load(Ordering::Relaxed),
            self.stats.jobs.load(Ordering::Relaxed),
        )
    }
}

/// Queues `work` and waits for the commit that holds it.
pub(crate) async fn submit<T, F>(queue: &Queue, work: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: for<'c> Fn(&'c mut Tx) -> JobFuture<'c, T> + Send + 'static,
{
    let (done, result) = oneshot::channel();
    let job: Box<dyn Job> = Box::new(Typed {
        work,
        output: None,
        done,
    });
    queue
        .jobs
        .send(job)
        .map_err(|_| failed("the database writer has stopped".into()))?;
    result
        .await
        .unwrap_or_else(|_| Err(failed("the database writer has stopped".into())))
}

async fn writer(db: Db, mut queue: mpsc::UnboundedReceiver<Box<dyn Job>>, stats: Arc<Stats>) {
    while let Some(first) = queue.recv().await {
        let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_GROUP);
        group.push(first);
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // A group runs in a task of its own: should a job panic, its group's callers get an
        // error (their result senders are dropped) and the writer goes on with the next group.
        let run = tokio::spawn(run_group(db.clone(), group, stats.clone()));
        if run.await.is_err() {
            tracing::error!("a group of writes failed unexpectedly; its writes were not made");
        }
    }
}

async fn run_group(db: Db, mut group: Vec<Box<dyn Job>>, stats: Arc<Stats>) {
    if group.len() > 1 {
        match together(&db, &mut group).await {
            Ok(()) => {
                stats.committed(group.len());
                for job in group {
                    job.finish(Ok(()));
                }
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, jobs = group.len(), "group write failed; each job runs alone");
            }
        }
    }
    for mut job in group {
        let outcome = together(&db, std::slice::from_mut(&mut job)).await;
        if outcome.is_ok() {
            stats.committed(1);
        }
        job.finish(outcome);
    }
}

/// Runs the jobs of `group` in one transaction (a group of one: a job alone) and commits.
async fn together(db: &Db, group: &mut [Box<dyn Job>]) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    for job in group.iter_mut() {
        job.run(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn failed(message: String) -> DbError {
    DbError::Sqlx(sqlx::Error::Protocol(message))
}

/// The future of a job that may refuse with an error of its own (see [`Db::write_or_refuse`]).
pub type RefusableFuture<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

impl Db {
    /// [`Db::write`] for work that may refuse with an error of its own, `E` (a guarded update
    /// that matched nothing, a record no longer open...): on SQLite a refusal rolls the whole
    /// group back like any failed job, then the work runs again alone, and the caller gets that
    /// last run's refusal as it is. On PostgreSQL the work runs in a transaction of its own,
    /// beside the others (a refusal rolls back its own work only). `state` is what the work needs, handed to every run of it; the
    /// work must do nothing but database work in `tx` (it runs in the caller's language).
    pub async fn write_or_refuse<S, T, E, F>(&self, state: S, work: F) -> Result<T, E>
    where
        S: Send + Sync + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: for<'c> Fn(&'c mut Tx, &'c S) -> RefusableFuture<'c, T, E> + Send + Sync + 'static,
    {
        if self.backend == crate::db::Backend::Postgres {
            // PostgreSQL takes writers at once and flushes commits that come together with one
            // write of its log: a single group writer would only queue their round trips.
            let mut tx = self.begin().await?;
            let (value, audited) = crate::audit::deferring(work(&mut tx, &state)).await;
            let value = value?;
            audited.append(&mut tx).await?;
            tx.commit().await.map_err(DbError::from)?;
            return Ok(value);
        }
        let refusal: Arc<std::sync::Mutex<Option<E>>> = Arc::default();
        let job = Arc::new((state, work, refusal.clone()));
        // The work runs on the writer's task: messages it words are in the caller's language.
        let language = crate::i18n::current();
        let done = self
            .write(move |tx| {
                let job = job.clone();
                Box::pin(async move {
                    let (state, work, refusal) = &*job;
                    let outcome = crate::i18n::scope(language, work(tx, state)).await;
                    let mut kept = refusal.lock().unwrap_or_else(|e| e.into_inner());
                    match outcome {
                        Ok(value) => {
                            *kept = None;
                            Ok(value)
                        }
                        Err(e) => {
                            *kept = Some(e);
                            Err(DbError::Conflict)
                        }
                    }
                })
            })
            .await;
        let refused = refusal.lock().unwrap_or_else(|e| e.into_inner()).take();
        match (done, refused) {
            (Ok(value), _) => Ok(value),
            (Err(_), Some(refusal)) => Err(refusal),
            (Err(e), None) => Err(E::from(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;

    #[derive(Debug, PartialEq)]
    enum Outcome {
        /// The job's own refusal: its number and the language it was worded in.
        Refused(i64, &'static str),
        Failed(String),
    }

    impl From<DbError> for Outcome {
        fn from(e: DbError) -> Self {
            Outcome::Failed(e.to_string())
        }
    }

    fn language(n: i64) -> &'static str {
        if n % 2 == 0 {
            "sw"
        } else {
            "en"
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refusal_rolls_back_its_own_work_only_and_reaches_its_caller_as_it_is() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!("hms-group-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::open(&format!("sqlite://{}", dir.join("hms.db").display()))
            .await
            .unwrap();
        let mut tx = db.begin().await.unwrap();
        sqlx::query("CREATE TABLE scratch (n BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        // Twelve writes at once (so they share groups); every third refuses after writing.
        let jobs: Vec<_> = (0..12i64)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(crate::i18n::scope(language(n), async move {
                    db.write_or_refuse(n, |tx, n| {
                        Box::pin(async move {
                            sqlx::query("INSERT INTO scratch (n) VALUES ($1)")
                                .bind(*n)
                                .execute(&mut **tx)
                                .await
                                .map_err(DbError::from)?;
                            if *n % 3 == 0 {
                                return Err(Outcome::Refused(*n, crate::i18n::current()));
                            }
                            Ok(*n)
                        })
                    })
                    .await
                }))
            })
            .collect();
        for (n, job) in (0..12i64).zip(jobs) {
            match job.await.unwrap() {
                Ok(value) => assert!(value == n && n % 3 != 0, "{n} was written"),
                Err(refused) => assert_eq!(refused, Outcome::Refused(n, language(n))),
            }
        }
        let kept: Vec<i64> = sqlx::query("SELECT n FROM scratch ORDER BY n")
            .fetch_all(db.read())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(kept, (0..12).filter(|n| n % 3 != 0).collect::<Vec<_>>());
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_jobs_audit_rows_join_the_chain_at_its_end_and_a_refused_job_leaves_none() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("hms-group-audit-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::open(&format!("sqlite://{}", dir.join("hms.db").display()))
            .await
            .unwrap();
        let (before, _) = crate::audit::head(&db).await.unwrap();
        // Ten jobs at once, three audited changes each; every fourth refuses after auditing.
        let jobs: Vec<_> = (0..10i64)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write_or_refuse(n, |tx, n| {
                        Box::pin(async move {
                            for step in 0..3i64 {
                                let event = crate::audit::Event::new("test.step", "job", Some(*n))
                                    .detail(serde_json::json!({ "step": step }));
                                crate::audit::record(tx, &crate::audit::Actor::default(), event)
                                    .await
                                    .map_err(DbError::from)?;
                            }
                            if *n % 4 == 0 {
                                return Err(Outcome::Refused(*n, "en"));
                            }
                            Ok(*n)
                        })
                    })
                    .await
                })
            })
            .collect();
        let mut written = Vec::new();
        for job in jobs {
            if let Ok(n) = job.await.unwrap() {
                written.push(n);
            }
        }
        assert_eq!(written, [1, 2, 3, 5, 6, 7, 9]);
        let rows: Vec<(i64, String, String)> = sqlx::query(
            "SELECT id, entity_id, detail FROM audit_log WHERE action = 'test.step' ORDER BY id",
        )
        .fetch_all(db.read())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
        // Each job's three rows are together and in the order recorded; no refused job's rows.
        assert_eq!(rows.len(), 21);
        for (k, chunk) in rows.chunks(3).enumerate() {
            let job = &chunk[0].1;
            assert!(
                job.parse::<i64>().unwrap() % 4 != 0,
                "job {job} was refused"
            );
            for (step, (id, entity, detail)) in chunk.iter().enumerate() {
                assert_eq!(entity, job, "rows of one job are not interleaved");
                assert_eq!(*id, before + 1 + (k * 3 + step) as i64, "ids follow on");
                assert!(detail.contains(&format!("\"step\":{step}")), "{detail}");
            }
        }
        let verdict = crate::audit::verify(&db, &[]).await.unwrap();
        assert!(
            matches!(verdict, crate::audit::Verdict::Intact { .. }),
            "{verdict:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
