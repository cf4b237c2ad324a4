//! The clinical scenarios' parts: the patients and diagnosis codes they work with, checking
//! patients in before the clock starts, and one whole consultation request by request.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sqlx::Row;

use crate::http::Client;
use crate::scenarios::{expect, Shared};

/// Codes of the diagnosis catalogue's most common OPD conditions, when consultations is on.
pub async fn diagnosis_codes(db: &hms_core::db::Db) -> Result<Vec<String>, String> {
    let rows =
        sqlx::query("SELECT code FROM diagnosis_catalogue WHERE active = 1 ORDER BY id LIMIT 40")
            .fetch_all(db.read())
            .await;
    // Without the consultations module there is no catalogue: the scenarios type free text.
    Ok(rows
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default())
}

/// Up to `n` patients aged 18 or more (the first registered).
pub async fn adults(db: &hms_core::db::Db, n: i64) -> Result<Vec<i64>, String> {
    let today = hms_core::clock::to_local(chrono::Utc::now()).date_naive();
    let born_by = (today - chrono::Duration::days(18 * 366))
        .format("%Y-%m-%d")
        .to_string();
    let rows = sqlx::query(
        "SELECT id FROM patients WHERE date_of_birth <= $1 AND merged_into IS NULL \
         ORDER BY id LIMIT CAST($2 AS BIGINT)",
    )
    .bind(born_by)
    .bind(n)
    .fetch_all(db.read())
    .await
    .map_err(|e| e.to_string())?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// What an operation answers when the patients prepared for its scenario have all been seen.
pub const NO_MORE_WORK: &str = "no more patients prepared";

/// Requests of one consultation (see [`consult`]).
pub(crate) const CONSULT_REQUESTS: u32 = 11;

/// The doctor's dashboard and the cards it loads, one per `doctor` operation in turn.
pub(crate) const DOCTOR_PAGES: &[&str] = &[
    "/",
    "/consultations/cards/waiting",
    "/consultations/cards/results",
    "/consultations/cards/unsigned",
    "/consultations/cards/critical-results",
    "/consultations",
];

/// Checks `want` random patients in at service point `point` as a nurse (those with a visit
/// already open today are skipped), before a scenario's clock starts; returns the visits.
pub async fn check_in_patients(
    shared: &Shared,
    point: &str,
    want: usize,
) -> Result<Vec<i64>, String> {
    let nurse = shared.account("nurse")?;
    let mut c = Client::new(shared.addr);
    c.login(&nurse.username, &nurse.password).await?;
    let page = c.get("/visits/checkin").await?;
    expect(&page, 200, "GET /visits/checkin")?;
    let mut rng = StdRng::seed_from_u64(shared.seed ^ 0xc4ec_0001 ^ point.len() as u64);
    let mut visits = Vec::with_capacity(want);
    let mut tries = 0;
    while visits.len() < want && tries < want * 3 + 50 {
        tries += 1;
        // Adults: the vital signs the scenario types are an adult's.
        let patient = match shared.adults.len() {
            0 => rng.random_range(1..=shared.max_patient_id),
            n => shared.adults[rng.random_range(0..n)],
        }
        .to_string();
        let r = c
            .post_form(
                "/visits",
                &[
                    ("patient", patient.as_str()),
                    ("payer", "cash"),
                    ("point", point),
                    ("priority", ""),
                ],
            )
            .await?;
        if r.status != 303 {
            // Already here today (or a merged record): reception would pick someone else.
            continue;
        }
        let id = r
            .location
            .as_deref()
            .and_then(|l| l.strip_prefix("/visits/"))
            .and_then(|l| l.strip_suffix("/slip"))
            .and_then(|id| id.parse().ok())
            .ok_or("check-in answered 303 without the slip's address")?;
        visits.push(id);
    }
    Ok(visits)
}

/// Sends one request of a consultation, timing it into `timed`.
pub(crate) async fn step(
    c: &mut Client,
    timed: &mut Vec<u32>,
    path: &str,
    form: Option<&[(&str, &str)]>,
) -> Result<crate::http::Response, String> {
    let t = Instant::now();
    let r = match form {
        Some(fields) => c.post_htmx(path, fields).await?,
        None => c.get(path).await?,
    };
    timed.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
    Ok(r)
}

/// The value of `<input ... name="version" value="N">` on a consultation page or fragment.
fn draft_version(html: &str) -> Option<String> {
    let at = html.find("name=\"version\"")?;
    let tail = &html[at..];
    let v = tail.find("value=\"")? + 7;
    let end = tail[v..].find('"')?;
    Some(tail[v..v + end].to_string())
}

/// One whole consultation by a doctor (see [`Scenario::Consult`]).
pub(crate) async fn consult(
    c: &mut Client,
    shared: &Shared,
    rng: &mut StdRng,
    timed: &mut Vec<u32>,
) -> Result<(), String> {
    // The doctor is on the workspace and presses *Take next*.
    let workspace = step(c, timed, "/consultations", None).await?;
    expect(&workspace, 200, "the workspace")?;
    // A plain form post, as the button works without JavaScript: 303 to the note.
    let t = Instant::now();
    let r = c.post_form("/consultations/next", &[]).await?;
    timed.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
    if r.status == 200 {
        return Err(NO_MORE_WORK.into());
    }
    expect(&r, 303, "POST /consultations/next")?;
    let page_path = r
        .location
        .clone()
        .ok_or("take next answered 303 without a Location")?;
    let page = step(c, timed, &page_path, None).await?;
    expect(&page, 200, "the consultation page")?;
    let mut version = draft_version(&page.text()).ok_or("no draft version on the page")?;
    let complaints = [
        "Fever for 3 days",
        "Cough and chest pain",
        "Headache",
        "Diarrhoea",
    ];
    let complaint = complaints[rng.random_range(0..complaints.len())];
    for history in [
        "No known chronic illness.",
        "No known chronic illness. Appetite poor.",
    ] {
        let r = step(
            c,
            timed,
            &format!("{page_path}/draft"),
            Some(&[
                ("version", version.as_str()),
                ("complaint", complaint),
                ("complaint_duration", "3 days"),
                ("history", history),
                ("examination", "Alert, temperature 38.2, chest clear"),
                ("assessment", "Febrile illness"),
                ("plan", "Malaria test; paracetamol"),
            ]),
        )
        .await?;
        expect(&r, 200, "a draft save")?;
        version = draft_version(&r.text()).ok_or("no version after a draft save")?;
    }
    let code = (!shared.diagnosis_codes.is_empty())
        .then(|| shared.diagnosis_codes[rng.random_range(0..shared.diagnosis_codes.len())].clone());
    let diagnosis: Vec<(&str, &str)> = match &code {
        Some(code) => vec![("code", code.as_str()), ("certainty", "provisional")],
        None => vec![
            ("free_text", "Febrile illness"),
            ("certainty", "provisional"),
        ],
    };
    let r = step(
        c,
        timed,
        &format!("{page_path}/diagnoses"),
        Some(&diagnosis),
    )
    .await?;
    expect(&r, 200, "a diagnosis")?;
    // The basket's forms are plain posts: each answers 303 and the browser loads the page again.
    let orders = format!("{page_path}/orders");
    let basket: [(&str, &[(&str, &str)]); 2] = [
        (
            orders.as_str(),
            &[
                ("kind", "lab"),
                ("free_text", "Malaria RDT"),
                ("quantity", "1"),
                ("priority", "routine"),
            ],
        ),
        (&format!("{page_path}/orders/place"), &[]),
    ];
    for (path, fields) in basket {
        let t = Instant::now();
        let r = c.post_form(path, fields).await?;
        timed.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        expect(&r, 303, path)?;
        let page = step(c, timed, &page_path, None).await?;
        expect(&page, 200, "the consultation page")?;
        version = draft_version(&page.text()).ok_or("no draft version on the page")?;
    }
    let r = step(
        c,
        timed,
        &format!("{page_path}/sign"),
        Some(&[("version", version.as_str()), ("outcome", "home")]),
    )
    .await?;
    expect(&r, 200, "signing")
}
