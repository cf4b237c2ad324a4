//! Billing's answer to `charges::clearance`: whether the service behind a charge may go ahead.
//! Only a cash visit's charge at a point the facility gates (laboratory, pharmacy, imaging by
//! default) waits, and only until the patient's invoice holding it is paid. Insured and exempt
//! visits, other points, and charges taken back in full pass. Emergencies are the calling
//! department's to pass (Constitution of Kenya art. 43(2)): the charge stays owed.

use sqlx::Row;

use hms_appointments::api as appts;
use hms_core::charges::Clearance;
use hms_core::db::{Db, DbError};
use hms_core::ids::VisitId;
use hms_core::money::Money;

use crate::model::{self, PayerClass};

/// The service points that wait for payment from cash patients.
pub async fn gated_points(db: &Db) -> Result<Vec<String>, DbError> {
    let value = hms_core::settings::get(db, model::PAY_BEFORE_SETTING)
        .await?
        .unwrap_or_else(|| model::DEFAULT_PAY_BEFORE.to_string());
    Ok(model::points(&value))
}

pub async fn answer(db: &Db, source: &str, source_ref: &str) -> Result<Clearance, DbError> {
    let row = sqlx::query(
        "SELECT c.visit_id, c.service_point, c.quantity * c.unit_price_cents, \
         (SELECT CAST(COALESCE(SUM(r.quantity * r.unit_price_cents), 0) AS BIGINT) FROM charges r WHERE r.reverses = c.id), \
         l.patient_share_cents, i.total_cents, i.paid_cents + i.credited_cents \
         FROM charges c LEFT JOIN billing_lines l ON l.charge_id = c.id \
         LEFT JOIN billing_invoices i ON i.id = l.patient_invoice_id \
         WHERE c.source = $1 AND c.source_ref = $2",
    )
    .bind(source)
    .bind(source_ref)
    .fetch_optional(db.read())
    .await?;
    let Some(r) = row else {
        return Ok(Clearance::NotNeeded);
    };
    let point: Option<String> = r.get(1);
    let gated = match point {
        Some(p) => gated_points(db).await?.contains(&p),
        None => false,
    };
    if !gated {
        return Ok(Clearance::NotNeeded);
    }
    if let Some(visit) = r.get::<Option<i64>, _>(0) {
        let payer = appts::visit(db, VisitId(visit)).await?.map(|v| v.payer);
        let mut class = payer
            .map(|p| PayerClass::of(&p))
            .unwrap_or(PayerClass::Cash);
        let account: Option<String> = sqlx::query(
            "SELECT s.kind FROM billing_accounts a JOIN billing_schemes s ON s.id = a.scheme_id \
             WHERE a.visit_id = $1",
        )
        .bind(visit)
        .fetch_optional(db.read())
        .await?
        .map(|a| a.get(0));
        if let Some(kind) = account {
            class = class.with_account(&kind);
        }
        if class != PayerClass::Cash {
            return Ok(Clearance::Cleared);
        }
    }
    let net = Money::from_cents(r.get::<i64, _>(2) + r.get::<i64, _>(3));
    if net <= Money::ZERO {
        return Ok(Clearance::Cleared);
    }
    let share: Option<Money> = r.get(4);
    match share {
        // Not yet on an invoice: the whole of it waits.
        None => Ok(Clearance::Awaiting(net)),
        Some(s) if s <= Money::ZERO => Ok(Clearance::Cleared),
        Some(_) => {
            let total: Money = r.get::<Option<Money>, _>(5).unwrap_or(Money::ZERO);
            // Paid or credited (a waiver lets the patient through too).
            let paid: Money = r.get::<Option<Money>, _>(6).unwrap_or(Money::ZERO);
            Ok(if paid >= total {
                Clearance::Cleared
            } else {
                Clearance::Awaiting(total - paid)
            })
        }
    }
}
