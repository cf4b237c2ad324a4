//! Each report as a [`Table`]: the consumption report's lines, stock on hand at cost and at
//! price, the daily dispensing register, the controlled-drug register, the expiry report and
//! the MOH 717 D counts.

use std::collections::HashMap;

use chrono::NaiveDate;

use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_patients::api as patients;

use super::consumption::{self, expiry_month};
use super::{ksh, n, Month, Table};
use crate::repo::reports as repo;

/// The consumption report of `store` for `month`.
pub async fn consumption(
    db: &Db,
    store: i64,
    month: Month,
    today: NaiveDate,
) -> Result<Table, DbError> {
    let lines = consumption::build(db, store, month, today).await?;
    let mut table = Table::new(&[
        ("col_code", false),
        ("col_drug", false),
        ("col_unit", false),
        ("col_opening", true),
        ("col_received", true),
        ("col_dispensed", true),
        ("col_losses", true),
        ("col_positive", true),
        ("col_negative", true),
        ("col_closing", true),
        ("col_earliest_expiry", false),
        ("col_expiring_6m", true),
        ("col_to_request", true),
        ("col_days_out", true),
    ]);
    table.rows = lines
        .iter()
        .map(|l| {
            vec![
                l.code.clone(),
                l.name.clone(),
                l.unit.clone(),
                n(l.opening),
                n(l.received),
                n(l.dispensed),
                n(l.losses),
                n(l.positive),
                n(l.negative),
                n(l.closing),
                l.earliest_expiry
                    .as_deref()
                    .map(expiry_month)
                    .unwrap_or_default(),
                n(l.expiring_6m),
                n(l.to_request),
                n(l.days_out),
            ]
        })
        .collect();
    Ok(table)
}

/// Stock on hand per drug in `store` (0: every store), at cost (each batch's unit cost) and at
/// the drug's price; expired units are counted apart and included.
pub async fn stock_on_hand(db: &Db, store: i64, today: NaiveDate) -> Result<Table, DbError> {
    let today = today.format("%Y-%m-%d").to_string();
    let figures: HashMap<i64, repo::OnHand> = repo::on_hand(db, store, &today)
        .await?
        .into_iter()
        .map(|o| (o.drug, o))
        .collect();
    let drugs = repo::drugs_in_stock(db, store).await?;
    let mut table = Table::new(&[
        ("col_code", false),
        ("col_drug", false),
        ("col_unit", false),
        ("col_on_hand", true),
        ("col_expired", true),
        ("col_value_cost", true),
        ("col_price", true),
        ("col_value_price", true),
    ]);
    let (mut cost, mut price) = (0i64, 0i64);
    for d in drugs {
        let Some(f) = figures.get(&d.id) else {
            continue;
        };
        let at_price = f.on_hand * d.price_cents;
        cost += f.cost_cents;
        price += at_price;
        table.rows.push(vec![
            d.code.clone(),
            d.display(),
            d.unit.clone(),
            n(f.on_hand),
            n(f.expired),
            ksh(f.cost_cents),
            ksh(d.price_cents),
            ksh(at_price),
        ]);
    }
    if !table.rows.is_empty() {
        table.totals = Some(vec![
            String::new(),
            t("pharmacy_reports.total"),
            String::new(),
            String::new(),
            String::new(),
            ksh(cost),
            String::new(),
            ksh(price),
        ]);
    }
    Ok(table)
}

/// Names of patients and walk-ins, read through the patients module in one batch.
async fn names(
    db: &Db,
    ids: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, (String, String)>, DbError> {
    let mut ids: Vec<PatientId> = ids.map(PatientId).collect();
    ids.sort_unstable_by_key(|p| p.get());
    ids.dedup();
    Ok(patients::cards(db, &ids)
        .await?
        .into_iter()
        .map(|c| (c.id.get(), (c.number, c.full_name)))
        .collect())
}

fn who(
    names: &HashMap<i64, (String, String)>,
    patient: Option<i64>,
    walk_in: Option<&str>,
) -> (String, String) {
    match patient.and_then(|p| names.get(&p)) {
        Some((number, name)) => (number.clone(), name.clone()),
        None => (
            String::new(),
            walk_in
                .filter(|w| !w.trim().is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| t("pharmacy_reports.walk_in")),
        ),
    }
}

/// The dispensing register of `day`: every line issued that day from `store` (0: every store),
/// in issue order. Returns the table and how many patients it names.
pub async fn dispensing_register(db: &Db, store: i64, day: Day) -> Result<(Table, usize), DbError> {
    let (from, to) = hms_core::module::FigureRange::days(day, day).utc_bounds();
    let lines = repo::issued_lines(db, store, &from, &to).await?;
    let names = names(db, lines.iter().filter_map(|l| l.patient)).await?;
    let mut table = Table::new(&[
        ("col_time", false),
        ("col_dispense", false),
        ("col_kind", false),
        ("col_patient_number", false),
        ("col_patient", false),
        ("col_drug", false),
        ("col_issued", true),
        ("col_returned", true),
        ("col_unit", false),
        ("col_instructions", false),
        ("col_amount", true),
        ("col_dispenser", false),
    ]);
    let mut amount = 0i64;
    for l in &lines {
        let (number, name) = who(&names, l.patient, l.walk_in_name.as_deref());
        let value = (l.issued - l.returned) * l.price_cents;
        amount += value;
        table.rows.push(vec![
            time_of(&l.issued_at),
            n(l.dispense),
            t(&format!("pharmacy_reports.kind_{}", l.kind)),
            number,
            name,
            l.drug_name.clone(),
            n(l.issued),
            n(l.returned),
            l.unit.clone(),
            l.instructions.clone(),
            ksh(value),
            l.issued_by.clone().unwrap_or_default(),
        ]);
    }
    if !table.rows.is_empty() {
        let mut totals = vec![String::new(); table.columns.len()];
        totals[1] = t("pharmacy_reports.total");
        totals[10] = ksh(amount);
        table.totals = Some(totals);
    }
    Ok((table, names.len()))
}

/// `HH:MM` in Nairobi of a stored time.
fn time_of(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| {
            hms_core::clock::to_local(t.to_utc())
                .format("%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// `dd/mm/yyyy HH:MM` in Nairobi of a stored time.
fn when(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| {
            hms_core::clock::to_local(t.to_utc())
                .format("%d/%m/%Y %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// The controlled-drug register of `store` for `month`: per controlled drug its opening
/// balance, then every movement with the balance after it, the patient for each dispense and
/// who moved it. Returns the table and how many patients it names.
pub async fn controlled(db: &Db, store: i64, month: Month) -> Result<(Table, usize), DbError> {
    let (from, to) = month.utc_bounds();
    let rows = repo::controlled_rows(db, store, &from, &to).await?;
    let (now, since) = repo::controlled_balances(db, store, &from).await?;
    let since: HashMap<i64, i64> = since.into_iter().collect();
    let mut balance: HashMap<i64, i64> = now
        .into_iter()
        .map(|(d, q)| (d, q - since.get(&d).copied().unwrap_or(0)))
        .collect();
    let recipients: HashMap<i64, (Option<i64>, Option<String>)> =
        repo::controlled_recipients(db, store, &from, &to)
            .await?
            .into_iter()
            .map(|(line, p, w)| (line, (p, w)))
            .collect();
    let names = names(db, recipients.values().filter_map(|(p, _)| *p)).await?;
    let mut table = Table::new(&[
        ("col_drug", false),
        ("col_when", false),
        ("col_movement", false),
        ("col_batch", false),
        ("col_in", true),
        ("col_out", true),
        ("col_balance", true),
        ("col_patient", false),
        ("col_by", false),
    ]);
    let mut current: Option<i64> = None;
    for r in &rows {
        if current != Some(r.drug) {
            current = Some(r.drug);
            table.rows.push(vec![
                r.drug_name.clone(),
                month.first.format("%d/%m/%Y").to_string(),
                t("pharmacy_reports.opening_balance"),
                String::new(),
                String::new(),
                String::new(),
                n(balance.get(&r.drug).copied().unwrap_or(0)),
                String::new(),
                String::new(),
            ]);
        }
        let b = balance.entry(r.drug).or_default();
        *b += r.quantity;
        let line_id = r
            .reference
            .strip_prefix("dispense_line:")
            .and_then(|id| id.parse::<i64>().ok());
        let patient = line_id
            .and_then(|id| recipients.get(&id))
            .map(|(p, w)| {
                let (number, name) = who(&names, *p, w.as_deref());
                [number, name].join(" ").trim().to_string()
            })
            .unwrap_or_default();
        let movement = match &r.reason {
            Some(reason) if !reason.is_empty() => {
                format!(
                    "{} ({reason})",
                    t(&format!("pharmacy_reports.kind_{}", r.kind))
                )
            }
            _ => t(&format!("pharmacy_reports.kind_{}", r.kind)),
        };
        table.rows.push(vec![
            r.drug_name.clone(),
            when(&r.at),
            movement,
            format!("{} · {}", r.batch_no, expiry_month(&r.expiry)),
            if r.quantity > 0 {
                n(r.quantity)
            } else {
                String::new()
            },
            if r.quantity < 0 {
                n(-r.quantity)
            } else {
                String::new()
            },
            n(*b),
            patient,
            r.user.clone().unwrap_or_default(),
        ]);
    }
    Ok((table, names.len()))
}

/// Batches holding stock that expired or expire within `within` days of `today`, in `store`
/// (0: every store), earliest first, with their value at cost.
pub async fn expiry(db: &Db, store: i64, within: i64, today: NaiveDate) -> Result<Table, DbError> {
    let until = hms_core::dates::shift(today, within)
        .format("%Y-%m-%d")
        .to_string();
    let batches = repo::expiring(db, store, "0000-01-01", &until, 5_000).await?;
    let mut table = Table::new(&[
        ("col_store", false),
        ("col_drug", false),
        ("col_batch", false),
        ("col_expiry", false),
        ("col_days_left", true),
        ("col_on_hand", true),
        ("col_unit", false),
        ("col_value_cost", true),
    ]);
    let mut value = 0i64;
    for b in &batches {
        let days = NaiveDate::parse_from_str(&b.expiry, "%Y-%m-%d")
            .map(|e| (e - today).num_days())
            .unwrap_or(0);
        let cost = b.on_hand * b.unit_cost_cents;
        value += cost;
        table.rows.push(vec![
            b.store_name.clone(),
            b.drug_name.clone(),
            b.batch_no.clone(),
            NaiveDate::parse_from_str(&b.expiry, "%Y-%m-%d")
                .map(|e| e.format("%d/%m/%Y").to_string())
                .unwrap_or_default(),
            if days < 0 {
                t("pharmacy_reports.expired")
            } else {
                n(days)
            },
            n(b.on_hand),
            b.unit.clone(),
            ksh(cost),
        ]);
    }
    if !table.rows.is_empty() {
        let mut totals = vec![String::new(); table.columns.len()];
        totals[1] = t("pharmacy_reports.total");
        totals[7] = ksh(value);
        table.totals = Some(totals);
    }
    Ok(table)
}

/// Prescriptions of `month` per MOH 717 D line.
pub async fn moh717(db: &Db, month: Month) -> Result<Table, DbError> {
    let counts = crate::reporting::moh717_counts(db, &month.range()).await?;
    let mut table = Table::new(&[
        ("col_line", false),
        ("col_what", false),
        ("col_prescriptions", true),
    ]);
    for (line, key, value) in [
        ("D.1", "moh717_d1", counts.common),
        ("D.2", "moh717_d2", counts.antibiotic),
        ("D.3", "moh717_d3", counts.special),
        ("D.4", "moh717_d4", counts.children),
    ] {
        table.rows.push(vec![
            line.to_string(),
            t(&format!("pharmacy_reports.{key}")),
            n(value),
        ]);
    }
    table.totals = Some(vec![
        String::new(),
        t("pharmacy_reports.moh717_all"),
        n(counts.all),
    ]);
    Ok(table)
}
