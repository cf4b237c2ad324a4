//! Reading orders: one order, a filler's worklist (kind and state, oldest first), a patient's
//! orders and a visit's, each answered by an index of `orders`.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Flag, OrderId, State};
use crate::db::{Db, DbError};
use crate::ids::{PatientId, UserId, VisitId};

/// An order as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub id: OrderId,
    pub uuid: String,
    pub kind: String,
    pub patient: PatientId,
    pub visit: Option<VisitId>,
    pub placer_module: String,
    pub placer_ref: Option<String>,
    pub group: Option<String>,
    pub code: Option<String>,
    pub free_text: Option<String>,
    pub display: String,
    pub details: serde_json::Value,
    pub quantity: i64,
    pub quantity_done: i64,
    pub priority: String,
    pub state: State,
    /// Why it was cancelled, not done, closed or discontinued.
    pub reason: Option<String>,
    pub outcome_summary: Option<String>,
    pub outcome_flag: Option<Flag>,
    pub placed_by: Option<UserId>,
    pub placed_at: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
}

/// One recorded outcome; an amendment is a later row marked `amended`.
#[derive(Debug, Clone, Serialize)]
pub struct OutcomeRow {
    pub id: i64,
    pub summary: String,
    pub flag: Flag,
    pub amended: bool,
    pub recorded_by: Option<UserId>,
    pub recorded_at: String,
}

/// The columns [`from_row`] reads, then `$tail`.
macro_rules! select_orders {
    ($tail:literal) => {
        concat!(
            "SELECT id, uuid, kind, patient_id, visit_id, placer_module, placer_ref, ",
            "order_group, code, free_text, display, details, quantity, quantity_done, ",
            "priority, state, reason, outcome_summary, outcome_flag, placed_by, placed_at, ",
            "started_at, ended_at FROM orders ",
            $tail
        )
    };
}

fn from_row(r: &AnyRow) -> Order {
    let details: String = r.get(11);
    let state: String = r.get(15);
    let flag: Option<String> = r.get(18);
    Order {
        id: OrderId(r.get(0)),
        uuid: r.get(1),
        kind: r.get(2),
        patient: PatientId(r.get(3)),
        visit: r.get::<Option<i64>, _>(4).map(VisitId),
        placer_module: r.get(5),
        placer_ref: r.get(6),
        group: r.get(7),
        code: r.get(8),
        free_text: r.get(9),
        display: r.get(10),
        details: serde_json::from_str(&details).unwrap_or_default(),
        quantity: r.get(12),
        quantity_done: r.get(13),
        priority: r.get(14),
        state: State::parse(&state).unwrap_or(State::Placed),
        reason: r.get(16),
        outcome_summary: r.get(17),
        outcome_flag: flag.as_deref().and_then(Flag::parse),
        placed_by: r.get::<Option<i64>, _>(19).map(UserId),
        placed_at: r.get(20),
        started_at: r.get(21),
        ended_at: r.get(22),
    }
}

pub(super) async fn one(db: &Db, id: OrderId) -> Result<Option<Order>, DbError> {
    const SQL: &str = select_orders!("WHERE id = $1");
    let row = sqlx::query(SQL).bind(id).fetch_optional(db.read()).await?;
    Ok(row.as_ref().map(from_row))
}

/// A filler's worklist: orders of `kind` in `state`, oldest placed first.
pub async fn worklist(
    db: &Db,
    kind: &str,
    state: State,
    limit: i64,
) -> Result<Vec<Order>, DbError> {
    const SQL: &str = select_orders!(
        "WHERE kind = $1 AND state = $2 ORDER BY placed_at, id LIMIT CAST($3 AS BIGINT)"
    );
    let rows = sqlx::query(SQL)
        .bind(kind)
        .bind(state.code())
        .bind(limit)
        .fetch_all(db.read())
        .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// A patient's orders, newest first.
pub async fn for_patient(db: &Db, patient: PatientId, limit: i64) -> Result<Vec<Order>, DbError> {
    const SQL: &str = select_orders!(
        "WHERE patient_id = $1 ORDER BY placed_at DESC, id DESC LIMIT CAST($2 AS BIGINT)"
    );
    let rows = sqlx::query(SQL)
        .bind(patient)
        .bind(limit)
        .fetch_all(db.read())
        .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// A visit's orders, in the order they were placed.
pub async fn for_visit(db: &Db, visit: VisitId) -> Result<Vec<Order>, DbError> {
    const SQL: &str = select_orders!("WHERE visit_id = $1 ORDER BY id");
    let rows = sqlx::query(SQL).bind(visit).fetch_all(db.read()).await?;
    Ok(rows.iter().map(from_row).collect())
}

/// Every outcome recorded for an order, first to last.
pub async fn outcomes(db: &Db, id: OrderId) -> Result<Vec<OutcomeRow>, DbError> {
    let rows = sqlx::query(
        "SELECT id, summary, flag, amended, recorded_by, recorded_at FROM order_outcomes \
         WHERE order_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| OutcomeRow {
            id: r.get(0),
            summary: r.get(1),
            flag: Flag::parse(&r.get::<String, _>(2)).unwrap_or(Flag::Normal),
            amended: r.get::<i64, _>(3) != 0,
            recorded_by: r.get::<Option<i64>, _>(4).map(UserId),
            recorded_at: r.get(5),
        })
        .collect())
}
