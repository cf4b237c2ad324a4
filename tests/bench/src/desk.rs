//! What the front desk types, read from the demo data before the clock starts (the search
//! queries people make, the clinic days to book on), and the wrong passwords of a sign-in
//! flood.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sqlx::Row;
use std::time::Instant;

use crate::http::Client;
use crate::scenarios::{expect, Shared};

/// The first active clinic-day clinic of the demo data and its weekdays.
pub async fn day_clinic(db: &hms_core::db::Db) -> Result<Option<(i64, Vec<u32>)>, String> {
    let rows = sqlx::query(
        "SELECT c.id, w.weekday FROM clinics c JOIN clinic_weekdays w ON w.clinic_id = c.id \
         WHERE c.booking = 'day' AND c.is_active = 1 ORDER BY c.id, w.weekday",
    )
    .fetch_all(db.read())
    .await
    .map_err(|e| e.to_string())?;
    let Some(first) = rows.first().map(|r| r.get::<i64, _>(0)) else {
        return Ok(None);
    };
    let weekdays = rows
        .iter()
        .filter(|r| r.get::<i64, _>(0) == first)
        .filter_map(|r| u32::try_from(r.get::<i64, _>(1)).ok())
        .collect();
    Ok(Some((first, weekdays)))
}

/// Builds the search queries from a sample of stored patients: partial names in any order
/// ("wanj kam"), whole names, phones as people say them, patient numbers and ID numbers.
pub async fn queries(
    db: &hms_core::db::Db,
    seed: u64,
    n: usize,
) -> Result<(Vec<String>, i64), String> {
    let pool = db.read();
    let max_id: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM patients")
        .fetch_one(pool)
        .await
        .map_err(|e| e.to_string())?
        .get(0);
    if max_id == 0 {
        return Err("the demo database holds no patients".into());
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut out = Vec::with_capacity(n);
    let mut tries = 0;
    while out.len() < n && tries < n * 4 {
        tries += 1;
        let id = rng.random_range(1..=max_id);
        let Some(p) = sqlx::query(
            "SELECT number, first_name, middle_name, last_name, phone FROM patients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(|e| e.to_string())?
        else {
            continue;
        };
        let number: String = p.get(0);
        let names: Vec<String> = [
            Some(p.get::<String, _>(1)),
            p.get::<Option<String>, _>(2),
            Some(p.get::<String, _>(3)),
        ]
        .into_iter()
        .flatten()
        .flat_map(|n| {
            n.to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|t| t.len() >= 2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
        if names.is_empty() {
            continue;
        }
        let phone: Option<String> = p.get(4);
        let prefix = |t: &str, rng: &mut StdRng| -> String {
            let len = t.chars().count();
            let keep = if len <= 3 {
                len
            } else {
                rng.random_range(3..=len.min(6))
            };
            t.chars().take(keep).collect()
        };
        let pick = |rng: &mut StdRng| names[rng.random_range(0..names.len())].clone();
        let u: f64 = rng.random();
        let q = if u < 0.35 {
            // Two partial names, in either order: "wanj kam".
            let (a, b) = (pick(&mut rng), names[names.len() - 1].clone());
            let (a, b) = if rng.random_bool(0.5) { (a, b) } else { (b, a) };
            format!("{} {}", prefix(&a, &mut rng), prefix(&b, &mut rng))
        } else if u < 0.55 {
            prefix(&pick(&mut rng), &mut rng)
        } else if u < 0.70 {
            let (a, b) = (names[0].clone(), names[names.len() - 1].clone());
            format!("{a} {b}")
        } else if u < 0.80 {
            match phone {
                // Said over the counter as 07xx xxx xxx.
                Some(p) if p.len() == 13 => {
                    format!("0{} {} {}", &p[4..7], &p[7..10], &p[10..])
                }
                _ => number.clone(),
            }
        } else if u < 0.90 {
            if rng.random_bool(0.3) {
                number.to_lowercase()
            } else {
                number.clone()
            }
        } else {
            let value: Option<String> = sqlx::query(
                "SELECT value FROM patient_identifiers WHERE patient_id = $1 ORDER BY id LIMIT 1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(|e| e.to_string())?
            .map(|r| r.get(0));
            value.unwrap_or(number.clone())
        };
        out.push(q);
    }
    Ok((out, max_id))
}

pub(crate) fn encode(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

pub(crate) const FIRST: &[&str] = &[
    "Amina", "Brian", "Cynthia", "David", "Esther", "Felix", "Grace", "Hassan", "Irene", "James",
    "Kevin", "Lucy", "Mercy", "Nelson", "Otieno", "Purity", "Wanjiru", "Chebet", "Mwende", "Kadzo",
];
pub(crate) const LAST: &[&str] = &[
    "Kamau", "Otieno", "Wafula", "Koech", "Mutua", "Onyancha", "Mwenda", "Kazungu", "Abdi",
    "Saitoti", "Njoroge", "Ochieng", "Wekesa", "Rotich", "Musyoka", "Nyakundi", "Kirimi", "Charo",
];

/// Clients that sign in to the laboratory technician's account with a wrong password until
/// `until` (an account no later scenario signs in to: it stays delayed for a while); each task
/// answers how many of its attempts the throttle refused (429).
pub(crate) async fn flood(
    shared: &Shared,
    clients: usize,
    until: Instant,
) -> Result<Vec<tokio::task::JoinHandle<Result<u64, String>>>, String> {
    if clients == 0 {
        return Ok(Vec::new());
    }
    let target = shared.account("lab_tech")?.username.clone();
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut c = Client::new(shared.addr);
        let page = c.get("/login").await?;
        expect(&page, 200, "GET /login")?;
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut refused = 0;
            while Instant::now() < until {
                let r = c
                    .post_form(
                        "/login",
                        &[
                            ("username", target.as_str()),
                            ("password", "wrong guess 2026"),
                        ],
                    )
                    .await?;
                match r.status {
                    429 => refused += 1,
                    422 => {}
                    other => return Err(format!("flood: POST /login answered {other}")),
                }
            }
            Ok(refused)
        }));
    }
    Ok(tasks)
}
