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
