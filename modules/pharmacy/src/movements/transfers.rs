//! Transfers between stores: a dispensary's requisition that the store then issues, or a
//! direct transfer. Stock leaves the issuing store first-expiry-first-out and lands in the same
//! batches (number, expiry, cost) of the receiving store, out and in in one transaction; what
//! counts is what was issued, never what was asked.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::db::{Db, Tx};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;

use super::receipts::Posted;
use super::{id, quantity, token_ok, MoveError, Moved, MAX_QUANTITY};
use crate::model::Drug;
use crate::repo::movements as repo;
use crate::stock::{self, Kind, Movement};

/// A line as typed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TypedLine {
    pub drug: String,
    pub quantity: String,
}

/// The transfer form as typed. `request` true: a requisition, issued later by the store.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Typed {
    pub token: String,
    pub request: bool,
    pub from: String,
    pub to: String,
    pub note: String,
    pub lines: Vec<TypedLine>,
}

#[derive(Debug, Clone)]
pub struct Transfer {
    pub token: String,
    pub request: bool,
    pub from: i64,
    pub to: i64,
    pub note: Option<String>,
    pub lines: Vec<(Drug, i64)>,
}

pub fn line_field(n: usize, field: &str) -> String {
    format!("line{n}_{field}")
}

pub async fn validate(db: &Db, typed: &Typed) -> Result<Result<Transfer, FormErrors>, MoveError> {
    let mut errors = FormErrors::new();
    if !token_ok(&typed.token) {
        errors.add("token", t("pharmacy_movements.error_token"));
    }
    let from = match id(&typed.from) {
        Some(s) if repo::receipts::store_active(db, s).await? => Some(s),
        _ => {
            errors.add("from", t("pharmacy_movements.error_store"));
            None
        }
    };
    let to = match id(&typed.to) {
        Some(s) if repo::receipts::store_active(db, s).await? => Some(s),
        _ => {
            errors.add("to", t("pharmacy_movements.error_store"));
            None
        }
    };
    if from.is_some() && from == to {
        errors.add("to", t("pharmacy_movements.error_same_store"));
    }
    let note = typed.note.trim();
    if note.chars().count() > 200 {
        errors.add("note", t("pharmacy_movements.error_too_long"));
    }
    let mut lines: Vec<(Drug, i64)> = Vec::new();
    let mut any = false;
    for (i, l) in typed.lines.iter().enumerate() {
        if l.drug.trim().is_empty() && l.quantity.trim().is_empty() {
            continue;
        }
        any = true;
        let n = i + 1;
        let drug = match id(&l.drug) {
            Some(d) => crate::model::drug(db, d).await?.filter(|d| d.active),
            None => None,
        };
        if drug.is_none() {
            errors.add(&line_field(n, "drug"), t("pharmacy_movements.error_drug"));
        }
        let q = quantity(&l.quantity)
            .map_err(|k| errors.add(&line_field(n, "quantity"), t(k)))
            .ok();
        if let (Some(drug), Some(q)) = (drug, q) {
            // The same drug twice is one line of the sum.
            match lines.iter_mut().find(|(d, _)| d.id == drug.id) {
                Some((_, sum)) if *sum + q <= MAX_QUANTITY => *sum += q,
                Some(_) => errors.add(
                    &line_field(n, "quantity"),
                    t("pharmacy_movements.error_quantity_huge"),
                ),
                None => lines.push((drug, q)),
            }
        }
    }
    if !any {
        errors.add("lines", t("pharmacy_movements.error_no_lines"));
    }
    match (from, to) {
        (Some(from), Some(to)) if errors.is_empty() => Ok(Ok(Transfer {
            token: typed.token.trim().to_string(),
            request: typed.request,
            from,
            to,
            note: (!note.is_empty()).then(|| note.to_string()),
            lines,
        })),
        _ => Ok(Err(errors)),
    }
}

/// Creates a transfer (once per token): a requisition waits for the store; a direct transfer
/// moves its stock at once, or not at all when the issuing store lacks any of it.
pub async fn create(
    db: &Db,
    actor: &Actor,
    tr: &Transfer,
    today: NaiveDate,
) -> Result<Posted, MoveError> {
    let at = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    let state = if tr.request { "requested" } else { "issued" };
    let inserted = repo::transfers::insert(
        &mut tx,
        tr.from,
        tr.to,
        state,
        tr.note.as_deref(),
        &tr.token,
        actor.user_id,
        &at,
    )
    .await?;
    let Some(id) = inserted else {
        let id = repo::transfers::by_token(&mut tx, &tr.token).await?;
        tx.rollback().await.map_err(hms_core::db::classify)?;
        return id
            .map(|id| Posted { id, fresh: false })
            .ok_or(MoveError::NotFound);
    };
    let mut lines = tr.lines.clone();
    lines.sort_by_key(|(d, _)| d.id);
    let mut moved = Vec::new();
    for (drug, q) in &lines {
        let requested = tr.request.then_some(*q);
        let line = repo::transfers::insert_line(&mut tx, id, drug.id, requested).await?;
        if !tr.request {
            let m = issue_line(&mut tx, tr.from, tr.to, line, drug, *q, actor, &at, today).await?;
            moved.extend(m);
        }
    }
    let action = if tr.request {
        "pharmacy.transfer_request"
    } else {
        "pharmacy.transfer_issue"
    };
    let lines_json: Vec<_> = lines
        .iter()
        .map(|(d, q)| json!({"drug": d.id, "quantity": q}))
        .collect();
    audit::record(
        &mut tx,
        actor,
        Event::new(action, "transfer", Some(id)).detail(json!({
            "from": tr.from,
            "to": tr.to,
            "lines": lines_json,
            "batches": moved,
        })),
    )
    .await?;
    tx.commit().await.map_err(hms_core::db::classify)?;
    Ok(Posted { id, fresh: true })
}

/// Moves `quantity` of `drug` for a transfer line: out of `from` first expiry first (unexpired
/// stock only), into the same batches of `to`. Refused whole when `from` holds less.
#[allow(clippy::too_many_arguments)]
async fn issue_line(
    tx: &mut Tx,
    from: i64,
    to: i64,
    line: i64,
    drug: &Drug,
    quantity: i64,
    actor: &Actor,
    at: &str,
    today: NaiveDate,
) -> Result<Vec<Moved>, MoveError> {
    let reference = format!("transfer_line:{line}");
    let (takes, missing) = stock::take_fefo(
        tx,
        from,
        drug.id,
        quantity,
        Kind::TransferOut,
        &reference,
        actor.user_id,
        at,
        today,
    )
    .await?;
    if missing > 0 {
        return Err(MoveError::Refused(
            t("pharmacy_movements.error_transfer_short")
                .replace("{drug}", &drug.display())
                .replace("{available}", &(quantity - missing).to_string()),
        ));
    }
    let mut moved = Vec::new();
    for take in takes {
        let cost = repo::transfers::batch_cost(tx, take.batch).await?;
        let expiry = NaiveDate::parse_from_str(&take.expiry, "%Y-%m-%d")
            .map_err(|_| MoveError::Conflict(t("pharmacy_movements.error_changed")))?;
        let left = repo::balance(tx, take.batch).await?;
        moved.push(Moved::new(take.batch, -take.quantity, left));
        let into = stock::batch(tx, to, drug.id, &take.batch_no, expiry, cost, at).await?;
        let after = stock::post(
            tx,
            &Movement {
                batch: into,
                quantity: take.quantity,
                kind: Kind::TransferIn,
                reference: &reference,
                reason: None,
                user: actor.user_id,
                at,
                usable_on: None,
            },
        )
        .await?;
        moved.push(Moved::new(into, take.quantity, after));
    }
    repo::transfers::set_issued(tx, line, quantity).await?;
    Ok(moved)
}

/// Issues a requisition: each line's quantity (0 leaves it out), in one transaction with the
/// guarded move from `requested` to `issued` (a second click answers 409).
pub async fn issue(
    db: &Db,
    actor: &Actor,
    transfer: i64,
    quantities: &[(i64, i64)],
    today: NaiveDate,
) -> Result<(), MoveError> {
    if quantities.iter().all(|(_, q)| *q == 0) {
        return Err(MoveError::Refused(t(
            "pharmacy_movements.error_nothing_to_issue",
        )));
    }
    let at = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    let (from, to) = repo::transfers::mark_issued(&mut tx, transfer, actor.user_id, &at)
        .await?
        .ok_or_else(|| MoveError::Conflict(t("pharmacy_movements.error_transfer_done")))?;
    let mut moved = Vec::new();
    let mut issued = Vec::new();
    for (line, drug) in repo::transfers::line_drugs(&mut tx, transfer).await? {
        let q = quantities
            .iter()
            .find(|(l, _)| *l == line)
            .map(|(_, q)| *q)
            .unwrap_or(0);
        if q == 0 {
            repo::transfers::set_issued(&mut tx, line, 0).await?;
            continue;
        }
        let drug = repo::drug_in(&mut tx, drug)
            .await?
            .ok_or(MoveError::NotFound)?;
        moved.extend(issue_line(&mut tx, from, to, line, &drug, q, actor, &at, today).await?);
        issued.push(json!({"line": line, "drug": drug.id, "quantity": q}));
    }
    audit::record(
        &mut tx,
        actor,
        Event::new("pharmacy.transfer_issue", "transfer", Some(transfer)).detail(json!({
            "from": from,
            "to": to,
            "lines": issued,
            "batches": moved,
        })),
    )
    .await?;
    tx.commit().await.map_err(hms_core::db::classify)?;
    Ok(())
}

/// Cancels a requisition not yet issued.
pub async fn cancel(db: &Db, actor: &Actor, transfer: i64) -> Result<(), MoveError> {
    let mut tx = db.begin().await?;
    repo::transfers::cancel(&mut tx, transfer)
        .await
        .map_err(|e| match e {
            hms_core::db::DbError::Conflict => {
                MoveError::Conflict(t("pharmacy_movements.error_transfer_done"))
            }
            e => MoveError::Db(e),
        })?;
    audit::record(
        &mut tx,
        actor,
        Event::new("pharmacy.transfer_cancel", "transfer", Some(transfer)),
    )
    .await?;
    tx.commit().await.map_err(hms_core::db::classify)?;
    Ok(())
}
