//! Domain fixtures: the acts most tests begin with (registering a patient, checking them in),
//! done through the screens as staff do them, so every test file starts from the same steps.

use crate::{Client, TestResponse};

/// Amina, registered with her national ID and Safaricom number: the usual first patient.
pub fn amina() -> Vec<(&'static str, &'static str)> {
    vec![
        ("first_name", "Amina"),
        ("middle_name", "Wanjiru"),
        ("last_name", "Kamau"),
        ("sex", "female"),
        ("date_of_birth", "1990-05-31"),
        ("phone", "0712 345 678"),
        ("id_type", "national_id"),
        ("id_number", "12345678"),
    ]
}

/// Opens the registration form and sends `fields`; the answer as it came.
pub async fn submit_registration(c: &Client, fields: &[(&str, &str)]) -> TestResponse {
    c.get("/patients/new").await;
    c.post_form("/patients", fields).await
}

/// Registers a patient and returns the new chart's id (fails the test if refused).
pub async fn register(c: &Client, fields: &[(&str, &str)]) -> i64 {
    let r = submit_registration(c, fields).await;
    assert_eq!(r.status, 303, "registration refused: {}", r.body);
    chart_id(&r)
}

/// A patient without documents, 30 years old, registered even if a namesake exists.
pub async fn register_quick(c: &Client, first: &str, last: &str, phone: &str) -> i64 {
    register(
        c,
        &[
            ("first_name", first),
            ("last_name", last),
            ("sex", "female"),
            ("age_years", "30"),
            ("id_type", "none"),
            ("phone", phone),
            ("register_anyway", "1"),
        ],
    )
    .await
}

/// The chart id a registration (or any answer) redirected to: `/patients/42` gives 42.
pub fn chart_id(r: &TestResponse) -> i64 {
    let to = r.location().expect("a redirect to the chart");
    to.trim_start_matches("/patients/")
        .parse()
        .unwrap_or_else(|_| panic!("not a chart address: {to}"))
}

/// The patient number as the chart's header shows it.
pub async fn patient_number(c: &Client, id: i64) -> String {
    let chart = c.get(&format!("/patients/{id}")).await;
    assert_eq!(chart.status, 200);
    chart
        .body
        .split("<strong>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the number on the chart")
        .to_string()
}

/// Checks a patient in through the form (cash) to `point` with `priority`; the answer.
pub async fn submit_check_in(
    c: &Client,
    patient: i64,
    point: &str,
    priority: &str,
) -> TestResponse {
    c.get(&format!("/visits/checkin?patient={patient}")).await;
    c.post_form(
        "/visits",
        &[
            ("patient", &patient.to_string()),
            ("payer", "cash"),
            ("point", point),
            ("priority", priority),
        ],
    )
    .await
}

/// The visit id a successful check-in redirected to (its slip).
pub fn visit_id(r: &TestResponse) -> i64 {
    assert_eq!(r.status, 303, "check-in refused: {}", r.body);
    r.location()
        .expect("a redirect to the slip")
        .trim_start_matches("/visits/")
        .trim_end_matches("/slip")
        .parse()
        .expect("a slip address")
}

/// Adds a clinic on the schedules screen, `fields` as its form sends them (`("booking",
/// "slots")`, one `("weekday", "1")` per clinic day...); the new clinic's id.
pub async fn add_clinic(admin: &Client, fields: &[(&str, &str)]) -> i64 {
    admin.get("/schedules").await;
    let r = admin.post_form("/schedules/clinics", fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.location().expect("the new clinic's page");
    to.rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no clinic id in {to}"))
}

/// A clinician's hours at a clinic on one weekday (1 = Monday), `start`-`end` as `08:00`, with
/// an optional break.
pub async fn add_hours(
    admin: &Client,
    clinic: i64,
    clinician: i64,
    weekday: u32,
    (start, end): (&str, &str),
    rest: Option<(&str, &str)>,
) {
    let (break_start, break_end) = rest.unwrap_or(("", ""));
    let r = admin
        .post_form(
            &format!("/schedules/clinics/{clinic}/hours"),
            &[
                ("clinician", &clinician.to_string()),
                ("weekday", &weekday.to_string()),
                ("start", start),
                ("end", end),
                ("break_start", break_start),
                ("break_end", break_end),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
}

/// A doctor presses *Take next* on the workspace (the patient at the head of the consultation
/// queue); the id of the note it opened (fails the test when nobody was waiting).
pub async fn take_next_patient(doctor: &Client) -> i64 {
    doctor.get("/consultations").await;
    let r = doctor.post_form("/consultations/next", &[]).await;
    assert_eq!(r.status, 303, "Take next opened no note: {}", r.body);
    let to = r.location().expect("a redirect to the note");
    to.trim_start_matches("/consultations/")
        .parse()
        .unwrap_or_else(|_| panic!("not a note address: {to}"))
}
