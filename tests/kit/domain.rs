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
