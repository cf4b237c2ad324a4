//! The `search_parts` scenario's queries: what reception types before a search is exact, the
//! searches that read a count of matches besides the first page. Partial phones as said at the
//! desk ("0748 300", four to seven digits after the 0), one name of three or four letters
//! ("wan", whose matches run to many pages), and two such names ("wan kam").

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sqlx::Row;

/// `n` queries from stored patients (the same sample for the same seed).
pub async fn queries(db: &hms_core::db::Db, seed: u64, n: usize) -> Result<Vec<String>, String> {
    let rows = sqlx::query(
        "SELECT first_name, last_name, phone FROM patients WHERE id % 7 = 0 ORDER BY id LIMIT 4000",
    )
    .fetch_all(db.read())
    .await
    .map_err(|e| e.to_string())?;
    if rows.is_empty() {
        return Err("the demo database holds no patients".into());
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9a27);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let r = &rows[rng.random_range(0..rows.len())];
        let first: String = r.get::<String, _>(0).to_lowercase();
        let last: String = r.get::<String, _>(1).to_lowercase();
        let phone: Option<String> = r.get(2);
        let start = |t: &str, rng: &mut StdRng| -> String {
            t.chars().take(rng.random_range(3..=4)).collect()
        };
        let u: f64 = rng.random();
        let q = match phone {
            Some(p) if u < 0.5 && p.len() == 13 => {
                // "+254748300123" said as "0748 300" (4 to 7 digits after the 0).
                let digits = rng.random_range(4..=7);
                let national = &p[4..4 + digits];
                if national.len() > 3 && rng.random_bool(0.5) {
                    format!("0{} {}", &national[..3], &national[3..])
                } else {
                    format!("0{national}")
                }
            }
            _ if u < 0.75 => start(&first, &mut rng),
            _ => format!("{} {}", start(&first, &mut rng), start(&last, &mut rng)),
        };
        out.push(q);
    }
    Ok(out)
}
