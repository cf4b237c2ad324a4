//! HMS benchmark: a demo facility of N patients (made by `hms demo-data`, cached between runs),
//! the real server started on a fresh copy of it, and concurrent HTTP load over loopback for
//! named scenarios. Prints per scenario the operations, errors, rate, p50/p95/p99 latency and
//! the rate as a share of `/healthz` in the same run, plus the server's start-up time, idle and
//! peak memory and the database size.
//!
//!     cargo run --release -p hms-bench -- --patients 1000000 --clients 16 --seconds 10
//!     cargo run --release -p hms-bench -- --patients 1000000 \
//!         --database postgres://postgres@127.0.0.1:5432/postgres --json pg.json
//!
//! The server is this same program run as `hms` (`hms-bench --as-hms serve ...`: the code of
//! the `hms` binary, so its memory is the server's own), or a built `hms` with `--server PATH`.

mod billing;
mod clinical;
mod desk;
mod heavy;
mod http;
mod pharmacy;
mod scenarios;
mod search_parts;
mod seed;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;

use scenarios::{Figures, Limits, Scenario, Shared};
use seed::{Hms, Server};

#[derive(Debug, Parser)]
#[command(
    name = "hms-bench",
    about = "Benchmark HMS: demo data, the real server, concurrent HTTP load per scenario"
)]
struct Args {
    /// Patients in the demo facility.
    #[arg(long, default_value_t = 10_000)]
    patients: u64,
    /// Days of appointments and visits in the demo data.
    #[arg(long, default_value_t = 365)]
    days: u64,
    /// Seed of the demo data and of the load.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated people working at once (one connection each).
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Measured seconds per scenario.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of load before measuring, per scenario.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// At most this many operations per scenario.
    #[arg(long, default_value_t = 5_000_000)]
    max_requests: u64,
    /// Visits given to the patient whose chart `chart_heavy` reads.
    #[arg(long, default_value_t = 1_000)]
    heavy_visits: usize,
    /// Scenarios to run, comma-separated: healthz, login, login_flood, dashboard, search,
    /// search_parts, chart, chart_heavy, register, book, queue, vitals, consult, doctor,
    /// dispense, dispense_hot, pharmacy_stock, consumption_report, pay_cash, invoice_pdf,
    /// stk_callback
    /// (healthz always runs first: the other rates are given as a share of it).
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// PostgreSQL server to use instead of SQLite, as a URL of a database to connect to; the
    /// benchmark creates its own databases there (a cached template and one per run).
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Write the figures as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Run this `hms` executable instead of this program's built-in copy of it.
    #[arg(long, value_name = "PATH")]
    server: Option<PathBuf>,
    /// Working folder: the cached demo data sets and each run's copy.
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// Make the demo data again even when a cached copy exists.
    #[arg(long)]
    fresh: bool,
    /// Make the demo data for this run only, and keep no copy (tests).
    #[arg(long, conflicts_with = "fresh")]
    no_cache: bool,
    /// Keep this run's data directory (and server log) afterwards.
    #[arg(long)]
    keep: bool,
    /// SQLite: gather planner statistics (ANALYZE) on this run's copy first. HMS never does,
    /// so by default the queries run as on a facility's database grown by daily work.
    #[arg(long)]
    analyze: bool,
}

#[derive(Debug, Serialize)]
struct Machine {
    cpus: usize,
    cpu_model: String,
    memory_mb: u64,
    /// The 1-minute load average when the run started and when it ended: other work on the
    /// machine takes CPU from the server and the clients alike.
    load_before: f64,
    load_after: f64,
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

#[derive(Debug, Serialize)]
struct Report {
    backend: &'static str,
    patients: u64,
    seed: u64,
    clients: usize,
    seconds: f64,
    warmup: f64,
    machine: Machine,
    /// Seconds `hms demo-data` took in this run; absent when the cached data set was used.
    demo_data_seconds: Option<f64>,
    startup_ms: f64,
    idle_rss_mb: f64,
    peak_rss_mb: f64,
    /// The most of the server's own memory (without mapped database pages) seen after a scenario.
    most_own_mb: f64,
    database_mb_before: f64,
    database_mb_after: f64,
    scenarios: Vec<Figures>,
    errors: u64,
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    Machine {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model: cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default(),
        memory_mb: meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024,
        load_before: load_average(),
        load_after: 0.0,
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--as-hms") {
        return as_hms(argv[2..].to_vec());
    }
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(bench(args)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// This program as `hms`: the same command line, configuration and server as the `hms` binary.
fn as_hms(args: Vec<String>) -> ExitCode {
    hms_web::cli::main(std::iter::once("hms".to_string()).chain(args))
}

fn mb(kb_or_bytes: f64, div: f64) -> f64 {
    (kb_or_bytes / div * 10.0).round() / 10.0
}

/// Runs the benchmark; returns the number of errors.
async fn bench(args: Args) -> Result<u64, String> {
    let mut chosen: Vec<Scenario> = vec![Scenario::Healthz];
    let names: Vec<String> = if args.scenarios.is_empty() {
        scenarios::ALL
            .iter()
            .map(|s| s.name().to_string())
            .collect()
    } else {
        args.scenarios.clone()
    };
    for name in &names {
        let s = Scenario::parse(name).ok_or_else(|| {
            format!(
                "unknown scenario '{name}'; scenarios are: {}",
                scenarios::ALL
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        if !chosen.contains(&s) {
            chosen.push(s);
        }
    }
    if args.clients == 0 || args.seconds <= 0.0 || args.warmup < 0.0 {
        return Err("--clients and --seconds must be positive".into());
    }
    let hms = match &args.server {
        Some(path) => Hms {
            exe: path
                .canonicalize()
                .map_err(|e| format!("{}: {e}", path.display()))?,
            prefix: Vec::new(),
        },
        None => Hms {
            exe: std::env::current_exe().map_err(|e| e.to_string())?,
            prefix: vec!["--as-hms".into()],
        },
    };
    let work = match &args.work {
        Some(w) => w.clone(),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data"),
    };
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let work = work.canonicalize().map_err(|e| e.to_string())?;
    let backend = if args.database.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let machine = machine();
    if machine.load_before > 0.5 {
        println!(
            "note: the machine is busy (load average {:.2}); figures will be lower than on an \
             idle machine",
            machine.load_before
        );
    }
    println!(
        "HMS benchmark: {} patients on {backend}, {} clients, {} s per scenario after {} s of \
         warm-up; {} CPUs ({}), {} MB RAM",
        args.patients,
        args.clients,
        args.seconds,
        args.warmup,
        machine.cpus,
        machine.cpu_model,
        machine.memory_mb
    );

    let prepared = seed::prepare(
        &hms,
        &work,
        args.database.as_deref(),
        seed::Facility {
            patients: args.patients,
            days: args.days,
            seed: args.seed,
        },
        if args.no_cache {
            seed::Cache::Off
        } else if args.fresh {
            seed::Cache::Renew
        } else {
            seed::Cache::Use
        },
    )
    .await?;
    match prepared.generated_in {
        Some(s) if args.no_cache => println!("demo data made in {s:.1} s"),
        Some(s) => println!("demo data made in {s:.1} s (cached as {})", prepared.key),
        None => println!("demo data: cached {}", prepared.key),
    }
    let result = measure(&args, &hms, &prepared, &chosen, machine).await;
    if !args.keep {
        prepared.remove().await;
    } else {
        println!("kept {}", prepared.data_dir.display());
    }
    let report = result?;
    print_report(&report);
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(report.errors)
}

async fn measure(
    args: &Args,
    hms: &Hms,
    prepared: &seed::Prepared,
    chosen: &[Scenario],
    mut machine: Machine,
) -> Result<Report, String> {
    let database_before = prepared.database_bytes().await;
    // The search queries come from real patients of the data set.
    let url = prepared
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", prepared.data_dir.join("hms.db").display()));
    let db = hms_core::db::Db::connect(&url)
        .await
        .map_err(|e| e.to_string())?;
    if args.analyze && prepared.database_url.is_none() {
        let mut tx = db.begin().await.map_err(|e| e.to_string())?;
        sqlx::query("ANALYZE")
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
    }
    let (queries, max_patient_id) = scenarios::queries(&db, args.seed, 2_000).await?;
    let part_queries = search_parts::queries(&db, args.seed, 2_000).await?;
    let day_clinic = scenarios::day_clinic(&db).await?;
    let diagnosis_codes = scenarios::diagnosis_codes(&db).await?;
    let adults = scenarios::adults(&db, 50_000).await?;
    let pharmacy = pharmacy::load(&db).await?;
    let billing = billing::load(&db).await?;
    db.close().await;

    let mut server = Server::start(hms, prepared).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (idle_kb, _, _) = server.memory_kb();
    println!(
        "server: serving {:.0} ms after start, {:.1} MB resident when idle",
        server.startup.as_secs_f64() * 1000.0,
        mb(idle_kb as f64, 1024.0)
    );

    let shared = Arc::new(Shared {
        addr: server.addr,
        accounts: prepared.accounts.clone(),
        queries,
        part_queries,
        max_patient_id,
        seed: args.seed,
        registered: AtomicU64::new(0),
        day_clinic,
        triage_visits: std::sync::Mutex::new(Vec::new()),
        diagnosis_codes,
        adults,
        pharmacy,
        heavy_patient: std::sync::atomic::AtomicI64::new(0),
        heavy_visits: args.heavy_visits,
        billing,
        database_url: url.clone(),
    });
    let limits = Limits {
        clients: args.clients,
        warmup: Duration::from_secs_f64(args.warmup),
        seconds: Duration::from_secs_f64(args.seconds),
        max_requests: args.max_requests,
    };
    let mut figures: Vec<Figures> = Vec::new();
    let mut failure = None;
    let mut most_own_kb = 0;
    for s in chosen {
        match scenarios::run(*s, shared.clone(), &limits).await {
            Ok(mut f) => {
                if *s == Scenario::DispenseHot {
                    // The books still add up after every client raced for the same item.
                    let differences = pharmacy::ledger_differences(&url).await?;
                    f.ledger_differences = Some(differences);
                    if differences > 0 {
                        f.errors += differences;
                        f.first_error.get_or_insert_with(|| {
                            format!("the ledger check found {differences} batch(es) off")
                        });
                    }
                }
                if *s == Scenario::StkCallback {
                    // One receipt, one payment: the books after every repeat.
                    let doubles = billing::double_payments(&url).await?;
                    f.double_payments = Some(doubles);
                    if doubles > 0 {
                        f.errors += doubles;
                        f.first_error.get_or_insert_with(|| {
                            format!("{doubles} M-Pesa receipt(s) paid twice")
                        });
                    }
                }
                let (rss, peak, own) = server.memory_kb();
                f.rss_mb_after = mb(rss as f64, 1024.0);
                f.own_mb_after = mb(own as f64, 1024.0);
                f.peak_rss_mb_after = mb(peak as f64, 1024.0);
                most_own_kb = most_own_kb.max(own);
                println!(
                    "  {:<10} {:>9} ops {:>6} errors {:>9.0}/s  p50 {:>6.2} ms  p95 {:>6.2} ms  \
                     p99 {:>6.2} ms  server {:.0} MB, own {:.0} MB (peak {:.0} MB)",
                    f.scenario,
                    f.requests,
                    f.errors,
                    f.per_second,
                    f.p50_ms,
                    f.p95_ms,
                    f.p99_ms,
                    f.rss_mb_after,
                    f.own_mb_after,
                    f.peak_rss_mb_after
                );
                if let Some(e) = &f.first_error {
                    println!("             first error: {e}");
                }
                if let Some(rate) = f.flood_refused_per_second {
                    println!("             meanwhile {rate:.0} wrong passwords/s refused");
                }
                if let Some(duplicates) = f.duplicates {
                    println!(
                        "             {duplicates} repeated callbacks acknowledged; receipts paid twice: {}",
                        f.double_payments.unwrap_or(0)
                    );
                }
                if let Some(refused) = f.refused {
                    println!(
                        "             {refused} refused for lack of stock; ledger check: {} \
                         batch(es) off",
                        f.ledger_differences.unwrap_or(0)
                    );
                }
                figures.push(f);
            }
            Err(e) => {
                failure = Some(format!("scenario {}: {e}", s.name()));
                break;
            }
        }
        if !server.alive() {
            failure = Some("the server stopped during the benchmark".into());
            break;
        }
    }
    machine.load_after = load_average();
    let (_, peak_kb, _) = server.memory_kb();
    let startup_ms = (server.startup.as_secs_f64() * 10_000.0).round() / 10.0;
    server.stop();
    if let Some(f) = failure {
        return Err(f);
    }
    let database_after = prepared.database_bytes().await;
    let floor = figures
        .iter()
        .find(|f| f.scenario == "healthz")
        .map(|f| f.per_second)
        .unwrap_or(0.0);
    for f in &mut figures {
        if floor > 0.0 {
            f.vs_healthz = Some((f.per_second / floor * 1000.0).round() / 1000.0);
        }
    }
    let errors = figures.iter().map(|f| f.errors).sum();
    Ok(Report {
        backend: if args.database.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        patients: args.patients,
        seed: args.seed,
        clients: args.clients,
        seconds: args.seconds,
        warmup: args.warmup,
        machine,
        demo_data_seconds: prepared.generated_in,
        startup_ms,
        idle_rss_mb: mb(idle_kb as f64, 1024.0),
        peak_rss_mb: mb(peak_kb as f64, 1024.0),
        most_own_mb: mb(most_own_kb as f64, 1024.0),
        database_mb_before: mb(database_before as f64, 1_048_576.0),
        database_mb_after: mb(database_after as f64, 1_048_576.0),
        scenarios: figures,
        errors,
    })
}

fn print_report(r: &Report) {
    println!();
    println!(
        "{} patients on {}, {} clients, {} s per scenario ({} CPUs, {}; load average {:.2} \
         before, {:.2} after)",
        r.patients,
        r.backend,
        r.clients,
        r.seconds,
        r.machine.cpus,
        r.machine.cpu_model,
        r.machine.load_before,
        r.machine.load_after
    );
    println!(
        "{:<10} {:>10} {:>7} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "scenario", "ops", "errors", "ops/s", "p50 ms", "p95 ms", "p99 ms", "/healthz"
    );
    for f in &r.scenarios {
        println!(
            "{:<10} {:>10} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8}",
            f.scenario,
            f.requests,
            f.errors,
            f.per_second,
            f.p50_ms,
            f.p95_ms,
            f.p99_ms,
            f.vs_healthz
                .map(|v| format!("{:.0}%", v * 100.0))
                .unwrap_or_default()
        );
    }
    for f in &r.scenarios {
        if let Some(p99) = f.request_p99_ms {
            println!(
                "{}: {} requests per operation, each request p99 {p99:.2} ms",
                f.scenario, f.http_per_op
            );
        }
    }
    println!(
        "server: start-up {:.0} ms, idle {:.1} MB, peak {:.1} MB resident (own memory at most \
         {:.1} MB after a scenario); database {:.1} MB ({:.1} MB after the run)",
        r.startup_ms,
        r.idle_rss_mb,
        r.peak_rss_mb,
        r.most_own_mb,
        r.database_mb_before,
        r.database_mb_after
    );
    if let Some(s) = r.demo_data_seconds {
        println!("demo data: made in {s:.1} s");
    }
    if r.errors > 0 {
        println!("{} error(s): see above", r.errors);
    }
}
