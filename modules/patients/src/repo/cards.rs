//! The patient card other departments read (through `crate::api`): one record, a list of
//! records in one statement per 64, a number, and the contact data reminders need.

use hms_core::db::{Db, DbError, Tx};
use hms_core::id_list;
use hms_core::ids::PatientId;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

/// Ids read per statement by [`cards`]: a queue screen of 200 lines is four statements.
pub const BATCH: usize = hms_core::db::ID_LIST_LEN;

macro_rules! card_columns {
    () => {
        "p.id, p.number, p.first_name, p.middle_name, p.last_name, p.sex, p.date_of_birth, \
         p.dob_estimated, p.allergies, p.is_active, p.merged_into"
    };
}

/// A card's stored fields, before the display rules.
#[derive(Debug, Clone)]
pub struct CardRow {
    pub id: PatientId,
    pub number: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub sex: String,
    pub date_of_birth: String,
    pub dob_estimated: bool,
    pub allergies: Option<String>,
    pub active: bool,
    pub merged_into: Option<PatientId>,
}

fn card_at(r: &AnyRow) -> CardRow {
    CardRow {
        id: r.get(0),
        number: r.get(1),
        first_name: r.get(2),
        middle_name: r.get(3),
        last_name: r.get(4),
        sex: r.get(5),
        date_of_birth: r.get(6),
        dob_estimated: r.get::<i64, _>(7) == 1,
        allergies: r.get(8),
        active: r.get::<i64, _>(9) == 1,
        merged_into: r.get(10),
    }
}

/// One record as stored (a merged record too: `merged_into` names its survivor).
pub async fn card<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: PatientId,
) -> Result<Option<CardRow>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        card_columns!(),
        " FROM patients p WHERE p.id = $1"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await?;
    Ok(row.as_ref().map(card_at))
}

/// The record numbered `number`; a merged record's number leads to its survivor.
pub async fn card_by_number(db: &Db, number: &str) -> Result<Option<CardRow>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        card_columns!(),
        " FROM patients p WHERE p.id = \
         (SELECT COALESCE(merged_into, id) FROM patients WHERE number = $1)"
    ))
    .bind(number.trim())
    .fetch_optional(db.read())
    .await?;
    Ok(row.as_ref().map(card_at))
}

fn bind_ids<'q>(
    mut q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    chunk: &[PatientId],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    for i in 0..BATCH {
        q = q.bind(chunk.get(i).copied().unwrap_or(chunk[0]));
    }
    q
}

/// The records of `ids` (any order, duplicates read once), as stored.
pub async fn cards(db: &Db, ids: &[PatientId]) -> Result<Vec<CardRow>, DbError> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        let q = sqlx::query(concat!(
            "SELECT ",
            card_columns!(),
            " FROM patients p WHERE p.id IN ",
            id_list!(),
            " ORDER BY p.id"
        ));
        out.extend(
            bind_ids(q, chunk)
                .fetch_all(db.read())
                .await?
                .iter()
                .map(card_at),
        );
    }
    Ok(out)
}

/// (survivor, absorbed record) for every record merged into one of `ids`, directly or through
/// a record merged later.
pub async fn merged_into_any(
    db: &Db,
    ids: &[PatientId],
) -> Result<Vec<(PatientId, PatientId)>, DbError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(BATCH) {
        let q = sqlx::query(concat!(
            "WITH RECURSIVE m(root, id) AS (SELECT merged_into, id FROM patients \
             WHERE merged_into IN ",
            id_list!(),
            " UNION SELECT m.root, p.id FROM patients p JOIN m ON p.merged_into = m.id) \
             SELECT DISTINCT root, id FROM m ORDER BY root, id LIMIT 10000"
        ));
        for r in bind_ids(q, chunk).fetch_all(db.read()).await? {
            out.push((r.get(0), r.get(1)));
        }
    }
    Ok(out)
}

/// How to reach a patient, read from the surviving record when `id` was merged.
#[derive(Debug, Clone)]
pub struct ContactRow {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub consent: bool,
    pub active: bool,
}

macro_rules! contact_from {
    () => {
        "SELECT p0.id, p.phone, p.email, p.consent_contact, p.is_active FROM patients p0 \
         JOIN patients p ON p.id = COALESCE(p0.merged_into, p0.id) WHERE p0.id "
    };
}

fn contact_at(r: &AnyRow) -> (PatientId, ContactRow) {
    (
        r.get(0),
        ContactRow {
            phone: r.get(1),
            email: r.get(2),
            consent: r.get::<i64, _>(3) == 1,
            active: r.get::<i64, _>(4) == 1,
        },
    )
}

pub async fn contact(tx: &mut Tx, id: PatientId) -> Result<Option<ContactRow>, DbError> {
    let row = sqlx::query(concat!(contact_from!(), "= $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.as_ref().map(|r| contact_at(r).1))
}

pub async fn contacts(db: &Db, ids: &[PatientId]) -> Result<Vec<(PatientId, ContactRow)>, DbError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(BATCH) {
        let q = sqlx::query(concat!(contact_from!(), "IN ", id_list!()));
        out.extend(
            bind_ids(q, chunk)
                .fetch_all(db.read())
                .await?
                .iter()
                .map(contact_at),
        );
    }
    Ok(out)
}
