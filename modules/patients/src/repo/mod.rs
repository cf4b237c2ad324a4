//! All SQL of the patients module: registration, chart and search here, one file per further
//! area beside it.

use hms_core::audit::{self, Actor, Event};
use hms_core::clock;
use hms_core::db::{Db, DbError, Tx};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::form::{Details, Valid};

/// Fills the word-pair index from the tokens: for each patient, every ordered pair of two of
/// its distinct name tokens, keyed by the first three letters of the second (the "partner").
/// Followed by a `WHERE` on `a.patient_id`.
macro_rules! insert_name_pairs {
    () => {
        "INSERT INTO patient_name_pairs (partner3, token, patient_id, partner) \
         SELECT substr(b.token, 1, 3), a.token, a.patient_id, b.token \
         FROM patient_name_tokens a JOIN patient_name_tokens b \
           ON b.patient_id = a.patient_id AND b.token <> a.token"
    };
}

pub mod allergies;
pub mod cards;
pub mod demo;
pub mod import;
pub mod merge;
pub mod reporting;

/// The columns of a patient summary row, read by `found_at`.
macro_rules! summary_columns {
    () => {
        "p.id, p.number, p.first_name, p.middle_name, p.last_name, p.sex, p.date_of_birth, \
         p.dob_estimated, p.phone, p.last_visit_on, p.county_code, p.sub_county, p.ward"
    };
}

mod search;
use search::found_at;
pub use search::{
    by_names, count_names, count_phone_prefix, exact, newest, phone_prefix, summary, Found,
};

/// An existing patient that a new registration may duplicate.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    #[serde(flatten)]
    pub patient: Found,
    /// Why it may be the same person: a translation key.
    pub why: &'static str,
}

use crate::model::full_name;

/// The patient already holding an identifier (type and number), if any.
pub async fn holder_of(db: &Db, id_type: &str, value: &str) -> Result<Option<Candidate>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        summary_columns!(),
        " FROM patient_identifiers i JOIN patients p ON p.id = i.patient_id \
             WHERE i.id_type = $1 AND i.value = $2 AND i.voided_at IS NULL"
    ))
    .bind(id_type)
    .bind(value)
    .fetch_optional(db.read())
    .await?;
    Ok(row.map(|r| candidate(&r, "patients_import.why_identifier")))
}

fn candidate(r: &sqlx::any::AnyRow, why: &'static str) -> Candidate {
    Candidate {
        patient: found_at(r, 0),
        why,
    }
}

/// Likely duplicates: the same phone, or the same sex and date of birth with a name in common.
pub async fn likely_matches(
    db: &Db,
    phone: Option<&str>,
    date_of_birth: &str,
    sex: &str,
    tokens: &[String],
) -> Result<Vec<Candidate>, DbError> {
    let mut out: Vec<Candidate> = Vec::new();
    if let Some(phone) = phone {
        for r in sqlx::query(concat!(
            "SELECT ",
            summary_columns!(),
            " FROM patients p WHERE p.phone = $1 AND p.merged_into IS NULL ORDER BY p.id LIMIT 10"
        ))
        .bind(phone)
        .fetch_all(db.read())
        .await?
        {
            out.push(candidate(&r, "patients_import.why_phone"));
        }
    }
    for r in sqlx::query(concat!(
        "SELECT ",
        summary_columns!(),
        " FROM patients p WHERE p.date_of_birth = $1 AND p.sex = $2 AND p.merged_into IS NULL \
             ORDER BY p.id LIMIT 50"
    ))
    .bind(date_of_birth)
    .bind(sex)
    .fetch_all(db.read())
    .await?
    {
        let id: i64 = r.get(0);
        if out.iter().any(|c| c.patient.id == id) {
            continue;
        }
        let theirs = crate::model::name_tokens(&[
            r.get::<String, _>(2).as_str(),
            r.get::<Option<String>, _>(3).unwrap_or_default().as_str(),
            r.get::<String, _>(4).as_str(),
        ]);
        if theirs.iter().any(|t| tokens.contains(t)) {
            out.push(candidate(&r, "patients_import.why_likely"));
        }
    }
    Ok(out)
}

/// The next patient number of `year`; safe under concurrent registrations (the counter row is
/// updated inside the registering transaction).
async fn next_number(tx: &mut Tx, prefix: &str, year: i32) -> Result<String, DbError> {
    let seq: i64 = sqlx::query(
        "INSERT INTO patient_counters (year, next_seq) VALUES ($1, 1) \
         ON CONFLICT (facility_id, year) DO UPDATE SET next_seq = patient_counters.next_seq + 1 \
         RETURNING next_seq",
    )
    .bind(i64::from(year))
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    Ok(crate::model::patient_number(prefix, year, seq))
}

/// Registers a patient: number, demographics, identifiers, search tokens and the audit row, in
/// one transaction. Returns (id, number).
pub async fn register(
    tx: &mut Tx,
    p: &Valid,
    prefix: &str,
    year: i32,
    actor: &Actor,
) -> Result<(i64, String), DbError> {
    let number = next_number(tx, prefix, year).await?;
    let now = clock::now_rfc3339();
    // The allergies typed become rows (one per entry), no longer the text column.
    let mut d = p.details.clone();
    let allergies = d.allergies.take().unwrap_or_default();
    let d = &d;
    let insert = sqlx::query(
        "INSERT INTO patients (number, first_name, middle_name, last_name, sex, date_of_birth, \
         dob_estimated, phone, email, county_code, sub_county, ward, kin_name, kin_relationship, \
         kin_phone, allergies, blood_group, consent_contact, consent_at, created_by, created_at, \
         updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $21) RETURNING id",
    )
    .bind(&number);
    let id: i64 = bind_details(insert, d)
        .bind(d.consent_contact.then_some(now.as_str()))
        .bind(actor.user_id)
        .bind(&now)
        .fetch_one(&mut **tx)
        .await?
        .get(0);
    for (id_type, value) in &p.identifiers {
        insert_identifier(tx, id, id_type, value, &now).await?;
    }
    insert_tokens(tx, id, &d.tokens()).await?;
    allergies::add_entries(tx, id, &allergies, actor).await?;
    audit::record(
        tx,
        actor,
        Event::new("patient.register", "patient", Some(id))
            .patient(id)
            .detail(json!({"after": d, "identifiers": p.identifiers, "number": number})),
    )
    .await?;
    Ok((id, number))
}

async fn insert_identifier(
    tx: &mut Tx,
    patient: i64,
    id_type: &str,
    value: &str,
    now: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO patient_identifiers (patient_id, id_type, value, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(patient)
    .bind(id_type)
    .bind(value)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Name tokens stored per statement: a registration is one round trip to the database for
/// its tokens, not one per name, while it holds the single writer.
const TOKENS_PER_STATEMENT: usize = 6;

async fn insert_tokens(tx: &mut Tx, patient: i64, tokens: &[String]) -> Result<(), DbError> {
    for chunk in tokens.chunks(TOKENS_PER_STATEMENT) {
        let mut q = sqlx::query(
            "INSERT INTO patient_name_tokens (token, patient_id) \
             SELECT t, $1 FROM (SELECT $2 AS t UNION ALL SELECT $3 UNION ALL SELECT $4 \
               UNION ALL SELECT $5 UNION ALL SELECT $6 UNION ALL SELECT $7) v \
             WHERE t <> '' ON CONFLICT DO NOTHING",
        )
        .bind(patient);
        for i in 0..TOKENS_PER_STATEMENT {
            q = q.bind(chunk.get(i).map(String::as_str).unwrap_or(""));
        }
        q.execute(&mut **tx).await?;
    }
    sqlx::query(concat!(insert_name_pairs!(), " WHERE a.patient_id = $1"))
        .bind(patient)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Replaces a patient's name tokens and word pairs (after a correction of the names).
async fn replace_tokens(tx: &mut Tx, patient: i64, tokens: &[String]) -> Result<(), DbError> {
    // Through the pairs' primary key: the old tokens say which keys the patient has.
    sqlx::query(
        "DELETE FROM patient_name_pairs WHERE patient_id = $1 \
         AND partner3 IN (SELECT substr(token, 1, 3) FROM patient_name_tokens WHERE patient_id = $1) \
         AND token IN (SELECT token FROM patient_name_tokens WHERE patient_id = $1)",
    )
    .bind(patient)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM patient_name_tokens WHERE patient_id = $1")
        .bind(patient)
        .execute(&mut **tx)
        .await?;
    insert_tokens(tx, patient, tokens).await
}

/// Binds the demographics in the order both the INSERT and the UPDATE list them (first name
/// to consent), so the two statements cannot drift apart.
fn bind_details<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    d: &'q Details,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(&d.first_name)
        .bind(&d.middle_name)
        .bind(&d.last_name)
        .bind(d.sex)
        .bind(&d.date_of_birth)
        .bind(i64::from(d.dob_estimated))
        .bind(&d.phone)
        .bind(&d.email)
        .bind(&d.county_code)
        .bind(&d.sub_county)
        .bind(&d.ward)
        .bind(&d.kin_name)
        .bind(&d.kin_relationship)
        .bind(&d.kin_phone)
        .bind(&d.allergies)
        .bind(&d.blood_group)
        .bind(i64::from(d.consent_contact))
}

/// Why a change to a record was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// Someone else saved the record since the form was opened.
    #[error("the record changed meanwhile")]
    Stale,
    /// The identifier is already held by another patient.
    #[error("identifier taken")]
    Taken,
}

impl From<sqlx::Error> for ChangeError {
    fn from(e: sqlx::Error) -> Self {
        ChangeError::Db(DbError::from(e))
    }
}

/// Corrects a patient's demographics and their SHA/NUPI numbers. The update is guarded by the
/// `updated_at` the form was opened with, so two desks cannot overwrite each other unseen. The
/// audit row holds the fields before and after.
pub async fn update(
    tx: &mut Tx,
    id: i64,
    seen: &str,
    p: &Valid,
    actor: &Actor,
) -> Result<(), ChangeError> {
    let before = details_of(tx, id).await?.ok_or(ChangeError::Stale)?;
    let d = &p.details;
    let now = clock::now_rfc3339();
    let consent_at = match (before.0.consent_contact, d.consent_contact) {
        (false, true) => Some(now.clone()),
        (true, true) => before.1.clone(),
        _ => None,
    };
    let update = sqlx::query(
        "UPDATE patients SET first_name = $1, middle_name = $2, last_name = $3, sex = $4, \
         date_of_birth = $5, dob_estimated = $6, phone = $7, email = $8, county_code = $9, \
         sub_county = $10, ward = $11, kin_name = $12, kin_relationship = $13, kin_phone = $14, \
         allergies = $15, blood_group = $16, consent_contact = $17, consent_at = $18, \
         updated_at = $19 WHERE id = $20 AND updated_at = $21 AND merged_into IS NULL",
    );
    let changed = bind_details(update, d)
        .bind(&consent_at)
        .bind(&now)
        .bind(id)
        .bind(seen)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if changed != 1 {
        return Err(ChangeError::Stale);
    }
    let before_ids = identifiers_of(&mut **tx, id).await?;
    for kind in ["sha_number", "nupi"] {
        let old = before_ids.iter().find(|(t, _)| t == kind).map(|(_, v)| v);
        let new = p
            .identifiers
            .iter()
            .find(|(t, _)| t == kind)
            .map(|(_, v)| v);
        if old == new {
            continue;
        }
        sqlx::query(
            "UPDATE patient_identifiers SET voided_at = $3, voided_by = $4 \
             WHERE patient_id = $1 AND id_type = $2 AND voided_at IS NULL",
        )
        .bind(id)
        .bind(kind)
        .bind(&now)
        .bind(actor.user_id)
        .execute(&mut **tx)
        .await?;
        if let Some(value) = new {
            if holder(tx, kind, value).await?.is_some() {
                return Err(ChangeError::Taken);
            }
            insert_identifier(tx, id, kind, value, &now).await?;
        }
    }
    if before.0.tokens() != d.tokens() {
        replace_tokens(tx, id, &d.tokens()).await?;
    }
    audit::record(
        tx,
        actor,
        Event::new("patient.edit", "patient", Some(id))
            .patient(id)
            .detail(json!({
                "before": before.0, "after": d,
                "identifiers_before": before_ids, "identifiers_after": p.identifiers,
            })),
    )
    .await?;
    Ok(())
}

/// The patient holding an identifier, inside a transaction.
async fn holder(tx: &mut Tx, id_type: &str, value: &str) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query(
        "SELECT patient_id FROM patient_identifiers \
             WHERE id_type = $1 AND value = $2 AND voided_at IS NULL",
    )
    .bind(id_type)
    .bind(value)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| r.get(0)))
}

/// A patient's identifiers as (type, value), in the order they were added.
pub(crate) async fn identifiers_of<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    id: i64,
) -> Result<Vec<(String, String)>, DbError> {
    Ok(sqlx::query(
        "SELECT id_type, value FROM patient_identifiers \
         WHERE patient_id = $1 AND voided_at IS NULL ORDER BY id",
    )
    .bind(id)
    .fetch_all(ex)
    .await?
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

/// The columns read into [`Details`] by `details_at`.
macro_rules! details_columns {
    () => {
        "first_name, middle_name, last_name, sex, date_of_birth, dob_estimated, phone, email, \
         county_code, sub_county, ward, kin_name, kin_relationship, kin_phone, allergies, \
         blood_group, consent_contact, consent_at"
    };
}

/// [`Details`] from a row whose `details_columns!()` start at column `at`, and the consent date.
fn details_at(r: &sqlx::any::AnyRow, at: usize) -> (Details, Option<String>) {
    let sex: String = r.get(at + 3);
    (
        Details {
            first_name: r.get(at),
            middle_name: r.get(at + 1),
            last_name: r.get(at + 2),
            sex: crate::model::Sex::parse(&sex).map_or("", |s| s.as_str()),
            date_of_birth: r.get(at + 4),
            dob_estimated: r.get::<i64, _>(at + 5) == 1,
            phone: r.get(at + 6),
            email: r.get(at + 7),
            county_code: r.get(at + 8),
            sub_county: r.get(at + 9),
            ward: r.get(at + 10),
            kin_name: r.get(at + 11),
            kin_relationship: r.get(at + 12),
            kin_phone: r.get(at + 13),
            allergies: r.get(at + 14),
            blood_group: r.get(at + 15),
            consent_contact: r.get::<i64, _>(at + 16) == 1,
        },
        r.get(at + 17),
    )
}

async fn details_of(tx: &mut Tx, id: i64) -> Result<Option<(Details, Option<String>)>, DbError> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        details_columns!(),
        " FROM patients WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| details_at(&r, 0)))
}

/// Marks a record inactive (e.g. the patient died) with a reason and date, or active again
/// (`reason` None). Guarded on the current state; audited with before and after.
pub async fn set_active(
    tx: &mut Tx,
    id: i64,
    inactive: Option<(&str, &str)>,
    actor: &Actor,
) -> Result<(), ChangeError> {
    let now = clock::now_rfc3339();
    let (from, to) = if inactive.is_some() { (1, 0) } else { (0, 1) };
    let changed = sqlx::query(
        "UPDATE patients SET is_active = $1, inactive_reason = $2, inactive_on = $3, \
         updated_at = $4 WHERE id = $5 AND is_active = $6 AND merged_into IS NULL",
    )
    .bind(to)
    .bind(inactive.map(|(reason, _)| reason))
    .bind(inactive.map(|(_, on)| on))
    .bind(&now)
    .bind(id)
    .bind(from)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(ChangeError::Stale);
    }
    let (action, detail) = match inactive {
        Some((reason, on)) => (
            "patient.deactivate",
            json!({"before": {"active": true}, "after": {"active": false, "reason": reason, "on": on}}),
        ),
        None => (
            "patient.reactivate",
            json!({"before": {"active": false}, "after": {"active": true}}),
        ),
    };
    audit::record(
        tx,
        actor,
        Event::new(action, "patient", Some(id))
            .patient(id)
            .detail(detail),
    )
    .await?;
    Ok(())
}

/// Adds one further identifier (old file number, CCC, ANC...). A patient holds one of each type.
pub async fn add_identifier(
    tx: &mut Tx,
    id: i64,
    id_type: &str,
    value: &str,
    actor: &Actor,
) -> Result<(), ChangeError> {
    if holder(tx, id_type, value).await?.is_some() {
        return Err(ChangeError::Taken);
    }
    if identifiers_of(&mut **tx, id)
        .await?
        .iter()
        .any(|(t, _)| t == id_type)
    {
        return Err(ChangeError::Stale);
    }
    insert_identifier(tx, id, id_type, value, &clock::now_rfc3339()).await?;
    audit::record(
        tx,
        actor,
        Event::new("patient.identifier_add", "patient", Some(id))
            .patient(id)
            .detail(json!({"after": {"type": id_type, "value": value}})),
    )
    .await?;
    Ok(())
}

/// Removes one identifier (a number typed wrongly); the audit row keeps what it was.
pub async fn remove_identifier(
    tx: &mut Tx,
    id: i64,
    id_type: &str,
    actor: &Actor,
) -> Result<(), ChangeError> {
    let Some(value) = sqlx::query(
        "UPDATE patient_identifiers SET voided_at = $3, voided_by = $4 \
         WHERE patient_id = $1 AND id_type = $2 AND voided_at IS NULL RETURNING value",
    )
    .bind(id)
    .bind(id_type)
    .bind(clock::now_rfc3339())
    .bind(actor.user_id)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| r.get::<String, _>(0)) else {
        return Err(ChangeError::Stale);
    };
    audit::record(
        tx,
        actor,
        Event::new("patient.identifier_remove", "patient", Some(id))
            .patient(id)
            .detail(json!({"before": {"type": id_type, "value": value}})),
    )
    .await?;
    Ok(())
}

/// Records that the patient was seen on `day` (a check-in), for the last-visit column of search
/// results. Only moves forward; a merged record's visit counts for its survivor.
pub async fn record_visit(tx: &mut Tx, patient: i64, day: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE patients SET last_visit_on = $1 WHERE id = COALESCE( \
         (SELECT merged_into FROM patients WHERE id = $2), $2) \
         AND (last_visit_on IS NULL OR last_visit_on < $1)",
    )
    .bind(day)
    .bind(patient)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

// After the column macros above, which it uses.
mod chart;
pub use chart::{chart, merged_ids, Chart};
