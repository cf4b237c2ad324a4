//! Stock movements other than dispensing: receipts from suppliers, adjustments with a reason
//! (and the write-off of expired stock), transfers between stores (optionally against a
//! requisition) and stock takes, each posting through [`crate::stock::post`].
//!
//! Each act runs in one transaction: the record of the act (its form token UNIQUE, so a form
//! posted twice acts once), its stock moves and its audit row with every batch's balance before
//! and after, appended last.

pub mod adjustments;
pub mod receipts;
pub mod stocktakes;
pub mod transfers;

use hms_core::module_config::{Setting, SettingKind};
use serde::Serialize;

/// A batch expiring sooner than this after receipt needs the receiver's confirmation.
pub const SHORT_EXPIRY_DAYS: Setting = Setting {
    key: "short_expiry_days",
    description: "A received batch expiring within this many days needs confirmation",
    kind: SettingKind::Integer {
        default: 90,
        min: 0,
        max: 730,
    },
};

pub const SETTINGS: &[Setting] = &[SHORT_EXPIRY_DAYS];

/// More units than any one movement of a health facility's store holds: a typing slip.
pub const MAX_QUANTITY: i64 = 1_000_000;

/// A fresh token for a form that moves stock (hidden field): the act stores it UNIQUE, so
/// the same form posted again is recognised.
pub fn new_token() -> String {
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A form token as sent back: 8 to 64 letters, digits, `-` or `_`.
pub fn token_ok(token: &str) -> bool {
    (8..=64).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A whole number of units typed in a form: 1 up to [`MAX_QUANTITY`]. The error is the
/// message's catalogue key.
pub fn quantity(text: &str) -> Result<i64, &'static str> {
    let text = text.trim().replace([',', ' '], "");
    if text.is_empty() {
        return Err("pharmacy_movements.error_quantity_missing");
    }
    if text.contains('.') {
        return Err("pharmacy_movements.error_quantity_whole");
    }
    match text.parse::<i64>() {
        Ok(n) if n <= 0 => Err("pharmacy_movements.error_quantity_positive"),
        Ok(n) if n > MAX_QUANTITY => Err("pharmacy_movements.error_quantity_huge"),
        Ok(n) => Ok(n),
        Err(_) if text.starts_with('-') => Err("pharmacy_movements.error_quantity_positive"),
        Err(_) if text.bytes().all(|b| b.is_ascii_digit()) => {
            Err("pharmacy_movements.error_quantity_huge")
        }
        Err(_) => Err("pharmacy_movements.error_quantity_whole"),
    }
}

/// An id chosen in a select (store, supplier, drug, batch); `None` when blank or not a number.
pub fn id(text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|n| *n > 0)
}

/// A batch's balance before and after a move, for the audit row.
#[derive(Debug, Clone, Serialize)]
pub struct Moved {
    pub batch: i64,
    pub before: i64,
    pub after: i64,
}

impl Moved {
    pub fn new(batch: i64, quantity: i64, after: i64) -> Self {
        Moved {
            batch,
            before: after - quantity,
            after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_whole_positive_and_sane() {
        assert_eq!(quantity("12"), Ok(12));
        assert_eq!(quantity(" 1,200 "), Ok(1200));
        assert!(quantity("").is_err());
        assert!(quantity("0").is_err());
        assert!(quantity("-3").is_err());
        assert!(quantity("2.5").is_err());
        assert!(quantity("ten").is_err());
        assert!(quantity("1000001").is_err());
        assert!(quantity("99999999999999999999999").is_err());
    }

    #[test]
    fn tokens_are_fresh_and_accepted_back() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(token_ok(&a));
        assert!(!token_ok("short"));
        assert!(!token_ok("has spaces in it"));
    }
}

/// Why a movement did not happen.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// Bad input or not enough stock: the form again with this message (422), nothing changed.
    #[error("{0}")]
    Refused(String),
    /// The record is no longer in the state the act needs (issued meanwhile...): 409.
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] hms_core::db::DbError),
}

impl From<sqlx::Error> for MoveError {
    fn from(e: sqlx::Error) -> Self {
        MoveError::Db(hms_core::db::classify(e))
    }
}

impl From<crate::stock::StockError> for MoveError {
    fn from(e: crate::stock::StockError) -> Self {
        use crate::stock::StockError;
        match e {
            StockError::Short { available, .. } => MoveError::Refused(
                hms_core::i18n::t("pharmacy_movements.error_short_batch")
                    .replace("{available}", &available.to_string()),
            ),
            StockError::NoBatch => MoveError::NotFound,
            StockError::Nothing => MoveError::Refused(hms_core::i18n::t(
                "pharmacy_movements.error_quantity_positive",
            )),
            StockError::Db(e) => MoveError::Db(e),
        }
    }
}

impl From<MoveError> for hms_core::AppError {
    fn from(e: MoveError) -> Self {
        match e {
            MoveError::Refused(m) => hms_core::AppError::BadRequest(m),
            MoveError::Conflict(m) => hms_core::AppError::Conflict(m),
            MoveError::NotFound => hms_core::AppError::NotFound,
            MoveError::Db(e) => e.into(),
        }
    }
}
