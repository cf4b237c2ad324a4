//! Documents issued from a consultation (referral letter, sick note, prescription slip, lab
//! request form, visit summary): numbered, kept as issued, printed through core's PDF builder;
//! a reprint is marked "Copy". Also the daily MOH 204A/B OPD register.

use hms_core::db::{Db, DbError};
use hms_core::module::TimelineEntry;

use crate::encounter::Encounter;

/// The documents of a note and what may be issued, for the consultation page (JSON for
/// `consultations/_documents.html`).
pub async fn section(_db: &Db, _encounter: &Encounter) -> Result<serde_json::Value, DbError> {
    Ok(serde_json::Value::Null)
}

/// Documents issued to the patient, for the chart timeline, newest first.
pub async fn timeline(
    _db: &Db,
    _patients: &[i64],
    _limit: i64,
) -> Result<Vec<TimelineEntry>, DbError> {
    Ok(Vec::new())
}
