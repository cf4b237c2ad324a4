//! Charges: what a patient was charged, posted by the department that did the work in the
//! transaction of the act (a check-in posts the consultation fee, a dispense posts the drugs).
//!
//! `charge_items` is the price list: each module publishes the items it sells
//! ([`publish_item`]). `charges` is a ledger: rows are never updated or deleted (database
//! triggers refuse both); a mistake or a return is a reversal, a new row with a negative
//! quantity ([`reverse`]). `UNIQUE (source, source_ref)` makes a retried post return the charge
//! it already made, so a double click or a retried request never charges twice.
//!
//! Whether a service may go ahead before payment is billing's call: [`clearance`] asks the
//! enabled module that answers it (see [`crate::module::Module::clearance`]); with none, every
//! charge is [`Clearance::NotNeeded`].

use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{self, Actor, Event};
use crate::db::{Db, DbError, Tx};
use crate::ids::{ChargeId, PatientId, UserId, VisitId};
use crate::module::Registry;
use crate::money::Money;

/// The source of reversal rows; their `source_ref` is `<charge id>/<reversal ref>`.
pub const REVERSAL: &str = "reversal";

/// Something that can be charged, as its module publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChargeItem {
    /// Dotted, starting with the module: `lab.test.fbc`, `appointments.consultation`.
    pub code: String,
    pub name: String,
    /// What one is: "test", "tablet", "visit".
    pub unit: String,
    /// The default cash price of one.
    pub price: Money,
}

/// A charge to post.
#[derive(Debug, Clone)]
pub struct NewCharge {
    pub patient: PatientId,
    pub visit: Option<VisitId>,
    pub item: String,
    pub quantity: i64,
    /// The price of one; the item's price when `None`.
    pub unit_price: Option<Money>,
    pub service_point: Option<String>,
    /// What caused it: the posting module's kind of record (`visit.checkin`, `order`) and its id.
    pub source: String,
    pub source_ref: String,
}

/// A posted charge (or reversal: negative quantity, `reverses` set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Charge {
    pub id: ChargeId,
    pub patient: PatientId,
    pub visit: Option<VisitId>,
    pub item: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub amount: Money,
    pub service_point: Option<String>,
    pub source: String,
    pub source_ref: String,
    pub reverses: Option<ChargeId>,
    pub posted_by: Option<UserId>,
    pub posted_at: String,
}

/// Whether a service may go ahead, as far as payment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Clearance {
    /// Nothing to pay first (no billing module, credit, insurance, or waived).
    NotNeeded,
    Cleared,
    /// This much is still to be paid.
    Awaiting(Money),
}

#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    #[error("no charge item {0}")]
    UnknownItem(String),
    #[error("no charge {0} to reverse")]
    UnknownCharge(ChargeId),
    #[error("invalid {field}: {key}")]
    Invalid {
        field: &'static str,
        key: &'static str,
    },
    /// A reversal would take back more than was charged.
    #[error("reversal of {wanted} would exceed the {left} left of the charge")]
    TooMuch { wanted: i64, left: i64 },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ChargeError {
    fn from(e: sqlx::Error) -> Self {
        ChargeError::Db(e.into())
    }
}

impl ChargeError {
    /// The message for the reader, in their language.
    pub fn message(&self) -> String {
        use crate::i18n::t;
        match self {
            ChargeError::UnknownItem(_) => t("charges.error_item"),
            ChargeError::UnknownCharge(_) => t("charges.error_charge"),
            ChargeError::Invalid { key, .. } => t(key),
            ChargeError::TooMuch { .. } => t("charges.error_too_much"),
            ChargeError::Db(e) => e.to_string(),
        }
    }
}

impl From<ChargeError> for crate::AppError {
    fn from(e: ChargeError) -> Self {
        match e {
            ChargeError::Db(db) => db.into(),
            ChargeError::TooMuch { .. } => crate::AppError::Conflict(e.message()),
            other => crate::AppError::BadRequest(other.message()),
        }
    }
}

/// Adds or updates an item of the price list (a module publishes what it sells, at start or
/// when its catalogue changes).
pub async fn publish_item(tx: &mut Tx, module: &str, item: &ChargeItem) -> Result<(), ChargeError> {
    if item.code.trim().is_empty() || item.name.trim().is_empty() {
        return Err(ChargeError::Invalid {
            field: "code",
            key: "charges.error_item_fields",
        });
    }
    if item.price.is_negative() {
        return Err(ChargeError::Invalid {
            field: "price",
            key: "charges.error_price",
        });
    }
    sqlx::query(
        "INSERT INTO charge_items (code, name, unit, price_cents, module, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO UPDATE \
         SET name = $2, unit = $3, price_cents = $4, module = $5, updated_at = $6",
    )
    .bind(item.code.trim())
    .bind(item.name.trim())
    .bind(item.unit.trim())
    .bind(item.price)
    .bind(module)
    .bind(crate::clock::now_rfc3339())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An item of the price list.
pub async fn item(db: &Db, code: &str) -> Result<Option<ChargeItem>, DbError> {
    let row = sqlx::query("SELECT code, name, unit, price_cents FROM charge_items WHERE code = $1")
        .bind(code)
        .fetch_optional(db.read())
        .await?;
    Ok(row.as_ref().map(item_from_row))
}

fn item_from_row(r: &AnyRow) -> ChargeItem {
    ChargeItem {
        code: r.get(0),
        name: r.get(1),
        unit: r.get(2),
        price: r.get(3),
    }
}

/// The columns [`charge_from_row`] reads, then `$tail`.
macro_rules! select_charges {
    ($tail:literal) => {
        concat!(
            "SELECT id, patient_id, visit_id, item_code, quantity, unit_price_cents, ",
            "service_point, source, source_ref, reverses, posted_by, posted_at FROM charges ",
            $tail
        )
    };
}

fn charge_from_row(r: &AnyRow) -> Charge {
    let quantity: i64 = r.get(4);
    let unit_price: Money = r.get(5);
    Charge {
        id: ChargeId(r.get(0)),
        patient: PatientId(r.get(1)),
        visit: r.get::<Option<i64>, _>(2).map(VisitId),
        item: r.get(3),
        quantity,
        unit_price,
        amount: unit_price * quantity,
        service_point: r.get(6),
        source: r.get(7),
        source_ref: r.get(8),
        reverses: r.get::<Option<i64>, _>(9).map(ChargeId),
        posted_by: r.get::<Option<i64>, _>(10).map(UserId),
        posted_at: r.get(11),
    }
}

async fn by_source(tx: &mut Tx, source: &str, source_ref: &str) -> Result<Option<Charge>, DbError> {
    let row = sqlx::query(select_charges!("WHERE source = $1 AND source_ref = $2"))
        .bind(source)
        .bind(source_ref)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.as_ref().map(charge_from_row))
}

/// A charge by id.
pub async fn get(db: &Db, id: ChargeId) -> Result<Option<Charge>, DbError> {
    let row = sqlx::query(select_charges!("WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    Ok(row.as_ref().map(charge_from_row))
}

/// A visit's charges and reversals, in the order posted.
pub async fn for_visit(db: &Db, visit: VisitId) -> Result<Vec<Charge>, DbError> {
    let rows = sqlx::query(select_charges!("WHERE visit_id = $1 ORDER BY id"))
        .bind(visit)
        .fetch_all(db.read())
        .await?;
    Ok(rows.iter().map(charge_from_row).collect())
}

struct Row_<'a> {
    patient: PatientId,
    visit: Option<VisitId>,
    item: &'a str,
    quantity: i64,
    unit_price: Money,
    service_point: Option<&'a str>,
    source: &'a str,
    source_ref: &'a str,
    reverses: Option<ChargeId>,
}

/// Inserts a row unless its (source, source_ref) is taken; the stored row either way, and
/// whether this call made it.
async fn insert(tx: &mut Tx, actor: &Actor, row: &Row_<'_>) -> Result<(Charge, bool), ChargeError> {
    let made = sqlx::query(
        "INSERT INTO charges (patient_id, visit_id, item_code, quantity, unit_price_cents, \
         service_point, source, source_ref, reverses, posted_by, posted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (source, source_ref) DO NOTHING RETURNING id",
    )
    .bind(row.patient)
    .bind(row.visit)
    .bind(row.item)
    .bind(row.quantity)
    .bind(row.unit_price)
    .bind(row.service_point)
    .bind(row.source)
    .bind(row.source_ref)
    .bind(row.reverses)
    .bind(actor.user_id)
    .bind(crate::clock::now_rfc3339())
    .fetch_optional(&mut **tx)
    .await?
    .is_some();
    let charge = by_source(tx, row.source, row.source_ref)
        .await?
        .ok_or(DbError::Conflict)?;
    Ok((charge, made))
}

/// Posts a charge in the caller's transaction. Posting the same (source, source_ref) again
/// returns the charge already made: no error, no second row.
pub async fn post(tx: &mut Tx, actor: &Actor, charge: &NewCharge) -> Result<Charge, ChargeError> {
    if charge.quantity < 1 {
        return Err(ChargeError::Invalid {
            field: "quantity",
            key: "charges.error_quantity",
        });
    }
    if charge.source.trim().is_empty() || charge.source_ref.trim().is_empty() {
        return Err(ChargeError::Invalid {
            field: "source",
            key: "charges.error_source",
        });
    }
    let price: Option<Money> = sqlx::query("SELECT price_cents FROM charge_items WHERE code = $1")
        .bind(&charge.item)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.get(0));
    let price = price.ok_or_else(|| ChargeError::UnknownItem(charge.item.clone()))?;
    let (posted, made) = insert(
        tx,
        actor,
        &Row_ {
            patient: charge.patient,
            visit: charge.visit,
            item: &charge.item,
            quantity: charge.quantity,
            unit_price: charge.unit_price.unwrap_or(price),
            service_point: charge.service_point.as_deref(),
            source: &charge.source,
            source_ref: &charge.source_ref,
            reverses: None,
        },
    )
    .await?;
    if made {
        audit_charge(tx, actor, "charge.post", &posted).await?;
    }
    Ok(posted)
}

async fn audit_charge(
    tx: &mut Tx,
    actor: &Actor,
    action: &'static str,
    c: &Charge,
) -> Result<(), DbError> {
    audit::record(
        tx,
        actor,
        Event::new(action, "charge", Some(c.id.get()))
            .patient(c.patient.get())
            .detail(json!({
                "item": c.item,
                "quantity": c.quantity,
                "amount": c.amount.cents(),
                "source": c.source,
                "source_ref": c.source_ref,
                "reverses": c.reverses,
            })),
    )
    .await?;
    Ok(())
}

/// Takes back `quantity` of a charge (a shortfall, a return): a new row with the negative
/// quantity, once per `reversal_ref` (the same ref again returns the same reversal), and never
/// more than is left of the charge. The charge row is locked first (`FOR UPDATE`; SQLite's
/// write transaction holds the database), so two reversals at once cannot both pass the check.
pub async fn reverse(
    tx: &mut Tx,
    actor: &Actor,
    charge: ChargeId,
    quantity: i64,
    reversal_ref: &str,
) -> Result<Charge, ChargeError> {
    if quantity < 1 {
        return Err(ChargeError::Invalid {
            field: "quantity",
            key: "charges.error_quantity",
        });
    }
    if reversal_ref.trim().is_empty() {
        return Err(ChargeError::Invalid {
            field: "reversal_ref",
            key: "charges.error_source",
        });
    }
    let original = lock_charge(tx, charge)
        .await?
        .ok_or(ChargeError::UnknownCharge(charge))?;
    let source_ref = format!("{}/{}", charge.get(), reversal_ref.trim());
    if let Some(done) = by_source(tx, REVERSAL, &source_ref).await? {
        return Ok(done);
    }
    let reversed: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM charges WHERE reverses = $1",
    )
    .bind(charge)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    let left = original.quantity + reversed;
    if quantity > left {
        return Err(ChargeError::TooMuch {
            wanted: quantity,
            left,
        });
    }
    let (posted, made) = insert(
        tx,
        actor,
        &Row_ {
            patient: original.patient,
            visit: original.visit,
            item: &original.item,
            quantity: -quantity,
            unit_price: original.unit_price,
            service_point: original.service_point.as_deref(),
            source: REVERSAL,
            source_ref: &source_ref,
            reverses: Some(charge),
        },
    )
    .await?;
    if made {
        audit_charge(tx, actor, "charge.reverse", &posted).await?;
    }
    Ok(posted)
}

/// The charge to reverse (not itself a reversal), locked until COMMIT on PostgreSQL.
async fn lock_charge(tx: &mut Tx, id: ChargeId) -> Result<Option<Charge>, DbError> {
    let postgres = {
        let conn: &mut sqlx::AnyConnection = tx;
        conn.backend_name().eq_ignore_ascii_case("postgresql")
    };
    let sql = if postgres {
        select_charges!("WHERE id = $1 AND reverses IS NULL FOR UPDATE")
    } else {
        select_charges!("WHERE id = $1 AND reverses IS NULL")
    };
    let row = sqlx::query(sql).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(charge_from_row))
}

/// Whether the service behind (source, source_ref) may go ahead: the answer of the enabled
/// module that decides it (billing), else [`Clearance::NotNeeded`].
pub async fn clearance(
    modules: &Registry,
    db: &Db,
    source: &str,
    source_ref: &str,
) -> Result<Clearance, DbError> {
    for module in modules.enabled() {
        if let Some(answer) = module.clearance(db, source, source_ref) {
            return answer.await;
        }
    }
    Ok(Clearance::NotNeeded)
}

/// Whether `service_point` may hold a patient until payment: the answer of the enabled module
/// that decides it (billing), else `false`. Where it never holds, a department can do its work
/// in one step without asking [`clearance`] per charge.
pub async fn holds_for_payment(
    modules: &Registry,
    db: &Db,
    service_point: &str,
) -> Result<bool, DbError> {
    for module in modules.enabled() {
        if let Some(answer) = module.holds_for_payment(db, service_point) {
            return answer.await;
        }
    }
    Ok(false)
}
