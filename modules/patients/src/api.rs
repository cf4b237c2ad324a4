//! What other departments may use of patients (declare `requires() = ["patients"]` and use
//! nothing else of this crate): the patient card with the display rules applied once here (full
//! name, age text, sex in words), the picker search, recording a visit's day and the contact data
//! reminders need. Routes, SQL and templates stay private.

use hms_core::day::Day;
use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::PatientId;
use serde::Serialize;

use crate::model;
use crate::repo::cards::{self, CardRow};

pub use crate::picker::{picker, Choose, Picker, Screen};
pub use crate::search::Pick;

/// A patient as other departments see them. `full_name`, `age_text` and `sex_label` follow the
/// rules every screen uses ("~34 y" for an estimated birth date, "7 m" under two years).
#[derive(Debug, Clone, Serialize)]
pub struct PatientCard {
    pub id: PatientId,
    pub number: String,
    pub full_name: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    /// `female` or `male`.
    pub sex: String,
    /// The sex in the request's language.
    pub sex_label: String,
    /// The stored date of birth, when readable.
    pub date_of_birth: Option<Day>,
    pub dob_estimated: bool,
    pub age_text: String,
    /// The allergies as typed at registration.
    pub allergies: Option<String>,
    pub active: bool,
    /// The record this one was merged into (then use that one).
    pub merged_into: Option<PatientId>,
    /// Records merged into this one, directly or through a record merged later.
    pub merged_ids: Vec<PatientId>,
}

fn card_of(r: CardRow, merged_ids: Vec<PatientId>, today: Day) -> PatientCard {
    PatientCard {
        id: r.id,
        full_name: model::full_name(&r.first_name, r.middle_name.as_deref(), &r.last_name),
        sex_label: model::sex_label(&r.sex),
        age_text: model::age_of(&r.date_of_birth, r.dob_estimated, today),
        date_of_birth: Day::from_db_text(&r.date_of_birth),
        number: r.number,
        first_name: r.first_name,
        middle_name: r.middle_name,
        last_name: r.last_name,
        sex: r.sex,
        dob_estimated: r.dob_estimated,
        allergies: r.allergies,
        active: r.active,
        merged_into: r.merged_into,
        merged_ids,
    }
}

async fn with_merged(db: &Db, rows: Vec<CardRow>) -> Result<Vec<PatientCard>, DbError> {
    let ids: Vec<PatientId> = rows.iter().map(|r| r.id).collect();
    let merged = cards::merged_into_any(db, &ids).await?;
    let today = Day::today();
    Ok(rows
        .into_iter()
        .map(|r| {
            let absorbed = merged
                .iter()
                .filter(|(root, _)| *root == r.id)
                .map(|(_, id)| *id)
                .collect();
            card_of(r, absorbed, today)
        })
        .collect())
}

/// The record `id` as stored; a merged record comes back with `merged_into` set.
pub async fn card(db: &Db, id: PatientId) -> Result<Option<PatientCard>, DbError> {
    let Some(row) = cards::card(db.read(), id).await? else {
        return Ok(None);
    };
    Ok(with_merged(db, vec![row]).await?.pop())
}

/// The record `id` read inside the caller's transaction (for checks before a write). No
/// `merged_ids` here: a write needs the record's own state.
pub async fn card_in(tx: &mut Tx, id: PatientId) -> Result<Option<PatientCard>, DbError> {
    Ok(cards::card(&mut **tx, id)
        .await?
        .map(|r| card_of(r, Vec::new(), Day::today())))
}

/// The patient numbered `number` (spaces around it ignored); a merged record's number gives its
/// survivor.
pub async fn card_by_number(db: &Db, number: &str) -> Result<Option<PatientCard>, DbError> {
    let Some(row) = cards::card_by_number(db, number).await? else {
        return Ok(None);
    };
    Ok(with_merged(db, vec![row]).await?.pop())
}

/// The cards of `ids` for a list, read in batches (not one query per line). Unknown ids are
/// left out; the order is by id.
pub async fn cards(db: &Db, ids: &[PatientId]) -> Result<Vec<PatientCard>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = cards::cards(db, ids).await?;
    with_merged(db, rows).await
}

/// The picker's row of one patient, following a merge to the surviving record.
pub async fn pick(db: &Db, id: PatientId) -> Result<Option<Pick>, DbError> {
    crate::search::summary(db, id).await
}

/// Records that the patient was seen on `day` (a check-in), in the caller's transaction: the
/// last-visit column of search results. Only moves forward; a merged record's visit counts for
/// its survivor.
pub async fn record_visit(tx: &mut Tx, patient: PatientId, day: Day) -> Result<(), DbError> {
    crate::repo::record_visit(tx, patient.get(), &day.text()).await
}

/// The lowest and highest id of the records not merged away, for a demo generator that draws
/// patients at random (`hms demo-data`); `None` without patients.
pub async fn id_range(tx: &mut Tx) -> Result<Option<(PatientId, PatientId)>, DbError> {
    crate::repo::demo::id_range(tx).await
}

/// How a patient may be reached, from the surviving record when `id` was merged.
#[derive(Debug, Clone)]
pub struct Contact {
    /// E.164 mobile number, when given.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// The patient agreed to be contacted (reminders).
    pub consent: bool,
    pub active: bool,
}

impl Contact {
    /// The address to write to, while the patient is active and agrees to be contacted.
    pub fn email_to(&self) -> Option<&str> {
        self.email
            .as_deref()
            .map(str::trim)
            .filter(|e| self.consent && self.active && !e.is_empty())
    }
}

fn contact_of(c: cards::ContactRow) -> Contact {
    Contact {
        phone: c.phone,
        email: c.email,
        consent: c.consent,
        active: c.active,
    }
}

/// A patient's identifier of `id_type` (`sha_number`, `national_id`...), if recorded and not
/// removed: the value as stored.
pub async fn identifier(db: &Db, id: PatientId, id_type: &str) -> Result<Option<String>, DbError> {
    use sqlx::Row;
    Ok(sqlx::query(
        "SELECT value FROM patient_identifiers WHERE patient_id = $1 AND id_type = $2 \
         AND voided_at IS NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(id)
    .bind(id_type)
    .fetch_optional(db.read())
    .await?
    .map(|r| r.get(0)))
}

/// The contact data of one patient, read inside the caller's transaction.
pub async fn contact_in(tx: &mut Tx, id: PatientId) -> Result<Option<Contact>, DbError> {
    Ok(cards::contact(tx, id).await?.map(contact_of))
}

/// The contact data of several patients, as (the id asked for, contact), in batches.
pub async fn contacts(db: &Db, ids: &[PatientId]) -> Result<Vec<(PatientId, Contact)>, DbError> {
    Ok(cards::contacts(db, ids)
        .await?
        .into_iter()
        .map(|(id, c)| (id, contact_of(c)))
        .collect())
}

/// The drug group a drug or allergen name obviously belongs to (`penicillins`...), so a
/// prescriber's drug can be matched against the patient's allergies.
pub use crate::allergies::drug_group;
pub use crate::repo::allergies::Allergy;

/// The active allergies of a patient and of the records merged into it (refuted ones left
/// out), for prescribers and the pharmacy to match drug groups against.
pub async fn allergies(db: &Db, id: PatientId) -> Result<Vec<Allergy>, DbError> {
    Ok(crate::repo::allergies::of_patients(db, id.get())
        .await?
        .into_iter()
        .filter(|a| a.active)
        .collect())
}
