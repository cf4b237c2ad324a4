//! `hms demo-data`: a synthetic facility in an empty database (staff for every role, patients),
//! refused on a database that holds patients unless --force, the same people for the same seed,
//! patient numbers that later registrations continue, and one audit row per run.

mod common;

use std::path::Path;

use common::*;

/// Runs `hms demo-data ARGS` on the data directory (and PostgreSQL database, when given).
fn demo(data: &Path, database: Option<&str>, args: &[&str]) -> std::process::Output {
    let backups = data.join("../backups");
    let mut all: Vec<&str> = vec!["demo-data"];
    all.extend_from_slice(args);
    if let Some(url) = database {
        all.extend_from_slice(&["--database", url]);
    }
    hms(&all, data, &backups, None)
}

fn rows(data: &Path, database: Option<&str>, sql: &'static str) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = database
            .map(str::to_string)
            .unwrap_or_else(|| format!("sqlite://{}", data.join("hms.db").display()));
        let db = hms_core::db::Db::connect(&url).await.unwrap();
        let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(db.read()).await.unwrap();
        db.close().await;
        rows
    })
}

fn one(data: &Path, database: Option<&str>, sql: &'static str) -> i64 {
    rows(data, database, sql)[0].parse().unwrap()
}

fn a_demo_facility_is_made_once_and_numbers_continue(data: &Path, database: Option<&str>) {
    let out = demo(
        data,
        database,
        &["--patients", "300", "--days", "30", "--seed", "7"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    for role in [
        "admin",
        "receptionist",
        "doctor",
        "nurse",
        "lab_tech",
        "pharmacist",
        "accountant",
    ] {
        assert!(printed.contains(&format!("demo.{role}")), "{printed}");
    }
    let count = |sql| one(data, database, sql);
    assert_eq!(count("SELECT CAST(COUNT(*) AS TEXT) FROM patients"), 300);
    assert_eq!(
        count("SELECT CAST(COUNT(DISTINCT number) AS TEXT) FROM patients"),
        300
    );
    assert_eq!(count("SELECT CAST(COUNT(*) AS TEXT) FROM users"), 7);
    assert!(count("SELECT CAST(COUNT(*) AS TEXT) FROM patient_identifiers") > 100);
    assert!(count("SELECT CAST(COUNT(*) AS TEXT) FROM patient_name_tokens") >= 600);
    // The counters end where 300 registrations would have left them.
    assert_eq!(
        count("SELECT CAST(SUM(next_seq) AS TEXT) FROM patient_counters"),
        300
    );
    assert_eq!(
        count("SELECT CAST(COUNT(*) AS TEXT) FROM audit_log WHERE action = 'demo.generate'"),
        1,
        "one audit row for the run, not one per patient"
    );
    assert_eq!(
        count("SELECT CAST(COUNT(*) AS TEXT) FROM audit_log WHERE action LIKE 'patient.%'"),
        0
    );
    assert!(rows(
        data,
        database,
        "SELECT value FROM settings WHERE key = 'facility_name'"
    )[0]
    .contains("Demo"));
    // With the appointments module: clinics, a month of appointments and visits through the
    // queues, and bookings ahead.
    assert_eq!(count("SELECT CAST(COUNT(*) AS TEXT) FROM clinics"), 4);
    assert!(count("SELECT CAST(COUNT(*) AS TEXT) FROM appointments WHERE status = 'arrived'") > 50);
    assert!(count("SELECT CAST(COUNT(*) AS TEXT) FROM appointments WHERE status = 'no_show'") > 0);
    assert!(count("SELECT CAST(COUNT(*) AS TEXT) FROM appointments WHERE status = 'booked'") > 20);
    assert!(count("SELECT CAST(COUNT(*) AS TEXT) FROM visits WHERE status = 'completed'") > 200);
    assert!(
        count("SELECT CAST(COUNT(*) AS TEXT) FROM queue_entries")
            >= 2 * count("SELECT CAST(COUNT(*) AS TEXT) FROM visits"),
        "every visit went through triage and consultation"
    );
    assert!(
        count("SELECT CAST(COUNT(*) AS TEXT) FROM patients WHERE last_visit_on IS NOT NULL") > 100
    );
    assert_eq!(
        count(
            "SELECT CAST(COUNT(*) AS TEXT) FROM (SELECT clinician_id, day, start_minute FROM appointments \
             WHERE status IN ('booked', 'arrived') AND start_minute IS NOT NULL \
             GROUP BY clinician_id, day, start_minute HAVING COUNT(*) > 1) d"
        ),
        0,
        "no slot booked twice"
    );
    // With billing: the price lists, the cashier's week of payments and invoices, the shifts
    // (today's open), and the books agree.
    assert_eq!(
        count("SELECT CAST(COUNT(*) AS TEXT) FROM billing_price_lists"),
        4
    );
    assert!(count("SELECT CAST(COUNT(*) AS TEXT) FROM billing_payments") > 10);
    assert!(
        count("SELECT CAST(COUNT(*) AS TEXT) FROM billing_invoices WHERE payer = 'scheme'") > 5
    );
    assert!(count("SELECT CAST(COUNT(DISTINCT method) AS TEXT) FROM billing_payments") >= 2);
    assert_eq!(
        count("SELECT CAST(COUNT(*) AS TEXT) FROM billing_shifts"),
        7
    );
    assert_eq!(
        count("SELECT CAST(COUNT(*) AS TEXT) FROM billing_shifts WHERE status = 'open'"),
        1
    );
    // Waivers, refunds and a scheme's credit notes, each approved by someone else.
    assert!(
        count("SELECT CAST(COUNT(DISTINCT kind) AS TEXT) FROM billing_credit_notes") >= 2,
        "credit notes of more than one kind"
    );
    assert_eq!(
        count(
            "SELECT CAST(COUNT(*) AS TEXT) FROM billing_requests WHERE decided_by = requested_by"
        ),
        0
    );
    // M-Pesa's paybill confirmations: most of the week's M-Pesa payments confirmed, two that
    // named no bill waiting for a cashier.
    assert_eq!(
        count(
            "SELECT CAST(COUNT(*) AS TEXT) FROM billing_mpesa_receipts WHERE status = 'unmatched'"
        ),
        2
    );
    assert!(
        count("SELECT CAST(COUNT(*) AS TEXT) FROM billing_mpesa_receipts WHERE status = 'booked'")
            > 0
    );
    // SHA claims of the SHA invoices, earlier ones answered; every document queued for eTIMS.
    assert!(count("SELECT CAST(COUNT(*) AS TEXT) FROM billing_claims WHERE purpose = 'claim'") > 0);
    assert!(
        count("SELECT CAST(COUNT(DISTINCT status) AS TEXT) FROM billing_claims") >= 2,
        "claims answered and waiting"
    );
    assert_eq!(
        count(
            "SELECT CAST(COUNT(*) AS TEXT) FROM billing_invoices i WHERE i.status = 'issued' \
             AND NOT EXISTS (SELECT 1 FROM billing_etims_documents d WHERE d.invoice_id = i.id)"
        ),
        0
    );
    let mut books = vec!["billing", "verify"];
    if let Some(url) = database {
        books.extend_from_slice(&["--database", url]);
    }
    let books = hms(&books, data, &data.join("../backups"), None);
    assert!(books.status.success(), "{}", text(&books));
    assert!(text(&books).contains("the books agree"), "{}", text(&books));

    // A database that holds patients is refused, and nothing changes.
    let again = demo(data, database, &["--patients", "10"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("--force"), "{}", text(&again));
    assert_eq!(count("SELECT CAST(COUNT(*) AS TEXT) FROM patients"), 300);

    // With --force more are added; numbers continue and never repeat.
    let more = demo(data, database, &["--patients", "50", "--force"]);
    assert!(more.status.success(), "{}", text(&more));
    assert!(text(&more).contains("already exists"), "{}", text(&more));
    assert_eq!(count("SELECT CAST(COUNT(*) AS TEXT) FROM patients"), 350);
    assert_eq!(
        count("SELECT CAST(COUNT(DISTINCT number) AS TEXT) FROM patients"),
        350
    );
    assert_eq!(
        count("SELECT CAST(SUM(next_seq) AS TEXT) FROM patient_counters"),
        350
    );
    assert_eq!(count("SELECT CAST(COUNT(*) AS TEXT) FROM users"), 7);

    let backups = data.join("../backups");
    let mut verify = vec!["audit", "verify"];
    if let Some(url) = database {
        verify.extend_from_slice(&["--database", url]);
    }
    let verified = hms(&verify, data, &backups, None);
    assert!(verified.status.success(), "{}", text(&verified));
}

#[test]
fn a_demo_facility_on_sqlite() {
    let dir = TempDir::new("demo");
    a_demo_facility_is_made_once_and_numbers_continue(&dir.path().join("data"), None);
}

#[test]
fn the_same_seed_makes_the_same_people() {
    let dir = TempDir::new("demo-seed");
    let names = |name: &str, seed: &str| {
        let data = dir.path().join(name);
        let out = demo(&data, None, &["--patients", "120", "--seed", seed]);
        assert!(out.status.success(), "{}", text(&out));
        rows(
            &data,
            None,
            "SELECT number || ' ' || first_name || ' ' || last_name || ' ' || date_of_birth || ' ' \
             || COALESCE(phone, '-') FROM patients ORDER BY id",
        )
    };
    let a = names("a", "42");
    assert_eq!(a.len(), 120);
    assert_eq!(a, names("b", "42"));
    assert_ne!(a, names("c", "43"));
}

#[test]
fn a_demo_facility_on_postgres() {
    let Some(admin) = std::env::var("HMS_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        eprintln!("skipped: HMS_TEST_POSTGRES_URL is not set");
        return;
    };
    let name = format!("hms_demo_test_{}", std::process::id());
    let url = {
        let (base, _) = admin.rsplit_once('/').expect("a database URL");
        format!("{base}/{name}")
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let exec = |sql: String| {
        let admin = admin.clone();
        rt.block_on(async move {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        })
    };
    // Names made here from digits: safe to splice.
    exec(format!("DROP DATABASE IF EXISTS {name}"));
    exec(format!("CREATE DATABASE {name}"));
    let dir = TempDir::new("demo-pg");
    a_demo_facility_is_made_once_and_numbers_continue(&dir.path().join("data"), Some(&url));
    exec(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

/// A PostgreSQL database of its own for one test, dropped at the end; `None` without
/// `HMS_TEST_POSTGRES_URL`.
struct PgDatabase {
    admin: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn new(tag: &str) -> Option<PgDatabase> {
        let admin = std::env::var("HMS_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())?;
        let name = format!("hms_demo_{tag}_{}", std::process::id());
        let (base, _) = admin.rsplit_once('/').expect("a database URL");
        let url = format!("{base}/{name}");
        let db = PgDatabase { admin, name, url };
        // Names made here from a tag and digits: safe to splice.
        db.exec(format!("DROP DATABASE IF EXISTS {}", db.name));
        db.exec(format!("CREATE DATABASE {}", db.name));
        Some(db)
    }

    fn exec(&self, sql: String) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&self.admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        self.exec(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// Like `one`, but `None` while the database or its tables are not there yet.
fn try_one(data: &Path, database: Option<&str>, sql: &'static str) -> Option<i64> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = database
            .map(str::to_string)
            .unwrap_or_else(|| format!("sqlite://{}", data.join("hms.db").display()));
        if database.is_none() && !data.join("hms.db").exists() {
            return None;
        }
        let db = hms_core::db::Db::connect(&url).await.ok()?;
        let value: Option<String> = sqlx::query_scalar(sql).fetch_one(db.read()).await.ok();
        db.close().await;
        value?.parse().ok()
    })
}

/// `hms demo-data` for many patients, stopped by `signal` once its first batch is in: the audit
/// trail then says exactly how many patients the run wrote.
fn a_run_stopped_partway_says_how_far_it_got(
    data: &Path,
    database: Option<&str>,
    signal: &str,
) -> (String, std::process::ExitStatus) {
    let backups = data.join("../backups");
    let mut args = vec!["demo-data", "--patients", "2000000", "--days", "30"];
    if let Some(url) = database {
        args.extend_from_slice(&["--database", url]);
    }
    let mut child = command(&args, data, &backups)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while try_one(
        data,
        database,
        "SELECT CAST(COUNT(*) AS TEXT) FROM audit_log WHERE action = 'demo.patients'",
    )
    .unwrap_or(0)
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "no batch written");
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let killed = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();

    let patients = one(
        data,
        database,
        "SELECT CAST(COUNT(*) AS TEXT) FROM patients",
    );
    assert!(
        patients > 0 && patients < 2_000_000,
        "{patients} patients written"
    );
    let last: serde_json::Value = serde_json::from_str(
        &rows(
            data,
            database,
            "SELECT detail FROM audit_log WHERE action = 'demo.patients' ORDER BY id DESC",
        )[0],
    )
    .unwrap();
    assert_eq!(last["written"], patients, "{last}");
    assert_eq!(last["of"], 2_000_000);
    let start: serde_json::Value = serde_json::from_str(
        &rows(
            data,
            database,
            "SELECT detail FROM audit_log WHERE action = 'demo.start'",
        )[0],
    )
    .unwrap();
    assert_eq!(start["patients"], 2_000_000, "the request, not a result");
    let closing = rows(
        data,
        database,
        "SELECT detail FROM audit_log WHERE action = 'demo.generate'",
    );
    if signal == "-KILL" {
        assert!(
            closing.is_empty(),
            "a killed run claims nothing: {closing:?}"
        );
    } else {
        assert_eq!(closing.len(), 1, "{closing:?}");
        let closing: serde_json::Value = serde_json::from_str(&closing[0]).unwrap();
        assert_eq!(closing["complete"], false, "{closing}");
        assert_eq!(closing["written"]["patients"], patients, "{closing}");
        assert_eq!(closing["written"]["staff"], 7, "{closing}");
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            printed.contains(&format!(
                "Stopped partway: written 7 staff accounts, {patients} patients"
            )),
            "{printed}"
        );
    }
    let mut verify = vec!["audit", "verify"];
    if let Some(url) = database {
        verify.extend_from_slice(&["--database", url]);
    }
    let verified = hms(&verify, data, &backups, None);
    assert!(verified.status.success(), "{}", text(&verified));
    (String::from_utf8_lossy(&out.stdout).to_string(), out.status)
}

#[test]
fn a_demo_run_killed_or_interrupted_partway_on_sqlite() {
    let dir = TempDir::new("demo-stop");
    let (_, status) =
        a_run_stopped_partway_says_how_far_it_got(&dir.path().join("killed"), None, "-KILL");
    assert!(!status.success());
    let (_, status) =
        a_run_stopped_partway_says_how_far_it_got(&dir.path().join("interrupted"), None, "-INT");
    assert_eq!(status.code(), Some(1));
}

#[test]
fn a_demo_run_killed_or_interrupted_partway_on_postgres() {
    let dir = TempDir::new("demo-stop-pg");
    let Some(killed) = PgDatabase::new("killed") else {
        eprintln!("skipped: HMS_TEST_POSTGRES_URL is not set");
        return;
    };
    let (_, status) = a_run_stopped_partway_says_how_far_it_got(
        &dir.path().join("killed"),
        Some(&killed.url),
        "-KILL",
    );
    assert!(!status.success());
    let interrupted = PgDatabase::new("interrupted").unwrap();
    let (_, status) = a_run_stopped_partway_says_how_far_it_got(
        &dir.path().join("interrupted"),
        Some(&interrupted.url),
        "-TERM",
    );
    assert_eq!(status.code(), Some(1));
}
