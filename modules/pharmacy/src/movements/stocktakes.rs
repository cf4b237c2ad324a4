//! Stock takes: a count sheet per store (optionally blind), each counted line keeping the
//! system's balance at the moment of counting so dispensing goes on; submitted, then approved
//! (variances posted as `stock_take` movements) or rejected by someone holding
//! `pharmacy.approve` who did not count it.

use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;

use super::{MoveError, Moved, MAX_QUANTITY};
use crate::repo::movements::stocktakes as sql;
use crate::stock::{self, Kind, Movement, StockError};

fn conflict(e: DbError) -> MoveError {
    match e {
        DbError::Conflict => MoveError::Conflict(t("pharmacy_movements.error_stocktake_state")),
        e => MoveError::Db(e),
    }
}

/// Starts a stock take of a store. A store already being counted answers that stock take
/// (`Err(Conflict)` carries no id: the caller looks it up).
pub async fn start(db: &Db, actor: &Actor, store: i64, blind: bool) -> Result<i64, MoveError> {
    let at = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    let (id, lines) = match sql::start(&mut tx, store, blind, actor.user_id, &at).await {
        Ok(started) => started,
        Err(e) if e.is_unique() => {
            return Err(MoveError::Conflict(t(
                "pharmacy_movements.error_stocktake_open",
            )))
        }
        Err(e) => return Err(e.into()),
    };
    if lines == 0 {
        tx.rollback().await.map_err(hms_core::db::classify)?;
        return Err(MoveError::Refused(t(
            "pharmacy_movements.error_stocktake_empty",
        )));
    }
    audit::record(
        &mut tx,
        actor,
        Event::new("pharmacy.stocktake_start", "stock_take", Some(id))
            .detail(json!({"store": store, "blind": blind, "lines": lines})),
    )
    .await?;
    tx.commit().await.map_err(hms_core::db::classify)?;
    Ok(id)
}

/// A counted quantity typed on the sheet: a whole number from 0.
pub fn counted(text: &str) -> Result<Option<i64>, &'static str> {
    let text = text.trim().replace([',', ' '], "");
    if text.is_empty() {
        return Ok(None);
    }
    if text == "0" {
        return Ok(Some(0));
    }
    super::quantity(&text).map(Some)
}

/// Records counts (line, counted) while the sheet is being counted.
pub async fn count(
    db: &Db,
    actor: &Actor,
    take: i64,
    counts: &[(i64, i64)],
) -> Result<(), MoveError> {
    if counts.iter().any(|(_, c)| !(0..=MAX_QUANTITY).contains(c)) {
        return Err(MoveError::Refused(t(
            "pharmacy_movements.error_quantity_huge",
        )));
    }
    let at = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    sql::hold(&mut tx, take, "counting")
        .await
        .map_err(conflict)?;
    for (line, c) in counts {
        sql::count_line(&mut tx, take, *line, *c, actor.user_id, &at)
            .await
            .map_err(|e| match e {
                DbError::Conflict => MoveError::NotFound,
                e => MoveError::Db(e),
            })?;
    }
    let lines: Vec<_> = counts
        .iter()
        .map(|(l, c)| json!({"line": l, "counted": c}))
        .collect();
    audit::record(
        &mut tx,
        actor,
        Event::new("pharmacy.stocktake_count", "stock_take", Some(take))
            .detail(json!({"lines": lines})),
    )
    .await?;
    tx.commit().await.map_err(hms_core::db::classify)?;
    Ok(())
}

/// Hands the counted sheet over for approval.
pub async fn submit(db: &Db, actor: &Actor, take: i64) -> Result<(), MoveError> {
    let at = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    sql::hold(&mut tx, take, "counting")
        .await
        .map_err(conflict)?;
    if sql::counted_lines(&mut tx, take).await? == 0 {
        return Err(MoveError::Refused(t(
            "pharmacy_movements.error_nothing_counted",
        )));
    }
    sql::submit(&mut tx, take, actor.user_id, &at)
        .await
        .map_err(conflict)?;
    audit::record(
        &mut tx,
        actor,
        Event::new("pharmacy.stocktake_submit", "stock_take", Some(take)),
    )
    .await?;
    tx.commit().await.map_err(hms_core::db::classify)?;
    Ok(())
}

/// Approves a submitted stock take and posts each variance (counted - system at counting) to
/// its batch. Refused to anyone who counted or submitted it. A variance taking out more than
/// the batch holds now (dispensed since) takes what is left: a balance never goes below zero.
pub async fn approve(db: &Db, actor: &Actor, take: i64) -> Result<usize, MoveError> {
    let user = actor.user_id.ok_or(MoveError::NotFound)?;
    let at = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    sql::hold(&mut tx, take, "submitted")
        .await
        .map_err(conflict)?;
    if sql::counted_by(&mut tx, take, user).await? {
        return Err(MoveError::Refused(t("pharmacy_movements.error_own_count")));
    }
    sql::decide(&mut tx, take, "approved", Some(user), &at)
        .await
        .map_err(conflict)?;
    let mut moved = Vec::new();
    let mut clamped = Vec::new();
    for (line, batch, variance) in sql::variances(&mut tx, take).await? {
        let reference = format!("stock_take_line:{line}");
        let mut quantity = variance;
        let movement = |q: i64| Movement {
            batch,
            quantity: q,
            kind: Kind::StockTake,
            reference: &reference,
            reason: None,
            user: Some(user),
            at: &at,
            usable_on: None,
        };
        let after = match stock::post(&mut tx, &movement(quantity)).await {
            Ok(after) => Some(after),
            Err(StockError::Short { available, .. }) => {
                clamped.push(json!({"batch": batch, "variance": variance, "available": available}));
                quantity = -available;
                if available > 0 {
                    Some(stock::post(&mut tx, &movement(quantity)).await?)
                } else {
                    None
                }
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(after) = after {
            moved.push(Moved::new(batch, quantity, after));
        }
    }
    audit::record(
        &mut tx,
        actor,
        Event::new("pharmacy.stocktake_approve", "stock_take", Some(take))
            .detail(json!({"batches": moved, "clamped": clamped})),
    )
    .await?;
    tx.commit().await.map_err(hms_core::db::classify)?;
    Ok(moved.len())
}

/// Rejects a submitted stock take: nothing moves; the store may be counted again.
pub async fn reject(db: &Db, actor: &Actor, take: i64) -> Result<(), MoveError> {
    let at = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    sql::decide(&mut tx, take, "rejected", actor.user_id, &at)
        .await
        .map_err(conflict)?;
    audit::record(
        &mut tx,
        actor,
        Event::new("pharmacy.stocktake_reject", "stock_take", Some(take)),
    )
    .await?;
    tx.commit().await.map_err(hms_core::db::classify)?;
    Ok(())
}
