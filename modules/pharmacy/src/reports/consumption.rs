//! The monthly consumption report of one store, in the style of the F-CDRR
//! (`../shared/reference/kenya/fcdrr.md`), in smallest units (tablets, ml, vials), one line per
//! drug the store stocks:
//!
//! - opening balance (A) = last month's closing;
//! - received (B): receipts from suppliers and transfers in from other stores;
//! - dispensed (C): dispenses net of returns of unopened medicine;
//! - losses (D): adjustments for damage, expiry or loss;
//! - positive adjustments (E): adjustments up (found) and stock-take gains;
//! - negative adjustments (F): other adjustments down (returned to supplier), stock-take
//!   shortfalls and transfers out to other stores (the quantities issued, not those asked);
//! - closing (G) = A + B - C - D + E - F, the ledger's balance at the month's end;
//! - earliest expiry and the units expiring within 6 months of the month's end, among the
//!   batches holding stock at the month's end;
//! - quantity to request: the maximum level set for the store, less the closing balance; where
//!   no maximum is set, three times the month's dispensed quantity less the closing balance
//!   (never below 0);
//! - days out of stock: days of the month (up to today) that began or ended with no units.
//!
//! Balances at the month's end are the batches' balances now less what the ledger moved since,
//! so the report reads the month and what followed it, never the whole history; `hms stock
//! check` proves the ledger adds up to the balances. Six grouped queries whatever the number of
//! drugs, the period read once; then, for the few drugs whose stock may have run out during the
//! month, their own days (through the drug's ledger index).

use std::collections::HashMap;

use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;

use hms_core::db::{Db, DbError};

use super::Month;
use crate::repo::reports as repo;

/// Adjustment reasons counted as losses and wastage.
const LOSS_REASONS: &[&str] = &["damaged", "expired", "lost"];

/// How many months of stock the request brings a store to when it has no maximum level.
const DEFAULT_MONTHS_OF_STOCK: i64 = 3;

/// One line of the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Line {
    pub drug: i64,
    pub code: String,
    pub name: String,
    pub unit: String,
    pub pack_size: i64,
    pub opening: i64,
    pub received: i64,
    pub dispensed: i64,
    pub losses: i64,
    pub positive: i64,
    pub negative: i64,
    pub closing: i64,
    /// `YYYY-MM-DD`.
    pub earliest_expiry: Option<String>,
    pub expiring_6m: i64,
    pub to_request: i64,
    pub days_out: i64,
}

/// The report of `store` for `month`; `today` bounds the days counted out of stock.
pub async fn build(
    db: &Db,
    store: i64,
    month: Month,
    today: NaiveDate,
) -> Result<Vec<Line>, DbError> {
    let (from, to) = month.utc_bounds();
    let drugs = repo::store_drugs(db, store).await?;
    if drugs.is_empty() {
        return Ok(Vec::new());
    }
    let batches = repo::store_batches(db, store).await?;
    let after: HashMap<i64, i64> = repo::moved_since(db, store, &to)
        .await?
        .into_iter()
        .collect();
    let moves = repo::kind_totals(db, store, &from, &to).await?;
    let adjustments = repo::adjustment_totals(db, store, &from, &to).await?;
    let levels: HashMap<i64, (i64, i64)> = repo::store_levels(db, store)
        .await?
        .into_iter()
        .map(|(d, r, m)| (d, (r, m)))
        .collect();

    let mut lines: Vec<Line> = drugs
        .iter()
        .map(|d| Line {
            drug: d.id,
            code: d.code.clone(),
            name: d.display(),
            unit: d.unit.clone(),
            pack_size: d.pack_size,
            ..Line::default()
        })
        .collect();
    let index: HashMap<i64, usize> = lines.iter().enumerate().map(|(i, l)| (l.drug, i)).collect();

    // Balances at the month's end, per batch, then per drug; expiries among what was left.
    let horizon = month
        .last
        .checked_add_months(Months::new(6))
        .unwrap_or(month.last)
        .format("%Y-%m-%d")
        .to_string();
    for b in &batches {
        let Some(&i) = index.get(&b.drug) else {
            continue;
        };
        let closing = b.on_hand - after.get(&b.id).copied().unwrap_or(0);
        let line = &mut lines[i];
        line.closing += closing;
        if closing > 0 {
            if line
                .earliest_expiry
                .as_deref()
                .is_none_or(|e| b.expiry.as_str() < e)
            {
                line.earliest_expiry = Some(b.expiry.clone());
            }
            if b.expiry <= horizon {
                line.expiring_6m += closing;
            }
        }
    }

    let mut net: HashMap<i64, i64> = HashMap::new();
    let mut adjusted_out: HashMap<i64, i64> = HashMap::new();
    let mut outflow: HashMap<i64, i64> = HashMap::new();
    for k in &moves {
        let Some(&i) = index.get(&k.drug) else {
            continue;
        };
        *net.entry(k.drug).or_default() += k.quantity;
        if k.quantity < 0 {
            *outflow.entry(k.drug).or_default() -= k.quantity;
        }
        let line = &mut lines[i];
        match k.kind.as_str() {
            "receipt" | "transfer_in" => line.received += k.quantity,
            "dispense" | "return" => line.dispensed -= k.quantity,
            "transfer_out" => line.negative -= k.quantity,
            "adjustment" | "stock_take" if k.quantity > 0 => line.positive += k.quantity,
            "adjustment" => *adjusted_out.entry(k.drug).or_default() -= k.quantity,
            "stock_take" => line.negative -= k.quantity,
            // A kind the ledger does not know yet still balances the books.
            _ if k.quantity > 0 => line.positive += k.quantity,
            _ => line.negative -= k.quantity,
        }
    }
    for (drug, reason, quantity) in &adjustments {
        let Some(&i) = index.get(drug) else { continue };
        if LOSS_REASONS.contains(&reason.as_str()) {
            lines[i].losses -= quantity;
        }
    }

    let last_counted = month.last.min(today);
    // The month's moves per drug and Nairobi day, read once (one range scan), and only when
    // some drug may have run out.
    let mut daily: Option<HashMap<i64, HashMap<NaiveDate, i64>>> = None;
    for line in &mut lines {
        let moved = net.get(&line.drug).copied().unwrap_or(0);
        line.opening = line.closing - moved;
        // Adjustments down that were not losses are negative adjustments.
        line.negative += adjusted_out.get(&line.drug).copied().unwrap_or(0) - line.losses;
        let maximum = match levels.get(&line.drug) {
            Some(&(_, max)) if max > 0 => max,
            _ => DEFAULT_MONTHS_OF_STOCK * line.dispensed.max(0),
        };
        line.to_request = (maximum - line.closing).max(0);
        // A drug that never runs out needs no walk through its days: its balance stays above
        // the opening balance less everything that went out. Only those that may have run out
        // are walked day by day.
        let has_moves = net.contains_key(&line.drug);
        let may_run_out = line.opening - outflow.get(&line.drug).copied().unwrap_or(0) <= 0;
        line.days_out = if !may_run_out || month.first > last_counted {
            0
        } else if !has_moves {
            days_out(line.opening, None, month.first, last_counted)
        } else {
            if daily.is_none() {
                let mut by_drug: HashMap<i64, HashMap<NaiveDate, i64>> = HashMap::new();
                for (drug, utc_day, late, quantity) in
                    repo::daily_moves(db, store, &from, &to).await?
                {
                    let Ok(d) = NaiveDate::parse_from_str(&utc_day, "%Y-%m-%d") else {
                        continue;
                    };
                    let day = if late { d.succ_opt().unwrap_or(d) } else { d };
                    *by_drug.entry(drug).or_default().entry(day).or_default() += quantity;
                }
                daily = Some(by_drug);
            }
            let days = daily.as_ref().and_then(|m| m.get(&line.drug));
            days_out(line.opening, days, month.first, last_counted)
        };
    }
    Ok(lines)
}

/// Days from `first` to `last` that began or ended with no units, walking the day's net moves
/// from `opening`.
fn days_out(
    opening: i64,
    moves: Option<&HashMap<NaiveDate, i64>>,
    first: NaiveDate,
    last: NaiveDate,
) -> i64 {
    let mut balance = opening;
    let mut out = 0;
    let mut day = first;
    while day <= last {
        let start = balance;
        balance += moves.and_then(|m| m.get(&day)).copied().unwrap_or(0);
        if start <= 0 || balance <= 0 {
            out += 1;
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    out
}

/// `YYYY-MM-DD` as `MM/YYYY`, as the form prints expiries.
pub fn expiry_month(date: &str) -> String {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(|d| format!("{:02}/{}", d.month(), d.year()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn a_day_that_begins_or_ends_empty_is_a_day_out_of_stock() {
        // Nothing moved, nothing held: every day of the month is out.
        assert_eq!(days_out(0, None, d(1), d(30)), 30);
        // 10 units, all dispensed on the 5th, restocked on the 8th: the 5th ended empty, the 6th
        // and 7th were empty, the 8th began empty.
        let moves: HashMap<NaiveDate, i64> = [(d(5), -10), (d(8), 20)].into_iter().collect();
        assert_eq!(days_out(10, Some(&moves), d(1), d(30)), 4);
        // Counting stops at the last day given (today, in the running month).
        assert_eq!(days_out(0, None, d(1), d(7)), 7);
    }

    #[test]
    fn expiries_print_as_month_and_year() {
        assert_eq!(expiry_month("2027-03-31"), "03/2027");
        assert_eq!(expiry_month("soon"), "");
    }
}
