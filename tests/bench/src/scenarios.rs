//! The scenarios: what staff do all day, each as one operation a simulated person repeats as
//! fast as the server lets them, on their own keep-alive connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::http::Client;
use crate::seed::Account;

pub use crate::clinical::{adults, check_in_patients, diagnosis_codes, NO_MORE_WORK};
use crate::clinical::{consult, CONSULT_REQUESTS, DOCTOR_PAGES};
pub use crate::desk::{day_clinic, queries};
use crate::desk::{encode, flood, FIRST, LAST};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `GET /healthz`: the floor (routing, pipeline, one `SELECT 1`).
    Healthz,
    /// The sign-in form and sign-in (argon2 verification).
    Login,
    /// Two members of staff signing in while every other client floods one account with wrong
    /// passwords (each refused by the throttle); the figures are the staff's sign-ins.
    LoginFlood,
    /// The dashboard page of an administrator.
    Dashboard,
    /// Live search at reception: an htmx request for the result fragment.
    Search,
    /// Live search for what is typed before a search is exact (part of a phone, the first
    /// letters of a name): the first page and the count of matches.
    SearchParts,
    /// A doctor opens a patient's chart (audited read).
    Chart,
    /// A doctor opens the chart of one patient with 1,000 visits (given before the clock starts).
    ChartHeavy,
    /// Reception registers a new patient: form, post, likely-match step when shown, chart.
    Register,
    /// Reception books a clinic day: the availability fragment, then the booking.
    Book,
    /// A nurse's triage queue refreshing itself (the htmx polling fragment).
    Queue,
    /// A nurse records a patient's vital signs at triage and sends them on to consultation
    /// (patients checked in before the scenario starts).
    Vitals,
    /// A doctor's whole consultation: the workspace, take next, the page, two draft saves, a
    /// diagnosis, a test into the basket and place orders (each reloading the page), sign. Each request is timed too.
    Consult,
    /// A doctor's dashboard and its cards, one request per operation in turn.
    Doctor,
    /// A pharmacist dispenses a three-line prescription: the prepare form, then prepare, which
    /// issues at once (FEFO over batches, the ledger, a charge per line, the audit).
    Dispense,
    /// Every pharmacist dispenses the same item while it is restocked through the receipt
    /// form; refusals for lack of stock (409) are counted apart from errors, and the ledger
    /// check runs afterwards.
    DispenseHot,
    /// The dispensary's stock page (every item of the stock list).
    PharmacyStock,
    /// The dispensary's consumption report of a month.
    ConsumptionReport,
    /// A cashier takes a cash payment: the bill, then the payment (invoice, receipt, shift).
    PayCash,
    /// An invoice opened as PDF (a print, recorded and audited).
    InvoicePdf,
    /// M-Pesa calling back after STK pushes: 30% repeat a callback already sent (acknowledged,
    /// counted apart); the others book a bill's payment. No receipt is paid twice afterwards.
    StkCallback,
}

pub const ALL: &[Scenario] = &[
    Scenario::Healthz,
    Scenario::Login,
    Scenario::LoginFlood,
    Scenario::Dashboard,
    Scenario::Search,
    Scenario::SearchParts,
    Scenario::Chart,
    Scenario::ChartHeavy,
    Scenario::Register,
    Scenario::Book,
    Scenario::Queue,
    Scenario::Vitals,
    Scenario::Consult,
    Scenario::Doctor,
    Scenario::Dispense,
    Scenario::DispenseHot,
    Scenario::PharmacyStock,
    Scenario::ConsumptionReport,
    Scenario::PayCash,
    Scenario::InvoicePdf,
    Scenario::StkCallback,
];

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Healthz => "healthz",
            Scenario::Login => "login",
            Scenario::LoginFlood => "login_flood",
            Scenario::Dashboard => "dashboard",
            Scenario::Search => "search",
            Scenario::SearchParts => "search_parts",
            Scenario::Chart => "chart",
            Scenario::ChartHeavy => "chart_heavy",
            Scenario::Register => "register",
            Scenario::Book => "book",
            Scenario::Queue => "queue",
            Scenario::Vitals => "vitals",
            Scenario::Consult => "consult",
            Scenario::Doctor => "doctor",
            Scenario::Dispense => "dispense",
            Scenario::DispenseHot => "dispense_hot",
            Scenario::PharmacyStock => "pharmacy_stock",
            Scenario::ConsumptionReport => "consumption_report",
            Scenario::PayCash => "pay_cash",
            Scenario::InvoicePdf => "invoice_pdf",
            Scenario::StkCallback => "stk_callback",
        }
    }

    pub fn parse(name: &str) -> Option<Scenario> {
        ALL.iter().copied().find(|s| s.name() == name.trim())
    }

    /// The role whose session the scenario runs in.
    fn role(self) -> Option<&'static str> {
        match self {
            Scenario::Healthz | Scenario::Login | Scenario::LoginFlood | Scenario::StkCallback => {
                None
            }
            Scenario::Dashboard => Some("admin"),
            Scenario::Search | Scenario::SearchParts | Scenario::Register | Scenario::Book => {
                Some("receptionist")
            }
            Scenario::Chart | Scenario::ChartHeavy => Some("doctor"),
            Scenario::Queue | Scenario::Vitals => Some("nurse"),
            Scenario::Consult | Scenario::Doctor => Some("doctor"),
            Scenario::Dispense
            | Scenario::DispenseHot
            | Scenario::PharmacyStock
            | Scenario::ConsumptionReport => Some("pharmacist"),
            Scenario::PayCash | Scenario::InvoicePdf => Some("accountant"),
        }
    }
}

/// What every simulated person shares.
pub struct Shared {
    pub addr: SocketAddr,
    pub accounts: Vec<Account>,
    /// Search boxes as people type them, made from real patients.
    pub queries: Vec<String>,
    /// Parts of phones and names (`search_parts`).
    pub part_queries: Vec<String>,
    pub max_patient_id: i64,
    pub seed: u64,
    /// Makes every registered document number unique.
    pub registered: AtomicU64,
    /// A clinic booked by clinic day, and the weekdays it runs (1 = Monday), when the demo
    /// data has one.
    pub day_clinic: Option<(i64, Vec<u32>)>,
    /// Visits checked in to triage before `vitals` starts, taken one per operation.
    pub triage_visits: Mutex<Vec<i64>>,
    /// Diagnosis catalogue codes a doctor picks from (`consult`); free text when empty.
    pub diagnosis_codes: Vec<String>,
    /// Patients aged 18 or more (a sample), checked in for `vitals` and `consult`.
    pub adults: Vec<i64>,
    /// The dispensary and the prescriptions waiting there (the pharmacy's scenarios).
    pub pharmacy: crate::pharmacy::Pharmacy,
    /// The patient given `heavy_visits` visits for `chart_heavy` (0 until then).
    pub heavy_patient: AtomicI64,
    /// Visits `chart_heavy` gives its patient (1,000 unless told).
    pub heavy_visits: usize,
    /// The invoices and the bills to pay (billing's scenarios).
    pub billing: crate::billing::Billing,
    /// The database the server runs on (set-up that no screen does: M-Pesa pushes).
    pub database_url: String,
}

impl Shared {
    pub(crate) fn account(&self, role: &str) -> Result<&Account, String> {
        self.accounts
            .iter()
            .find(|a| a.role == role)
            .ok_or_else(|| format!("no demo account with the role {role}"))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub scenario: &'static str,
    pub requests: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// This scenario's rate over the rate of `/healthz` in the same run.
    pub vs_healthz: Option<f64>,
    /// HTTP requests per operation (registration is several).
    pub http_per_op: u32,
    /// The server's resident memory after the scenario, and its peak so far.
    pub rss_mb_after: f64,
    /// The server's own memory after the scenario (resident without mapped file pages).
    pub own_mb_after: f64,
    pub peak_rss_mb_after: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// `consult`: the latency of each request within the operations, for the per-request target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_p99_ms: Option<f64>,
    /// `login_flood`: the wrong passwords refused per second meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flood_refused_per_second: Option<f64>,
    /// `dispense_hot`: operations refused for lack of stock (409), not in `requests` and not
    /// errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<u64>,
    /// `stk_callback`: repeated callbacks acknowledged (not in `requests`, not errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<u64>,
    /// `stk_callback`: M-Pesa receipts paid more than once afterwards (0 expected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub double_payments: Option<u64>,
    /// `dispense_hot`: batches whose balance differs from their ledger afterwards (0 expected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_differences: Option<u64>,
}

pub struct Limits {
    pub clients: usize,
    pub warmup: Duration,
    pub seconds: Duration,
    pub max_requests: u64,
}

pub(crate) fn expect(r: &crate::http::Response, status: u16, what: &str) -> Result<(), String> {
    if r.status == status {
        Ok(())
    } else {
        let body = r.text();
        let snippet: String = body.chars().take(200).collect();
        Err(format!(
            "{what}: expected {status}, got {} ({snippet})",
            r.status
        ))
    }
}

/// One operation of the scenario.
async fn operation(
    s: Scenario,
    c: &mut Client,
    shared: &Shared,
    rng: &mut StdRng,
    timed: &mut Vec<u32>,
) -> Result<(), String> {
    match s {
        Scenario::Healthz => {
            let r = c.get("/healthz").await?;
            expect(&r, 200, "/healthz")
        }
        Scenario::Login | Scenario::LoginFlood => {
            let account = shared.account("nurse")?;
            c.clear_cookies();
            let page = c.get("/login").await?;
            expect(&page, 200, "GET /login")?;
            let r = c
                .post_form(
                    "/login",
                    &[
                        ("username", account.username.as_str()),
                        ("password", account.password.as_str()),
                    ],
                )
                .await?;
            expect(&r, 303, "POST /login")
        }
        Scenario::Dashboard => {
            let r = c.get("/").await?;
            expect(&r, 200, "GET /")
        }
        Scenario::Search | Scenario::SearchParts => {
            let queries = if s == Scenario::Search {
                &shared.queries
            } else {
                &shared.part_queries
            };
            let q = &queries[rng.random_range(0..queries.len())];
            let r = c.get_htmx(&format!("/patients?q={}", encode(q))).await?;
            expect(&r, 200, "search")
        }
        Scenario::Chart => {
            let id = rng.random_range(1..=shared.max_patient_id);
            let r = c.get(&format!("/patients/{id}")).await?;
            expect(&r, 200, "chart")
        }
        Scenario::ChartHeavy => {
            let id = shared.heavy_patient.load(Ordering::Relaxed);
            let r = c.get(&format!("/patients/{id}")).await?;
            expect(&r, 200, "the chart of a patient with 1,000 visits")
        }
        Scenario::Register => {
            let form = c.get("/patients/new").await?;
            expect(&form, 200, "GET /patients/new")?;
            let n = shared.registered.fetch_add(1, Ordering::Relaxed);
            // National IDs of 9 digits: the demo's have 8, so these never collide.
            let id_number = format!("{}", 900_000_000 + n);
            let phone = format!(
                "07{:02} {:03} {:03}",
                rng.random_range(0..30u32),
                rng.random_range(0..1000u32),
                rng.random_range(0..1000u32)
            );
            let dob = format!(
                "{}-{:02}-{:02}",
                rng.random_range(1950..2024u32),
                rng.random_range(1..=12u32),
                rng.random_range(1..=28u32)
            );
            let county = format!("{:03}", rng.random_range(1..=47u32));
            let sex = if rng.random_bool(0.55) {
                "female"
            } else {
                "male"
            };
            let mut fields = vec![
                ("first_name", FIRST[rng.random_range(0..FIRST.len())]),
                ("last_name", LAST[rng.random_range(0..LAST.len())]),
                ("sex", sex),
                ("date_of_birth", dob.as_str()),
                ("phone", phone.as_str()),
                ("id_type", "national_id"),
                ("id_number", id_number.as_str()),
                ("county_code", county.as_str()),
            ];
            let mut r = c.post_form("/patients", &fields).await?;
            if r.status == 409 {
                // A likely match is shown: the receptionist checks it and registers anyway.
                fields.push(("register_anyway", "1"));
                r = c.post_form("/patients", &fields).await?;
            }
            expect(&r, 303, "POST /patients")?;
            let chart = r
                .location
                .clone()
                .ok_or("registration answered 303 without a Location")?;
            let page = c.get(&chart).await?;
            expect(&page, 200, "the new chart")
        }
        Scenario::Book => {
            let (clinic, weekdays) = shared
                .day_clinic
                .as_ref()
                .ok_or("the demo data has no clinic-day clinic (is appointments on?)")?;
            // A clinic day within the coming year, for a random patient.
            let today = hms_core::clock::to_local(chrono::Utc::now()).date_naive();
            // From a random day within the coming year, the next day the clinic runs.
            let from = today + chrono::Duration::days(rng.random_range(1..=365));
            let day = (0..7)
                .map(|n| from + chrono::Duration::days(n))
                .find(|d| {
                    use chrono::Datelike;
                    weekdays.contains(&d.weekday().number_from_monday())
                })
                .ok_or("the clinic runs on no weekday")?
                .format("%Y-%m-%d")
                .to_string();
            let patient = rng.random_range(1..=shared.max_patient_id).to_string();
            let clinic = clinic.to_string();
            let path = format!("/appointments/book?patient={patient}&clinic={clinic}&day={day}");
            let form = c.get(&path).await?;
            expect(&form, 200, "GET /appointments/book")?;
            if !form.text().contains("Places left that day") {
                // A holiday the clinic closes for: the desk sees it and picks another day.
                return Ok(());
            }
            let r = c
                .post_form(
                    "/appointments",
                    &[
                        ("patient", patient.as_str()),
                        ("clinic", clinic.as_str()),
                        ("day", day.as_str()),
                        ("reason", "Review"),
                    ],
                )
                .await?;
            // 409 is the answer a desk gets when the day is full or the patient already booked
            // that day: a correct outcome of booking a contested place, not a failure.
            if r.status == 409 {
                return Ok(());
            }
            expect(&r, 303, "POST /appointments")
        }
        Scenario::Queue => {
            let r = c.get_htmx("/queues/triage?live=1").await?;
            expect(&r, 200, "the triage queue")
        }
        Scenario::Vitals => {
            let visit = shared
                .triage_visits
                .lock()
                .expect("not poisoned")
                .pop()
                .ok_or(NO_MORE_WORK)?;
            let form = c.get(&format!("/triage/{visit}")).await?;
            expect(&form, 200, "the triage form")?;
            let temperature = format!("{}.{}", rng.random_range(36..39), rng.random_range(0..10));
            let pulse = rng.random_range(60..110).to_string();
            let systolic = rng.random_range(100..150).to_string();
            let diastolic = rng.random_range(60..95).to_string();
            let weight = format!("{}.{}", rng.random_range(45..90), rng.random_range(0..10));
            let r = c
                .post_form(
                    &format!("/triage/{visit}"),
                    &[
                        ("temperature", temperature.as_str()),
                        ("pulse", pulse.as_str()),
                        ("resp_rate", "18"),
                        ("systolic", systolic.as_str()),
                        ("diastolic", diastolic.as_str()),
                        ("spo2", "97"),
                        ("weight", weight.as_str()),
                        ("height", "165"),
                        ("pain", "2"),
                        ("triage_category", ""),
                        ("send_to", "consultation"),
                        ("checked", "weight"),
                        ("checked", "pulse"),
                        ("checked", "systolic"),
                    ],
                )
                .await?;
            expect(&r, 303, "POST /triage/:visit")
        }
        Scenario::Consult => consult(c, shared, rng, timed).await,
        Scenario::Doctor => {
            let path = DOCTOR_PAGES[rng.random_range(0..DOCTOR_PAGES.len())];
            let r = if path == "/" {
                c.get(path).await?
            } else {
                c.get_htmx(path).await?
            };
            expect(&r, 200, path)
        }
        Scenario::Dispense => crate::pharmacy::dispense(c, &shared.pharmacy).await,
        Scenario::DispenseHot => crate::pharmacy::dispense_hot(c, &shared.pharmacy).await,
        Scenario::PharmacyStock => crate::pharmacy::stock_page(c, &shared.pharmacy).await,
        Scenario::ConsumptionReport => crate::pharmacy::consumption(c, &shared.pharmacy, rng).await,
        Scenario::PayCash => crate::billing::pay_cash(c, &shared.billing).await,
        Scenario::InvoicePdf => crate::billing::invoice_pdf(c, &shared.billing, rng).await,
        Scenario::StkCallback => crate::billing::stk_callback(c, &shared.billing, rng).await,
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

/// Runs one scenario: every person signs in first (not measured), then all repeat the
/// operation for the warm-up and the measured seconds, or until `max_requests` operations.
pub async fn run(s: Scenario, shared: Arc<Shared>, limits: &Limits) -> Result<Figures, String> {
    let (measured, flooding) = match s {
        Scenario::LoginFlood => (2, limits.clients),
        _ => (limits.clients, 0),
    };
    // Patients waiting before the clock starts: more than the targets could see (800 vitals and
    // 150 consultations a second), fewer when the request cap or the patients run out.
    let total = (limits.warmup + limits.seconds).as_secs_f64();
    let enough = |per_second: f64| ((per_second * total) as u64).min(limits.max_requests) as usize;
    match s {
        Scenario::Vitals => {
            let visits = check_in_patients(&shared, "triage", enough(1_200.0)).await?;
            *shared.triage_visits.lock().expect("not poisoned") = visits;
        }
        Scenario::Consult => {
            check_in_patients(&shared, "consultation", enough(250.0)).await?;
        }
        Scenario::PayCash => {
            // More bills than the target could take (300 a second), each with the fee.
            let fresh = check_in_patients(&shared, "laboratory", enough(450.0)).await?;
            let cashier = shared.account("accountant")?;
            let mut c = Client::new(shared.addr);
            c.login(&cashier.username, &cashier.password).await?;
            crate::billing::open_shift(&mut c).await?;
            let mut bills = crate::billing::bills(&mut c, fresh, enough(450.0)).await?;
            // Taken from the end: the oldest bills go first.
            bills.reverse();
            *shared.billing.bills.lock().expect("not poisoned") = bills;
        }
        Scenario::StkCallback => {
            // More bills than the target could book (500 a second, 70% of them new).
            let fresh = check_in_patients(&shared, "laboratory", enough(500.0)).await?;
            let cashier = shared.account("accountant")?;
            let mut c = Client::new(shared.addr);
            c.login(&cashier.username, &cashier.password).await?;
            crate::billing::open_shift(&mut c).await?;
            let bills = crate::billing::bills(&mut c, fresh, enough(500.0)).await?;
            crate::billing::pushes(&shared, &mut c, &cashier.username, bills).await?;
        }
        Scenario::InvoicePdf if shared.billing.invoices.is_none() => {
            return Err("the demo data has no invoices (is billing on?)".into());
        }
        Scenario::Dispense
        | Scenario::DispenseHot
        | Scenario::PharmacyStock
        | Scenario::ConsumptionReport => {
            if let Some(why) =
                crate::pharmacy::missing(&shared.pharmacy, s == Scenario::DispenseHot)
            {
                return Err(why);
            }
        }
        Scenario::ChartHeavy => {
            let patient = crate::heavy::prepare(&shared).await?;
            shared.heavy_patient.store(patient, Ordering::Relaxed);
        }
        _ => {}
    }
    let mut clients = Vec::with_capacity(measured);
    for _ in 0..measured {
        let mut c = Client::new(shared.addr);
        if let Some(role) = s.role() {
            let a = shared.account(role)?;
            c.login(&a.username, &a.password).await?;
        }
        clients.push(c);
    }
    let started = Instant::now();
    let measure_from = started + limits.warmup;
    let until = measure_from + limits.seconds;
    let flood = flood(&shared, flooding, until).await?;
    let done = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let mut tasks = Vec::new();
    for (k, mut c) in clients.into_iter().enumerate() {
        let shared = shared.clone();
        let done = done.clone();
        let first_error = first_error.clone();
        let max = limits.max_requests;
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(shared.seed.wrapping_mul(1000) + k as u64);
            let mut latencies: Vec<u32> = Vec::with_capacity(16_384);
            let mut steps: Vec<u32> = Vec::new();
            let mut errors = 0u64;
            let mut refused = 0u64;
            loop {
                let t = Instant::now();
                if t >= until || done.load(Ordering::Relaxed) >= max {
                    break;
                }
                let mut timed = Vec::new();
                let result = operation(s, &mut c, &shared, &mut rng, &mut timed).await;
                let end = Instant::now();
                if matches!(&result, Err(e) if e == NO_MORE_WORK) {
                    // The patients prepared for the scenario are all seen: this person stops.
                    break;
                }
                if t >= measure_from && end <= until {
                    steps.extend(timed);
                }
                if matches!(&result, Err(e) if e == crate::pharmacy::REFUSED || e == crate::billing::DUPLICATE) {
                    if t >= measure_from && end <= until {
                        refused += 1;
                    }
                } else if let Err(e) = result {
                    errors += 1;
                    let mut first = first_error.lock().expect("not poisoned");
                    if first.is_none() {
                        *first = Some(e);
                    }
                } else if t >= measure_from && end <= until {
                    latencies
                        .push(end.duration_since(t).as_micros().min(u128::from(u32::MAX)) as u32);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            (latencies, errors, steps, refused)
        }));
    }
    let mut latencies: Vec<u32> = Vec::new();
    let mut steps: Vec<u32> = Vec::new();
    let mut errors = 0;
    let mut refused = 0;
    for t in tasks {
        let (l, e, st, r) = t.await.map_err(|e| e.to_string())?;
        latencies.extend(l);
        steps.extend(st);
        errors += e;
        refused += r;
    }
    steps.sort_unstable();
    let mut flood_refused = 0;
    for t in flood {
        flood_refused += t.await.map_err(|e| e.to_string())??;
    }
    // Stopped early by the request cap: the window was shorter.
    let window = Instant::now()
        .min(until)
        .saturating_duration_since(measure_from)
        .as_secs_f64()
        .max(1e-3);
    latencies.sort_unstable();
    let requests = latencies.len() as u64;
    let first_error = first_error.lock().expect("not poisoned").clone();
    Ok(Figures {
        scenario: s.name(),
        requests,
        errors,
        per_second: requests as f64 / window,
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies
            .last()
            .map(|m| f64::from(*m) / 1000.0)
            .unwrap_or(0.0),
        vs_healthz: None,
        http_per_op: match s {
            Scenario::Login | Scenario::LoginFlood => 2,
            Scenario::Register => 3,
            Scenario::Consult => CONSULT_REQUESTS,
            Scenario::Vitals | Scenario::Dispense | Scenario::DispenseHot => 2,
            _ => 1,
        },
        request_p99_ms: (!steps.is_empty()).then(|| percentile(&steps, 0.99)),
        rss_mb_after: 0.0,
        own_mb_after: 0.0,
        peak_rss_mb_after: 0.0,
        first_error,
        flood_refused_per_second: (flooding > 0)
            .then(|| flood_refused as f64 / (until - started).as_secs_f64()),
        refused: (s == Scenario::DispenseHot).then_some(refused),
        duplicates: (s == Scenario::StkCallback).then_some(refused),
        double_payments: None,
        ledger_differences: None,
    })
}
