//! The drug catalogue: drugs with their dispensing unit, pack size, allergy groups and MOH 717
//! category, the starter list in `data/`, CSV import; stores, suppliers and reorder levels; what
//! prescribers see while ordering (usable stock per dispensary).
//!
//! Every save of a drug publishes its charge item (`pharmacy.drug.<code>`) in the same
//! transaction, so the price list never lags the catalogue.

mod fields;
pub mod import;

use chrono::NaiveDate;
use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::day::Day;
use hms_core::db::{Db, DbError, Tx};
use hms_core::module::Orderable;
use hms_core::money::Money;

pub use crate::repo::catalogue::stock::DrugStock;
pub use fields::{read, DrugFields, FIELDS, MOH717};

use crate::model;
use crate::repo::catalogue as repo;

/// Most drugs a search offers.
pub const SEARCH_LIMIT: i64 = 20;
/// Days ahead within which usable stock is flagged as expiring.
pub const EXPIRY_WARNING_DAYS: i64 = 90;

/// The starter list shipped with HMS (see `data/README.md`).
pub const STARTER_CSV: &str = include_str!("../data/drugs.csv");

/// Active drugs whose name, code or brand contains `q`, with their usable (unexpired) stock
/// in `store`, or in every active dispensary when `store` is `None`; for any screen that
/// picks a drug. An empty `q` finds nothing.
pub async fn search(
    db: &Db,
    q: &str,
    store: Option<i64>,
    limit: i64,
) -> Result<Vec<DrugStock>, DbError> {
    let q = q.trim();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let today = Day::today().date();
    repo::stock::search(db, &repo::like_pattern(q), None, store, today, limit).await
}

fn orderable_of(d: DrugStock) -> Orderable {
    Orderable {
        code: d.code,
        name: d.name,
        unit: d.unit,
        price: Some(Money::from_cents(d.price_cents)),
        stock: Some(d.usable),
    }
}

/// Catalogue entries matching `query` with their usable (unexpired) stock in the dispensaries,
/// for prescribers: a stock-out shows before the patient walks over.
pub async fn orderables(db: &Db, query: &str) -> Result<Vec<Orderable>, DbError> {
    Ok(search(db, query, None, SEARCH_LIMIT)
        .await?
        .into_iter()
        .map(orderable_of)
        .collect())
}

/// One active catalogue entry by code, with its usable stock in the dispensaries.
pub async fn orderable(db: &Db, code: &str) -> Result<Option<Orderable>, DbError> {
    let today = Day::today().date();
    Ok(repo::stock::search(db, "", Some(code), None, today, 1)
        .await?
        .into_iter()
        .next()
        .map(orderable_of))
}

/// A count of units for people: `1,240`.
pub fn units(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A serialized record with more fields beside its own (what a screen shows of it).
pub fn with<T: serde::Serialize>(record: &T, more: serde_json::Value) -> serde_json::Value {
    let mut v = serde_json::to_value(record).unwrap_or_default();
    if let (Some(map), serde_json::Value::Object(extra)) = (v.as_object_mut(), more) {
        map.extend(extra);
    }
    v
}

/// The last day of the expiry warning window that starts on `today`.
pub fn warning_end(today: NaiveDate) -> NaiveDate {
    hms_core::dates::shift(today, EXPIRY_WARNING_DAYS)
}

/// What saving a drug did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Created(i64),
    Updated,
    /// Nothing to change.
    Unchanged,
    /// A new drug whose code is taken.
    CodeTaken,
    /// The drug changed since the editor opened it (or is gone).
    Stale,
}

/// Adds a drug, publishes its charge item and audits it, in `tx`.
pub async fn create(
    tx: &mut Tx,
    f: &DrugFields,
    actor: &Actor,
    now: &str,
) -> Result<Saved, DbError> {
    let Some(id) = repo::insert_drug(tx, f, now).await? else {
        return Ok(Saved::CodeTaken);
    };
    publish(tx, &f.drug(id)).await?;
    audit::record(
        tx,
        actor,
        Event::new("pharmacy.drug_create", "drug", Some(id)).detail(json!({ "after": f })),
    )
    .await?;
    Ok(Saved::Created(id))
}

/// Saves a drug's fields over `before` (guarded by `seen`, the `updated_at` the editor saw;
/// `None` for imports), republishes its charge item and audits before and after, in `tx`.
pub async fn update(
    tx: &mut Tx,
    before: &model::Drug,
    seen: Option<&str>,
    f: &DrugFields,
    actor: &Actor,
    now: &str,
) -> Result<Saved, DbError> {
    let mut f = f.clone();
    f.code = before.code.clone();
    let old = DrugFields::of(before);
    if old == f && seen.is_none() {
        return Ok(Saved::Unchanged);
    }
    if !repo::update_drug(tx, before.id, seen, &f, now).await? {
        return Ok(Saved::Stale);
    }
    publish(tx, &f.drug(before.id)).await?;
    audit::record(
        tx,
        actor,
        Event::new("pharmacy.drug_edit", "drug", Some(before.id))
            .detail(json!({ "before": old, "after": f })),
    )
    .await?;
    Ok(Saved::Updated)
}

async fn publish(tx: &mut Tx, drug: &model::Drug) -> Result<(), DbError> {
    model::publish_charge_item(tx, drug)
        .await
        .map_err(|e| match e {
            hms_core::charges::ChargeError::Db(db) => db,
            // The fields were checked: a refusal here is a bug, not a typing slip.
            other => DbError::from(sqlx::Error::Protocol(other.to_string())),
        })
}

/// Loads the starter list: adds every drug of it whose code is not in the catalogue yet (a
/// drug already there is left as the facility keeps it). Returns how many were added. Safe to
/// run twice, or twice at once.
pub async fn load_starter(db: &Db, actor: &Actor) -> Result<usize, DbError> {
    let parsed = import::parse(STARTER_CSV.as_bytes()).expect("the shipped starter list reads");
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    let mut added = 0;
    for row in &parsed.rows {
        let fields = match import::check(row, &parsed.headers) {
            Ok(f) => f,
            Err(_) => continue,
        };
        if let Saved::Created(_) = create_quietly(&mut tx, &fields, &now).await? {
            added += 1;
        }
    }
    if added > 0 {
        audit::record(
            &mut tx,
            actor,
            Event::new("pharmacy.catalogue_starter", "drug", None)
                .detail(json!({ "added": added })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(added)
}

/// Adds a drug and its charge item without an audit row of its own (the caller audits the
/// batch it belongs to: the starter list, an import, the demo's stock list).
pub(crate) async fn create_quietly(
    tx: &mut Tx,
    f: &DrugFields,
    now: &str,
) -> Result<Saved, DbError> {
    let Some(id) = repo::insert_drug(tx, f, now).await? else {
        return Ok(Saved::CodeTaken);
    };
    publish(tx, &f.drug(id)).await?;
    Ok(Saved::Created(id))
}

#[cfg(test)]
mod tests {
    #[test]
    fn units_are_grouped_by_thousands() {
        assert_eq!(super::units(0), "0");
        assert_eq!(super::units(999), "999");
        assert_eq!(super::units(1240), "1,240");
        assert_eq!(super::units(-1234567), "-1,234,567");
    }

    #[test]
    fn every_row_of_the_starter_list_is_a_valid_drug_with_a_unique_code() {
        let parsed = super::import::parse(super::STARTER_CSV.as_bytes()).unwrap();
        assert!(parsed.rows.len() >= 120, "{}", parsed.rows.len());
        let mut codes = std::collections::HashSet::new();
        for row in &parsed.rows {
            let f = super::import::check(row, &parsed.headers)
                .unwrap_or_else(|e| panic!("line {}: {:?}", row.line, e));
            assert!(codes.insert(f.code.clone()), "{} twice", f.code);
        }
    }
}
