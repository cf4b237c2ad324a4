//! What other departments may use of appointments (declare `requires() = ["appointments"]` and
//! use nothing else of this crate): visits (open one at check-in, read one, who pays) and the
//! service points' queues, so consultations, laboratory and pharmacy all move patients the same
//! way: send a visit to a point, call, serve, finish. Every change takes the caller's
//! transaction and appends its audit row last.

use hms_core::db::{Db, DbError};

pub use crate::fees::{consultation_item, post_consultation_fee, CONSULTATION_ITEM};
pub use crate::model::{is_payer, payer_label, EntryState, Priority, PAYERS};
pub use crate::visits::{
    call_next, check_in, complete_visit, entry, finish, left_without_being_seen, open_visit,
    send_to, serve, visit, visit_ids_since, visits, QueueEntry, Visit, VisitError, FIRST_POINT,
};

/// A service point (triage, consultation, laboratory, pharmacy, cashier, or one an
/// administrator added), where a queue forms.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServicePoint {
    /// The code other modules name it by (`laboratory`).
    pub code: String,
    pub name: String,
    pub room: Option<String>,
}

/// The active service points in their order.
pub async fn service_points(db: &Db) -> Result<Vec<ServicePoint>, DbError> {
    Ok(crate::repo::queue::points(db)
        .await?
        .into_iter()
        .map(|p| ServicePoint {
            code: p.code,
            name: p.name,
            room: p.room,
        })
        .collect())
}

/// How many patients wait at a service point, and since when the one waiting longest has
/// (RFC 3339); `(0, None)` for an unknown point. For cards that count a whole queue.
pub async fn waiting(db: &Db, point_code: &str) -> Result<(i64, Option<String>), DbError> {
    let Some(point) = crate::repo::queue::point(db.read(), point_code).await? else {
        return Ok((0, None));
    };
    Ok(crate::repo::queue::waiting_counts(db)
        .await?
        .into_iter()
        .find(|(id, _, _)| *id == point.id)
        .map(|(_, n, oldest)| (n, oldest))
        .unwrap_or((0, None)))
}

/// A visit by id inside the caller's transaction (for work that must not wait for another
/// connection while it holds locks).
pub async fn visit_in(
    tx: &mut hms_core::db::Tx,
    visit_id: hms_core::ids::VisitId,
) -> Result<Option<Visit>, DbError> {
    Ok(crate::repo::visits::visit(&mut **tx, visit_id)
        .await?
        .map(Visit::from))
}

/// The entries of a service point's queue (waiting, called, being served) in calling order, at
/// most `limit`: for a department's own queue screen (triage, consultation).
pub async fn queue(
    db: &Db,
    point_code: &str,
    limit: i64,
) -> Result<Vec<crate::visits::QueueEntry>, DbError> {
    Ok(
        crate::repo::visits::point_entries(db.read(), point_code, limit)
            .await?
            .into_iter()
            .map(crate::visits::QueueEntry::from)
            .collect(),
    )
}

/// The visit's entry that is waiting, called or being served, if any.
pub async fn active_entry(
    db: &Db,
    visit_id: hms_core::ids::VisitId,
) -> Result<Option<crate::visits::QueueEntry>, DbError> {
    Ok(crate::repo::visits::active_entry(db.read(), visit_id)
        .await?
        .map(crate::visits::QueueEntry::from))
}

/// [`active_entry`] read in the caller's transaction (which sees its own writes).
pub async fn active_entry_in(
    tx: &mut hms_core::db::Tx,
    visit_id: hms_core::ids::VisitId,
) -> Result<Option<crate::visits::QueueEntry>, DbError> {
    Ok(crate::repo::visits::active_entry(&mut **tx, visit_id)
        .await?
        .map(crate::visits::QueueEntry::from))
}

/// Takes a visit's active entry at `point_code` into service in the caller's transaction (a
/// waiting entry is called, then served; a called one is served), so that sending the patient
/// on afterwards records the entry as served. `None` when the visit is not at that point.
pub async fn take(
    tx: &mut hms_core::db::Tx,
    visit_id: hms_core::ids::VisitId,
    point_code: &str,
    actor: &hms_core::audit::Actor,
) -> Result<Option<crate::visits::QueueEntry>, crate::visits::VisitError> {
    use crate::visits::VisitError;
    let Some(active) = crate::repo::visits::active_entry(&mut **tx, visit_id).await? else {
        return Ok(None);
    };
    if active.point_code != point_code {
        return Ok(None);
    }
    let now = hms_core::clock::now_rfc3339();
    if active.state == "waiting"
        && !crate::repo::visits::mark_called(tx, active.id, actor.user_id, &now).await?
    {
        return Err(VisitError::Conflict);
    }
    if active.state == "serving" {
        return Ok(Some(crate::visits::QueueEntry::from(active)));
    }
    crate::visits::serve(tx, active.id, actor).await.map(Some)
}
