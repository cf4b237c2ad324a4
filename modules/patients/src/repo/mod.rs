//! All SQL of the patients module: registration, chart and search here, one file per further
//! area beside it.

use hms_core::audit::{self, Actor, Event};
use hms_core::clock;
use hms_core::db::{Db, DbError, Tx};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

/// The columns of a patient summary row, read by `found_at`.
macro_rules! summary_columns {
    () => {
        "p.id, p.number, p.first_name, p.middle_name, p.last_name, p.sex, p.date_of_birth, \
         p.dob_estimated, p.phone"
    };
}

/// What registration stores.
#[derive(Debug, Clone, Serialize)]
pub struct NewPatient {
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub sex: &'static str,
    pub date_of_birth: String,
    pub dob_estimated: bool,
    pub phone: Option<String>,
    pub id_type: String,
    pub id_number: String,
    pub county_code: Option<String>,
    pub allergies: Option<String>,
    pub tokens: Vec<String>,
}

/// An existing patient that a new registration may duplicate.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    #[serde(flatten)]
    pub patient: Found,
    pub why: &'static str,
}

fn full_name(first: &str, middle: Option<&str>, last: &str) -> String {
    [Some(first), middle, Some(last)]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The patient already holding an identifier (type and number), if any.
pub async fn holder_of(db: &Db, id_type: &str, value: &str) -> Result<Option<Candidate>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        summary_columns!(),
        " FROM patient_identifiers i JOIN patients p ON p.id = i.patient_id \
             WHERE i.id_type = $1 AND i.value = $2"
    ))
    .bind(id_type)
    .bind(value)
    .fetch_optional(db.read())
    .await?;
    Ok(row.map(|r| candidate(&r, "same identity document")))
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
            out.push(candidate(&r, "same phone number"));
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
            out.push(candidate(
                &r,
                "same sex and date of birth, a name in common",
            ));
        }
    }
    Ok(out)
}

/// The next patient number of `year`; safe under concurrent registrations (the counter row is
/// updated inside the registering transaction).
async fn next_number(tx: &mut Tx, prefix: &str, year: i32) -> Result<String, DbError> {
    let seq: i64 = sqlx::query(
        "INSERT INTO patient_counters (year, next_seq) VALUES ($1, 1) \
         ON CONFLICT (year) DO UPDATE SET next_seq = patient_counters.next_seq + 1 \
         RETURNING next_seq",
    )
    .bind(i64::from(year))
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    Ok(crate::model::patient_number(prefix, year, seq))
}

/// Registers a patient: number, demographics, identifier, search tokens and the audit row, in
/// one transaction. Returns (id, number).
pub async fn register(
    tx: &mut Tx,
    p: &NewPatient,
    prefix: &str,
    year: i32,
    actor: &Actor,
) -> Result<(i64, String), DbError> {
    let number = next_number(tx, prefix, year).await?;
    let now = clock::now_rfc3339();
    let id: i64 = sqlx::query(
        "INSERT INTO patients (number, first_name, middle_name, last_name, sex, date_of_birth, \
         dob_estimated, phone, county_code, allergies, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
    )
    .bind(&number)
    .bind(&p.first_name)
    .bind(&p.middle_name)
    .bind(&p.last_name)
    .bind(p.sex)
    .bind(&p.date_of_birth)
    .bind(i64::from(p.dob_estimated))
    .bind(&p.phone)
    .bind(&p.county_code)
    .bind(&p.allergies)
    .bind(actor.user_id)
    .bind(&now)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    if p.id_type != "none" {
        sqlx::query(
            "INSERT INTO patient_identifiers (patient_id, id_type, value, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(&p.id_type)
        .bind(&p.id_number)
        .bind(&now)
        .execute(&mut **tx)
        .await?;
    }
    for token in &p.tokens {
        sqlx::query("INSERT INTO patient_name_tokens (token, patient_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(token)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    audit::record(
        tx,
        actor,
        Event::new("patient.register", "patient", Some(id))
            .patient(id)
            .detail(json!({"after": p, "number": number})),
    )
    .await?;
    Ok((id, number))
}

#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub id: i64,
    pub number: String,
    pub name: String,
    pub first_name: String,
    pub sex: String,
    pub date_of_birth: String,
    pub dob_estimated: bool,
    pub phone: Option<String>,
    pub county_code: Option<String>,
    pub allergies: Option<String>,
    pub is_active: bool,
    pub identifiers: Vec<(String, String)>,
    pub created_at: String,
}

/// A patient's chart data; a merged record leads to the survivor.
pub async fn chart(db: &Db, id: i64) -> Result<Option<Chart>, DbError> {
    let mut id = id;
    for _ in 0..8 {
        let Some(r) = sqlx::query(
            "SELECT id, number, first_name, middle_name, last_name, sex, date_of_birth, dob_estimated, \
             phone, county_code, allergies, is_active, created_at, merged_into FROM patients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(db.read())
        .await?
        else {
            return Ok(None);
        };
        if let Some(next) = r.get::<Option<i64>, _>(13) {
            id = next;
            continue;
        }
        let identifiers = sqlx::query(
            "SELECT id_type, value FROM patient_identifiers WHERE patient_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(db.read())
        .await?
        .into_iter()
        .map(|i| (i.get(0), i.get(1)))
        .collect();
        let first: String = r.get(2);
        return Ok(Some(Chart {
            id,
            number: r.get(1),
            name: full_name(
                &first,
                r.get::<Option<String>, _>(3).as_deref(),
                &r.get::<String, _>(4),
            ),
            first_name: first,
            sex: r.get(5),
            date_of_birth: r.get(6),
            dob_estimated: r.get::<i64, _>(7) == 1,
            phone: r.get(8),
            county_code: r.get(9),
            allergies: r.get(10),
            is_active: r.get::<i64, _>(11) == 1,
            identifiers,
            created_at: clock::display_rfc3339(&r.get::<String, _>(12)),
        }));
    }
    Ok(None)
}

#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub id: i64,
    pub number: String,
    pub name: String,
    pub sex: String,
    pub date_of_birth: String,
    pub dob_estimated: bool,
    pub phone: Option<String>,
}

/// A summary row whose `summary_columns!()` start at column `at`.
fn found_at(r: &sqlx::any::AnyRow, at: usize) -> Found {
    Found {
        id: r.get(at),
        number: r.get(at + 1),
        name: full_name(
            &r.get::<String, _>(at + 2),
            r.get::<Option<String>, _>(at + 3).as_deref(),
            &r.get::<String, _>(at + 4),
        ),
        sex: r.get(at + 5),
        date_of_birth: r.get(at + 6),
        dob_estimated: r.get::<i64, _>(at + 7) == 1,
        phone: r.get(at + 8),
    }
}

/// Exact matches: patient number, phone or identifier number.
pub async fn exact(
    db: &Db,
    number: &str,
    phone: Option<&str>,
    id_value: &str,
) -> Result<Vec<Found>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        summary_columns!(),
        " FROM patients p WHERE p.merged_into IS NULL AND (p.number = $1 OR p.phone = $2 \
             OR p.id IN (SELECT patient_id FROM patient_identifiers WHERE value = $3)) \
             ORDER BY p.id LIMIT 20"
    ))
    .bind(number)
    .bind(phone.unwrap_or(""))
    .bind(id_value)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(|r| found_at(r, 0)).collect())
}

/// Name search: every typed token must prefix one of the patient's name tokens. The longest
/// token drives a range scan of the (token, patient) index in index order, so a page stops at
/// the page size; the other tokens are checked per candidate. `after` is the (token, id) key of
/// the last row of the previous page.
pub async fn by_names(
    db: &Db,
    tokens: &[String],
    after: (&str, i64),
    limit: i64,
) -> Result<(Vec<Found>, Option<(String, i64)>), DbError> {
    let mut sorted: Vec<&String> = tokens.iter().collect();
    sorted.sort_by_key(|t| std::cmp::Reverse(t.len()));
    let Some(driver) = sorted.first() else {
        return Ok((Vec::new(), None));
    };
    let bound = |t: &str| format!("{t}\u{10FFFF}");
    let extra = |i: usize| sorted.get(i + 1).map(|t| t.as_str()).unwrap_or("");
    let (start_token, start_id) = if after.0.is_empty() {
        (driver.as_str(), 0)
    } else {
        after
    };
    let rows = sqlx::query(
        concat!(
            "SELECT t.token, ",
            summary_columns!(),
            " FROM patient_name_tokens t JOIN patients p ON p.id = t.patient_id \
         WHERE t.token >= $1 AND t.token < $3 AND (t.token > $1 OR t.patient_id > $2) \
           AND p.merged_into IS NULL \
           AND ($4 = '' OR EXISTS (SELECT 1 FROM patient_name_tokens x WHERE x.patient_id = t.patient_id AND x.token >= $4 AND x.token < $5)) \
           AND ($6 = '' OR EXISTS (SELECT 1 FROM patient_name_tokens x WHERE x.patient_id = t.patient_id AND x.token >= $6 AND x.token < $7)) \
           AND ($8 = '' OR EXISTS (SELECT 1 FROM patient_name_tokens x WHERE x.patient_id = t.patient_id AND x.token >= $8 AND x.token < $9)) \
         ORDER BY t.token, t.patient_id LIMIT $10"
        ),
    )
    .bind(start_token)
    .bind(start_id)
    .bind(bound(driver))
    .bind(extra(0))
    .bind(bound(extra(0)))
    .bind(extra(1))
    .bind(bound(extra(1)))
    .bind(extra(2))
    .bind(bound(extra(2)))
    .bind(limit + 1)
    .fetch_all(db.read())
    .await?;
    let mut next = None;
    let mut out: Vec<Found> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let token: String = r.get(0);
        let id: i64 = r.get(1);
        if i as i64 == limit {
            break;
        }
        if i as i64 == limit - 1 && rows.len() as i64 > limit {
            next = Some((token.clone(), id));
        }
        if out.iter().any(|f| f.id == id) {
            continue;
        }
        out.push(found_at(r, 1));
    }
    Ok((out, next))
}

/// The newest patients, for the list before anything is typed.
pub async fn newest(db: &Db, limit: i64) -> Result<Vec<Found>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        summary_columns!(),
        " FROM patients p WHERE p.merged_into IS NULL ORDER BY p.id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(|r| found_at(r, 0)).collect())
}
