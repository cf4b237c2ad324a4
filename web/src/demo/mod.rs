//! `hms demo-data`: fills the configured database with a synthetic Kenyan facility, for
//! demonstrations, training and benchmarks. Staff accounts for every role (their passwords are
//! printed once), then patients registered over the last `--days` days. As further modules land
//! (appointments, consultations, pharmacy, ...), each adds its own history over the same days
//! for the patients generated here.
//!
//! Loading is fast (a million patients in a couple of minutes on SQLite): rows are built on a
//! second thread while the previous batch is written, in multi-row INSERTs, one transaction per
//! 10,000 patients. The run is audited per batch, not per patient, and says how far it got: the
//! run's request (`demo.start`), each batch's running total in that batch's transaction
//! (`demo.patients`, `demo.appointments`: a run killed midway leaves rows that match what it
//! wrote), and what was written at the end (`demo.generate`, `complete` false when it stopped
//! on an error or Ctrl-C).

#[cfg(feature = "patients")]
mod names;
#[cfg(feature = "patients")]
mod people;

use clap::Args;
use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::auth::password::Hasher;
use hms_core::auth::users::{self, NewUser, StaffDetails};
use hms_core::config::Loaded;
use hms_core::db::Db;

use crate::cli::Failure;

/// Most patients one run makes.
const MAX_PATIENTS: u64 = 20_000_000;
/// Patients per transaction.
#[cfg(feature = "patients")]
const BATCH: usize = 10_000;
/// The facility prefix of patient numbers, as registration uses it.
#[cfg(feature = "patients")]
const NUMBER_PREFIX: &str = hms_patients::NUMBER_PREFIX;
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

/// What a run has written so far.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct Written {
    staff: u64,
    patients: u64,
    identifiers: u64,
    appointments: u64,
    visits: u64,
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
    let db = Db::open(&config.effective_database_url()).await?;
    let mut written = Written::default();
    // Ctrl-C or SIGTERM stops the run between statements; the batch in hand rolls back.
    let result = tokio::select! {
        r = generate(&args, loaded, &db, &mut written) => r,
        _ = crate::server::shutdown_signal() => Err(Failure("stopped by a signal".into())),
    };
    let result = match result {
        Ok(Outcome::Done) => finish(&db, &args, &written, None).await,
        Ok(Outcome::Refused(why)) => Err(Failure(why)),
        Err(Failure(why)) => {
            let closed = finish(&db, &args, &written, Some(&why)).await;
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

/// The run's closing audit row with what was written, and the same on standard output.
async fn finish(
    db: &Db,
    args: &DemoArgs,
    written: &Written,
    stopped: Option<&str>,
) -> Result<(), Failure> {
    let mut tx = db.begin().await?;
    audit::record(
        &mut tx,
        &Actor::cli(None),
        Event::new("demo.generate", "demo", None).detail(json!({
            "complete": stopped.is_none(),
            "requested": {"patients": args.patients, "days": args.days, "seed": args.seed},
            "written": written,
        })),
    )
    .await?;
    tx.commit().await?;
    let what = format!(
        "{} staff accounts, {} patients, {} appointments and {} visits",
        written.staff, written.patients, written.appointments, written.visits
    );
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

/// Fills the database, counting in `written` what each committed transaction wrote.
async fn generate(
    args: &DemoArgs,
    loaded: &Loaded,
    db: &Db,
    written: &mut Written,
) -> Result<Outcome, Failure> {
    let registry =
        hms_core::module::Registry::new(crate::compiled_modules(), &loaded.config.modules_disabled);
    let patients_on = cfg!(feature = "patients") && registry.is_enabled("patients");
    #[cfg(feature = "patients")]
    if patients_on && !args.force && hms_patients::demo::any_patients(db).await? {
        return Ok(Outcome::Refused(
            "this database already holds patients; demo data goes into a new, empty database \
             (or add --force to add to this one anyway). Nothing was changed."
                .into(),
        ));
    }
    let actor = Actor::cli(None);

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
        &actor,
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

    create_staff(db, &actor, written).await?;

    if !patients_on {
        println!(
            "The patients module is not enabled here: staff accounts only. History for each \
             further module comes as modules are built."
        );
        return Ok(Outcome::Done);
    }
    #[cfg(feature = "patients")]
    generate_patients(args, db, &actor, written).await?;
    #[cfg(feature = "appointments")]
    if registry.is_enabled("appointments") {
        generate_appointments(args, db, &actor, written).await?;
    }
    Ok(Outcome::Done)
}

/// Clinics, doctors' hours and `--days` of appointments, visits and queues, plus two weeks of
/// bookings ahead.
#[cfg(feature = "appointments")]
async fn generate_appointments(
    args: &DemoArgs,
    db: &Db,
    actor: &Actor,
    written: &mut Written,
) -> Result<(), Failure> {
    let staff = hms_appointments::demo::Staff {
        doctors: users::id_by_username(db, "demo.doctor")
            .await?
            .into_iter()
            .collect(),
        receptionist: users::id_by_username(db, "demo.receptionist").await?,
        nurse: users::id_by_username(db, "demo.nurse").await?,
    };
    let today = hms_core::clock::to_local(chrono::Utc::now()).date_naive();
    let started = std::time::Instant::now();
    let mut history = hms_appointments::demo::History::default();
    let result = hms_appointments::demo::history(
        db,
        actor,
        &staff,
        (args.seed, args.days, today),
        &mut history,
    )
    .await;
    written.appointments = history.appointments;
    written.visits = history.visits;
    result?;
    println!(
        "{} appointments and {} visits over {} days in {:.1} s",
        history.appointments,
        history.visits,
        args.days,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn create_staff(db: &Db, actor: &Actor, written: &mut Written) -> Result<(), Failure> {
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
        written.staff += 1;
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

#[cfg(feature = "patients")]
async fn generate_patients(
    args: &DemoArgs,
    db: &Db,
    actor: &Actor,
    written: &mut Written,
) -> Result<(), Failure> {
    use hms_core::db::Backend;
    use hms_patients::demo::{self, Stored};
    use std::time::Instant;

    let receptionist = users::id_by_username(db, "demo.receptionist").await?;
    let before = demo::count(db).await?.max(0) as u64;
    let last_before = demo::last_id(db).await?;
    let today = hms_core::clock::to_local(chrono::Utc::now()).date_naive();
    let total = args.patients;

    // Rows are built on their own thread while the previous batch is written.
    let (send, mut batches) = tokio::sync::mpsc::channel::<Vec<demo::DemoPatient>>(2);
    let (seed, days) = (args.seed, args.days);
    let builder = std::thread::spawn(move || {
        let mut people = people::People::new(seed, total, days, today, before);
        loop {
            let batch = people.batch(BATCH);
            if batch.is_empty() || send.blocking_send(batch).is_err() {
                break;
            }
        }
    });

    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {human_pos}/{human_len} patients, {per_sec}, {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
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
        let s = demo::insert(&mut tx, &batch, NUMBER_PREFIX, receptionist).await?;
        // The running total goes in with the batch: a run killed midway leaves an audit
        // trail that matches the patients it wrote.
        audit::record(
            &mut tx,
            actor,
            Event::new("demo.patients", "demo", None).detail(json!({
                "written": stored.patients + s.patients,
                "of": total,
            })),
        )
        .await?;
        tx.commit().await?;
        stored.patients += s.patients;
        stored.identifiers += s.identifiers;
        stored.tokens += s.tokens;
        written.patients = stored.patients;
        written.identifiers = stored.identifiers;
        bar.inc(s.patients);
    }
    bar.finish_and_clear();
    let _ = builder.join();
    let mut tx = db.begin().await?;
    let pairs = demo::pair_names(&mut tx, last_before).await?;
    tx.commit().await?;
    let loaded_in = started.elapsed();

    // PostgreSQL's autovacuum vacuums and analyzes tables soon after a bulk load by itself: do
    // it now, so the data set is as a production server would have it (until the visibility
    // map is set, every index-only scan reads the table too: a name search took 140 ms instead
    // of 7). SQLite gathers no statistics unless asked, and HMS does not ask: its queries must
    // be fast without them, so none here.
    let analyzed = Instant::now();
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
