//! Diagnoses: the catalogue (`data/diagnoses.csv`: name, ICD-10, our mapping to MOH 705A and
//! 705B rows, Kiswahili synonyms), the diagnoses of a note, and the form and row fixed at
//! signing from the age on the visit day.

use hms_core::db::{Db, DbError, Tx};

use crate::encounter::Encounter;

/// The diagnoses of a note for the consultation page (JSON for
/// `consultations/_diagnoses.html`).
pub async fn section(_db: &Db, _encounter: &Encounter) -> Result<serde_json::Value, DbError> {
    Ok(serde_json::Value::Null)
}

/// At signing, in the signing transaction and before the note's state changes: fixes the MOH
/// form and row of each diagnosis of the note from the patient's age on the visit day (and
/// pregnancy, for malaria in pregnancy); returns how many diagnoses the note has.
pub async fn fix_at_signing(
    _tx: &mut Tx,
    _encounter: &Encounter,
    _age: Option<crate::model::Age>,
    _pregnant: Option<bool>,
) -> Result<i64, DbError> {
    Ok(0)
}

/// Fills the catalogue from `data/diagnoses.csv` when it has not been yet (idempotent).
pub async fn ensure_catalogue(_db: &Db) -> Result<(), DbError> {
    Ok(())
}
