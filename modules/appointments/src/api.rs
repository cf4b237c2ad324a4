//! What other departments may use of appointments (declare `requires() = ["appointments"]` and
//! use nothing else of this crate): visits (open one at check-in, read one, who pays) and the
//! service points' queues, so consultations, laboratory and pharmacy all move patients the same
//! way: send a visit to a point, call, serve, finish. Every change takes the caller's
//! transaction and appends its audit row last.

use hms_core::db::{Db, DbError};

pub use crate::model::{is_payer, payer_label, EntryState, Priority, PAYERS};
pub use crate::visits::{
    call_next, check_in, complete_visit, entry, finish, left_without_being_seen, open_visit,
    send_to, serve, visit, QueueEntry, Visit, VisitError, FIRST_POINT,
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

pub use crate::repo::queue::QueueLine;

/// A service point's queue as its screen lists it (called and being served first, then the
/// waiting in calling order), at most `limit` lines; empty for an unknown point.
pub async fn queue_lines(db: &Db, point_code: &str, limit: i64) -> Result<Vec<QueueLine>, DbError> {
    match crate::repo::queue::point(db.read(), point_code).await? {
        Some(p) => crate::repo::queue::point_lines(db, p.id, limit).await,
        None => Ok(Vec::new()),
    }
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
