//! The consultation fee: posted through core's charges at check-in, in the check-in's own
//! transaction, when the facility has chosen the price list item that is its fee. No item
//! chosen, no charge.

use hms_core::audit::Actor;
use hms_core::charges::{self, ChargeError, NewCharge};
use hms_core::db::{DbError, Tx};
use hms_core::ids::{PatientId, VisitId};
use sqlx::Row;

/// The facility setting naming the fee's charge item (a code of `charge_items`).
pub const CONSULTATION_ITEM: &str = "appointments.consultation_item";

/// The charge item of the consultation fee, if the facility has chosen one.
pub async fn consultation_item(tx: &mut Tx) -> Result<Option<String>, DbError> {
    let value: Option<String> = sqlx::query("SELECT value FROM settings WHERE key = $1")
        .bind(CONSULTATION_ITEM)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.get(0));
    Ok(value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty()))
}

/// Posts the fee for a visit just checked in (once: a retried check-in finds the same charge).
/// An item chosen but missing from the price list posts nothing and is logged, so a settings
/// slip never turns patients away at the desk.
pub async fn post_consultation_fee(
    tx: &mut Tx,
    visit: VisitId,
    patient: PatientId,
    point: &str,
    actor: &Actor,
) -> Result<(), DbError> {
    let Some(item) = consultation_item(tx).await? else {
        return Ok(());
    };
    let fee = NewCharge {
        patient,
        visit: Some(visit),
        item,
        quantity: 1,
        unit_price: None,
        service_point: Some(point.to_string()),
        source: "visit.checkin".into(),
        source_ref: visit.to_string(),
    };
    match charges::post(tx, actor, &fee).await {
        Ok(_) => Ok(()),
        Err(ChargeError::Db(e)) => Err(e),
        Err(e) => {
            tracing::warn!(visit = visit.get(), error = %e, "consultation fee not posted");
            Ok(())
        }
    }
}
