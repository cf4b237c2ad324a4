//! Prescriptions left waiting at the pharmacy for the benchmark: the latest completed visits
//! get a further prescription of three common medicines (the `dispense` scenario), and some
//! of them one course of artemether/lumefantrine, the item every client of `dispense_hot`
//! dispenses at once. The orders are placed as the doctor places them
//! (structured details, the catalogue's code), a page of visits per transaction.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::SeedableRng;

use hms_core::demo::DemoRun;
use hms_core::orders::DrugDetails;

use super::catalogue::{Item, BASE};
use super::Result;
use crate::repo::demo as sql;

/// A prescription line of the pool: the base medicine's code and how it is taken.
pub struct Rx {
    pub code: &'static str,
    pub dose: &'static str,
    pub dose_unit: &'static str,
    pub frequency: &'static str,
    pub max_per_day: Option<i64>,
    pub days: i64,
    pub quantity: i64,
    pub instructions: &'static str,
}

const fn rx(
    code: &'static str,
    dose: &'static str,
    dose_unit: &'static str,
    frequency: &'static str,
    days: i64,
    quantity: i64,
    instructions: &'static str,
) -> Rx {
    Rx {
        code,
        dose,
        dose_unit,
        frequency,
        max_per_day: None,
        days,
        quantity,
        instructions,
    }
}

/// The busy item of `dispense_hot`.
pub const HOT: Rx = rx("AL20T", "4", "tablet", "BD", 3, 24, "Take with food");

/// What the three-line prescriptions are made of.
const COMMON: &[Rx] = &[
    rx("PCM500T", "2", "tablet", "TDS", 3, 18, "After meals"),
    rx("AMX500C", "1", "capsule", "TDS", 5, 15, "Finish the course"),
    rx("IBU400T", "1", "tablet", "TDS", 5, 15, "After meals"),
    rx("CPM4T", "1", "tablet", "TDS", 5, 15, "May cause drowsiness"),
    rx("OME20C", "1", "capsule", "OD", 14, 14, "Before breakfast"),
    rx("MTZ400T", "1", "tablet", "TDS", 7, 21, "No alcohol"),
    rx(
        "SXT480T",
        "2",
        "tablet",
        "BD",
        5,
        20,
        "Drink plenty of water",
    ),
    rx("ZNC20T", "1", "tablet", "OD", 10, 10, "Dissolve in water"),
    rx("CET10T", "1", "tablet", "OD", 7, 7, "At night"),
    rx("AML5T", "1", "tablet", "OD", 30, 30, "Every morning"),
];

/// Visits waiting for a three-line prescription and for the busy item, for `patients` (at
/// most as many as there are visits: a facility sees about 15,000 a year whatever its number
/// of registered patients).
pub fn pool_for(patients: u64) -> (i64, i64) {
    let three = (patients / 50).clamp(1_000, 20_000) as i64;
    (three, three / 2)
}

/// The structured prescription of `r` for the catalogue's `code` and its display.
pub fn details(r: &Rx, code: &str, drug: &str) -> Result<(String, String)> {
    let d: DrugDetails = serde_json::from_value(serde_json::json!({
        "code": code,
        "drug": drug,
        "dose": r.dose,
        "dose_unit": r.dose_unit,
        "route": "oral",
        "frequency": r.frequency,
        "max_per_day": r.max_per_day,
        "duration_days": r.days,
        "quantity": r.quantity,
        "instructions": r.instructions,
    }))?;
    d.validate()?;
    Ok((serde_json::to_string(&d)?, d.display()))
}

fn item<'i>(items: &'i [Item], code: &str) -> Option<&'i Item> {
    let base = BASE.iter().position(|b| b.code == code)?;
    items.iter().find(|it| it.base == base)
}

/// Places the pool's orders; returns how many visits wait.
pub async fn place(run: &DemoRun<'_>, items: &[Item], doctor: Option<i64>) -> Result<u64> {
    let (three, hot) = pool_for(run.patients);
    let visits = sql::latest_visits(run.db, three + hot).await?;
    // Fewer visits than asked for (a small facility): the same share for the busy item.
    let hot = visits.len() as i64 * hot / (three + hot);
    let mut rng = StdRng::seed_from_u64(run.seed ^ 0x9a_70_01);
    let mut lines: Vec<(&Rx, &Item, String, String)> = Vec::new();
    for r in COMMON.iter().chain(std::iter::once(&HOT)) {
        let Some(it) = item(items, r.code) else {
            continue;
        };
        let name = format!("{} {}", it.drug.generic_name, it.drug.strength);
        let (json, display) = details(r, &it.drug.code, &name)?;
        lines.push((r, it, json, display));
    }
    let (hot_line, common) = match lines.iter().position(|l| l.0.code == HOT.code) {
        Some(i) => (Some(lines.remove(i)), lines),
        None => (None, lines),
    };
    let mut waiting = 0u64;
    for (page_no, page) in visits.chunks(1_000).enumerate() {
        let mut tx = run.db.begin().await?;
        for (k, v) in page.iter().enumerate() {
            let n = page_no * 1_000 + k;
            let group = format!("demo-rx-{}", v.id);
            let chosen: Vec<&(&Rx, &Item, String, String)> = match &hot_line {
                Some(h) if n < hot as usize => vec![h],
                _ => common.sample(&mut rng, 3).collect(),
            };
            for (r, it, json, display) in chosen {
                sql::placed_order(
                    &mut tx,
                    &sql::PlacedOrder {
                        visit: v,
                        group: &group,
                        code: &it.drug.code,
                        display,
                        details: json,
                        quantity: r.quantity,
                        doctor,
                    },
                )
                .await?;
            }
            waiting += 1;
        }
        run.audit_batch(&mut tx, "demo.pharmacy_waiting", waiting, None)
            .await?;
        tx.commit().await?;
        run.set("prescriptions_waiting", waiting);
    }
    Ok(waiting)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pool_prescription_is_a_valid_drug_order_of_a_base_medicine() {
        for r in COMMON.iter().chain(std::iter::once(&HOT)) {
            assert!(BASE.iter().any(|b| b.code == r.code), "{}", r.code);
            let (_, display) = details(r, r.code, "Some drug 1 mg").unwrap();
            assert!(display.contains(&format!("({})", r.quantity)), "{display}");
        }
        assert_eq!(pool_for(1_000_000), (20_000, 10_000));
    }
}
