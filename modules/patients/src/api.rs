//! What other departments may use of patients: the patient card read. Everything else in this
//! crate (routes, repo, templates) is private to it.

use hms_core::db::{Db, DbError};

use crate::{model, repo, routes};

/// A patient's id (the `patients` row). Becomes the core id type when it lands.
pub type PatientId = i64;

/// A patient as other departments show them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PatientCard {
    pub id: PatientId,
    pub number: String,
    pub full_name: String,
    /// "Female", "Male" (translated).
    pub sex_label: String,
    /// "34 y", "~34 y" when the date of birth is estimated, "8 mo" for infants.
    pub age_text: String,
    pub date_of_birth: String,
    pub active: bool,
    /// The survivor this record was merged into, if it was.
    pub merged_into: Option<PatientId>,
    /// The records merged into this one (directly or through a record merged later).
    pub merged_ids: Vec<PatientId>,
}

/// The card of `id`; a merged record gives its survivor's card.
pub async fn card(db: &Db, id: PatientId) -> Result<Option<PatientCard>, DbError> {
    let Some(c) = repo::chart(db, id).await? else {
        return Ok(None);
    };
    let dob = chrono::NaiveDate::parse_from_str(&c.details.date_of_birth, "%Y-%m-%d").ok();
    Ok(Some(PatientCard {
        id: c.id,
        merged_ids: repo::merged_ids(db, c.id).await?,
        number: c.number,
        full_name: c.name,
        sex_label: routes::sex_label(c.details.sex),
        age_text: dob
            .map(|b| model::age_text(b, c.details.dob_estimated, routes::today()))
            .unwrap_or_default(),
        date_of_birth: c.details.date_of_birth,
        active: c.is_active,
        merged_into: None,
    }))
}

/// The card of the patient numbered `number` (as printed, any letter case); a merged record's
/// number gives its survivor's card.
pub async fn card_by_number(db: &Db, number: &str) -> Result<Option<PatientCard>, DbError> {
    let number = number.trim().to_uppercase();
    if number.is_empty() || number.len() > 40 {
        return Ok(None);
    }
    match repo::id_by_number(db, &number).await? {
        Some(id) => card(db, id).await,
        None => Ok(None),
    }
}
