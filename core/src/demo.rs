//! The module side of `hms demo-data`: each module with something to show generates its own
//! synthetic records ([`DemoGenerator`]); the command (in `hms-web`) runs the enabled modules'
//! generators in dependency order, shows progress and closes the run's audit trail.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use serde_json::json;

use crate::audit::{self, Actor, Event};
use crate::db::{Db, DbError, Tx};

/// What a generator's future returns: `Err` stops the run with that message.
pub type DemoFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// A count a generator keeps (`patients`), and how the closing line names it (`None`: only
/// in the audit row).
#[derive(Debug, Clone, Copy)]
pub struct DemoCount {
    pub key: &'static str,
    pub label: Option<&'static str>,
}

/// Shows how far a long step has got (a progress bar on a terminal).
pub trait DemoProgress: Send + Sync {
    fn start(&self, total: u64, what: &str);
    fn advance(&self, done: u64);
    fn finish(&self);
}

/// One run's request and what it has written so far.
pub struct DemoRun<'a> {
    pub db: &'a Db,
    pub actor: &'a Actor,
    /// `--patients`, `--days`, `--seed`, `--force`.
    pub patients: u64,
    pub days: u32,
    pub seed: u64,
    pub force: bool,
    /// The facility's local day the history ends on.
    pub today: chrono::NaiveDate,
    pub progress: &'a dyn DemoProgress,
    written: Mutex<Vec<(&'static str, u64)>>,
}

impl<'a> DemoRun<'a> {
    pub fn new(
        db: &'a Db,
        actor: &'a Actor,
        (patients, days, seed, force): (u64, u32, u64, bool),
        today: chrono::NaiveDate,
        progress: &'a dyn DemoProgress,
        counts: &[&'static str],
    ) -> Self {
        Self {
            db,
            actor,
            patients,
            days,
            seed,
            force,
            today,
            progress,
            written: Mutex::new(counts.iter().map(|k| (*k, 0)).collect()),
        }
    }

    /// Records a running total once the transaction that wrote it has committed, so a run
    /// stopped midway reports what is really in the database.
    pub fn set(&self, key: &'static str, total: u64) {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        match written.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = total,
            None => written.push((key, total)),
        }
    }

    pub fn get(&self, key: &str) -> u64 {
        let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |(_, n)| *n)
    }

    /// Every count so far, in the order they were declared.
    pub fn written(&self) -> Vec<(&'static str, u64)> {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The audit row of one batch, in the batch's transaction: its running total (`action` such
    /// as `demo.patients`, `written` of `of`), so a run killed midway leaves an audit trail
    /// matching its rows.
    pub async fn audit_batch(
        &self,
        tx: &mut Tx,
        action: &'static str,
        written: u64,
        of: Option<u64>,
    ) -> Result<(), DbError> {
        let detail = match of {
            Some(of) => json!({"written": written, "of": of}),
            None => json!({"written": written}),
        };
        audit::record(
            tx,
            self.actor,
            Event::new(action, "demo", None).detail(detail),
        )
        .await?;
        Ok(())
    }
}

/// A module's demo data.
pub trait DemoGenerator: Send + Sync {
    /// The counts this generator keeps, declared before the run starts.
    fn counts(&self) -> &'static [DemoCount];
    /// Why the run must not start (before anything is written), e.g. a database that already
    /// holds real records without `--force`; `None` to go ahead.
    fn refuse<'a>(&'a self, _db: &'a Db, _force: bool) -> DemoFuture<'a, Option<String>> {
        Box::pin(async { Ok(None) })
    }
    /// Writes this module's records, reporting each committed batch through `run.set`.
    fn generate<'a>(&'a self, run: &'a DemoRun<'a>) -> DemoFuture<'a, ()>;
}
