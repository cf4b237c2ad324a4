//! The catalogue's records as every area reads them: a drug and a store, and the charge item a
//! drug is sold under.

use serde::Serialize;
use sqlx::Row;

use hms_core::charges::{self, ChargeError, ChargeItem};
use hms_core::db::{Db, DbError, Tx};
use hms_core::money::Money;

use crate::catalogue::DrugFields;

/// A drug of the catalogue: its id and its fields (read through, as `drug.code`).
#[derive(Debug, Clone, Serialize)]
pub struct Drug {
    pub id: i64,
    #[serde(flatten)]
    pub fields: DrugFields,
}

impl std::ops::Deref for Drug {
    type Target = DrugFields;

    fn deref(&self) -> &DrugFields {
        &self.fields
    }
}

impl Drug {
    /// "Amoxicillin 500 mg capsule".
    pub fn display(&self) -> String {
        [
            self.generic_name.as_str(),
            self.strength.as_str(),
            self.form.as_str(),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// The code of the charge item it is sold under.
    pub fn charge_code(&self) -> String {
        charge_code(&self.code)
    }
}

/// `pharmacy.drug.<code>`.
pub fn charge_code(drug_code: &str) -> String {
    format!("pharmacy.drug.{drug_code}")
}

/// `SELECT` of the columns [`drug_from`] reads from `drugs d`, then `$tail` (a literal).
#[macro_export]
macro_rules! select_drugs {
    ($tail:literal) => {
        concat!(
            "SELECT d.id, d.code, d.generic_name, d.strength, d.form, d.unit, d.pack_size, ",
            "d.route, d.drug_class, d.allergy_groups, d.moh717, d.controlled, ",
            "d.prescription_only, d.level_of_care, d.price_cents, d.brands, d.active FROM drugs d ",
            $tail
        )
    };
}

pub fn drug_from(r: &sqlx::any::AnyRow) -> Drug {
    DrugFields {
        code: r.get(1),
        generic_name: r.get(2),
        strength: r.get(3),
        form: r.get(4),
        unit: r.get(5),
        pack_size: r.get(6),
        route: r.get(7),
        drug_class: r.get(8),
        allergy_groups: r.get(9),
        moh717: r.get(10),
        controlled: r.get::<i64, _>(11) != 0,
        prescription_only: r.get::<i64, _>(12) != 0,
        level_of_care: r.get(13),
        price_cents: r.get(14),
        brands: r.get(15),
        active: r.get::<i64, _>(16) != 0,
    }
    .drug(r.get(0))
}

/// A drug by id.
pub async fn drug(db: &Db, id: i64) -> Result<Option<Drug>, DbError> {
    Ok(sqlx::query(select_drugs!("WHERE d.id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .map(|r| drug_from(&r)))
}

/// A drug by its code (an order's `code`).
pub async fn drug_by_code(db: &Db, code: &str) -> Result<Option<Drug>, DbError> {
    Ok(sqlx::query(select_drugs!("WHERE d.code = $1"))
        .bind(code)
        .fetch_optional(db.read())
        .await?
        .map(|r| drug_from(&r)))
}

/// Publishes (or updates) the charge item a drug is sold under, in the transaction that saves
/// the drug.
pub async fn publish_charge_item(tx: &mut Tx, drug: &Drug) -> Result<(), ChargeError> {
    let item = ChargeItem {
        code: drug.charge_code(),
        name: drug.display(),
        unit: drug.unit.clone(),
        price: Money::from_cents(drug.price_cents),
    };
    charges::publish_item(tx, "pharmacy", &item).await
}

/// A store: the main store or a dispensary.
#[derive(Debug, Clone, Serialize)]
pub struct Store {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// `main` or `dispensary`.
    pub kind: String,
    pub active: bool,
}

/// Every store, active ones first, then by name.
pub async fn stores(db: &Db) -> Result<Vec<Store>, DbError> {
    let rows = sqlx::query(
        "SELECT id, code, name, kind, active FROM stores ORDER BY active DESC, name, id",
    )
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Store {
            id: r.get(0),
            code: r.get(1),
            name: r.get(2),
            kind: r.get(3),
            active: r.get::<i64, _>(4) != 0,
        })
        .collect())
}

/// One store by id.
pub async fn store(db: &Db, id: i64) -> Result<Option<Store>, DbError> {
    Ok(stores(db).await?.into_iter().find(|s| s.id == id))
}
