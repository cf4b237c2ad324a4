//! Critical results for the placer: an alert row per critical outcome, shown as a count in the
//! top bar and listed at `/orders/alerts`, acknowledged once (a guarded update: of two clicks
//! one acknowledges, the other gets [`DbError::Conflict`]).

use serde::Serialize;
use sqlx::Row;

use crate::audit::{self, Actor, Event};
use crate::db::{Db, DbError, Tx};
use crate::ids::{OrderId, PatientId, UserId};

/// An open alert as its user sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub id: i64,
    pub order: OrderId,
    pub patient: PatientId,
    pub display: String,
    pub summary: String,
    pub amended: bool,
    pub created_at: String,
}

pub(super) async fn raise(
    tx: &mut Tx,
    order: OrderId,
    outcome: i64,
    user: UserId,
    patient: PatientId,
    now: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO order_alerts (order_id, outcome_id, user_id, patient_id, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(order)
    .bind(outcome)
    .bind(user)
    .bind(patient)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How many alerts `user` has not acknowledged (one indexed count, for the top bar).
pub async fn open_count(db: &Db, user: UserId) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "SELECT COUNT(*) FROM order_alerts WHERE user_id = $1 AND acknowledged_at IS NULL",
    )
    .bind(user)
    .fetch_one(db.read())
    .await?
    .get(0))
}

/// The user's open alerts, newest first.
pub async fn open_for(db: &Db, user: UserId, limit: i64) -> Result<Vec<Alert>, DbError> {
    let rows = sqlx::query(
        "SELECT a.id, a.order_id, a.patient_id, o.display, r.summary, r.amended, a.created_at \
         FROM order_alerts a JOIN orders o ON o.id = a.order_id \
         JOIN order_outcomes r ON r.id = a.outcome_id \
         WHERE a.user_id = $1 AND a.acknowledged_at IS NULL \
         ORDER BY a.id DESC LIMIT CAST($2 AS BIGINT)",
    )
    .bind(user)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Alert {
            id: r.get(0),
            order: OrderId(r.get(1)),
            patient: PatientId(r.get(2)),
            display: r.get(3),
            summary: r.get(4),
            amended: r.get::<i64, _>(5) != 0,
            created_at: r.get(6),
        })
        .collect())
}

/// `user` acknowledges their alert, once.
pub async fn acknowledge(
    tx: &mut Tx,
    actor: &Actor,
    alert: i64,
    user: UserId,
) -> Result<(), DbError> {
    let row = sqlx::query(
        "UPDATE order_alerts SET acknowledged_at = $3 \
         WHERE id = $1 AND user_id = $2 AND acknowledged_at IS NULL \
         RETURNING order_id, patient_id",
    )
    .bind(alert)
    .bind(user)
    .bind(crate::clock::now_rfc3339())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DbError::Conflict)?;
    let order: i64 = row.get(0);
    audit::record(
        tx,
        actor,
        Event::new("order.alert_ack", "order", Some(order))
            .patient(row.get(1))
            .detail(serde_json::json!({ "alert": alert })),
    )
    .await?;
    Ok(())
}
