//! Orders: a request from one department to another (a doctor's lab test, a prescription line, an
//! admission), one row per item, written in the transaction of the act that causes it.
//!
//! States: `placed -> in_progress -> completed`. Before work starts the placer may cancel it; the
//! filler may mark it `not_done` with a reason. Work may be partly done (`quantity_done` below
//! `quantity`) and the rest closed by the filler with a reason (`partly_done`: bought outside,
//! not available); the placer may discontinue it while in progress, with a reason the filler sees.
//! A completed order's outcome is amended by a new outcome row marked amended: clinical events
//! are never edited.
//!
//! Every transition is a guarded update in the caller's transaction (`... WHERE state = ...`,
//! checked for one row): of two desks acting at once one wins, the other gets
//! [`DbError::Conflict`] (a 409), never a double. The database's CHECK keeps
//! `0 <= quantity_done <= quantity` whatever the race. Each transition appends its audit row.
//!
//! Nothing is in transit: a filler's worklist is an indexed query on `orders`, so an order
//! placed while its filler is switched off stays `placed` (and prints) until someone does it.

use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Actor, Event};
use crate::db::{Db, DbError, Tx};
use crate::ids::{OrderId, PatientId, UserId, VisitId};

pub mod alerts;
pub mod drug;
mod list;
mod model;

pub use drug::{DrugDetails, Frequency, Route};
pub use list::*;
pub use model::*;

/// Kinds every install knows; modules may fill others (the test kit's stand-in does).
pub const LAB: &str = "lab";
pub const DRUG: &str = "drug";
pub const ADMISSION: &str = "admission";

/// An order as the placer writes it.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub kind: String,
    pub patient: PatientId,
    pub visit: Option<VisitId>,
    /// The placing module's id and its own record (an encounter, a ward round).
    pub placer_module: String,
    pub placer_ref: Option<String>,
    /// Items ordered together (one prescription, one lab request form).
    pub group: Option<String>,
    /// The filler's catalogue code, or `free_text` for something not in it.
    pub code: Option<String>,
    pub free_text: Option<String>,
    /// What lists and print-outs show.
    pub display: String,
    /// Kind-specific details as JSON; for `drug` the one shape [`DrugDetails`].
    pub details: serde_json::Value,
    pub quantity: i64,
    pub priority: Priority,
}

impl NewOrder {
    /// One item of `kind` for `patient`, quantity 1, routine; fill in the rest.
    pub fn new(kind: &str, patient: PatientId, placer_module: &str, display: &str) -> Self {
        NewOrder {
            kind: kind.into(),
            patient,
            visit: None,
            placer_module: placer_module.into(),
            placer_ref: None,
            group: None,
            code: None,
            free_text: None,
            display: display.into(),
            details: json!({}),
            quantity: 1,
            priority: Priority::Routine,
        }
    }

    /// A drug order: details, quantity and display come from the structured prescription.
    pub fn drug(patient: PatientId, placer_module: &str, details: &DrugDetails) -> Self {
        NewOrder {
            code: details.code.clone(),
            free_text: details.code.is_none().then(|| details.drug.clone()),
            details: serde_json::to_value(details).unwrap_or_default(),
            quantity: details.quantity,
            ..NewOrder::new(DRUG, patient, placer_module, &details.display())
        }
    }
}

/// Why an order could not be written or moved.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// Bad input: `field` and a translation key of the message.
    #[error("invalid {field}: {key}")]
    Invalid {
        field: &'static str,
        key: &'static str,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for OrderError {
    fn from(e: sqlx::Error) -> Self {
        OrderError::Db(e.into())
    }
}

impl OrderError {
    fn invalid(field: &'static str, key: &'static str) -> Self {
        OrderError::Invalid { field, key }
    }

    /// The message for the reader, in their language.
    pub fn message(&self) -> String {
        match self {
            OrderError::Invalid { key, .. } => crate::i18n::t(key),
            OrderError::Db(DbError::Conflict) => crate::i18n::t("orders.error_conflict"),
            OrderError::Db(e) => e.to_string(),
        }
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, OrderError::Db(DbError::Conflict))
    }
}

impl From<OrderError> for crate::AppError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Invalid { .. } => crate::AppError::BadRequest(e.message()),
            OrderError::Db(DbError::Conflict) => crate::AppError::Conflict(e.message()),
            OrderError::Db(db) => db.into(),
        }
    }
}

fn validate(order: &NewOrder) -> Result<(), OrderError> {
    let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
    if order.kind.trim().is_empty() {
        return Err(OrderError::invalid("kind", "orders.error_kind"));
    }
    if blank(&order.code) && blank(&order.free_text) {
        return Err(OrderError::invalid("code", "orders.error_what"));
    }
    if order.display.trim().is_empty() {
        return Err(OrderError::invalid("display", "orders.error_what"));
    }
    if order.quantity < 1 {
        return Err(OrderError::invalid("quantity", "orders.error_quantity"));
    }
    if order.kind == DRUG {
        let details: DrugDetails = serde_json::from_value(order.details.clone())
            .map_err(|_| OrderError::invalid("details", "orders.drug.error_shape"))?;
        details.validate()?;
        if details.quantity != order.quantity {
            return Err(OrderError::invalid(
                "quantity",
                "orders.drug.error_quantity",
            ));
        }
    }
    Ok(())
}

/// Places an order in the caller's transaction; returns its id.
pub async fn place(tx: &mut Tx, actor: &Actor, order: &NewOrder) -> Result<OrderId, OrderError> {
    validate(order)?;
    let now = crate::clock::now_rfc3339();
    let id: i64 = sqlx::query(
        "INSERT INTO orders (kind, patient_id, visit_id, placer_module, placer_ref, order_group, \
         code, free_text, display, details, quantity, priority, placed_by, placed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(&order.kind)
    .bind(order.patient)
    .bind(order.visit)
    .bind(&order.placer_module)
    .bind(&order.placer_ref)
    .bind(&order.group)
    .bind(order.code.as_deref().map(str::trim))
    .bind(order.free_text.as_deref().map(str::trim))
    .bind(order.display.trim())
    .bind(order.details.to_string())
    .bind(order.quantity)
    .bind(order.priority.code())
    .bind(actor.user_id)
    .bind(&now)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    audit::record(
        tx,
        actor,
        Event::new("order.place", "order", Some(id))
            .patient(order.patient.get())
            .detail(json!({
                "kind": order.kind,
                "code": order.code,
                "quantity": order.quantity,
                "priority": order.priority.code(),
                "placer": order.placer_module,
                "visit": order.visit,
            })),
    )
    .await?;
    Ok(OrderId(id))
}

/// What a guarded update returns of the order it moved.
struct Moved {
    patient: i64,
    placed_by: Option<i64>,
}

/// Runs one guarded state change (`sql` binds $1 order, $2 now, $3 user, $4 reason and ends
/// `RETURNING patient_id, placed_by`), then its audit row. No row moved: [`DbError::Conflict`].
async fn transition(
    tx: &mut Tx,
    actor: &Actor,
    id: OrderId,
    action: &'static str,
    sql: &'static str,
    reason: Option<&str>,
) -> Result<Moved, OrderError> {
    let row = sqlx::query(sql)
        .bind(id)
        .bind(crate::clock::now_rfc3339())
        .bind(actor.user_id)
        .bind(reason.map(str::trim))
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(DbError::Conflict)?;
    let moved = Moved {
        patient: row.get(0),
        placed_by: row.get(1),
    };
    audit::record(
        tx,
        actor,
        Event::new(action, "order", Some(id.get()))
            .patient(moved.patient)
            .detail(json!({ "reason": reason })),
    )
    .await?;
    Ok(moved)
}

fn reason_given(reason: &str) -> Result<&str, OrderError> {
    if reason.trim().is_empty() {
        Err(OrderError::invalid("reason", "orders.error_reason"))
    } else {
        Ok(reason)
    }
}

/// The filler starts work: `placed -> in_progress`.
pub async fn start(tx: &mut Tx, actor: &Actor, id: OrderId) -> Result<(), OrderError> {
    transition(
        tx,
        actor,
        id,
        "order.start",
        "UPDATE orders SET state = 'in_progress', started_at = $2, started_by = $3, \
         reason = COALESCE($4, reason) WHERE id = $1 AND state = 'placed' \
         RETURNING patient_id, placed_by",
        None,
    )
    .await
    .map(drop)
}

/// The placer cancels before work starts: `placed -> cancelled`.
pub async fn cancel(
    tx: &mut Tx,
    actor: &Actor,
    id: OrderId,
    reason: Option<&str>,
) -> Result<(), OrderError> {
    transition(
        tx,
        actor,
        id,
        "order.cancel",
        "UPDATE orders SET state = 'cancelled', ended_at = $2, ended_by = $3, reason = $4 \
         WHERE id = $1 AND state = 'placed' RETURNING patient_id, placed_by",
        reason.filter(|r| !r.trim().is_empty()),
    )
    .await
    .map(drop)
}

/// The filler will not do it (no reagent, patient refused), before any of it is done.
pub async fn not_done(
    tx: &mut Tx,
    actor: &Actor,
    id: OrderId,
    reason: &str,
) -> Result<(), OrderError> {
    transition(
        tx,
        actor,
        id,
        "order.not_done",
        "UPDATE orders SET state = 'not_done', ended_at = $2, ended_by = $3, reason = $4 \
         WHERE id = $1 AND state IN ('placed', 'in_progress') AND quantity_done = 0 \
         RETURNING patient_id, placed_by",
        Some(reason_given(reason)?),
    )
    .await
    .map(drop)
}

/// The placer stops it while in progress; the filler sees the reason.
pub async fn discontinue(
    tx: &mut Tx,
    actor: &Actor,
    id: OrderId,
    reason: &str,
) -> Result<(), OrderError> {
    transition(
        tx,
        actor,
        id,
        "order.discontinue",
        "UPDATE orders SET state = 'discontinued', ended_at = $2, ended_by = $3, reason = $4 \
         WHERE id = $1 AND state = 'in_progress' RETURNING patient_id, placed_by",
        Some(reason_given(reason)?),
    )
    .await
    .map(drop)
}

/// Part done, the rest closed by the filler with a reason (bought outside, not available).
pub async fn close_rest(
    tx: &mut Tx,
    actor: &Actor,
    id: OrderId,
    reason: &str,
) -> Result<(), OrderError> {
    transition(
        tx,
        actor,
        id,
        "order.close_rest",
        "UPDATE orders SET state = 'partly_done', ended_at = $2, ended_by = $3, reason = $4 \
         WHERE id = $1 AND state = 'in_progress' AND quantity_done > 0 \
         AND quantity_done < quantity RETURNING patient_id, placed_by",
        Some(reason_given(reason)?),
    )
    .await
    .map(drop)
}

/// Records `done` more units done (a part dispensed). Never past the quantity: a guarded update,
/// and the database's CHECK besides.
pub async fn record_done(
    tx: &mut Tx,
    actor: &Actor,
    id: OrderId,
    done: i64,
) -> Result<(), OrderError> {
    if done < 1 {
        return Err(OrderError::invalid("quantity", "orders.error_quantity"));
    }
    let row = sqlx::query(
        "UPDATE orders SET quantity_done = quantity_done + $2 WHERE id = $1 \
         AND state = 'in_progress' AND quantity_done + $2 <= quantity RETURNING patient_id",
    )
    .bind(id)
    .bind(done)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DbError::Conflict)?;
    audit::record(
        tx,
        actor,
        Event::new("order.progress", "order", Some(id.get()))
            .patient(row.get(0))
            .detail(json!({ "done": done })),
    )
    .await?;
    Ok(())
}

/// The filler completes it (all of it done): `in_progress -> completed`, with the outcome if
/// there is one. A critical outcome alerts the placer.
pub async fn complete(
    tx: &mut Tx,
    actor: &Actor,
    id: OrderId,
    outcome: Option<&Outcome>,
) -> Result<(), OrderError> {
    if let Some(o) = outcome {
        check_outcome(o)?;
    }
    let moved = transition(
        tx,
        actor,
        id,
        "order.complete",
        "UPDATE orders SET state = 'completed', quantity_done = quantity, ended_at = $2, \
         ended_by = $3, reason = COALESCE($4, reason) WHERE id = $1 AND state = 'in_progress' \
         RETURNING patient_id, placed_by",
        None,
    )
    .await?;
    if let Some(o) = outcome {
        write_outcome(tx, actor, id, &moved, o, false).await?;
    }
    Ok(())
}

/// The filler corrects a completed order's outcome: a new outcome row marked amended; the order
/// shows the latest.
pub async fn amend(
    tx: &mut Tx,
    actor: &Actor,
    id: OrderId,
    outcome: &Outcome,
) -> Result<(), OrderError> {
    check_outcome(outcome)?;
    let row = sqlx::query(
        "SELECT patient_id, placed_by FROM orders WHERE id = $1 AND state = 'completed'",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DbError::Conflict)?;
    let moved = Moved {
        patient: row.get(0),
        placed_by: row.get(1),
    };
    write_outcome(tx, actor, id, &moved, outcome, true).await
}

fn check_outcome(outcome: &Outcome) -> Result<(), OrderError> {
    if outcome.summary.trim().is_empty() {
        return Err(OrderError::invalid("summary", "orders.error_outcome"));
    }
    Ok(())
}

async fn write_outcome(
    tx: &mut Tx,
    actor: &Actor,
    id: OrderId,
    moved: &Moved,
    outcome: &Outcome,
    amended: bool,
) -> Result<(), OrderError> {
    let now = crate::clock::now_rfc3339();
    let outcome_id: i64 = sqlx::query(
        "INSERT INTO order_outcomes (order_id, summary, flag, amended, recorded_by, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(id)
    .bind(outcome.summary.trim())
    .bind(outcome.flag.code())
    .bind(i64::from(amended))
    .bind(actor.user_id)
    .bind(&now)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    let done = sqlx::query(
        "UPDATE orders SET outcome_summary = $2, outcome_flag = $3 \
         WHERE id = $1 AND state = 'completed'",
    )
    .bind(id)
    .bind(outcome.summary.trim())
    .bind(outcome.flag.code())
    .execute(&mut **tx)
    .await?;
    crate::db::one_row(done)?;
    if outcome.flag == Flag::Critical {
        if let Some(placer) = moved.placed_by {
            alerts::raise(
                tx,
                id,
                outcome_id,
                UserId(placer),
                PatientId(moved.patient),
                &now,
            )
            .await?;
        }
    }
    audit::record(
        tx,
        actor,
        Event::new(
            if amended {
                "order.amend"
            } else {
                "order.outcome"
            },
            "order",
            Some(id.get()),
        )
        .patient(moved.patient)
        .detail(json!({ "outcome": outcome_id, "flag": outcome.flag.code() })),
    )
    .await?;
    Ok(())
}

/// An order by id (for a filler's screen, a print-out).
pub async fn get(db: &Db, id: OrderId) -> Result<Option<Order>, DbError> {
    list::one(db, id).await
}
