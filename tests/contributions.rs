//! What modules contribute beside their own screens: "Check in" and "Book" on the chart and on
//! search results, the appointments panel on the chart, each only for users holding its
//! permission and gone when the module is off; the figures patients and appointments keep for
//! MOH reports, matching counts made by hand, with exactly the visits behind them; the facts of
//! a visit for a claim; and a patient's export from both modules, merged records included.

use hms_core::day::Day;
use hms_core::ids::{PatientId, VisitId};
use hms_core::module::{AgeBand, ExportSection, FactKind, FigureRange};
use hms_testkit::{each_backend, Backend, Client, TestApp};
use sqlx::Row;

/// Registers a patient (no document); returns the id.
async fn patient(c: &Client, first: &str, last: &str, sex: &str, dob: &str) -> i64 {
    hms_testkit::domain::register(
        c,
        &[
            ("first_name", first),
            ("last_name", last),
            ("sex", sex),
            ("date_of_birth", dob),
            ("id_type", "none"),
            ("register_anyway", "1"),
        ],
    )
    .await
}

/// Checks a patient in at triage, paying cash; returns the visit id.
async fn check_in(c: &Client, patient: i64) -> i64 {
    let r = hms_testkit::domain::submit_check_in(c, patient, "triage", "").await;
    hms_testkit::domain::visit_id(&r)
}

fn day(s: &str) -> Day {
    Day::from_db_text(s).unwrap()
}

/// A finished visit of a past day, written as the desk would have; returns its id.
async fn past_visit(app: &TestApp, patient: i64, on: &str, appointment: Option<i64>) -> i64 {
    let token: i64 = sqlx::query("SELECT COUNT(*) + 1 FROM visits WHERE day = $1")
        .bind(on)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0);
    let at = format!("{on}T06:00:00.000Z");
    sqlx::query(
        "INSERT INTO visits (patient_id, appointment_id, day, token, payer, status, \
         checked_in_at, closed_at) VALUES ($1, $2, $3, $4, 'sha', 'completed', $5, $5) RETURNING id",
    )
    .bind(patient)
    .bind(appointment)
    .bind(on)
    .bind(token)
    .bind(&at)
    .fetch_one(app.db().read())
    .await
    .unwrap()
    .get(0)
}

async fn past_appointment(app: &TestApp, patient: i64, clinic: i64, on: &str, status: &str) -> i64 {
    sqlx::query(
        "INSERT INTO appointments (patient_id, clinic_id, day, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(patient)
    .bind(clinic)
    .bind(on)
    .bind(status)
    .bind(format!("{on}T05:00:00.000Z"))
    .fetch_one(app.db().read())
    .await
    .unwrap()
    .get(0)
}

async fn clinic(app: &TestApp) -> i64 {
    sqlx::query(
        "INSERT INTO clinics (name, booking, created_at) VALUES ('MCH', 'day', $1) RETURNING id",
    )
    .bind("2025-01-01T00:00:00.000Z")
    .fetch_one(app.db().read())
    .await
    .unwrap()
    .get(0)
}

async fn figure(app: &TestApp, code: &str, range: &FigureRange) -> i64 {
    app.app
        .modules
        .figure(app.db(), code, range, |_| true)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{code} is kept"))
        .value
}

/// The visits (or records, for bookings without one) behind a figure.
async fn sources(app: &TestApp, code: &str, range: &FigureRange) -> Vec<(i64, Option<i64>)> {
    app.app
        .modules
        .figure_sources(app.db(), code, range, |_| true)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.record, s.visit.map(VisitId::get)))
        .collect()
}

async fn number(app: &TestApp, id: i64) -> String {
    sqlx::query("SELECT number FROM patients WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

fn visits(ids: &[i64]) -> Vec<(i64, Option<i64>)> {
    ids.iter().map(|&v| (v, Some(v))).collect()
}

/// Markers of the contributions on a page: check-in, book, the appointments panel.
fn contributed(body: &str, patient: i64) -> (bool, bool, bool) {
    (
        body.contains(&format!("href=\"/visits/checkin?patient={patient}\"")),
        body.contains(&format!("href=\"/appointments/book?patient={patient}\"")),
        body.contains(&format!(
            "hx-get=\"/appointments/chart-panel?patients={patient}\""
        )),
    )
}

each_backend! {
    async fn chart_actions_and_panels_follow_permissions_and_the_module_switch(app) {
        app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        app.add_user("doc", &["doctor"]).await;
        app.add_user("lab", &["lab_tech"]).await;
        let desk = app.login("desk").await;
        let amina = patient(&desk, "Amina", "Wanjirũ", "female", "1990-05-31").await;

        // Reception may check in and book; it sees both buttons and the panel.
        let chart = desk.get(&format!("/patients/{amina}")).await;
        assert_eq!(chart.status, 200);
        assert_eq!(contributed(&chart.body, amina), (true, true, true), "{}", chart.body);
        // A doctor sees the appointments panel but may neither check in nor book.
        let doc = app.login("doc").await;
        let chart = doc.get(&format!("/patients/{amina}")).await;
        assert_eq!(contributed(&chart.body, amina), (false, false, true));
        // The laboratory opens charts but holds no appointments permission.
        let lab = app.login("lab").await;
        let chart = lab.get(&format!("/patients/{amina}")).await;
        assert_eq!(chart.status, 200);
        assert_eq!(contributed(&chart.body, amina), (false, false, false));

        // Search results carry the same buttons, per patient.
        let found = desk.get_htmx("/patients?q=amina").await;
        assert_eq!(contributed(&found.body, amina), (true, true, false), "{}", found.body);
        let found = lab.get_htmx("/patients?q=amina").await;
        assert!(found.body.contains(&format!("/patients/{amina}")), "{}", found.body);
        assert_eq!(contributed(&found.body, amina), (false, false, false));

        // The panel itself: nothing today, then the visit once she is checked in; read audited.
        let panel = desk.get_htmx(&format!("/appointments/chart-panel?patients={amina}")).await;
        assert_eq!(panel.status, 200);
        assert!(panel.body.contains("Not checked in today"), "{}", panel.body);
        check_in(&desk, amina).await;
        // Coming bookings are listed; a cancelled one and a past one are not.
        let mch = clinic(&app).await;
        let ent: i64 = sqlx::query("INSERT INTO clinics (name, booking, created_at) VALUES ('ENT', 'day', $1) RETURNING id")
            .bind("2025-01-01T00:00:00.000Z").fetch_one(app.db().read()).await.unwrap().get(0);
        let next_week = Day::today().plus_days(7).text();
        let coming = past_appointment(&app, amina, mch, &next_week, "booked").await;
        past_appointment(&app, amina, ent, &next_week, "cancelled").await;
        past_appointment(&app, amina, ent, "2025-02-03", "no_show").await;
        let panel = desk.get_htmx(&format!("/appointments/chart-panel?patients={amina}")).await;
        assert!(panel.body.contains("Visit, token 1") && panel.body.contains("Cash"), "{}", panel.body);
        assert!(panel.body.contains(&format!("/appointments/{coming}\"")) && panel.body.contains("MCH"), "{}", panel.body);
        assert!(!panel.body.contains("ENT"), "{}", panel.body);
        assert!(!panel.body.contains("<html"), "a fragment for the chart");
        let page = desk.get(&format!("/appointments/chart-panel?patients={amina}")).await;
        assert!(page.body.contains("<html") && page.body.contains("Visit, token 1"), "a page without JavaScript");
        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("appointments.chart_panel").await, 3);
        let refused = lab.get(&format!("/appointments/chart-panel?patients={amina}")).await;
        assert_eq!(refused.status, 403);

        // With appointments switched off, its buttons and panel are gone.
        let off = TestApp::start_with(app.backend, |c| c.modules_disabled = vec!["appointments".into()])
            .await
            .unwrap();
        off.setup_admin().await;
        off.add_user("desk", &["receptionist"]).await;
        let desk = off.login("desk").await;
        let baraka = patient(&desk, "Baraka", "Otieno", "male", "1985-01-10").await;
        let chart = desk.get(&format!("/patients/{baraka}")).await;
        assert_eq!(chart.status, 200);
        assert_eq!(contributed(&chart.body, baraka), (false, false, false), "{}", chart.body);
        assert!(!chart.body.contains("chart-panel"));
        let found = desk.get_htmx("/patients?q=baraka").await;
        assert!(found.body.contains(&format!("/patients/{baraka}")), "{}", found.body);
        assert_eq!(contributed(&found.body, baraka), (false, false, false));
    }

    async fn figures_match_the_visits_and_bookings_counted_by_hand(app) {
        app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        let a = patient(&desk, "Amina", "Kamau", "female", "1990-05-31").await;
        let b = patient(&desk, "Baraka", "Otieno", "male", "1950-01-10").await;
        let today = Day::today();
        let under5 = today.plus_days(-400).text();
        let c = patient(&desk, "Chebet", "Ruto", "female", &under5).await;

        // March 2025 by hand: A was seen in January, B last in December 2024, C twice on one day.
        let mch = clinic(&app).await;
        let kept = past_appointment(&app, a, mch, "2025-03-05", "arrived").await;
        let a_jan = past_visit(&app, a, "2025-01-10", None).await;
        let a_5 = past_visit(&app, a, "2025-03-05", Some(kept)).await;
        let a_20 = past_visit(&app, a, "2025-03-20", None).await;
        let _b_dec = past_visit(&app, b, "2024-12-15", None).await;
        let b_5 = past_visit(&app, b, "2025-03-05", None).await;
        let c_1 = past_visit(&app, c, "2025-03-05", None).await;
        let c_2 = past_visit(&app, c, "2025-03-05", None).await;
        let no_show = past_appointment(&app, b, mch, "2025-03-20", "no_show").await;
        let never_came = past_appointment(&app, c, mch, "2025-03-25", "booked").await;
        past_appointment(&app, a, mch, "2025-03-28", "cancelled").await;
        past_appointment(&app, a, mch, "2025-04-02", "no_show").await;

        let march = FigureRange::days(day("2025-03-01"), day("2025-03-31"));
        assert_eq!(figure(&app, "appointments.attendances", &march).await, 5);
        assert_eq!(figure(&app, "appointments.first_attendances", &march).await, 2);
        assert_eq!(figure(&app, "appointments.re_attendances", &march).await, 3);
        assert_eq!(figure(&app, "appointments.bookings_kept", &march).await, 1);
        assert_eq!(figure(&app, "appointments.bookings_missed", &march).await, 2);
        assert_eq!(sources(&app, "appointments.attendances", &march).await, visits(&[a_5, b_5, c_1, c_2, a_20]));
        assert_eq!(sources(&app, "appointments.first_attendances", &march).await, visits(&[b_5, c_1]));
        assert_eq!(sources(&app, "appointments.re_attendances", &march).await, visits(&[a_5, c_2, a_20]));
        assert_eq!(sources(&app, "appointments.bookings_kept", &march).await, vec![(kept, Some(a_5))]);
        assert_eq!(
            sources(&app, "appointments.bookings_missed", &march).await,
            vec![(no_show, None), (never_came, None)]
        );
        let january = FigureRange::days(day("2025-01-01"), day("2025-01-31"));
        assert_eq!(figure(&app, "appointments.first_attendances", &january).await, 1);
        assert_eq!(sources(&app, "appointments.attendances", &january).await, visits(&[a_jan]));

        // Today: one check-in at the desk, a first attendance; three new files by sex and age.
        let live = check_in(&desk, b).await;
        let day_range = FigureRange::days(today, today);
        assert_eq!(figure(&app, "appointments.first_attendances", &day_range).await, 1);
        assert_eq!(sources(&app, "appointments.attendances", &day_range).await, visits(&[live]));
        assert_eq!(figure(&app, "patients.new_files", &march).await, 0);
        let files = app.app.modules.figure(app.db(), "patients.new_files", &day_range, |_| true).await.unwrap().unwrap();
        assert_eq!(files.value, 3);
        let part = |sex: &str, band| files.parts.iter().find(|p| p.sex.as_deref() == Some(sex) && p.age_band == Some(band)).map(|p| p.value);
        assert_eq!(part("female", AgeBand::From5To59), Some(1));
        assert_eq!(part("male", AgeBand::From60), Some(1));
        assert_eq!(part("female", AgeBand::Under5), Some(1));
        let listed: Vec<i64> = sources(&app, "patients.new_files", &day_range).await.into_iter().map(|s| s.0).collect();
        assert_eq!(listed, vec![a, b, c]);

        // An indicator no module keeps has no figure; a module switched off keeps none.
        assert!(app.app.modules.figure(app.db(), "laboratory.tests", &march, |_| true).await.unwrap().is_none());
        assert!(app.app.modules.figure(app.db(), "appointments.attendances", &march, |m| m != "appointments").await.unwrap().is_none());

        // The claim facts of a visit: its payer, and the service points that served it.
        sqlx::query(
            "INSERT INTO queue_entries (visit_id, service_point_id, state, enqueued_at, served_at, done_at) \
             SELECT $1, id, 'done', $2, $2, $2 FROM service_points WHERE code = 'laboratory'",
        )
        .bind(a_5)
        .bind("2025-03-05T07:00:00.000Z")
        .execute(app.db().read())
        .await
        .unwrap();
        let facts = app.app.modules.visit_facts(app.db(), &[VisitId(live), VisitId(a_5)], |_| true).await.unwrap();
        let payers: Vec<(i64, Option<&str>)> = facts.iter().filter(|f| f.kind == FactKind::Payer).map(|f| (f.visit.get(), f.code.as_deref())).collect();
        assert_eq!(payers, vec![(a_5, Some("sha")), (live, Some("cash"))]);
        let points: Vec<(i64, Option<&str>)> = facts.iter().filter(|f| f.kind == FactKind::ServicePoint).map(|f| (f.visit.get(), f.code.as_deref())).collect();
        assert_eq!(points, vec![(a_5, Some("laboratory"))], "served points only, not the live visit still waiting");
    }

    async fn a_patients_export_holds_both_modules_and_the_records_merged_into_it(app) {
        let admin = app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        let kept = patient(&desk, "Mũthoni", "Njeri", "female", "1984-02-03").await;
        let dup = patient(&desk, "Muthoni", "Njeri", "female", "1984-02-03").await;
        let visit = check_in(&desk, dup).await;
        let mch = clinic(&app).await;
        past_appointment(&app, kept, mch, "2025-06-02", "arrived").await;
        admin.get(&format!("/patients/{kept}/merge/{dup}")).await;
        let r = admin.post_form(&format!("/patients/{kept}/merge/{dup}"), &[("reason", "Same person, registered twice")]).await;
        assert_eq!(r.status, 303, "{}", r.body);

        let ids = [PatientId(kept), PatientId(dup)];
        let sections = app.app.modules.patient_export(app.db(), &ids, |_| true).await.unwrap();
        let titles: Vec<(&str, &str)> = sections.iter().map(|s| (s.module, s.title.as_str())).collect();
        let dup_number = number(&app, dup).await;
        let merged_title = format!("Record merged into this one: {dup_number}");
        assert_eq!(
            titles,
            vec![
                ("patients", "Patient record"),
                ("patients", merged_title.as_str()),
                ("patients", "Merged records"),
                ("appointments", "Appointments"),
                ("appointments", "Visits"),
            ]
        );
        let row = |s: &ExportSection, label: &str| s.rows.iter().find(|(l, _)| l == label).map(|(_, v)| v.clone());
        assert_eq!(row(&sections[0], "Name").as_deref(), Some("Mũthoni Njeri"));
        assert_eq!(row(&sections[0], "Number"), Some(number(&app, kept).await));
        assert_eq!(sections[0].json["first_name"], "Mũthoni");
        assert_eq!(sections[1].json["merged_into"], kept);
        assert!(sections[2].rows[0].1.contains("Same person, registered twice"), "{:?}", sections[2].rows);
        // The visit was written for the duplicate, the appointment for the survivor: both listed.
        assert_eq!(sections[3].rows.len(), 1);
        assert_eq!(sections[4].rows.len(), 1);
        assert_eq!(sections[4].json[0]["id"], visit);
        assert_eq!(sections[4].json[0]["patient_id"], dup);
        assert!(sections[4].rows[0].1.contains("Visit, token 1"), "{:?}", sections[4].rows);

        // With appointments off, the export is the patients module's alone.
        let sections = app.app.modules.patient_export(app.db(), &ids, |m| m != "appointments").await.unwrap();
        assert!(sections.iter().all(|s| s.module == "patients") && sections.len() == 3);
    }
}

/// Every indicator is named in both languages, and its code starts with its module's id.
#[tokio::test]
async fn indicators_are_named_and_prefixed_by_their_module() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    let indicators = app.app.modules.indicators(|_| true);
    let codes: Vec<&str> = indicators.iter().map(|(_, i)| i.code).collect();
    for code in [
        "patients.new_files",
        "appointments.attendances",
        "appointments.first_attendances",
        "appointments.re_attendances",
        "appointments.bookings_kept",
        "appointments.bookings_missed",
    ] {
        assert!(codes.contains(&code), "{code} declared");
    }
    for (module, i) in indicators {
        assert!(i.code.starts_with(&format!("{module}.")), "{}", i.code);
        assert!(hms_core::i18n::has(i.name), "{} named", i.name);
        assert_ne!(
            hms_core::i18n::t_in("sw", i.name),
            hms_core::i18n::t_in("en", i.name)
        );
    }
}
