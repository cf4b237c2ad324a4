//! The start of each month of the demo history: the main store's receipt (KEMSA and MEDS in
//! turn) and the dispensary's requisition issued from it; before the last month, a stock take
//! of the main store; at the end, each store's reorder and maximum levels.

use std::collections::HashMap;

use chrono::{Datelike, Duration, Months, NaiveDate};
use rand::RngExt;

use hms_core::db::Tx;

use super::{at, Plan, Result};
use crate::repo::demo as sql;
use crate::repo::movements::receipts;
use crate::stock::{self, Kind, Movement};

/// The last day of the month `months` after `day`'s.
fn expiry_after(day: NaiveDate, months: u32) -> NaiveDate {
    let first = day.with_day(1).unwrap_or(day);
    first
        .checked_add_months(Months::new(months + 1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(day)
}

/// Whole packs of at least `units`.
fn in_packs(units: i64, pack: i64) -> (i64, i64) {
    let pack = pack.max(1);
    let packs = ((units + pack - 1) / pack).max(1);
    (packs, packs * pack)
}

/// A unit cost at 60% of the price (at least a cent).
fn cost_of(price_cents: i64) -> i64 {
    (price_cents * 6 / 10).max(1)
}

impl Plan {
    /// Writes the start of every month up to and including `month` not written yet.
    pub async fn open_through(&mut self, tx: &mut Tx, month: usize) -> Result<()> {
        while self.opened <= month {
            let m = self.opened;
            let day = self.months[m].max(self.first_day);
            if m + 1 == self.months.len() && m > 0 {
                self.stock_take(tx, day - Duration::days(1)).await?;
            }
            let received = self.receive(tx, m, day).await?;
            self.requisition(tx, m, day, &received).await?;
            self.opened += 1;
        }
        Ok(())
    }

    /// The main store's receipt of month `m`: each moving item by what the month's
    /// prescriptions need and a margin, the others a few packs a quarter (all of them in the
    /// first month). Returns the units received per item.
    async fn receive(
        &mut self,
        tx: &mut Tx,
        m: usize,
        day: NaiveDate,
    ) -> Result<HashMap<usize, i64>> {
        let when = at(day, 4, 0);
        let supplier = self.suppliers[m % 2];
        let (prefix, name) = if m.is_multiple_of(2) {
            ("K", "KEMSA")
        } else {
            ("M", "MEDS")
        };
        let reference = format!("{name} DN {}-{:03}", day.format("%Y%m"), m + 1);
        let token = format!("demo-receipt-{m}");
        let receipt = receipts::insert(
            tx,
            self.main,
            supplier,
            &reference,
            &day.format("%Y-%m-%d").to_string(),
            &token,
            self.staff.pharmacist,
            &when,
        )
        .await?
        .ok_or("the demo's receipt was posted before")?;
        self.receipts += 1;
        let mut received = HashMap::new();
        let mut slow = 0;
        for idx in 0..self.items.len() {
            let pack = self.items[idx].drug.pack_size;
            let units = if self.moving[idx] {
                let need = self.need.get(&(m, idx)).copied().unwrap_or(0);
                if need == 0 {
                    continue;
                }
                need * 13 / 10
            } else if m == 0 || (m + idx).is_multiple_of(3) {
                pack * self.rng.random_range(2..7)
            } else {
                continue;
            };
            let (packs, units) = in_packs(units, pack);
            let mut expiry = expiry_after(day, self.rng.random_range(18..31));
            if m == 0 && !self.moving[idx] {
                // A few items the first delivery brought with little shelf life left: now
                // expiring soon, or expired on the shelf.
                slow += 1;
                let special = match slow % 60 {
                    3 => Some(self.today + Duration::days(self.rng.random_range(20..80))),
                    8 => Some(self.today - Duration::days(self.rng.random_range(3..30))),
                    _ => None,
                };
                if let Some(e) = special.filter(|e| *e > day + Duration::days(14)) {
                    expiry = e;
                }
            }
            let drug = &self.items[idx].drug;
            let cost = cost_of(drug.price_cents);
            let batch_no = format!(
                "{prefix}{}{:04}",
                day.format("%y%m"),
                self.rng.random_range(0..10_000)
            );
            let batch =
                stock::batch(tx, self.main, drug.id, &batch_no, expiry, cost, &when).await?;
            let line = receipts::insert_line(tx, receipt, drug.id, batch, Some(packs), units, cost)
                .await?;
            let reference = format!("receipt_line:{line}");
            stock::post(
                tx,
                &Movement {
                    batch,
                    quantity: units,
                    kind: Kind::Receipt,
                    reference: &reference,
                    reason: None,
                    user: self.staff.pharmacist,
                    at: &when,
                    usable_on: None,
                },
            )
            .await?;
            received.insert(idx, units);
        }
        Ok(received)
    }

    /// The dispensary's requisition of month `m`, issued at once from the main store: the
    /// month's prescriptions and a margin of each moving item, half of what came of the others.
    async fn requisition(
        &mut self,
        tx: &mut Tx,
        m: usize,
        day: NaiveDate,
        received: &HashMap<usize, i64>,
    ) -> Result<()> {
        let when = at(day, 4, 30);
        let token = format!("demo-requisition-{m}");
        let pharmacist = self.staff.pharmacist;
        let transfer =
            sql::transfer(tx, self.main, self.dispensary, &token, pharmacist, &when).await?;
        for idx in 0..self.items.len() {
            let want = if self.moving[idx] {
                self.need.get(&(m, idx)).copied().unwrap_or(0) * 115 / 100
            } else {
                received.get(&idx).copied().unwrap_or(0) / 2
            };
            if want <= 0 {
                continue;
            }
            let drug = &self.items[idx].drug;
            let line = sql::transfer_line(tx, transfer, drug.id, want).await?;
            let reference = format!("transfer_line:{line}");
            let (takes, missing) = stock::take_fefo(
                tx,
                self.main,
                drug.id,
                want,
                Kind::TransferOut,
                &reference,
                pharmacist,
                &when,
                day,
            )
            .await?;
            for t in &takes {
                let expiry = NaiveDate::parse_from_str(&t.expiry, "%Y-%m-%d")?;
                let batch = stock::batch(
                    tx,
                    self.dispensary,
                    drug.id,
                    &t.batch_no,
                    expiry,
                    cost_of(drug.price_cents),
                    &when,
                )
                .await?;
                stock::post(
                    tx,
                    &Movement {
                        batch,
                        quantity: t.quantity,
                        kind: Kind::TransferIn,
                        reference: &reference,
                        reason: None,
                        user: pharmacist,
                        at: &when,
                        usable_on: None,
                    },
                )
                .await?;
            }
            if missing > 0 {
                sql::transfer_issued(tx, line, want - missing).await?;
            }
        }
        Ok(())
    }

    /// A blind count of the main store, approved by the administrator: most batches as the
    /// books say, now and then a few units lost or found, each variance posted.
    async fn stock_take(&mut self, tx: &mut Tx, day: NaiveDate) -> Result<()> {
        let (started, decided) = (at(day, 7, 0), at(day, 12, 0));
        let counter = self.staff.pharmacist;
        let take = sql::stock_take(
            tx,
            self.main,
            counter,
            self.staff.admin,
            (&started, &decided),
        )
        .await?;
        let batches = sql::batches_on_hand(tx, self.main).await?;
        for (n, (batch, drug, system)) in batches.into_iter().enumerate() {
            let variance = match n % 41 {
                7 => -self.rng.random_range(1..4_i64).min(system),
                23 => 1,
                _ => 0,
            };
            let counted = system + variance;
            let line =
                sql::stock_take_line(tx, take, batch, drug, system, counted, counter, &started)
                    .await?;
            if variance != 0 {
                let reference = format!("stock_take_line:{line}");
                stock::post(
                    tx,
                    &Movement {
                        batch,
                        quantity: variance,
                        kind: Kind::StockTake,
                        reference: &reference,
                        reason: Some("stock take"),
                        user: self.staff.admin,
                        at: &decided,
                        usable_on: None,
                    },
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Reorder and maximum levels per store and item: about two weeks' and two months' use of
    /// a moving item, a pack and a few packs of the others, and a few items left below their
    /// reorder level so the card has something to show.
    pub async fn levels(&mut self, tx: &mut Tx, now: &str) -> Result<()> {
        let on_hand: HashMap<(i64, i64), i64> = sql::on_hand(tx)
            .await?
            .into_iter()
            .map(|(s, d, q)| ((s, d), q))
            .collect();
        let months = self.months.len().max(1) as i64;
        let mut slow = 0;
        for idx in 0..self.items.len() {
            if !self.moving[idx] {
                slow += 1;
            }
            let drug = &self.items[idx].drug;
            let monthly: i64 = (0..self.months.len())
                .map(|m| self.need.get(&(m, idx)).copied().unwrap_or(0))
                .sum::<i64>()
                / months;
            for store in [self.main, self.dispensary] {
                let (mut reorder, maximum) = if self.moving[idx] && monthly > 0 {
                    ((monthly / 2).max(1), monthly * 2)
                } else {
                    (drug.pack_size, drug.pack_size * 6)
                };
                if !self.moving[idx] && slow % 40 == 5 {
                    let held = on_hand.get(&(store, drug.id)).copied().unwrap_or(0);
                    reorder = reorder.max(held + drug.pack_size);
                }
                sql::store_level(tx, store, drug.id, (reorder, maximum.max(reorder)), now).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_the_last_day_of_the_month_and_packs_round_up() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(expiry_after(d(2026, 1, 15), 1), d(2026, 2, 28));
        assert_eq!(expiry_after(d(2026, 11, 3), 18), d(2028, 5, 31));
        assert_eq!(in_packs(101, 100), (2, 200));
        assert_eq!(in_packs(0, 24), (1, 24));
        assert_eq!(in_packs(7, 1), (7, 7));
    }
}
