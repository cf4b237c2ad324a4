//! The pharmacist's and administrator's cards, and the nightly ledger check whose last result
//! the administrator's card shows.
//!
//! Items on the cards carry their average monthly consumption (units dispensed from that store
//! over the last 90 days, net of returns, divided by three) and months of stock (usable units
//! divided by that average).

use std::time::Duration;

use chrono::{NaiveDate, Timelike};
use serde::Serialize;

use hms_core::db::{Db, DbError};
use hms_core::module::StopSignal;
use hms_core::{clock, App};

use crate::repo::reports as repo;
use crate::stock::{self, Difference};

/// How often the server looks whether tonight's check is due.
const CHECK_EVERY: Duration = Duration::from_secs(600);

/// The local hour (Nairobi) from which a night's check runs.
const NIGHT_HOUR: u32 = 2;

/// Lines each card lists.
pub const CARD_LINES: i64 = 10;

/// Days an item's consumption is averaged over.
const CONSUMPTION_DAYS: i64 = 90;

/// Days ahead the expiring card looks.
pub const EXPIRING_DAYS: i64 = 90;

/// Differences written into a check's record (the rest are counted).
const DETAIL_LINES: usize = 50;

/// The outcome of one ledger check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub batches: i64,
    pub differences: Vec<Difference>,
}

/// One difference in words, for the command line and the record.
pub fn describe(d: &Difference) -> String {
    format!(
        "batch {} (store {}, drug {}): balance {}, ledger {}",
        d.batch, d.store, d.drug, d.balance, d.ledger
    )
}

/// Runs [`stock::check`] and records the result in `stock_checks`. With `night`, the check is
/// that night's: only the first server to claim the night runs it (`None` for the others).
pub async fn run_check(db: &Db, night: Option<&str>) -> Result<Option<CheckResult>, DbError> {
    let at = clock::now_rfc3339();
    let id = match night {
        Some(night) => match repo::claim_night(db, night, &at).await? {
            Some(id) => id,
            None => return Ok(None),
        },
        None => repo::start_check(db, &at).await?,
    };
    let (batches, differences) = stock::check(db).await?;
    let mut detail: Vec<String> = differences
        .iter()
        .take(DETAIL_LINES)
        .map(describe)
        .collect();
    if differences.len() > DETAIL_LINES {
        detail.push(format!("... {} more", differences.len() - DETAIL_LINES));
    }
    repo::finish_check(
        db,
        id,
        batches,
        differences.len() as i64,
        &detail.join("\n"),
        &clock::now_rfc3339(),
    )
    .await?;
    Ok(Some(CheckResult {
        batches,
        differences,
    }))
}

/// The night a local time belongs to once the night hour has come (`None` before it).
fn due_night(local: chrono::DateTime<chrono::FixedOffset>) -> Option<NaiveDate> {
    (local.hour() >= NIGHT_HOUR).then(|| local.date_naive())
}

/// Runs [`stock::check`] once a night and keeps the result in `stock_checks`. Every app server
/// runs this task; the night's row, unique, lets one of them run the check.
pub async fn nightly_check(app: App, mut stop: StopSignal) {
    let mut done: Option<NaiveDate> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        if let Some(night) = due_night(clock::to_local(chrono::Utc::now())) {
            if done != Some(night) {
                match night_round(&app, night).await {
                    Ok(()) => done = Some(night),
                    Err(e) => tracing::error!(error = %e, "stock ledger check: the run failed"),
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn night_round(app: &App, night: NaiveDate) -> Result<(), DbError> {
    let licensing = &app.licensing;
    if !licensing
        .loaded(&app.db)
        .await?
        .verdict(licensing.today())
        .covers("pharmacy")
    {
        return Ok(());
    }
    let night = night.format("%Y-%m-%d").to_string();
    if let Some(result) = run_check(&app.db, Some(&night)).await? {
        if result.differences.is_empty() {
            tracing::info!(
                batches = result.batches,
                "stock ledger check: the books agree"
            );
        } else {
            tracing::warn!(
                batches = result.batches,
                differences = result.differences.len(),
                "stock ledger check: balances differ from the ledger"
            );
        }
    }
    Ok(())
}

/// An item on a card: a drug in a store.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub store: String,
    pub drug: i64,
    pub name: String,
    pub unit: String,
    /// Units: on hand usable, or held by the batch (expiring, expired cards).
    pub quantity: i64,
    pub reorder_level: Option<i64>,
    pub batch_no: Option<String>,
    /// `dd/mm/yyyy`.
    pub expiry: Option<String>,
    pub monthly: i64,
    /// One decimal; `None` when nothing was dispensed (no average to divide by).
    pub months: Option<String>,
}

/// The items (each with its store's id) with their average monthly consumption and months of
/// stock, read in one statement for all of them.
async fn with_consumption(
    db: &Db,
    listed: Vec<(i64, Item)>,
    today: NaiveDate,
) -> Result<Vec<Item>, DbError> {
    let since = hms_core::module::FigureRange::days(
        hms_core::day::Day::new(hms_core::dates::shift(today, -CONSUMPTION_DAYS)),
        hms_core::day::Day::new(today),
    )
    .utc_bounds()
    .0;
    let mut pairs: Vec<(i64, i64)> = listed.iter().map(|(store, i)| (*store, i.drug)).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let figures = repo::item_figures(db, &pairs, &since, &iso(today)).await?;
    Ok(listed
        .into_iter()
        .map(|(store, mut item)| {
            if let Some(&(used, usable)) = figures.get(&(store, item.drug)) {
                (item.monthly, item.months) = monthly_and_months(used, usable);
            }
            item
        })
        .collect())
}

/// (average monthly consumption, months of stock) from 90 days' use and usable units.
fn monthly_and_months(used_90_days: i64, usable: i64) -> (i64, Option<String>) {
    let monthly = (used_90_days as f64 / 3.0).round() as i64;
    let months =
        (used_90_days > 0).then(|| format!("{:.1}", usable as f64 * 3.0 / used_90_days as f64));
    (monthly, months)
}

pub fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn shown(date: &str) -> String {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_default()
}

/// Items at or below their reorder level: how many, and the emptiest few.
pub async fn reorder(db: &Db, today: NaiveDate) -> Result<(i64, Vec<Item>), DbError> {
    let (count, rows) = repo::below_reorder(db, &iso(today), CARD_LINES).await?;
    let listed = rows.into_iter().map(|r| {
        let item = Item {
            store: r.store_name,
            drug: r.drug,
            name: r.drug_name,
            unit: r.unit,
            quantity: r.usable,
            reorder_level: Some(r.reorder_level),
            batch_no: None,
            expiry: None,
            monthly: 0,
            months: None,
        };
        (r.store, item)
    });
    let items = with_consumption(db, listed.collect(), today).await?;
    Ok((count, items))
}

/// Batches expiring from `after` to `until`: (batches, units, the first few).
pub async fn batches(
    db: &Db,
    after: NaiveDate,
    until: NaiveDate,
    today: NaiveDate,
) -> Result<(i64, i64, Vec<Item>), DbError> {
    let (a, u) = (iso(after), iso(until));
    let (count, units) = repo::expiring_count(db, &a, &u).await?;
    let rows = repo::expiring(db, 0, &a, &u, CARD_LINES).await?;
    let listed = rows.into_iter().map(|r| {
        let item = Item {
            store: r.store_name,
            drug: r.drug,
            name: r.drug_name,
            unit: r.unit,
            quantity: r.on_hand,
            reorder_level: None,
            batch_no: Some(r.batch_no),
            expiry: Some(shown(&r.expiry)),
            monthly: 0,
            months: None,
        };
        (r.store, item)
    });
    let items = with_consumption(db, listed.collect(), today).await?;
    Ok((count, units, items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn months_of_stock_divide_usable_units_by_the_monthly_average() {
        assert_eq!(monthly_and_months(90, 60), (30, Some("2.0".into())));
        assert_eq!(monthly_and_months(0, 60), (0, None));
        assert_eq!(monthly_and_months(10, 0), (3, Some("0.0".into())));
    }

    #[test]
    fn a_night_is_due_from_two_in_the_morning() {
        let at = |h| {
            clock::nairobi()
                .with_ymd_and_hms(2026, 12, 7, h, 0, 0)
                .unwrap()
        };
        assert_eq!(due_night(at(1)), None);
        assert_eq!(due_night(at(2)), NaiveDate::from_ymd_opt(2026, 12, 7));
        assert_eq!(due_night(at(23)), NaiveDate::from_ymd_opt(2026, 12, 7));
    }
}
