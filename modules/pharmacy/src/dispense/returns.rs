//! After issue: unopened medicine brought back (stock back to the batches it came from, latest
//! expiry first, and its part of the charge reversed), and a prescription's balance closed
//! (bought outside, which prints on a slip, or not available here).

use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::charges;
use hms_core::db::DbError;
use hms_core::i18n::{t, t_in};
use hms_core::ids::{ChargeId, OrderId};
use hms_core::orders;
use hms_core::App;

use super::DispenseError;
use crate::repo::dispenses as repo;
use crate::stock::{self, Kind, Movement};

/// Takes back `quantity` unopened units of an issued line.
pub async fn return_line(
    app: &App,
    actor: &Actor,
    dispense: i64,
    line: i64,
    quantity: i64,
    reason: &str,
) -> Result<(), DispenseError> {
    let db = &app.db;
    let d = repo::dispense(db, dispense)
        .await?
        .ok_or(DispenseError::NotFound)?;
    let l = repo::lines(db, dispense)
        .await?
        .into_iter()
        .find(|l| l.id == line)
        .ok_or(DispenseError::NotFound)?;
    if d.state != "issued" {
        return Err(DispenseError::Conflict(t(
            "pharmacy_dispense.error_not_issued",
        )));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 300 {
        return Err(super::invalid("reason", "pharmacy_dispense.error_reason"));
    }
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    let Some(total) = repo::add_returned(&mut tx, line, quantity).await? else {
        drop(tx);
        return Err(super::invalid(
            "quantity",
            "pharmacy_dispense.error_return_too_many",
        ));
    };
    let reference = format!("dispense_line:{line}");
    let mut left = quantity;
    let mut back = Vec::new();
    for (batch, _, _, out) in repo::line_batches_in(&mut tx, line).await? {
        if left == 0 {
            break;
        }
        let n = out.min(left);
        if n <= 0 {
            continue;
        }
        let m = Movement {
            batch,
            quantity: n,
            kind: Kind::Return,
            reference: &reference,
            reason: Some(reason),
            user: actor.user_id,
            at: &now,
            usable_on: None,
        };
        let after = stock::post(&mut tx, &m).await?;
        back.push(json!({ "batch": batch, "quantity": n, "balance_after": after }));
        left -= n;
    }
    if left > 0 {
        drop(tx);
        return Err(super::invalid(
            "quantity",
            "pharmacy_dispense.error_return_too_many",
        ));
    }
    if let Some(charge) = l.charge {
        charges::reverse(
            &mut tx,
            actor,
            ChargeId(charge),
            quantity,
            &format!("return:{line}:{total}"),
        )
        .await?;
    }
    let mut event =
        Event::new("pharmacy.dispense.return", "dispense", Some(dispense)).detail(json!({
            "line": line, "drug": l.drug, "quantity": quantity, "reason": reason,
            "returned_before": total - quantity, "returned_after": total, "batches": back,
        }));
    if let Some(p) = d.patient {
        event = event.patient(p);
    }
    audit::record(&mut tx, actor, event).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(())
}

/// Why a prescription's balance is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The patient buys the rest outside: it prints on a slip.
    Outside,
    /// Not available here.
    Unavailable,
}

impl CloseReason {
    pub fn parse(code: &str) -> Option<Self> {
        match code.trim() {
            "outside" => Some(Self::Outside),
            "unavailable" => Some(Self::Unavailable),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Self::Outside => "pharmacy_dispense.close_outside",
            Self::Unavailable => "pharmacy_dispense.close_unavailable",
        }
    }

    /// The reason as stored on the order (English, as orders keep it).
    pub fn stored(self) -> String {
        t_in("en", self.key())
    }
}

/// Closes what is left of a drug order: the balance after a part dispensed (`partly_done`), or
/// the whole order when none was (`not_done`). Refused while a prepared dispense holds it.
pub async fn close_balance(
    app: &App,
    actor: &Actor,
    order: i64,
    reason: CloseReason,
) -> Result<(), DispenseError> {
    let db = &app.db;
    let mut tx = db.begin().await?;
    let Some(now) = repo::lock_order(&mut tx, db.backend, order).await? else {
        return Err(DispenseError::NotFound);
    };
    if now.kind != orders::DRUG {
        return Err(DispenseError::NotFound);
    }
    if !matches!(now.state.as_str(), "placed" | "in_progress") {
        return Err(super::invalid("reason", "pharmacy_dispense.error_closed"));
    }
    if now.pending > 0 {
        return Err(DispenseError::Conflict(t(
            "pharmacy_dispense.error_pending",
        )));
    }
    let stored = reason.stored();
    if now.done > 0 {
        orders::close_rest(&mut tx, actor, OrderId(order), &stored).await?;
    } else {
        orders::not_done(&mut tx, actor, OrderId(order), &stored).await?;
    }
    tx.commit().await.map_err(DbError::from)?;
    Ok(())
}
