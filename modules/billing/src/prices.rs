//! Schemes and their price lists. A list is a dated version of a scheme's prices, never edited:
//! a change is a new version from a later date, and a charge is priced by the version in force
//! on the day it was posted (Nairobi). An item the version does not list is priced at the
//! department's own price (the charge's unit price) and paid by the patient.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use hms_core::audit::{self, Actor, Event};
use hms_core::db::{Db, DbError, Tx};
use hms_core::money::Money;

use crate::model::PayerClass;
use hms_appointments::api as appts;

#[derive(Debug, Clone, Serialize)]
pub struct Scheme {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub active: bool,
}

fn scheme_at(r: &AnyRow) -> Scheme {
    Scheme {
        id: r.get(0),
        code: r.get(1),
        name: r.get(2),
        kind: r.get(3),
        active: r.get::<i64, _>(4) != 0,
    }
}

/// Every scheme, cash first.
pub async fn schemes(db: &Db) -> Result<Vec<Scheme>, DbError> {
    let rows = sqlx::query("SELECT id, code, name, kind, active FROM billing_schemes ORDER BY id")
        .fetch_all(db.read())
        .await?;
    Ok(rows.iter().map(scheme_at).collect())
}

pub async fn scheme_by_code(tx: &mut Tx, code: &str) -> Result<Option<Scheme>, DbError> {
    let row =
        sqlx::query("SELECT id, code, name, kind, active FROM billing_schemes WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.as_ref().map(scheme_at))
}

pub async fn scheme(db: &Db, id: i64) -> Result<Option<Scheme>, DbError> {
    let row = sqlx::query("SELECT id, code, name, kind, active FROM billing_schemes WHERE id = $1")
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    Ok(row.as_ref().map(scheme_at))
}

/// A scheme's price as listed in the version in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub list_id: i64,
    pub price: Money,
    pub covered: bool,
    pub copay: Money,
    pub scheme_code: Option<String>,
    /// KRA's tax type (A-E, see [`crate::etims::TAX_TYPES`]).
    pub tax_type: String,
}

/// The price of `item` on `day` in `scheme`'s version in force then, if that version lists it.
pub async fn listed(
    tx: &mut Tx,
    scheme: i64,
    item: &str,
    day: NaiveDate,
) -> Result<Option<Listed>, DbError> {
    let row = sqlx::query(
        "SELECT p.list_id, p.price_cents, p.covered, p.copay_cents, p.scheme_code, p.tax_type \
         FROM billing_prices p WHERE p.item_code = $2 AND p.list_id = \
         (SELECT id FROM billing_price_lists WHERE scheme_id = $1 AND effective_from <= $3 \
          ORDER BY effective_from DESC LIMIT 1)",
    )
    .bind(scheme)
    .bind(item)
    .bind(hms_core::dates::text(day))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| Listed {
        list_id: r.get(0),
        price: r.get(1),
        covered: r.get::<i64, _>(2) != 0,
        copay: r.get(3),
        scheme_code: r.get(4),
        tax_type: r.get(5),
    }))
}

/// (payer's share, patient's share) of `quantity` at `unit_price`: a cash patient pays all; a
/// scheme pays a covered item less the co-pay of each unit; what it does not cover, the patient
/// pays.
pub fn split(
    class: PayerClass,
    listed: Option<&Listed>,
    quantity: i64,
    unit_price: Money,
) -> (Money, Money) {
    let amount = unit_price * quantity;
    match (class, listed) {
        (PayerClass::Insured, Some(l)) if l.covered => {
            let copay = if l.copay > unit_price {
                unit_price
            } else {
                l.copay
            };
            let patient = copay * quantity;
            (amount - patient, patient)
        }
        _ => (Money::ZERO, amount),
    }
}

/// A version of a scheme's prices, as listed on screen.
#[derive(Debug, Clone, Serialize)]
pub struct PriceList {
    pub id: i64,
    pub scheme_id: i64,
    pub effective_from: String,
    pub note: Option<String>,
    pub items: i64,
    pub created_at: String,
}

/// A scheme's versions, newest first.
pub async fn lists(db: &Db, scheme: i64) -> Result<Vec<PriceList>, DbError> {
    let rows = sqlx::query(
        "SELECT l.id, l.scheme_id, l.effective_from, l.note, \
         (SELECT COUNT(*) FROM billing_prices p WHERE p.list_id = l.id), l.created_at \
         FROM billing_price_lists l WHERE l.scheme_id = $1 ORDER BY l.effective_from DESC",
    )
    .bind(scheme)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| PriceList {
            id: r.get(0),
            scheme_id: r.get(1),
            effective_from: r.get(2),
            note: r.get(3),
            items: r.get(4),
            created_at: r.get(5),
        })
        .collect())
}

/// One line of a version: item code, price, covered, co-pay, the scheme's own code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceLine {
    pub item: String,
    pub price: Money,
    pub covered: bool,
    pub copay: Money,
    pub scheme_code: Option<String>,
    /// KRA's tax type, A (exempt) unless the line says otherwise.
    pub tax_type: String,
}

/// A version's lines, by item code.
pub async fn lines(db: &Db, list: i64) -> Result<Vec<PriceLine>, DbError> {
    let rows = sqlx::query(
        "SELECT item_code, price_cents, covered, copay_cents, scheme_code, tax_type FROM billing_prices \
         WHERE list_id = $1 ORDER BY item_code",
    )
    .bind(list)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| PriceLine {
            item: r.get(0),
            price: r.get(1),
            covered: r.get::<i64, _>(2) != 0,
            copay: r.get(3),
            scheme_code: r.get(4),
            tax_type: r.get(5),
        })
        .collect())
}

/// Reads a version's lines as typed or pasted, one per line: `item code, price[, covered
/// yes/no][, co-pay][, scheme code][, KRA tax type A-E]`; a header line starting `item` is skipped. Each error is
/// (line number, translation key).
pub fn parse_lines(text: &str) -> Result<Vec<PriceLine>, Vec<(usize, &'static str)>> {
    let mut out: Vec<PriceLine> = Vec::new();
    let mut errors = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || (n == 0 && line.to_ascii_lowercase().starts_with("item")) {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let item = cells[0];
        let valid_code = !item.is_empty()
            && item.len() <= 80
            && item
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
        if !valid_code {
            errors.push((n + 1, "billing_prices.error_item"));
            continue;
        }
        let price = match cells.get(1).map(|p| Money::parse(p)) {
            Some(Ok(p)) if p <= crate::model::MAX_AMOUNT => p,
            _ => {
                errors.push((n + 1, "billing_prices.error_price"));
                continue;
            }
        };
        let covered = match cells.get(2).map(|c| c.to_ascii_lowercase()) {
            None => true,
            Some(c) if c.is_empty() || c == "yes" || c == "ndiyo" || c == "1" => true,
            Some(c) if c == "no" || c == "hapana" || c == "0" => false,
            Some(_) => {
                errors.push((n + 1, "billing_prices.error_covered"));
                continue;
            }
        };
        let copay = match cells
            .get(3)
            .filter(|c| !c.is_empty())
            .map(|c| Money::parse(c))
        {
            None => Money::ZERO,
            Some(Ok(c)) if c <= price => c,
            Some(_) => {
                errors.push((n + 1, "billing_prices.error_copay"));
                continue;
            }
        };
        let scheme_code = cells
            .get(4)
            .filter(|c| !c.is_empty())
            .map(|c| c.chars().take(40).collect());
        let tax_type = match cells.get(5).map(|c| c.to_ascii_uppercase()) {
            None => "A".to_string(),
            Some(c) if c.is_empty() => "A".to_string(),
            Some(c) if crate::etims::TAX_TYPES.iter().any(|(t, _)| *t == c) => c,
            Some(_) => {
                errors.push((n + 1, "billing_prices.error_tax_type"));
                continue;
            }
        };
        if out.iter().any(|l| l.item == item) {
            errors.push((n + 1, "billing_prices.error_duplicate"));
            continue;
        }
        out.push(PriceLine {
            item: item.to_string(),
            price,
            covered,
            copay,
            scheme_code,
            tax_type,
        });
    }
    if out.is_empty() && errors.is_empty() {
        errors.push((0, "billing_prices.error_empty"));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// A version from this date exists already.
    #[error("a version from this date exists")]
    DateTaken,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Adds a version of `scheme`'s prices in force from `from`.
pub async fn add_list(
    tx: &mut Tx,
    actor: &Actor,
    scheme: &Scheme,
    from: NaiveDate,
    note: Option<&str>,
    lines: &[PriceLine],
) -> Result<i64, ListError> {
    let inserted = sqlx::query(
        "INSERT INTO billing_price_lists (scheme_id, effective_from, note, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scheme_id, effective_from) DO NOTHING RETURNING id",
    )
    .bind(scheme.id)
    .bind(hms_core::dates::text(from))
    .bind(note)
    .bind(actor.user_id)
    .bind(hms_core::clock::now_rfc3339())
    .fetch_optional(&mut **tx)
    .await
    .map_err(DbError::from)?;
    let Some(row) = inserted else {
        return Err(ListError::DateTaken);
    };
    let list: i64 = row.get(0);
    for l in lines {
        sqlx::query(
            "INSERT INTO billing_prices (list_id, item_code, price_cents, covered, copay_cents, \
             scheme_code, tax_type) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(list)
        .bind(&l.item)
        .bind(l.price)
        .bind(i64::from(l.covered))
        .bind(l.copay)
        .bind(l.scheme_code.as_deref())
        .bind(&l.tax_type)
        .execute(&mut **tx)
        .await
        .map_err(DbError::from)?;
    }
    audit::record(
        tx,
        actor,
        Event::new("billing.price_list.add", "billing_price_list", Some(list)).detail(json!({
            "scheme": scheme.code,
            "effective_from": hms_core::dates::text(from),
            "items": lines.len(),
        })),
    )
    .await
    .map_err(DbError::from)?;
    Ok(list)
}

/// Adds a scheme (an insurer or a corporate) with the KRA PIN its invoices carry, if any; the
/// code must be new.
pub async fn add_scheme(
    tx: &mut Tx,
    actor: &Actor,
    code: &str,
    name: &str,
    kind: &str,
    kra_pin: Option<&str>,
) -> Result<Option<i64>, DbError> {
    let row = sqlx::query(
        "INSERT INTO billing_schemes (code, name, kind, kra_pin, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO NOTHING RETURNING id",
    )
    .bind(code)
    .bind(name)
    .bind(kind)
    .bind(kra_pin)
    .bind(hms_core::clock::now_rfc3339())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id: i64 = row.get(0);
    audit::record(
        tx,
        actor,
        Event::new("billing.scheme.add", "billing_scheme", Some(id))
            .detail(json!({ "code": code, "name": name, "kind": kind, "kra_pin": kra_pin })),
    )
    .await?;
    Ok(Some(id))
}

/// A company's credit limit (none: no limit) and what it owes now.
pub async fn credit_of(db: &Db, scheme: i64) -> Result<(Option<Money>, Money), DbError> {
    let limit: Option<Money> =
        sqlx::query("SELECT credit_limit_cents FROM billing_schemes WHERE id = $1")
            .bind(scheme)
            .fetch_optional(db.read())
            .await?
            .and_then(|r| r.get(0));
    Ok((limit, crate::bill::owed_by(db.read(), scheme).await?))
}

/// Sets a company's credit limit (none: no limit), audited with what it was; false when the
/// scheme is not a company.
pub async fn set_credit_limit(
    tx: &mut Tx,
    actor: &Actor,
    scheme: i64,
    limit: Option<Money>,
) -> Result<bool, DbError> {
    let before: Option<Option<i64>> = sqlx::query(
        "SELECT credit_limit_cents FROM billing_schemes WHERE id = $1 AND kind = 'corporate'",
    )
    .bind(scheme)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| r.get(0));
    let Some(before) = before else {
        return Ok(false);
    };
    sqlx::query("UPDATE billing_schemes SET credit_limit_cents = $2 WHERE id = $1")
        .bind(scheme)
        .bind(limit)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        actor,
        Event::new(
            "billing.scheme.credit_limit",
            "billing_scheme",
            Some(scheme),
        )
        .detail(json!({ "before": before, "after": limit.map(|l| l.cents()) })),
    )
    .await?;
    Ok(true)
}

/// The charge item check-in posts as the consultation fee when the facility charges one.
pub const CONSULTATION_FEE_ITEM: &str = "appointments.consultation";

/// The facility's consultation fee, posted at check-in: an amount publishes the fee's item at
/// that price and chooses it; none stops the fee (check-in then posts nothing).
pub async fn set_consultation_fee(tx: &mut Tx, fee: Option<Money>) -> Result<(), DbError> {
    let Some(price) = fee else {
        return hms_core::settings::put(tx, appts::CONSULTATION_ITEM, "").await;
    };
    let item = hms_core::charges::ChargeItem {
        code: CONSULTATION_FEE_ITEM.into(),
        name: "Consultation (outpatient)".into(),
        unit: "visit".into(),
        price,
    };
    hms_core::charges::publish_item(tx, "appointments", &item)
        .await
        .map_err(|e| match e {
            hms_core::charges::ChargeError::Db(d) => d,
            _ => DbError::Conflict,
        })?;
    hms_core::settings::put(tx, appts::CONSULTATION_ITEM, CONSULTATION_FEE_ITEM).await
}

/// The consultation fee check-in posts now, if any (the chosen item's price).
pub async fn consultation_fee(db: &Db) -> Result<Option<Money>, DbError> {
    let Some(code) = hms_core::settings::get(db, appts::CONSULTATION_ITEM)
        .await?
        .filter(|c| !c.trim().is_empty())
    else {
        return Ok(None);
    };
    Ok(hms_core::charges::item(db, code.trim())
        .await?
        .map(|i| i.price))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_with_defaults_and_each_error_names_its_line() {
        let ok = parse_lines("item,price\nlab.test.fbc, 500\nappointments.consultation,1000,no\nx.y,200,yes,50,SHA-01\n").unwrap();
        assert_eq!(ok.len(), 3);
        assert!(ok[0].covered && ok[0].copay == Money::ZERO);
        assert!(!ok[1].covered);
        assert_eq!(ok[2].copay, Money::from_cents(5000));
        assert_eq!(ok[2].scheme_code.as_deref(), Some("SHA-01"));
        let taxed = parse_lines("v,100,yes,,,b\nu,100").unwrap();
        assert_eq!(
            (taxed[0].tax_type.as_str(), taxed[1].tax_type.as_str()),
            ("B", "A")
        );
        let bad =
            parse_lines("a b,5\nx,abc\ny,5,maybe\nz,5,yes,9\nw,5\nw,6\nt,5,yes,0,,F").unwrap_err();
        assert_eq!(
            bad,
            vec![
                (1, "billing_prices.error_item"),
                (2, "billing_prices.error_price"),
                (3, "billing_prices.error_covered"),
                (4, "billing_prices.error_copay"),
                (6, "billing_prices.error_duplicate"),
                (7, "billing_prices.error_tax_type"),
            ]
        );
        assert_eq!(
            parse_lines(" \n").unwrap_err(),
            vec![(0, "billing_prices.error_empty")]
        );
    }

    #[test]
    fn a_scheme_pays_covered_items_less_the_copay_and_the_patient_the_rest() {
        let listed = Listed {
            list_id: 1,
            price: Money::from_cents(1000),
            covered: true,
            copay: Money::from_cents(200),
            scheme_code: None,
            tax_type: "A".into(),
        };
        let price = Money::from_cents(1000);
        assert_eq!(
            split(PayerClass::Insured, Some(&listed), 3, price),
            (Money::from_cents(2400), Money::from_cents(600))
        );
        assert_eq!(
            split(PayerClass::Cash, Some(&listed), 3, price),
            (Money::ZERO, Money::from_cents(3000))
        );
        let uncovered = Listed {
            covered: false,
            ..listed.clone()
        };
        assert_eq!(
            split(PayerClass::Insured, Some(&uncovered), 1, price),
            (Money::ZERO, price)
        );
        assert_eq!(
            split(PayerClass::Insured, None, 2, price),
            (Money::ZERO, Money::from_cents(2000))
        );
        // A reversal splits the same way, negative.
        assert_eq!(
            split(PayerClass::Insured, Some(&listed), -1, price),
            (Money::from_cents(-800), Money::from_cents(-200))
        );
    }
}
