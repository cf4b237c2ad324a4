//! Read auditing at page speed: prints the synchronous commit rate of the database, then the
//! rate of read-audited pages (the per-patient access report, which records a read for every
//! view) served through the real router by concurrent clients, and checks the chain afterwards.
//!
//!     cargo bench -p hms-tests --bench audit_reads            # SQLite on disk
//!     HMS_TEST_POSTGRES_URL=postgres://... cargo bench -p hms-tests --bench audit_reads

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hms_core::audit::{self, Actor, Event, Verdict};
use hms_testkit::{Backend, TestApp};

const CLIENTS: usize = 32;
const PAGES: usize = 20_000;
const COMMITS: usize = 400;

fn bench_dir() -> PathBuf {
    // On the disk the database would use (not a RAM-backed temp folder), so fsync costs are real.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("target")
        .join("bench-data")
        .join(format!("audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn run(backend: Backend) {
    let dir = bench_dir();
    let data = dir.clone();
    let Some(app) = TestApp::start_with(backend, move |c| c.data_dir = data).await else {
        return;
    };
    let admin = app.setup_admin().await;
    println!("== {backend:?}");

    // 1. One audited write per transaction, one after another: the commit rate.
    let started = Instant::now();
    for n in 0..COMMITS {
        let mut tx = app.db().begin().await.unwrap();
        audit::record(
            &mut tx,
            &Actor::cli(None),
            Event::new("bench.write", "bench", Some(n as i64)),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let commit_rate = COMMITS as f64 / started.elapsed().as_secs_f64();
    println!("synchronous audited commits: {commit_rate:>10.0} /s ({COMMITS} one after another)");

    // 2. Read-audited pages from concurrent clients.
    let token = admin.cookie("hms_session").unwrap();
    let per_client = PAGES / CLIENTS;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = app.client();
        client.set_cookie("hms_session", &token);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let patient = 1 + (c * per_client + i) % 50_000;
                let t = Instant::now();
                let r = client.get(&format!("/audit/patients/{patient}")).await;
                assert_eq!(r.status, 200);
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let served = started.elapsed();
    app.app.audit_reads.flush().await;
    let durable = started.elapsed();
    latencies.sort();
    let pages = latencies.len();
    let page_rate = pages as f64 / served.as_secs_f64();
    let pct =
        |p: f64| latencies[((pages as f64 * p) as usize).min(pages - 1)].as_secs_f64() * 1000.0;
    println!(
        "read-audited pages:          {page_rate:>10.0} /s ({pages} pages, {CLIENTS} clients)"
    );
    println!(
        "page latency:                p50 {:.2} ms, p99 {:.2} ms",
        pct(0.50),
        pct(0.99)
    );
    println!(
        "all read rows durable after: {:>10.0} ms (pages served in {:.0} ms)",
        durable.as_secs_f64() * 1000.0,
        served.as_secs_f64() * 1000.0
    );
    println!(
        "pages per synchronous commit: {:>9.1}x",
        page_rate / commit_rate
    );
    let (commits, rows) = app.app.audit_reads.stats();
    println!(
        "read rows per group commit:  {:>10.1} ({rows} rows in {commits} commits)",
        rows as f64 / commits.max(1) as f64
    );

    // 3. The chain is whole.
    let started = Instant::now();
    match audit::verify(app.db(), &[]).await.unwrap() {
        Verdict::Intact { rows, .. } => println!(
            "chain verified:              {rows} rows intact in {:.0} ms",
            started.elapsed().as_secs_f64() * 1000.0
        ),
        Verdict::Broken { row, reason } => panic!("chain broken at row {row}: {reason}"),
    }
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::main]
async fn main() {
    run(Backend::Sqlite).await;
    run(Backend::Postgres).await;
}
