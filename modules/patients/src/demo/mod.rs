//! The patients part of `hms demo-data`: synthetic Kenyan patients registered over the last
//! `--days` days ([`people`], from the names of [`names`]), written fast: rows are built on a
//! second thread while the previous batch is written, in multi-row INSERTs, one transaction
//! and one `demo.patients` audit row (the running total) per 10,000 patients.

mod names;
mod people;
mod population;

use std::time::Instant;

use hms_core::auth::users;
use hms_core::db::{Backend, Db};
use hms_core::demo::{DemoCount, DemoFuture, DemoGenerator, DemoRun};

pub use crate::repo::demo::*;

/// Patients per transaction.
const BATCH: usize = 10_000;
/// The facility prefix of patient numbers, as registration uses it.
const NUMBER_PREFIX: &str = crate::model::NUMBER_PREFIX;

/// The patients module's demo data.
pub struct PatientsDemo;

const COUNTS: &[DemoCount] = &[
    DemoCount {
        key: "patients",
        label: Some("patients"),
    },
    DemoCount {
        key: "identifiers",
        label: None,
    },
];

impl DemoGenerator for PatientsDemo {
    fn counts(&self) -> &'static [DemoCount] {
        COUNTS
    }

    fn refuse<'a>(&'a self, db: &'a Db, force: bool) -> DemoFuture<'a, Option<String>> {
        Box::pin(async move {
            if force || !any_patients(db).await.map_err(|e| e.to_string())? {
                return Ok(None);
            }
            Ok(Some(
                "this database already holds patients; demo data goes into a new, empty \
                 database (or add --force to add to this one anyway). Nothing was changed."
                    .into(),
            ))
        })
    }

    fn generate<'a>(&'a self, run: &'a DemoRun<'a>) -> DemoFuture<'a, ()> {
        Box::pin(async move { generate(run).await.map_err(|e| e.to_string()) })
    }
}

async fn generate(run: &DemoRun<'_>) -> Result<(), hms_core::db::DbError> {
    let db = run.db;
    let receptionist = users::id_by_username(db, "demo.receptionist").await?;
    let before = count(db).await?.max(0) as u64;
    let last_before = last_id(db).await?;
    let total = run.patients;

    // Rows are built on their own thread while the previous batch is written.
    let (send, mut batches) = tokio::sync::mpsc::channel::<Vec<DemoPatient>>(2);
    let (seed, days, today) = (run.seed, run.days, run.today);
    let builder = std::thread::spawn(move || {
        let mut people = people::People::new(seed, total, days, today, before);
        loop {
            let batch = people.batch(BATCH);
            if batch.is_empty() || send.blocking_send(batch).is_err() {
                break;
            }
        }
    });

    run.progress.start(total, "patients");
    let started = Instant::now();
    let mut stored = Stored::default();
    if db.backend == Backend::Sqlite {
        // A larger page cache for this connection while loading: indexes grow by random
        // inserts (a million patients: about 90 s with SQLite's default 2 MB, 65 s with this).
        let mut tx = db.begin().await?;
        sqlx::query("PRAGMA cache_size = -65536")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    while let Some(batch) = batches.recv().await {
        let mut tx = db.begin().await?;
        let s = insert(&mut tx, &batch, NUMBER_PREFIX, receptionist).await?;
        run.audit_batch(
            &mut tx,
            "demo.patients",
            stored.patients + s.patients,
            Some(total),
        )
        .await?;
        tx.commit().await?;
        stored.patients += s.patients;
        stored.identifiers += s.identifiers;
        stored.tokens += s.tokens;
        run.set("patients", stored.patients);
        run.set("identifiers", stored.identifiers);
        run.progress.advance(s.patients);
    }
    run.progress.finish();
    let _ = builder.join();
    let mut tx = db.begin().await?;
    let pairs = pair_names(&mut tx, last_before).await?;
    tx.commit().await?;
    let loaded_in = started.elapsed();
    let analyzed = Instant::now();
    analyze(db).await?;
    println!(
        "{} patients ({} identity documents, {} name tokens, {} name pairs) in {:.1} s, {:.0} patients/s{}",
        stored.patients,
        stored.identifiers,
        stored.tokens,
        pairs,
        loaded_in.as_secs_f64(),
        stored.patients as f64 / loaded_in.as_secs_f64().max(0.001),
        if db.backend == Backend::Postgres {
            format!(
                "; vacuumed and analyzed in {:.1} s",
                analyzed.elapsed().as_secs_f64()
            )
        } else {
            String::new()
        },
    );
    Ok(())
}

/// PostgreSQL's autovacuum vacuums and analyzes tables soon after a bulk load by itself: do it
/// now, so the data set is as a production server would have it (until the visibility map is
/// set, every index-only scan reads the table too: a name search took 140 ms instead of 7).
/// SQLite gathers no statistics unless asked, and HMS does not ask: its queries must be fast
/// without them, so none there.
async fn analyze(db: &Db) -> Result<(), hms_core::db::DbError> {
    if db.backend == Backend::Postgres {
        for sql in [
            "VACUUM ANALYZE patients",
            "VACUUM ANALYZE patient_identifiers",
            "VACUUM ANALYZE patient_name_tokens",
            "VACUUM ANALYZE patient_name_pairs",
            "VACUUM ANALYZE patient_counters",
        ] {
            sqlx::query(sql).execute(db.read()).await?;
        }
    }
    Ok(())
}
