//! `hms demo-data`: fills the configured database with a synthetic Kenyan facility, for
//! demonstrations, training and benchmarks. Staff accounts for every role (their passwords are
//! printed once), then each enabled module's demo data in dependency order
//! (`Module::demo`: patients registered over the last `--days` days, then the appointments,
//! visits and queues of those days, and so on as modules land).
//!
//! This file is the orchestration: the options, the progress bar, the staff, and the run's
//! audit trail. The run is audited per batch, not per record, and says how far it got: the
//! run's request (`demo.start`), each batch's running total in that batch's transaction
//! (`demo.patients`, `demo.appointments`, written by the modules: a run killed midway leaves
//! rows that match what it wrote), and what was written at the end (`demo.generate`,
//! `complete` false when it stopped on an error or Ctrl-C).

use std::sync::Arc;

use clap::Args;
use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::auth::password::Hasher;
use hms_core::auth::users::{self, NewUser, StaffDetails};
use hms_core::config::Loaded;
use hms_core::demo::{DemoGenerator, DemoProgress, DemoRun};
use hms_core::module::{Module, Registry};

use crate::cli::Failure;

/// Most patients one run makes.
const MAX_PATIENTS: u64 = 20_000_000;
/// The facility's name when none is set yet.
const FACILITY_NAME: &str = "Mwangaza Demo Health Centre";

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// How many patients to generate.
    #[arg(long, value_name = "N")]
    pub patients: u64,
    /// Days of history: patients are registered over the last D days (appointments, visits and
    /// the rest follow as those modules are built).
    #[arg(long, value_name = "D", default_value_t = 365)]
    pub days: u32,
    /// Seed of the generator: the same seed gives the same people.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Add to a database that already holds patients.
    #[arg(long)]
    pub force: bool,
}

/// A demo staff account: username, roles, full name, cadre, registration number.
struct Staff {
    username: String,
    role: String,
    full_name: String,
    cadre: Option<&'static str>,
    registration_no: Option<&'static str>,
}

fn staff_for(role: &str) -> Option<Staff> {
    let (full_name, cadre, registration_no) = match role {
        "admin" => ("Grace Muthoni Kamau", None, None),
        "receptionist" => ("Faith Achieng Otieno", Some("records_officer"), None),
        "doctor" => ("Dr. Peter Kiprono Koech", Some("doctor"), Some("A10234")),
        "nurse" => ("Mercy Nafula Wekesa", Some("nurse"), Some("NCK 58231")),
        "lab_tech" => (
            "Brian Mutua Musyoka",
            Some("lab_technologist"),
            Some("KMLTTB 4120"),
        ),
        "pharmacist" => ("Halima Abdi Hassan", Some("pharmacist"), Some("PPB P2291")),
        "accountant" => ("Joseph Nyakundi Momanyi", Some("other"), None),
        _ => ("", None, None),
    };
    let slug: String = role
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let username = format!("demo.{slug}");
    users::check_username(&username).ok()?;
    Some(Staff {
        username,
        role: role.to_string(),
        full_name: if full_name.is_empty() {
            format!("Demo {role}")
        } else {
            full_name.to_string()
        },
        cadre,
        registration_no,
    })
}

/// A password for a demo account: random (never derived from the seed), 16 letters and digits
/// that cannot be mistaken for one another.
fn new_password() -> String {
    use rand::RngExt;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The enabled modules with a demo generator, in dependency order.
fn generators(registry: &Registry) -> Vec<Arc<dyn Module>> {
    registry
        .enabled_in_order()
        .into_iter()
        .filter(|m| m.demo().is_some())
        .cloned()
        .collect()
}

/// Each generator's counts, staff first: what the closing audit row and line report.
fn counts(generators: &[Arc<dyn Module>]) -> Vec<&'static str> {
    let mut keys = vec!["staff"];
    for g in generators.iter().filter_map(|m| m.demo()) {
        keys.extend(g.counts().iter().map(|c| c.key));
    }
    keys
}

/// A terminal progress bar for a generator's long step.
struct Bar(indicatif::ProgressBar);

impl DemoProgress for Bar {
    fn start(&self, total: u64, what: &str) {
        self.0.set_length(total);
        self.0.set_position(0);
        let template =
            format!("{{bar:40}} {{human_pos}}/{{human_len}} {what}, {{per_sec}}, {{eta}} left");
        self.0.set_style(
            indicatif::ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        self.0.reset_eta();
    }
    fn advance(&self, done: u64) {
        self.0.inc(done);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

pub async fn run(args: DemoArgs, loaded: &Loaded) -> Result<(), Failure> {
    if args.patients > MAX_PATIENTS {
        return Err(Failure(format!(
            "--patients must be at most {MAX_PATIENTS}"
        )));
    }
    if !(1..=3650).contains(&args.days) {
        return Err(Failure("--days must be between 1 and 3650".into()));
    }
    let config = &loaded.config;
    // Not while a server uses the database: it would wait behind every batch.
    let _lock = crate::server::lock_data_dir(config).map_err(Failure)?;
    let (db, _) = hms_core::backup::upgrade::open(config).await?;
    let registry = Registry::new(crate::compiled_modules(), &config.modules_disabled);
    // Generators use the modules' own reads, some of which word things (a patient's sex).
    if let Err(e) = registry.install_translations() {
        eprintln!("warning: {e}");
    }
    let generators = generators(&registry);
    let actor = Actor::cli(None);
    let bar = Bar(indicatif::ProgressBar::new(0));
    let today = hms_core::clock::to_local(chrono::Utc::now()).date_naive();
    let demo = DemoRun::new(
        &db,
        &actor,
        (args.patients, args.days, args.seed, args.force),
        today,
        &bar,
        &counts(&generators),
    );
    // Ctrl-C or SIGTERM stops the run between statements; the batch in hand rolls back.
    let result = tokio::select! {
        r = generate(&args, &registry, &generators, &demo) => r,
        _ = crate::server::shutdown_signal() => Err(Failure("stopped by a signal".into())),
    };
    let result = match result {
        Ok(Outcome::Done) => match finish(&demo, &args, &generators, None).await {
            Ok(()) => analyze(&db).await,
            closing => closing,
        },
        Ok(Outcome::Refused(why)) => Err(Failure(why)),
        Err(Failure(why)) => {
            let closed = finish(&demo, &args, &generators, Some(&why)).await;
            Err(Failure(match closed {
                Ok(()) => why,
                Err(Failure(e)) => format!("{why}; the run's closing audit row failed too: {e}"),
            }))
        }
    };
    let synced = audit::sync_head_file(&db, &config.data_dir).await;
    db.close().await;
    result?;
    synced?;
    Ok(())
}

/// PostgreSQL: vacuums and analyzes every table the run filled, as autovacuum would soon after
/// a bulk load, so the planner chooses by statistics of the data as loaded (visits, queues,
/// vital signs, notes and orders too, not only the patients' tables) and index-only scans need
/// not read the tables. SQLite gathers no statistics unless asked; HMS does not ask.
async fn analyze(db: &hms_core::db::Db) -> Result<(), Failure> {
    if db.backend != hms_core::db::Backend::Postgres {
        return Ok(());
    }
    let started = std::time::Instant::now();
    sqlx::query("VACUUM ANALYZE").execute(db.read()).await?;
    println!(
        "Vacuumed and analyzed in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// "7 staff accounts, 300 patients, 120 appointments and 80 visits".
fn summary(demo: &DemoRun<'_>, generators: &[Arc<dyn Module>]) -> String {
    let mut parts = vec![format!("{} staff accounts", demo.get("staff"))];
    for g in generators.iter().filter_map(|m| m.demo()) {
        for c in g.counts() {
            if let Some(label) = c.label {
                parts.push(format!("{} {label}", demo.get(c.key)));
            }
        }
    }
    match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => parts.join(""),
    }
}

/// The run's closing audit row with what was written, and the same on standard output.
async fn finish(
    demo: &DemoRun<'_>,
    args: &DemoArgs,
    generators: &[Arc<dyn Module>],
    stopped: Option<&str>,
) -> Result<(), Failure> {
    let written: serde_json::Map<String, serde_json::Value> = demo
        .written()
        .into_iter()
        .map(|(k, n)| (k.to_string(), json!(n)))
        .collect();
    let mut tx = demo.db.begin().await?;
    audit::record(
        &mut tx,
        demo.actor,
        Event::new("demo.generate", "demo", None).detail(json!({
            "complete": stopped.is_none(),
            "requested": {"patients": args.patients, "days": args.days, "seed": args.seed},
            "written": written,
        })),
    )
    .await?;
    tx.commit().await?;
    let what = summary(demo, generators);
    match stopped {
        None => println!("Written: {what}."),
        Some(_) => println!(
            "Stopped partway: written {what} (of {} patients asked for); the audit trail \
             says the same (demo.generate).",
            args.patients
        ),
    }
    Ok(())
}

enum Outcome {
    Done,
    /// Refused before writing anything (no audit row either).
    Refused(String),
}

/// Fills the database: staff accounts, then each enabled module's generator in dependency
/// order, each counting in `demo` what its committed transactions wrote.
async fn generate(
    args: &DemoArgs,
    registry: &Registry,
    generators: &[Arc<dyn Module>],
    demo: &DemoRun<'_>,
) -> Result<Outcome, Failure> {
    let db = demo.db;
    for g in generators.iter().filter_map(|m| m.demo()) {
        if let Some(why) = g.refuse(db, args.force).await.map_err(Failure)? {
            return Ok(Outcome::Refused(why));
        }
    }
    let patients_on = registry.is_enabled("patients");
    // The run's request comes first, with the facility's name when it has none yet (the
    // first-run screen is skipped once staff accounts exist).
    let facility_set = hms_core::settings::get(db, "facility_name")
        .await?
        .is_some_and(|n| !n.trim().is_empty());
    let mut tx = db.begin().await?;
    if !facility_set {
        hms_core::settings::put(&mut tx, "facility_name", FACILITY_NAME).await?;
    }
    audit::record(
        &mut tx,
        demo.actor,
        Event::new("demo.start", "demo", None).detail(json!({
            "patients": if patients_on { args.patients } else { 0 },
            "days": args.days,
            "seed": args.seed,
            "force": args.force,
            "facility_name": (!facility_set).then_some(FACILITY_NAME),
        })),
    )
    .await?;
    tx.commit().await?;

    create_staff(demo).await?;

    if !patients_on {
        println!(
            "The patients module is not enabled here: staff accounts only. History for each \
             further module comes as modules are built."
        );
        return Ok(Outcome::Done);
    }
    for generator in generators.iter().filter_map(|m| m.demo()) {
        run_one(generator, demo).await?;
    }
    Ok(Outcome::Done)
}

async fn run_one(generator: &dyn DemoGenerator, demo: &DemoRun<'_>) -> Result<(), Failure> {
    generator.generate(demo).await.map_err(Failure)
}

async fn create_staff(demo: &DemoRun<'_>) -> Result<(), Failure> {
    let (db, actor) = (demo.db, demo.actor);
    let mut written = 0;
    let roles = users::all_roles(db).await?;
    let hasher = Hasher::new();
    let mut created: Vec<(Staff, String)> = Vec::new();
    let mut existing: Vec<String> = Vec::new();
    for role in roles {
        let Some(staff) = staff_for(&role.name) else {
            continue;
        };
        if users::id_by_username(db, &staff.username).await?.is_some() {
            existing.push(staff.username);
            continue;
        }
        let password = new_password();
        let hash = hasher.hash(&password).await?;
        let mut tx = db.begin().await?;
        users::create(
            &mut tx,
            &NewUser {
                username: staff.username.clone(),
                full_name: staff.full_name.clone(),
                password_hash: hash,
                roles: vec![staff.role.clone()],
                details: StaffDetails {
                    cadre: staff.cadre.map(str::to_string),
                    registration_no: staff.registration_no.map(str::to_string),
                    phone: None,
                    email: None,
                },
                must_change_password: false,
            },
            actor,
            false,
        )
        .await?;
        tx.commit().await?;
        written += 1;
        demo.set("staff", written);
        created.push((staff, password));
    }
    if !created.is_empty() {
        println!("Demo staff accounts (the passwords are shown only this once):");
        println!("  {:<22} {:<16} password", "username", "role");
        for (s, password) in &created {
            println!("  {:<22} {:<16} {password}", s.username, s.role);
        }
    }
    for name in existing {
        println!("  {name:<22} already exists; password unchanged");
    }
    Ok(())
}
