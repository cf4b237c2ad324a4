//! Issuing a prepared dispense: the one place stock leaves the shelf for a patient. Guarded
//! `prepared -> issued`, then the orders locked in id order, then each line's stock taken first
//! expiry first (or from the batch chosen, with its reason) by the stock writer, then each
//! order's `quantity_done` advanced by the core guard, all in one transaction. Cancelling a
//! prepared dispense reverses its charges.

use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::charges;
use hms_core::day::Day;
use hms_core::db::{Db, DbError, Tx};
use hms_core::i18n::t;
use hms_core::ids::{ChargeId, OrderId};
use hms_core::orders;
use hms_core::App;

use super::{DispenseError, Shortfall};
use crate::repo::dispenses as repo;
use crate::stock::{self, Kind, Movement, StockError};

/// Issues a prepared dispense after asking clearance (billing on): a line whose stock ran out
/// since preparing is issued in part and the rest of its charge reversed.
pub async fn issue(app: &App, actor: &Actor, id: i64) -> Result<(), DispenseError> {
    let db = &app.db;
    let d = repo::dispense(db, id)
        .await?
        .ok_or(DispenseError::NotFound)?;
    match d.state.as_str() {
        "prepared" => {}
        "issued" => {
            return Err(DispenseError::Conflict(t(
                "pharmacy_dispense.error_issued_already",
            )));
        }
        _ => {
            return Err(DispenseError::Conflict(t(
                "pharmacy_dispense.error_cancelled",
            )));
        }
    }
    if !super::prepare::cleared(app, db, id).await? {
        return Err(DispenseError::Conflict(t(
            "pharmacy_dispense.error_awaiting_payment",
        )));
    }
    let mut tx = db.begin().await?;
    issue_in(&mut tx, db, actor, id, false).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(())
}

/// Issues in `tx`: [`take`] then [`record`].
pub(crate) async fn issue_in(
    tx: &mut Tx,
    db: &Db,
    actor: &Actor,
    id: i64,
    all_or_nothing: bool,
) -> Result<(), DispenseError> {
    let taken = take(tx, db, actor, id, all_or_nothing, None).await?;
    record(tx, actor, &taken).await
}

/// What [`take`] took, for [`record`].
pub(crate) struct Taken {
    id: i64,
    store: i64,
    patient: Option<i64>,
    /// Each line with the units taken for it.
    lines: Vec<(repo::LineRow, i64)>,
    /// (quantity, quantity done) of each order, as locked.
    done_of: std::collections::HashMap<i64, (i64, i64)>,
}

/// The stock half of issuing, with no audit row, so the audit chain's head is locked only by
/// [`record`] at the end: guarded `prepared -> issued`, the orders locked in id order, then each
/// line's stock taken first expiry first (or from its chosen batch). `all_or_nothing`: any line
/// short is a [`DispenseError::Short`] (the caller rolls back: prepare and issue were one click);
/// otherwise short lines are issued in part (all short is still a refusal). `locked`: the
/// (quantity, quantity done) of the orders when the caller has locked them already.
pub(crate) async fn take(
    tx: &mut Tx,
    db: &Db,
    actor: &Actor,
    id: i64,
    all_or_nothing: bool,
    locked: Option<std::collections::HashMap<i64, (i64, i64)>>,
) -> Result<Taken, DispenseError> {
    let now = hms_core::clock::now_rfc3339();
    let today = Day::today().date();
    if !repo::mark_issued(tx, id, actor.user_id, &now).await? {
        return Err(DispenseError::Conflict(t(
            "pharmacy_dispense.error_issued_already",
        )));
    }
    let (store, patient): (i64, Option<i64>) = {
        use sqlx::Row;
        let r = sqlx::query("SELECT store_id, patient_id FROM dispenses WHERE id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await
            .map_err(DbError::from)?;
        (r.get(0), r.get(1))
    };
    let mut lines = repo::lines_in(tx, id).await?;
    let done_of = match locked {
        Some(done_of) => done_of,
        None => {
            let mut order_ids: Vec<i64> = lines.iter().filter_map(|l| l.order).collect();
            order_ids.sort_unstable();
            order_ids.dedup();
            let mut done_of = std::collections::HashMap::new();
            for o in &order_ids {
                if let Some(qd) = repo::lock_order_done(tx, db.backend, *o).await? {
                    done_of.insert(*o, qd);
                }
            }
            done_of
        }
    };
    // Batches in one order across dispenses: by drug, then (expiry, id) within the drug.
    lines.sort_by_key(|l| (l.drug, l.id));
    let mut issued = Vec::new();
    let mut short = Vec::new();
    for line in lines {
        let reference = format!("dispense_line:{}", line.id);
        let taken = match line.batch {
            Some(batch) => {
                take_from(tx, batch, line.quantity, &reference, actor, &now, today).await?
            }
            None => {
                let (_, missing) = stock::take_fefo(
                    tx,
                    store,
                    line.drug,
                    line.quantity,
                    Kind::Dispense,
                    &reference,
                    actor.user_id,
                    &now,
                    today,
                )
                .await?;
                line.quantity - missing
            }
        };
        if taken < line.quantity {
            short.push(Shortfall {
                order: line.order,
                drug: line.drug,
                drug_name: line.drug_name.clone(),
                wanted: line.quantity,
                available: taken,
            });
        }
        issued.push((line, taken));
    }
    let total: i64 = issued.iter().map(|(_, n)| n).sum();
    if (all_or_nothing && !short.is_empty()) || total == 0 {
        return Err(DispenseError::Short(short));
    }
    Ok(Taken {
        id,
        store,
        patient,
        lines: issued,
        done_of,
    })
}

/// The audited half of issuing: each line's units issued, the charge of what was short
/// reversed, each order advanced by the core guard (completed when its balance was given),
/// then the dispense's audit row.
pub(crate) async fn record(tx: &mut Tx, actor: &Actor, taken: &Taken) -> Result<(), DispenseError> {
    let mut done_of = taken.done_of.clone();
    for (line, n) in &taken.lines {
        if *n > 0 {
            repo::set_issued(tx, line.id, *n).await?;
        }
        if *n < line.quantity {
            if let Some(charge) = line.charge {
                charges::reverse(
                    tx,
                    actor,
                    ChargeId(charge),
                    line.quantity - n,
                    &format!("short:{}", line.id),
                )
                .await?;
            }
        }
        if let (Some(order), true) = (line.order, *n > 0) {
            // The whole balance given: complete (which records it all done); a part: record it.
            let (quantity, done) = done_of.get(&order).copied().unwrap_or((0, 0));
            if done + n == quantity {
                orders::complete(tx, actor, OrderId(order), None).await?;
            } else {
                orders::record_done(tx, actor, OrderId(order), *n).await?;
            }
            done_of.insert(order, (quantity, done + n));
        }
    }
    let mut event =
        Event::new("pharmacy.dispense.issue", "dispense", Some(taken.id)).detail(json!({
            "store": taken.store,
            "lines": taken.lines.iter().map(|(l, n)| json!({
                "line": l.id, "order": l.order, "drug": l.drug, "prepared": l.quantity, "issued": n,
            })).collect::<Vec<_>>(),
        }));
    if let Some(p) = taken.patient {
        event = event.patient(p);
    }
    audit::record(tx, actor, event).await?;
    Ok(())
}

/// Takes up to `wanted` units from one chosen batch; the units taken (fewer when it holds
/// fewer usable).
async fn take_from(
    tx: &mut Tx,
    batch: i64,
    wanted: i64,
    reference: &str,
    actor: &Actor,
    now: &str,
    today: chrono::NaiveDate,
) -> Result<i64, DispenseError> {
    let mut quantity = wanted;
    for _ in 0..4 {
        let m = Movement {
            batch,
            quantity: -quantity,
            kind: Kind::Dispense,
            reference,
            reason: None,
            user: actor.user_id,
            at: now,
            usable_on: Some(today),
        };
        match stock::post(tx, &m).await {
            Ok(_) => return Ok(quantity),
            Err(StockError::Short { available, .. }) if available > 0 => {
                quantity = available.min(wanted)
            }
            Err(StockError::Short { .. } | StockError::NoBatch | StockError::Nothing) => {
                return Ok(0);
            }
            Err(StockError::Db(e)) => return Err(e.into()),
        }
    }
    Ok(0)
}

/// Cancels a prepared dispense (the patient left, the prescriber changed it): nothing was
/// taken from stock; its charges are reversed. The orders stay open for another dispense.
pub async fn cancel(app: &App, actor: &Actor, id: i64, reason: &str) -> Result<(), DispenseError> {
    let db = &app.db;
    let d = repo::dispense(db, id)
        .await?
        .ok_or(DispenseError::NotFound)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 300 {
        return Err(super::invalid("reason", "pharmacy_dispense.error_reason"));
    }
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    if !repo::mark_cancelled(&mut tx, id, actor.user_id, &now, reason).await? {
        return Err(DispenseError::Conflict(t(
            "pharmacy_dispense.error_not_prepared",
        )));
    }
    for line in repo::lines_in(&mut tx, id).await? {
        if let Some(charge) = line.charge {
            charges::reverse(
                &mut tx,
                actor,
                ChargeId(charge),
                line.quantity,
                &format!("cancel:{}", line.id),
            )
            .await?;
        }
    }
    let mut event = Event::new("pharmacy.dispense.cancel", "dispense", Some(id))
        .detail(json!({ "reason": reason }));
    if let Some(p) = d.patient {
        event = event.patient(p);
    }
    audit::record(&mut tx, actor, event).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(())
}
