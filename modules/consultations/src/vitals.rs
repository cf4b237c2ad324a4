//! Vital signs at triage: measured, checked against the ranges of the patient's age band,
//! stored as integers, never edited (a wrong set is marked entered in error), and drawn as
//! trends on the chart.

use hms_core::db::{Db, DbError};
use hms_core::ids::VisitId;
use hms_core::module::{ChartPanel, TimelineEntry};

/// The vitals panel on the patient chart.
pub const PANELS: &[ChartPanel] = &[];

/// The latest vital signs of a visit, as the consultation page shows them (JSON for the
/// template `consultations/_vitals_summary.html`); `Null` when none were taken.
pub async fn summary_for_visit(_db: &Db, _visit: VisitId) -> Result<serde_json::Value, DbError> {
    Ok(serde_json::Value::Null)
}

/// Whether the latest vital signs of the visit say the patient is pregnant (`None`: not asked).
pub async fn pregnant_at_visit(_db: &Db, _visit: VisitId) -> Result<Option<bool>, DbError> {
    Ok(None)
}

/// Vital-sign sets of the patient for the chart timeline, newest first, flags in the title.
pub async fn timeline(
    _db: &Db,
    _patients: &[i64],
    _limit: i64,
) -> Result<Vec<TimelineEntry>, DbError> {
    Ok(Vec::new())
}
