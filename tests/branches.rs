//! Ready for branches: every table has a class in `hms_core::tables`; every record table carries
//! `facility_id` and a `uuid` the database makes at insert and never changes; the migration that
//! added them gave existing rows distinct uuids; the install's facility is named at setup; and
//! no source file hard-deletes rows of a record table. Both databases.

use std::collections::BTreeSet;
use std::path::Path;

use hms_core::db::{Backend as DbBackend, Db};
use hms_core::tables::{class_of, TABLES};
use hms_testkit::{each_backend, Client};
use sqlx::{Connection, Executor, Row};

/// The tables of the migrated database and their columns.
async fn schema(db: &Db) -> Vec<(String, BTreeSet<String>)> {
    let names: Vec<String> = match db.backend {
        DbBackend::Sqlite => sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        ),
        DbBackend::Postgres => sqlx::query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        ),
    }
    .fetch_all(db.read())
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.get(0))
    .filter(|t: &String| t != "schema_migrations")
    .collect();
    let mut out = Vec::new();
    for t in names {
        let cols = match db.backend {
            DbBackend::Sqlite => sqlx::query("SELECT name FROM pragma_table_info($1)"),
            DbBackend::Postgres => sqlx::query(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = $1",
            ),
        }
        .bind(&t)
        .fetch_all(db.read())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
        out.push((t, cols));
    }
    out
}

/// The triggers that make and keep a table's uuid.
async fn uuid_triggers(db: &Db, table: &str) -> BTreeSet<String> {
    match db.backend {
        DbBackend::Sqlite => {
            sqlx::query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $1")
        }
        DbBackend::Postgres => sqlx::query(
            "SELECT tgname::text FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal",
        ),
    }
    .bind(table)
    .fetch_all(db.read())
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.get(0))
    .collect()
}

fn is_uuid_v7(u: &str) -> bool {
    let parts: Vec<&str> = u.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && u.bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && parts[2].starts_with('7')
        && "89ab".contains(&parts[3][..1])
}

/// Registers a patient through the form; returns the id.
async fn register(c: &Client, first: &str, last: &str, allergies: &str) -> i64 {
    hms_testkit::domain::register(
        c,
        &[
            ("first_name", first),
            ("last_name", last),
            ("sex", "female"),
            ("date_of_birth", "1990-04-12"),
            ("id_type", "none"),
            ("allergies", allergies),
            ("register_anyway", "1"),
        ],
    )
    .await
}

async fn check_in(c: &Client, patient: i64) {
    let r = hms_testkit::domain::submit_check_in(c, patient, "triage", "").await;
    assert_eq!(r.status, 303, "{}", r.body);
}

async fn uuids(db: &Db, sql: &'static str) -> Vec<Option<String>> {
    sqlx::query(sql)
        .fetch_all(db.read())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect()
}

fn assert_distinct_v7(what: &str, list: &[Option<String>], at_least: usize) {
    assert!(list.len() >= at_least, "{what}: {} rows", list.len());
    let set: BTreeSet<&str> = list
        .iter()
        .map(|u| {
            u.as_deref()
                .unwrap_or_else(|| panic!("{what}: a row without uuid"))
        })
        .collect();
    assert_eq!(
        set.len(),
        list.len(),
        "{what}: uuids are distinct: {list:?}"
    );
    assert!(set.iter().all(|u| is_uuid_v7(u)), "{what}: {list:?}");
}

each_backend! {
    async fn every_table_has_a_class_and_record_tables_carry_facility_and_uuid(app) {
        let tables = schema(app.db()).await;
        let present: BTreeSet<&str> = tables.iter().map(|(t, _)| t.as_str()).collect();
        for (t, _) in TABLES {
            assert!(present.contains(t), "{t} is listed in core/src/tables.rs but no migration makes it");
        }
        let mut records = 0;
        for (t, cols) in &tables {
            let class = class_of(t).unwrap_or_else(|| panic!("table {t} has no class in core/src/tables.rs"));
            if !class.holds_records() {
                continue;
            }
            records += 1;
            // The facilities table is the list of facilities itself: a uuid, no facility_id.
            let facility = *t == "facilities" || cols.contains("facility_id");
            assert!(facility && cols.contains("uuid"), "record table {t} lacks facility_id or uuid");
            let triggers = uuid_triggers(app.db(), t).await;
            // A ledger refuses every update, which keeps its uuid too.
            let kept = triggers.contains(&format!("{t}_uuid_fixed")) || triggers.contains(&format!("{t}_no_update"));
            assert!(kept, "{t}: no trigger keeps its uuid: {triggers:?}");
            if app.db().backend == DbBackend::Sqlite {
                assert!(triggers.contains(&format!("{t}_uuid")), "{t}: no trigger makes its uuid: {triggers:?}");
            }
        }
        assert!(records >= 18, "{records} record tables");
    }

    async fn uuids_are_made_at_insert_distinct_and_never_change(app) {
        app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        let amina = register(&desk, "Amina", "Otieno", "").await;
        let brian = register(&desk, "Brian", "Kiprono", "").await;
        check_in(&desk, amina).await;
        check_in(&desk, brian).await;
        let db = app.db();
        assert_distinct_v7("patients", &uuids(db, "SELECT uuid FROM patients").await, 2);
        assert_distinct_v7("visits", &uuids(db, "SELECT uuid FROM visits").await, 2);
        assert_distinct_v7("queue_entries", &uuids(db, "SELECT uuid FROM queue_entries").await, 2);
        assert_distinct_v7("users", &uuids(db, "SELECT uuid FROM users").await, 1);
        assert_distinct_v7("user_roles", &uuids(db, "SELECT uuid FROM user_roles").await, 1);
        // Rows made by one statement get distinct uuids too.
        sqlx::query("INSERT INTO declared_holidays (day, name, created_at) VALUES \
                     ('2031-01-01', 'a', 'x'), ('2031-01-02', 'b', 'x'), ('2031-01-03', 'c', 'x')")
            .execute(db.read()).await.unwrap();
        assert_distinct_v7("declared_holidays", &uuids(db, "SELECT uuid FROM declared_holidays").await, 3);
        let facility: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT facility_id FROM visits")
            .fetch_all(db.read()).await.unwrap();
        assert_eq!(facility, [1]);

        let before: String = sqlx::query_scalar("SELECT uuid FROM patients WHERE id = $1")
            .bind(amina).fetch_one(db.read()).await.unwrap();
        for sql in [
            "UPDATE patients SET uuid = '01890000-0000-7000-8000-000000000000' WHERE id = $1",
            "UPDATE patients SET uuid = NULL WHERE id = $1",
            "UPDATE visits SET uuid = '01890000-0000-7000-8000-000000000000' WHERE patient_id = $1",
        ] {
            let changed = sqlx::query(sql).bind(amina).execute(db.read()).await;
            assert!(changed.is_err(), "refused: {sql}");
        }
        sqlx::query("UPDATE patients SET phone = '0712345678' WHERE id = $1")
            .bind(amina).execute(db.read()).await.unwrap();
        let after: String = sqlx::query_scalar("SELECT uuid FROM patients WHERE id = $1")
            .bind(amina).fetch_one(db.read()).await.unwrap();
        assert_eq!(before, after);
    }

    async fn setup_names_the_install_facility(app) {
        let before: String = sqlx::query_scalar("SELECT name FROM facilities WHERE id = 1")
            .fetch_one(app.db().read()).await.unwrap();
        assert_eq!(before, "This facility");
        app.setup_admin().await;
        let row = sqlx::query("SELECT name, kmhfl_code FROM facilities WHERE id = 1")
            .fetch_one(app.db().read()).await.unwrap();
        assert_eq!(row.get::<String, _>(0), "Mwangaza Health Centre");
        assert_eq!(row.get::<Option<String>, _>(1), None);
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM facilities")
            .fetch_one(app.db().read()).await.unwrap();
        assert_eq!(rows, 1);
    }
}

/// The allergies of a patient as stored: (allergen, drug group, severity, status).
async fn allergy_rows(
    db: &Db,
    patient: i64,
) -> Vec<(String, Option<String>, Option<String>, String)> {
    sqlx::query("SELECT allergen, drug_group, severity, status FROM patient_allergies WHERE patient_id = $1 ORDER BY id")
        .bind(patient)
        .fetch_all(db.read())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

fn row(
    a: &str,
    g: Option<&str>,
    s: Option<&str>,
    status: &str,
) -> (String, Option<String>, Option<String>, String) {
    (
        a.into(),
        g.map(Into::into),
        s.map(Into::into),
        status.into(),
    )
}

each_backend! {
    async fn allergies_typed_at_registration_become_rows_the_chart_shows(app) {
        app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        let amina = register(&desk, "Amina", "Otieno", "Amoxicillin; peanuts, ").await;
        assert_eq!(allergy_rows(app.db(), amina).await, [
            row("Amoxicillin", Some("penicillins"), None, "active"),
            row("peanuts", None, None, "active"),
        ]);
        let column: Option<String> = sqlx::query_scalar("SELECT allergies FROM patients WHERE id = $1")
            .bind(amina).fetch_one(app.db().read()).await.unwrap();
        assert_eq!(column, None, "the old text column is no longer written");
        assert_eq!(app.audit_count("patient.allergy_add").await, 2);
        let chart = desk.get(&format!("/patients/{amina}")).await;
        assert_eq!(chart.status, 200);
        assert!(chart.body.contains("allergy-alert") && chart.body.contains("Amoxicillin"), "{}", chart.body);
        assert!(chart.body.contains("Penicillins"), "the drug group is shown");
        let label = desk.get(&format!("/patients/{amina}/label")).await;
        assert!(label.body.contains("Amoxicillin, peanuts"), "the printed label lists them");
        let plain = register(&desk, "Brian", "Kiprono", "").await;
        assert!(allergy_rows(app.db(), plain).await.is_empty());
        let chart = desk.get(&format!("/patients/{plain}")).await;
        assert!(!chart.body.contains("allergy-alert") && chart.body.contains("No known allergies recorded."));
        // Correcting the record leaves the rows alone; the field is on registration only.
        let edit = desk.get(&format!("/patients/{amina}/edit")).await;
        assert!(!edit.body.contains("name=\"allergies\""));
    }

    async fn staff_who_edit_patients_add_and_refute_allergies_on_the_chart(app) {
        app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        app.add_user("nurse", &["nurse"]).await;
        let desk = app.login("desk").await;
        let amina = register(&desk, "Amina", "Otieno", "").await;
        let path = format!("/patients/{amina}/allergies");

        assert_eq!(desk.get(&format!("{path}/new")).await.status, 200);
        let bad = desk.post_form(&path, &[("allergen", "x"), ("drug_group", "antacids"), ("severity", "deadly"), ("reaction", "")]).await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("2 to 100 characters") && bad.body.contains("Choose a drug group"), "{}", bad.body);
        assert!(allergy_rows(app.db(), amina).await.is_empty(), "nothing recorded");
        let no_csrf = desk.post_form_raw(&path, &[("allergen", "Septrin")]).await;
        assert!(no_csrf.status == 403 || no_csrf.status == 400, "{}", no_csrf.status);
        let nurse = app.login("nurse").await;
        nurse.get(&format!("/patients/{amina}")).await;
        assert_eq!(nurse.post_form(&path, &[("allergen", "Septrin")]).await.status, 403);
        assert!(allergy_rows(app.db(), amina).await.is_empty());

        let ok = desk.post_form(&path, &[("allergen", "Septrin"), ("drug_group", ""), ("reaction", "Rash all over"), ("severity", "severe")]).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let ok = desk.post_form(&path, &[("allergen", "Bee stings"), ("drug_group", ""), ("reaction", ""), ("severity", "")]).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert_eq!(allergy_rows(app.db(), amina).await, [
            row("Septrin", Some("sulfonamides"), Some("severe"), "active"),
            row("Bee stings", None, None, "active"),
        ]);
        let chart = desk.get(&format!("/patients/{amina}")).await;
        assert!(chart.body.contains("Septrin (severe)"), "the banner shows the severity");
        assert!(chart.body.contains("Rash all over") && chart.body.contains("Sulfonamides"));

        let first: i64 = sqlx::query_scalar("SELECT MIN(id) FROM patient_allergies WHERE patient_id = $1")
            .bind(amina).fetch_one(app.db().read()).await.unwrap();
        let refute = format!("{path}/{first}/refute");
        assert_eq!(nurse.post_form(&refute, &[]).await.status, 403);
        assert_eq!(desk.post_form(&refute, &[]).await.status, 303);
        assert_eq!(desk.post_form(&refute, &[]).await.status, 303, "a second refute changes nothing");
        assert_eq!(app.audit_count("patient.allergy_refute").await, 1);
        let rows = allergy_rows(app.db(), amina).await;
        assert_eq!(rows[0].3, "refuted");
        assert_eq!(rows[1].3, "active");
        let refuted_by: Option<i64> = sqlx::query_scalar("SELECT refuted_by FROM patient_allergies WHERE id = $1")
            .bind(first).fetch_one(app.db().read()).await.unwrap();
        assert!(refuted_by.is_some());
        let chart = desk.get(&format!("/patients/{amina}")).await;
        assert!(!chart.body.contains("Septrin (severe)"), "a refuted allergy leaves the banner");
        assert!(chart.body.contains("<s>Septrin</s>"), "and stays in the list, struck out");
        // Another patient's allergy cannot be refuted through this chart.
        let brian = register(&desk, "Brian", "Kiprono", "Aspirin").await;
        let his: i64 = sqlx::query_scalar("SELECT id FROM patient_allergies WHERE patient_id = $1")
            .bind(brian).fetch_one(app.db().read()).await.unwrap();
        desk.post_form(&format!("{path}/{his}/refute"), &[]).await;
        assert_eq!(allergy_rows(app.db(), brian).await[0].3, "active");
    }
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.read()).await.unwrap()
}

each_backend! {
    async fn removals_void_rows_and_users_see_the_same(app) {
        let admin = app.setup_admin().await;
        let doctor = app.add_user("dr.otieno", &["doctor"]).await.to_string();
        let db = app.db();
        admin.get("/schedules").await;
        let r = admin.post_form("/schedules/clinics", &[("name", "MCH"), ("booking", "day"), ("daily_capacity", "5"), ("weekday", "1")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let mch = r.location().unwrap().rsplit('/').next().unwrap().to_string();
        // A clinic's weekdays changed: the old one is voided, and comes back when chosen again.
        let r = admin.post_form(&format!("/schedules/clinics/{mch}"), &[("name", "MCH"), ("booking", "day"), ("daily_capacity", "5"), ("weekday", "3")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(count(db, "SELECT COUNT(*) FROM clinic_weekdays WHERE voided_at IS NULL AND weekday = 3").await, 1);
        assert_eq!(count(db, "SELECT COUNT(*) FROM clinic_weekdays WHERE voided_at IS NOT NULL AND weekday = 1").await, 1);
        admin.post_form(&format!("/schedules/clinics/{mch}"), &[("name", "MCH"), ("booking", "day"), ("daily_capacity", "5"), ("weekday", "1")]).await;
        assert_eq!(count(db, "SELECT COUNT(*) FROM clinic_weekdays WHERE voided_at IS NULL").await, 1);
        assert_eq!(count(db, "SELECT COUNT(*) FROM clinic_weekdays").await, 2);
        let page = admin.get("/schedules").await;
        assert_eq!(page.status, 200);

        // Hours removed stay as a voided row and are no longer shown or used.
        let r = admin.post_form("/schedules/clinics", &[("name", "OPD"), ("booking", "slots"), ("slot_minutes", "30")]).await;
        let opd = r.location().unwrap().rsplit('/').next().unwrap().to_string();
        let r = admin.post_form(&format!("/schedules/clinics/{opd}/hours"),
            &[("clinician", &doctor), ("weekday", "1"), ("start", "08:00"), ("end", "12:00")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let patient = register(&admin, "Achieng", "Odhiambo", "").await;
        let book = format!("/appointments/book?patient={patient}&clinic={opd}&clinician={doctor}&day=2031-03-10");
        assert!(admin.get(&book).await.body.contains(">08:00<"), "a Monday's slots are offered");
        let hours = count(db, "SELECT MAX(id) FROM working_hours").await;
        assert_eq!(admin.post_form(&format!("/schedules/hours/{hours}/remove"), &[]).await.status, 303);
        assert_eq!(admin.post_form(&format!("/schedules/hours/{hours}/remove"), &[]).await.status, 303);
        assert_eq!(app.audit_count("schedules.hours_remove").await, 1, "removed once");
        assert_eq!(count(db, "SELECT COUNT(*) FROM working_hours WHERE voided_at IS NOT NULL AND voided_by IS NOT NULL").await, 1);
        assert!(!admin.get(&book).await.body.contains(">08:00<"), "voided hours give no slots");

        // A day off and a holiday in the coming weeks: removed, then given again.
        let soon = (hms_core::clock::to_local(chrono::Utc::now()).date_naive() + chrono::Duration::days(30))
            .format("%Y-%m-%d").to_string();
        for _ in 0..2 {
            let r = admin.post_form("/schedules/days-off", &[("off_clinician", &doctor), ("off_day", &soon), ("off_reason", "Training")]).await;
            assert_eq!(r.status, 303, "{}", r.body);
            assert!(admin.get("/schedules").await.body.contains("Training"));
            admin.post_form("/schedules/days-off/remove", &[("clinician", &doctor), ("day", &soon)]).await;
            assert!(!admin.get("/schedules").await.body.contains("Training"));
            let r = admin.post_form("/schedules/holidays", &[("holiday_day", &soon), ("holiday_name", "Idd-ul-Fitr")]).await;
            assert_eq!(r.status, 303, "{}", r.body);
            assert!(admin.get("/schedules").await.body.contains("Idd-ul-Fitr"));
            admin.post_form("/schedules/holidays/remove", &[("day", &soon)]).await;
            assert!(!admin.get("/schedules").await.body.contains("Idd-ul-Fitr"));
        }
        assert_eq!(app.audit_count("schedules.day_off_add").await, 2);
        assert_eq!(app.audit_count("schedules.holiday_remove").await, 2);
        assert_eq!(count(db, "SELECT COUNT(*) FROM days_off WHERE voided_at IS NOT NULL").await, 1);
        assert_eq!(count(db, "SELECT COUNT(*) FROM declared_holidays WHERE voided_at IS NOT NULL").await, 1);

        // A custom role removed is voided with its grants; its name can be used again.
        admin.get("/admin/roles/new").await;
        let r = admin.post_form("/admin/roles/new", &[("name", "records_clerk"), ("title", "Records clerk"), ("description", "")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(admin.post_form("/admin/roles/records_clerk/delete", &[]).await.status, 303);
        let roles = hms_core::auth::users::all_roles(db).await.unwrap();
        assert!(!roles.iter().any(|r| r.name == "records_clerk"), "no longer offered");
        assert_eq!(count(db, "SELECT COUNT(*) FROM roles WHERE name = 'records_clerk' AND voided_at IS NOT NULL").await, 1);
        let r = admin.post_form("/admin/roles/new", &[("name", "records_clerk"), ("title", "Records officer"), ("description", "")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(admin.get("/admin/roles").await.body.contains("Records officer"));
    }
}

/// A fresh, empty database on `backend` (PostgreSQL only when configured), its URL and, on
/// PostgreSQL, its name for dropping.
async fn empty_database(backend: DbBackend) -> Option<(String, Option<String>)> {
    let mut name = [0u8; 6];
    rand::fill(&mut name);
    let name = format!("hms_branch_{}", hex::encode(name));
    match backend {
        DbBackend::Sqlite => {
            let file = std::env::temp_dir().join(format!("{name}.db"));
            Some((format!("sqlite://{}", file.display()), None))
        }
        DbBackend::Postgres => {
            let admin = std::env::var("HMS_TEST_POSTGRES_URL")
                .ok()
                .filter(|u| !u.is_empty())?;
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            // The name is made of hex digits here.
            let create = format!("CREATE DATABASE {name}");
            conn.execute(sqlx::AssertSqlSafe(create)).await.unwrap();
            conn.close().await.unwrap();
            let (base, _) = admin.rsplit_once('/').unwrap();
            Some((format!("{base}/{name}"), Some(name)))
        }
    }
}

async fn drop_database(name: Option<String>) {
    let (Some(name), Ok(admin)) = (name, std::env::var("HMS_TEST_POSTGRES_URL")) else {
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
}

/// Rows as an install had them before the branch columns came (migrations up to 0015).
const ROWS_BEFORE: &[&str] = &[
    "INSERT INTO settings (key, value, updated_at) VALUES ('facility_name', 'Kilimani Dispensary', 'x')",
    "INSERT INTO settings (key, value, updated_at) VALUES ('facility_code', '13023', 'x')",
    "INSERT INTO patients (id, number, first_name, last_name, sex, date_of_birth, allergies, created_at, updated_at) \
     VALUES (1, 'HMS-2026-000001', 'Amina', 'Otieno', 'female', '1990-01-01', 'Penicillin; sulfa drugs', 'x', 'x')",
    "INSERT INTO patients (id, number, first_name, last_name, sex, date_of_birth, created_at, updated_at) \
     VALUES (2, 'HMS-2026-000002', 'Brian', 'Kiprono', 'male', '1985-01-01', 'x', 'x')",
    "INSERT INTO patients (id, number, first_name, last_name, sex, date_of_birth, merged_into, created_at, updated_at) \
     VALUES (3, 'HMS-2026-000003', 'Amina', 'Otieno', 'female', '1990-01-01', 1, 'x', 'x')",
    "INSERT INTO patient_identifiers (patient_id, id_type, value, created_at) VALUES (1, 'national_id', '12345678', 'x')",
    "INSERT INTO patient_identifiers (patient_id, id_type, value, created_at) VALUES (2, 'national_id', '87654321', 'x')",
    "INSERT INTO patient_counters (year, next_seq) VALUES (2026, 4)",
    "INSERT INTO clinics (id, name, booking, created_at) VALUES (1, 'MCH', 'day', 'x')",
    "INSERT INTO clinic_weekdays (clinic_id, weekday) VALUES (1, 2)",
    "INSERT INTO clinic_weekdays (clinic_id, weekday) VALUES (1, 4)",
    "INSERT INTO visits (id, patient_id, day, token, payer, status, checked_in_at) \
     VALUES (1, 1, '2026-03-02', 1, 'cash', 'open', 'x')",
    "INSERT INTO visits (id, patient_id, day, token, payer, status, checked_in_at) \
     VALUES (2, 2, '2026-03-02', 2, 'cash', 'open', 'x')",
    "INSERT INTO visit_tokens (day, next_token) VALUES ('2026-03-02', 3)",
    "INSERT INTO queue_entries (visit_id, service_point_id, state, enqueued_at) VALUES (1, 1, 'waiting', 'x')",
];

async fn migration_fills_existing_rows(backend: DbBackend) {
    let Some((url, name)) = empty_database(backend).await else {
        eprintln!("skipped: HMS_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = Db::connect(&url).await.unwrap();
    assert!(db.migrate_until(Some("0015")).await.unwrap() >= 15);
    for sql in ROWS_BEFORE {
        sqlx::query(*sql).execute(db.read()).await.unwrap();
    }
    assert!(db.migrate().await.unwrap() >= 1);
    assert_distinct_v7(
        "patients",
        &uuids(&db, "SELECT uuid FROM patients").await,
        3,
    );
    assert_distinct_v7(
        "identifiers",
        &uuids(&db, "SELECT uuid FROM patient_identifiers").await,
        2,
    );
    assert_distinct_v7("visits", &uuids(&db, "SELECT uuid FROM visits").await, 2);
    assert_distinct_v7(
        "weekdays",
        &uuids(&db, "SELECT uuid FROM clinic_weekdays").await,
        2,
    );
    assert_distinct_v7(
        "service points",
        &uuids(&db, "SELECT uuid FROM service_points").await,
        5,
    );
    assert_distinct_v7("roles", &uuids(&db, "SELECT uuid FROM roles").await, 7);
    assert_distinct_v7(
        "settings",
        &uuids(&db, "SELECT uuid FROM settings").await,
        3,
    );
    // Rows, links and counters are as they were, in facility 1.
    let merged: Option<i64> = sqlx::query_scalar("SELECT merged_into FROM patients WHERE id = 3")
        .fetch_one(db.read())
        .await
        .unwrap();
    assert_eq!(merged, Some(1));
    let holder: i64 = sqlx::query_scalar(
        "SELECT patient_id FROM patient_identifiers WHERE value = '87654321' AND facility_id = 1",
    )
    .fetch_one(db.read())
    .await
    .unwrap();
    assert_eq!(holder, 2);
    let next: i64 = sqlx::query_scalar(
        "SELECT next_seq FROM patient_counters WHERE facility_id = 1 AND year = 2026",
    )
    .fetch_one(db.read())
    .await
    .unwrap();
    assert_eq!(next, 4);
    let token: i64 = sqlx::query_scalar(
        "SELECT next_token FROM visit_tokens WHERE facility_id = 1 AND day = '2026-03-02'",
    )
    .fetch_one(db.read())
    .await
    .unwrap();
    assert_eq!(token, 3);
    let facility = sqlx::query("SELECT name, kmhfl_code FROM facilities WHERE id = 1")
        .fetch_one(db.read())
        .await
        .unwrap();
    assert_eq!(facility.get::<String, _>(0), "Kilimani Dispensary");
    assert_eq!(
        facility.get::<Option<String>, _>(1).as_deref(),
        Some("13023")
    );
    // The per-facility numbers still refuse a second holder, and foreign keys still hold.
    let twice = sqlx::query(
        "INSERT INTO patients (number, first_name, last_name, sex, date_of_birth, created_at, updated_at) \
         VALUES ('HMS-2026-000002', 'X', 'Y', 'male', '1985-01-01', 'x', 'x')",
    )
    .execute(db.read()).await;
    assert!(matches!(twice.map_err(hms_core::db::DbError::from), Err(e) if e.is_unique()));
    let other_token = sqlx::query(
        "INSERT INTO visits (patient_id, day, token, payer, status, checked_in_at) \
         VALUES (3, '2026-03-02', 2, 'cash', 'closed', 'x')",
    )
    .execute(db.read())
    .await;
    assert!(
        other_token.is_err(),
        "token 2 of the day is taken in facility 1"
    );
    let orphan = sqlx::query("INSERT INTO queue_entries (visit_id, service_point_id, state, enqueued_at) VALUES (99, 1, 'waiting', 'x')")
        .execute(db.read()).await;
    assert!(orphan.is_err(), "queue entries still refer to visits");
    db.close().await;
    drop_database(name).await;
}

#[tokio::test]
async fn the_migration_gives_existing_rows_distinct_uuids_on_sqlite() {
    migration_fills_existing_rows(DbBackend::Sqlite).await;
}

#[tokio::test]
async fn the_migration_gives_existing_rows_distinct_uuids_on_postgres() {
    migration_fills_existing_rows(DbBackend::Postgres).await;
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The table names following `DELETE FROM` in a text.
fn deleted_tables(text: &str) -> Vec<String> {
    let upper = text.to_ascii_uppercase();
    upper
        .match_indices("DELETE FROM ")
        .map(|(i, m)| {
            text[i + m.len()..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn no_source_hard_deletes_rows_of_a_record_table() {
    assert_eq!(deleted_tables("x DELETE FROM days_off WHERE"), ["days_off"]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    sources(&root.join("core/src"), &mut files);
    sources(&root.join("web/src"), &mut files);
    for module in std::fs::read_dir(root.join("modules")).unwrap().flatten() {
        if module.path().join("src").is_dir() {
            sources(&module.path().join("src"), &mut files);
        }
    }
    assert!(files.len() > 50, "{} source files", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for table in deleted_tables(&text) {
            match class_of(&table) {
                Some(class) if !class.holds_records() => {}
                _ => found.push(format!("{}: DELETE FROM {table}", file.display())),
            }
        }
    }
    assert!(
        found.is_empty(),
        "record tables are voided, never deleted:\n{}",
        found.join("\n")
    );
}
