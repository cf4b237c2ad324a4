//! SQL of the patients module's reporting contract: files opened over a range of days (index
//! `patients_created`), and each record's own rows for the patient's export.

use hms_core::db::{Db, DbError};
use hms_core::module::FigureRange;
use sqlx::Row;

/// A record opened in a range: (id, sex, date of birth, created at RFC 3339 UTC), oldest first.
pub async fn new_files(
    db: &Db,
    range: &FigureRange,
) -> Result<Vec<(i64, String, String, String)>, DbError> {
    let (from, to) = range.utc_bounds();
    Ok(sqlx::query(
        "SELECT id, sex, date_of_birth, created_at FROM patients \
         WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect())
}

/// One record as stored, without following a merge.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Record {
    pub id: i64,
    pub number: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub sex: String,
    pub date_of_birth: String,
    pub dob_estimated: bool,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub county_code: Option<String>,
    pub sub_county: Option<String>,
    pub ward: Option<String>,
    pub kin_name: Option<String>,
    pub kin_relationship: Option<String>,
    pub kin_phone: Option<String>,
    pub allergies: Option<String>,
    pub blood_group: Option<String>,
    pub consent_contact: bool,
    pub is_active: bool,
    pub inactive_reason: Option<String>,
    pub inactive_on: Option<String>,
    pub merged_into: Option<i64>,
    pub created_at: String,
    pub identifiers: Vec<(String, String)>,
}

pub async fn record(db: &Db, id: i64) -> Result<Option<Record>, DbError> {
    let Some(r) = sqlx::query(
        "SELECT id, number, first_name, middle_name, last_name, sex, date_of_birth, \
         dob_estimated, phone, email, county_code, sub_county, ward, kin_name, kin_relationship, \
         kin_phone, allergies, blood_group, consent_contact, is_active, inactive_reason, \
         inactive_on, merged_into, created_at FROM patients WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(Record {
        id: r.get(0),
        number: r.get(1),
        first_name: r.get(2),
        middle_name: r.get(3),
        last_name: r.get(4),
        sex: r.get(5),
        date_of_birth: r.get(6),
        dob_estimated: r.get::<i64, _>(7) == 1,
        phone: r.get(8),
        email: r.get(9),
        county_code: r.get(10),
        sub_county: r.get(11),
        ward: r.get(12),
        kin_name: r.get(13),
        kin_relationship: r.get(14),
        kin_phone: r.get(15),
        allergies: r.get(16),
        blood_group: r.get(17),
        consent_contact: r.get::<i64, _>(18) == 1,
        is_active: r.get::<i64, _>(19) == 1,
        inactive_reason: r.get(20),
        inactive_on: r.get(21),
        merged_into: r.get(22),
        created_at: r.get(23),
        identifiers: super::identifiers_of(db.read(), id).await?,
    }))
}

/// A merge involving the record, as the export tells it: (survivor number, merged number, when,
/// reason, undone at).
pub async fn merges_of(
    db: &Db,
    id: i64,
) -> Result<Vec<(String, String, String, String, Option<String>)>, DbError> {
    Ok(sqlx::query(
        "SELECT s.number, p.number, m.merged_at, m.reason, m.undone_at FROM patient_merges m \
         JOIN patients s ON s.id = m.survivor_id JOIN patients p ON p.id = m.merged_id \
         WHERE m.survivor_id = $1 OR m.merged_id = $1 ORDER BY m.id",
    )
    .bind(id)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect())
}
