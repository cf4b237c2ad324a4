//! SQL of merging two records of the same person, and of undoing a merge.
//!
//! The merged record is kept as it was and points to the survivor (`patients.merged_into`); reads
//! follow the pointer, so rows of other modules that name the merged record need no rewriting,
//! and an undo only has to clear the pointer. Chains are refused: a merged record never has
//! records merged into it, and a survivor is never itself merged, so one step always reaches the
//! survivor.

use hms_core::audit::{self, Actor, Event};
use hms_core::clock;
use hms_core::db::{Db, DbError, Tx};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::full_name;

/// A record as the merge screens show it: the row itself, with no pointer followed.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub id: i64,
    pub number: String,
    pub name: String,
    pub sex: String,
    pub date_of_birth: String,
    pub dob_estimated: bool,
    pub phone: Option<String>,
    pub identifiers: Vec<(String, String)>,
    /// The survivor, when this record has been merged.
    pub merged_into: Option<i64>,
    /// How many records are merged into this one now.
    pub absorbed: i64,
}

/// Reads one record for the merge screens, without following a merge.
pub async fn side(db: &Db, id: i64) -> Result<Option<Side>, DbError> {
    let Some(r) = sqlx::query(
        "SELECT id, number, first_name, middle_name, last_name, sex, date_of_birth, dob_estimated, \
         phone, merged_into FROM patients WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await?
    else {
        return Ok(None);
    };
    let identifiers = super::identifiers_of(db.read(), id).await?;
    let absorbed: i64 = sqlx::query("SELECT COUNT(*) FROM patients WHERE merged_into = $1")
        .bind(id)
        .fetch_one(db.read())
        .await?
        .get(0);
    Ok(Some(Side {
        id: r.get(0),
        number: r.get(1),
        name: full_name(
            &r.get::<String, _>(2),
            r.get::<Option<String>, _>(3).as_deref(),
            &r.get::<String, _>(4),
        ),
        sex: r.get(5),
        date_of_birth: r.get(6),
        dob_estimated: r.get::<i64, _>(7) == 1,
        phone: r.get(8),
        identifiers,
        merged_into: r.get(9),
        absorbed,
    }))
}

/// Why a merge (or an undo) cannot go ahead. Nothing has changed when one is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Both sides are the same record.
    SameRecord,
    /// The record to keep has itself been merged into another.
    SurvivorMerged,
    /// The record to merge has already been merged.
    AlreadyMerged,
    /// Other records are merged into the record to merge (merging it would make a chain).
    HasMergedRecords,
    /// A record or the merge does not exist.
    NotFound,
    /// The merge has already been undone.
    AlreadyUndone,
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("merge refused: {0:?}")]
    Refused(Refusal),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for MergeError {
    fn from(e: sqlx::Error) -> Self {
        MergeError::Db(e.into())
    }
}

/// Whether `merged` may be merged into `survivor`, judged from the records as read; [`merge`]
/// checks again inside its transaction.
pub fn check(survivor: &Side, merged: &Side) -> Result<(), Refusal> {
    if survivor.id == merged.id {
        Err(Refusal::SameRecord)
    } else if survivor.merged_into.is_some() {
        Err(Refusal::SurvivorMerged)
    } else if merged.merged_into.is_some() {
        Err(Refusal::AlreadyMerged)
    } else if merged.absorbed > 0 {
        Err(Refusal::HasMergedRecords)
    } else {
        Ok(())
    }
}

/// Why a guarded update of `id` matched no row: the record is missing, or already merged.
async fn why_not(tx: &mut Tx, id: i64, merged: Refusal) -> Result<Refusal, MergeError> {
    let found = sqlx::query("SELECT id FROM patients WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(if found.is_some() {
        merged
    } else {
        Refusal::NotFound
    })
}

/// Merges `merged_id` into `survivor_id` inside `tx` and records it in the audit trail of both
/// patients; returns the merge id. On a refusal the caller drops `tx` (nothing is kept).
///
/// Both rows are taken with guarded updates in id order: on PostgreSQL that locks them, so two
/// merges touching the same record run one after the other (and in the same order, so they
/// cannot deadlock); SQLite's writer already runs one at a time.
pub async fn merge(
    tx: &mut Tx,
    survivor_id: i64,
    merged_id: i64,
    reason: &str,
    actor: &Actor,
) -> Result<i64, MergeError> {
    if survivor_id == merged_id {
        return Err(MergeError::Refused(Refusal::SameRecord));
    }
    let mut order = [survivor_id, merged_id];
    order.sort_unstable();
    for id in order {
        if id == survivor_id {
            // Changes nothing; takes the row, and only if it is not merged itself.
            let taken = sqlx::query(
                "UPDATE patients SET merged_into = merged_into WHERE id = $1 AND merged_into IS NULL",
            )
            .bind(survivor_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if taken != 1 {
                let why = why_not(tx, survivor_id, Refusal::SurvivorMerged).await?;
                return Err(MergeError::Refused(why));
            }
        } else {
            let taken = sqlx::query(
                "UPDATE patients SET merged_into = $1 WHERE id = $2 AND merged_into IS NULL",
            )
            .bind(survivor_id)
            .bind(merged_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if taken != 1 {
                let why = why_not(tx, merged_id, Refusal::AlreadyMerged).await?;
                return Err(MergeError::Refused(why));
            }
        }
    }
    let absorbed: i64 = sqlx::query("SELECT COUNT(*) FROM patients WHERE merged_into = $1")
        .bind(merged_id)
        .fetch_one(&mut **tx)
        .await?
        .get(0);
    if absorbed > 0 {
        return Err(MergeError::Refused(Refusal::HasMergedRecords));
    }
    let survivor_number = number_of(tx, survivor_id).await?;
    let merged_number = number_of(tx, merged_id).await?;
    let now = clock::now_rfc3339();
    let merge_id: i64 = sqlx::query(
        "INSERT INTO patient_merges (survivor_id, merged_id, merged_by, merged_at, reason) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(survivor_id)
    .bind(merged_id)
    .bind(actor.user_id)
    .bind(&now)
    .bind(reason)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    let detail = json!({
        "merge_id": merge_id,
        "survivor": {"id": survivor_id, "number": survivor_number},
        "merged": {"id": merged_id, "number": merged_number},
        "reason": reason,
        "before": {"merged_into": null},
        "after": {"merged_into": survivor_id},
    });
    for patient in [survivor_id, merged_id] {
        audit::record(
            tx,
            actor,
            Event::new("patient.merge", "patient_merge", Some(merge_id))
                .patient(patient)
                .detail(detail.clone()),
        )
        .await?;
    }
    Ok(merge_id)
}

async fn number_of(tx: &mut Tx, id: i64) -> Result<String, MergeError> {
    Ok(sqlx::query("SELECT number FROM patients WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?
        .get(0))
}

/// Undoes merge `merge_id` of survivor `survivor_id` inside `tx`: the merged record stands on
/// its own again, exactly as before, and the merge row is marked undone. Returns the merged
/// record's (id, number).
pub async fn undo(
    tx: &mut Tx,
    survivor_id: i64,
    merge_id: i64,
    actor: &Actor,
) -> Result<(i64, String), MergeError> {
    let now = clock::now_rfc3339();
    let marked = sqlx::query(
        "UPDATE patient_merges SET undone_by = $1, undone_at = $2 \
         WHERE id = $3 AND survivor_id = $4 AND undone_at IS NULL",
    )
    .bind(actor.user_id)
    .bind(&now)
    .bind(merge_id)
    .bind(survivor_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if marked != 1 {
        let found = sqlx::query("SELECT id FROM patient_merges WHERE id = $1 AND survivor_id = $2")
            .bind(merge_id)
            .bind(survivor_id)
            .fetch_optional(&mut **tx)
            .await?;
        let why = if found.is_some() {
            Refusal::AlreadyUndone
        } else {
            Refusal::NotFound
        };
        return Err(MergeError::Refused(why));
    }
    let r = sqlx::query("SELECT merged_id, reason FROM patient_merges WHERE id = $1")
        .bind(merge_id)
        .fetch_one(&mut **tx)
        .await?;
    let merged_id: i64 = r.get(0);
    let reason: String = r.get(1);
    let restored =
        sqlx::query("UPDATE patients SET merged_into = NULL WHERE id = $1 AND merged_into = $2")
            .bind(merged_id)
            .bind(survivor_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if restored != 1 {
        // Cannot happen while merges refuse chains; refuse rather than guess.
        return Err(MergeError::Refused(Refusal::AlreadyUndone));
    }
    let survivor_number = number_of(tx, survivor_id).await?;
    let merged_number = number_of(tx, merged_id).await?;
    let detail = json!({
        "merge_id": merge_id,
        "survivor": {"id": survivor_id, "number": survivor_number},
        "merged": {"id": merged_id, "number": merged_number},
        "reason": reason,
        "before": {"merged_into": survivor_id},
        "after": {"merged_into": null},
    });
    for patient in [survivor_id, merged_id] {
        audit::record(
            tx,
            actor,
            Event::new("patient.merge_undo", "patient_merge", Some(merge_id))
                .patient(patient)
                .detail(detail.clone()),
        )
        .await?;
    }
    Ok((merged_id, merged_number))
}

/// A record merged into a survivor, as its chart lists it.
#[derive(Debug, Clone, Serialize)]
pub struct MergedRecord {
    pub merge_id: i64,
    pub id: i64,
    pub number: String,
    pub name: String,
    pub merged_at: String,
    pub merged_by: Option<String>,
    pub reason: String,
}

macro_rules! merged_record_query {
    ($filter:literal) => {
        concat!(
            "SELECT m.id, p.id, p.number, p.first_name, p.middle_name, p.last_name, m.merged_at, \
             u.full_name, m.reason \
             FROM patient_merges m JOIN patients p ON p.id = m.merged_id \
             LEFT JOIN users u ON u.id = m.merged_by \
             WHERE m.survivor_id = $1 AND m.undone_at IS NULL",
            $filter,
            " ORDER BY m.id"
        )
    };
}

fn merged_record(r: &sqlx::any::AnyRow) -> MergedRecord {
    MergedRecord {
        merge_id: r.get(0),
        id: r.get(1),
        number: r.get(2),
        name: full_name(
            &r.get::<String, _>(3),
            r.get::<Option<String>, _>(4).as_deref(),
            &r.get::<String, _>(5),
        ),
        merged_at: clock::display_rfc3339(&r.get::<String, _>(6)),
        merged_by: r.get(7),
        reason: r.get(8),
    }
}

/// The records merged into `survivor_id` now (merges not undone), oldest first.
pub async fn merged_records(db: &Db, survivor_id: i64) -> Result<Vec<MergedRecord>, DbError> {
    let rows = sqlx::query(merged_record_query!(""))
        .bind(survivor_id)
        .fetch_all(db.read())
        .await?;
    Ok(rows.iter().map(merged_record).collect())
}

/// One merge into `survivor_id` that is not undone.
pub async fn active_merge(
    db: &Db,
    survivor_id: i64,
    merge_id: i64,
) -> Result<Option<MergedRecord>, DbError> {
    let row = sqlx::query(merged_record_query!(" AND m.id = $2"))
        .bind(survivor_id)
        .bind(merge_id)
        .fetch_optional(db.read())
        .await?;
    Ok(row.as_ref().map(merged_record))
}
