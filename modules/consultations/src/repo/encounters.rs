//! Storage of consultation notes (`encounters`, `encounter_versions`, `encounter_addenda`).

use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::EncounterId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::encounter::Encounter;

/// The columns [`encounter_of`] reads.
macro_rules! encounter_columns {
    () => {
        "id, patient_id, visit_id, visit_day, clinician_id, state, version, complaint, \
         complaint_duration, history, examination, assessment, plan, outcome, outcome_detail, \
         started_at, updated_at, signed_at, signed_by"
    };
}
pub(crate) use encounter_columns;

pub(crate) fn encounter_of(r: &AnyRow) -> Result<Encounter, sqlx::Error> {
    let detail: String = r.try_get("outcome_detail")?;
    Ok(Encounter {
        id: r.try_get("id")?,
        patient_id: r.try_get("patient_id")?,
        visit_id: r.try_get("visit_id")?,
        visit_day: r.try_get("visit_day")?,
        clinician_id: r.try_get("clinician_id")?,
        state: r.try_get("state")?,
        version: r.try_get("version")?,
        complaint: r.try_get("complaint")?,
        complaint_duration: r.try_get("complaint_duration")?,
        history: r.try_get("history")?,
        examination: r.try_get("examination")?,
        assessment: r.try_get("assessment")?,
        plan: r.try_get("plan")?,
        outcome: r.try_get("outcome")?,
        outcome_detail: serde_json::from_str(&detail).unwrap_or_default(),
        started_at: r.try_get("started_at")?,
        updated_at: r.try_get("updated_at")?,
        signed_at: r.try_get("signed_at")?,
        signed_by: r.try_get("signed_by")?,
    })
}

pub async fn get(db: &Db, id: EncounterId) -> Result<Option<Encounter>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        encounter_columns!(),
        " FROM encounters WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.read())
    .await?;
    Ok(row.as_ref().map(encounter_of).transpose()?)
}

/// The note inside a transaction, as it is now (for checks that must hold at the write).
pub async fn get_in(tx: &mut Tx, id: EncounterId) -> Result<Option<Encounter>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        encounter_columns!(),
        " FROM encounters WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.as_ref().map(encounter_of).transpose()?)
}
