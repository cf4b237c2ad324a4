//! Adjusting a batch with a reason (damaged, expired, lost, returned to the supplier take stock
//! out; found puts it back), and writing off expired stock from its own list.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::db::Db;
use hms_core::i18n::t;
use hms_core::ui::FormErrors;

use super::{id, quantity, token_ok, MoveError, Moved};
use crate::repo::movements::{self as repo, BatchRow};
use crate::stock::{self, Kind, Movement};

/// The reasons an adjustment may give, as stored.
pub const REASONS: &[&str] = &[
    "damaged",
    "expired",
    "lost",
    "found",
    "returned_to_supplier",
];

/// Whether a reason puts stock back on the shelf (found) or takes it off (the others).
pub fn adds(reason: &str) -> bool {
    reason == "found"
}

/// The adjustment form as typed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Typed {
    pub token: String,
    pub batch: String,
    pub quantity: String,
    pub reason: String,
    pub note: String,
}

/// A checked adjustment: `quantity` signed by its reason.
#[derive(Debug, Clone)]
pub struct Adjustment {
    pub token: String,
    pub batch: i64,
    pub quantity: i64,
    pub reason: String,
    pub note: Option<String>,
}

pub fn validate(typed: &Typed) -> Result<Adjustment, FormErrors> {
    let mut errors = FormErrors::new();
    if !token_ok(&typed.token) {
        errors.add("token", t("pharmacy_movements.error_token"));
    }
    let batch = id(&typed.batch);
    if batch.is_none() {
        errors.add("batch", t("pharmacy_movements.error_batch"));
    }
    let reason = typed.reason.trim();
    if !REASONS.contains(&reason) {
        errors.add("reason", t("pharmacy_movements.error_reason"));
    }
    let n = quantity(&typed.quantity)
        .map_err(|k| errors.add("quantity", t(k)))
        .ok();
    let note = typed.note.trim();
    if note.chars().count() > 200 {
        errors.add("note", t("pharmacy_movements.error_too_long"));
    }
    match (batch, n) {
        (Some(batch), Some(n)) if errors.is_empty() => Ok(Adjustment {
            token: typed.token.trim().to_string(),
            batch,
            quantity: if adds(reason) { n } else { -n },
            reason: reason.to_string(),
            note: (!note.is_empty()).then(|| note.to_string()),
        }),
        _ => Err(errors),
    }
}

/// Posts an adjustment (once per token): its record, the move and the audit row. Taking out
/// more than the batch holds is refused with what it holds.
pub async fn post(db: &Db, actor: &Actor, a: &Adjustment) -> Result<i64, MoveError> {
    let at = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    let batch = repo::batch_in(&mut tx, a.batch)
        .await?
        .ok_or_else(|| MoveError::Refused(t("pharmacy_movements.error_batch")))?;
    let inserted = repo::adjustments::insert(
        &mut tx,
        &batch,
        a.quantity,
        &a.reason,
        a.note.as_deref(),
        &a.token,
        actor.user_id,
        &at,
    )
    .await?;
    let Some(id) = inserted else {
        let id = repo::adjustments::by_token(&mut tx, &a.token).await?;
        tx.rollback().await.map_err(hms_core::db::classify)?;
        return id.ok_or(MoveError::NotFound);
    };
    let moved = move_batch(&mut tx, &batch, a.quantity, &a.reason, id, actor, &at).await?;
    audit::record(
        &mut tx,
        actor,
        Event::new("pharmacy.adjustment", "adjustment", Some(id)).detail(json!({
            "store": batch.store_id,
            "drug": batch.drug_id,
            "reason": a.reason,
            "quantity": a.quantity,
            "batches": [moved],
        })),
    )
    .await?;
    tx.commit().await.map_err(hms_core::db::classify)?;
    Ok(id)
}

async fn move_batch(
    tx: &mut hms_core::db::Tx,
    batch: &BatchRow,
    quantity: i64,
    reason: &str,
    adjustment: i64,
    actor: &Actor,
    at: &str,
) -> Result<Moved, MoveError> {
    let reference = format!("adjustment:{adjustment}");
    let after = stock::post(
        tx,
        &Movement {
            batch: batch.id,
            quantity,
            kind: Kind::Adjustment,
            reference: &reference,
            reason: Some(reason),
            user: actor.user_id,
            at,
            usable_on: None,
        },
    )
    .await?;
    Ok(Moved::new(batch.id, quantity, after))
}

/// Writes off expired stock still on the shelf: one batch, or every expired batch (of a store,
/// or of all). Each batch gets its own adjustment (reason `expired`, all its units) whose token
/// is the page's token and the batch, so a second click writes nothing more. Returns how many
/// batches were written off now.
pub async fn write_off_expired(
    db: &Db,
    actor: &Actor,
    token: &str,
    store: Option<i64>,
    batch: Option<i64>,
    today: NaiveDate,
) -> Result<usize, MoveError> {
    if !token_ok(token) {
        return Err(MoveError::Refused(t("pharmacy_movements.error_token")));
    }
    let at = hms_core::clock::now_rfc3339();
    let day = today.format("%Y-%m-%d").to_string();
    let mut tx = db.begin().await?;
    let batches = repo::adjustments::expired_in(&mut tx, &day, store, batch).await?;
    let mut moved = Vec::new();
    let mut ids = Vec::new();
    for b in &batches {
        let key = format!("{token}:{}", b.id);
        let inserted = repo::adjustments::insert(
            &mut tx,
            b,
            -b.qty_on_hand,
            "expired",
            None,
            &key,
            actor.user_id,
            &at,
        )
        .await?;
        let Some(id) = inserted else { continue };
        match move_batch(&mut tx, b, -b.qty_on_hand, "expired", id, actor, &at).await {
            Ok(m) => moved.push(m),
            Err(MoveError::Db(e)) => return Err(MoveError::Db(e)),
            Err(_) => {
                return Err(MoveError::Conflict(t("pharmacy_movements.error_changed")));
            }
        }
        ids.push(id);
    }
    if !moved.is_empty() {
        audit::record(
            &mut tx,
            actor,
            Event::new(
                "pharmacy.expired_write_off",
                "adjustment",
                ids.first().copied(),
            )
            .detail(json!({ "adjustments": ids, "batches": moved })),
        )
        .await?;
    }
    tx.commit().await.map_err(hms_core::db::classify)?;
    Ok(moved.len())
}
