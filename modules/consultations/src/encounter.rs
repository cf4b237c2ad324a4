//! The consultation note (an encounter): one per visit at a time while a draft, versioned on
//! every save, fixed once signed. Loading and the rules every part of the module checks before
//! writing to a note live here; the writing itself is in `routes::workspace`.

use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;
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
    /// The queue entry the note was taken from (*Take next*), ended when it is signed.
    pub queue_entry_id: Option<i64>,
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

/// The outcomes a note may be signed with.
pub const OUTCOMES: [&str; 5] = ["home", "referral", "follow_up", "admit", "died"];

/// An outcome in the reader's language.
pub fn outcome_label(outcome: &str) -> String {
    match outcome {
        "home" => t("consultations_workspace.outcome_home"),
        "referral" => t("consultations_workspace.outcome_referral"),
        "follow_up" => t("consultations_workspace.outcome_follow_up"),
        "admit" => t("consultations_workspace.outcome_admit"),
        "died" => t("consultations_workspace.outcome_died"),
        other => other.to_string(),
    }
}

/// The patient's signed consultations for the chart timeline, newest first: the complaint and
/// diagnoses in the title, the outcome below. `patients` is the chart and the records merged
/// into it (a handful), read one by one, each bounded by `limit`.
pub async fn timeline(
    db: &Db,
    patients: &[i64],
    limit: i64,
) -> Result<Vec<TimelineEntry>, DbError> {
    let mut out = Vec::new();
    for patient in patients {
        for (id, signed_at, complaint, outcome, diagnoses) in
            crate::repo::encounters::signed_of(db, *patient, limit).await?
        {
            let mut title = t("consultations_workspace.timeline_title");
            if !diagnoses.is_empty() {
                title = format!("{title}: {}", diagnoses.join("; "));
            }
            let detail = match (complaint.is_empty(), outcome) {
                (false, Some(o)) => Some(format!("{complaint} · {}", outcome_label(&o))),
                (false, None) => Some(complaint),
                (true, Some(o)) => Some(outcome_label(&o)),
                (true, None) => None,
            };
            out.push(TimelineEntry {
                at: signed_at,
                kind: "consultations_workspace.timeline_kind",
                title,
                detail,
                href: Some(format!("/consultations/{id}")),
                permission: crate::VIEW,
            });
        }
    }
    out.sort_by(|a, b| b.at.cmp(&a.at));
    Ok(out)
}
