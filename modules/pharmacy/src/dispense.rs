//! Dispensing: the pharmacy queue (core `drug` orders placed or part done), preparing line by
//! line with charges, issuing after clearance (stock moves only here, first expiry first out),
//! partial dispenses, closing balances, returns, over-the-counter sales; the chart's timeline
//! entries and its medicines panel.
//!
//! Preparing moves the orders to `in_progress` and posts one charge per line; issuing asks
//! `charges::clearance` (a cash patient may pay in between), then takes the stock with the
//! stock writer's guarded updates and advances each order's `quantity_done` in the same
//! transaction. Without a module that decides clearance (billing), or for an emergency, prepare
//! and issue are one transaction: one click. Locks are taken in one order everywhere: the
//! dispense, then its orders by id, then batches by (drug, expiry, id).

mod chart;
mod issue;
mod prepare;
mod returns;
mod sale;

use hms_core::db::DbError;
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::AppError;

pub use chart::{said, timeline, PANELS, PANEL_DAYS};
pub use issue::{cancel, issue};
pub use prepare::{prepare, Prepare, Want};
pub use returns::{close_balance, return_line, CloseReason};
pub use sale::{sell, Sale, SaleLine};

/// The charge source of dispensed lines; `source_ref` is `dispense_line:<id>`.
pub const CHARGE_SOURCE: &str = "pharmacy.dispense";
/// The queue's service point.
pub const POINT: &str = "pharmacy";
/// The most units a line may ask for.
pub const MAX_UNITS: i64 = 100_000;

/// A line that could not be filled from stock: how much was wanted, how much there is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Shortfall {
    /// The order (prescriptions) or the drug (sales) the line is for.
    pub order: Option<i64>,
    pub drug: i64,
    pub drug_name: String,
    pub wanted: i64,
    pub available: i64,
}

/// Why a dispense could not be made or moved.
#[derive(Debug)]
pub enum DispenseError {
    /// Bad input: messages per field (422), nothing changed.
    Invalid(FormErrors),
    /// Not enough stock (409): what is there, to offer a partial dispense.
    Short(Vec<Shortfall>),
    /// Someone else moved it first, or it is not in a state for this (409).
    Conflict(String),
    NotFound,
    Db(DbError),
}

impl From<DbError> for DispenseError {
    fn from(e: DbError) -> Self {
        DispenseError::Db(e)
    }
}

impl From<sqlx::Error> for DispenseError {
    fn from(e: sqlx::Error) -> Self {
        DispenseError::Db(e.into())
    }
}

impl From<hms_core::orders::OrderError> for DispenseError {
    fn from(e: hms_core::orders::OrderError) -> Self {
        use hms_core::orders::OrderError;
        match e {
            OrderError::Db(DbError::Conflict) => {
                DispenseError::Conflict(t("pharmacy_dispense.error_order_moved"))
            }
            OrderError::Db(db) => DispenseError::Db(db),
            OrderError::Invalid { field, .. } => {
                let mut errors = FormErrors::new();
                errors.add(field, e.message());
                DispenseError::Invalid(errors)
            }
        }
    }
}

impl From<hms_core::charges::ChargeError> for DispenseError {
    fn from(e: hms_core::charges::ChargeError) -> Self {
        use hms_core::charges::ChargeError;
        match e {
            ChargeError::Db(db) => DispenseError::Db(db),
            other => DispenseError::Conflict(other.message()),
        }
    }
}

impl From<crate::stock::StockError> for DispenseError {
    fn from(e: crate::stock::StockError) -> Self {
        use crate::stock::StockError;
        match e {
            StockError::Db(db) => DispenseError::Db(db),
            _ => DispenseError::Conflict(t("pharmacy_dispense.error_stock_moved")),
        }
    }
}

impl From<DispenseError> for AppError {
    fn from(e: DispenseError) -> Self {
        match e {
            DispenseError::Invalid(_) => AppError::BadRequest(t("pharmacy_dispense.fix_errors")),
            DispenseError::Short(_) => AppError::Conflict(t("pharmacy_dispense.error_short")),
            DispenseError::Conflict(m) => AppError::Conflict(m),
            DispenseError::NotFound => AppError::NotFound,
            DispenseError::Db(db) => db.into(),
        }
    }
}

/// One field's message as an [`DispenseError::Invalid`].
pub(crate) fn invalid(field: &str, key: &str) -> DispenseError {
    let mut errors = FormErrors::new();
    errors.add(field, t(key));
    DispenseError::Invalid(errors)
}

/// A count of units as typed: a whole number from 1 to [`MAX_UNITS`]; the message key
/// otherwise.
pub fn units(text: &str) -> Result<i64, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("pharmacy_dispense.error_units");
    }
    if !text.chars().all(|c| c.is_ascii_digit()) {
        return Err("pharmacy_dispense.error_units");
    }
    match text.parse::<i64>() {
        Ok(n) if (1..=MAX_UNITS).contains(&n) => Ok(n),
        _ => Err("pharmacy_dispense.error_units"),
    }
}

/// Whether a prepared dispense may be issued now: an emergency, or no line waits for payment.
pub async fn cleared_now(app: &hms_core::App, id: i64) -> Result<bool, AppError> {
    prepare::cleared(app, &app.db, id)
        .await
        .map_err(AppError::from)
}

/// A new dispense's header, written in a transaction begun for it.
enum Begun {
    New(hms_core::db::Tx, i64),
    /// The dispense its form token made before: a form posted twice is one dispense.
    Posted(i64),
}

async fn begin(
    db: &hms_core::db::Db,
    new: &crate::repo::dispenses::NewDispense<'_>,
) -> Result<Begun, DispenseError> {
    let mut tx = db.begin().await?;
    match crate::repo::dispenses::insert_once(&mut tx, new).await? {
        Some(id) => Ok(Begun::New(tx, id)),
        None => crate::repo::dispenses::by_token_in(&mut tx, new.token)
            .await?
            .map(Begun::Posted)
            .ok_or(DispenseError::Db(DbError::Conflict)),
    }
}

/// Whether the pharmacy may hold patients until they pay (billing on and the pharmacy among
/// its gated points); otherwise prepare and issue are one step.
pub async fn payment_first(
    modules: &hms_core::module::Registry,
    db: &hms_core::db::Db,
) -> Result<bool, DbError> {
    hms_core::charges::holds_for_payment(modules, db, POINT).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn units_are_whole_numbers_from_one() {
        assert_eq!(super::units(" 12 "), Ok(12));
        for bad in [
            "",
            "0",
            "-3",
            "1.5",
            "2,0",
            "100001",
            "99999999999999999999",
            "x",
        ] {
            assert!(super::units(bad).is_err(), "{bad}");
        }
    }
}
