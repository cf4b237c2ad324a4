//! Bulk loading of generated patients (`hms demo-data`): the same tables as registration, in
//! multi-row INSERTs so a million patients load in minutes. The caller builds the rows and owns
//! the transaction (and the one audit row of the whole run); numbers come from
//! `patient_counters` in blocks, so registrations made afterwards continue the sequence.
//!
//! The only SQL built at run time is the fixed shape of a VALUES list of bind parameters
//! (`($1, $2, ...), (...)`, or `(?, ?, ...)` on SQLite) for a constant column list; values are
//! always bound.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use hms_core::db::{values_sql, values_statement, Db, DbError, Placeholders, Tx};
use hms_core::ids::PatientId;
use sqlx::Row;

/// One generated patient, ready to store. Rows of a batch are in registration order.
#[derive(Debug, Clone)]
pub struct DemoPatient {
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub sex: &'static str,
    /// YYYY-MM-DD.
    pub date_of_birth: String,
    pub dob_estimated: bool,
    /// E.164 (+254...).
    pub phone: Option<String>,
    pub county_code: Option<&'static str>,
    pub allergies: Option<String>,
    /// (id type from `ID_TYPES`, normalised number).
    pub identifier: Option<(&'static str, String)>,
    /// RFC 3339 UTC: when the patient was registered.
    pub registered_at: String,
    /// The year of the patient number (the registration year, Nairobi time).
    pub number_year: i32,
    /// Search tokens of the names, as `name_tokens` makes them.
    pub tokens: Vec<String>,
}

/// What a batch stored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub patients: u64,
    pub identifiers: u64,
    pub tokens: u64,
}

/// The columns a demo patient fills, in the order of its parameters.
macro_rules! patient_columns {
    () => {
        "number, first_name, middle_name, last_name, sex, date_of_birth, dob_estimated, phone, \
         county_code, allergies, created_by, created_at, updated_at"
    };
}
const PATIENT_WIDTH: usize = 13;
/// Rows per statement: 13 × 500 = 6,500 parameters, far below SQLite's 32,766 and
/// PostgreSQL's 65,535.
const PATIENT_ROWS: usize = 500;
const IDENTIFIER_WIDTH: usize = 4;
const IDENTIFIER_ROWS: usize = 1000;
const TOKEN_WIDTH: usize = 2;
const TOKEN_ROWS: usize = 1000;

fn patients_sql(p: Placeholders, rows: usize) -> String {
    values_sql(
        p,
        concat!("INSERT INTO patients (", patient_columns!(), ") VALUES "),
        PATIENT_WIDTH,
        rows,
        " RETURNING id, number",
    )
}

fn identifiers_sql(p: Placeholders, rows: usize) -> String {
    // A number already held (a second run with --force) is skipped, never an error.
    values_sql(
        p,
        "INSERT INTO patient_identifiers (patient_id, id_type, value, created_at) VALUES ",
        IDENTIFIER_WIDTH,
        rows,
        " ON CONFLICT DO NOTHING",
    )
}

fn tokens_sql(p: Placeholders, rows: usize) -> String {
    values_sql(
        p,
        "INSERT INTO patient_name_tokens (token, patient_id) VALUES ",
        TOKEN_WIDTH,
        rows,
        " ON CONFLICT DO NOTHING",
    )
}

/// Fills the word-pair index of names (see `by_names`) for the patients after `after_id`, the
/// ones a demo run added, in one pass sorted by the index's key. Batch by batch, each batch's
/// pairs land all over the index: a million patients took minutes instead of about 25 s.
pub async fn pair_names(tx: &mut Tx, after_id: i64) -> Result<u64, DbError> {
    Ok(sqlx::query(concat!(
        insert_name_pairs!(),
        " WHERE a.patient_id > $1 ORDER BY 1, 2, 3, 4"
    ))
    .bind(after_id)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// The highest patient id stored, 0 when none.
pub async fn last_id(db: &Db) -> Result<i64, DbError> {
    Ok(sqlx::query("SELECT COALESCE(MAX(id), 0) FROM patients")
        .fetch_one(db.read())
        .await?
        .get(0))
}

/// Whether any patient is stored (the generator refuses to add to a real register).
pub async fn any_patients(db: &Db) -> Result<bool, DbError> {
    let row = sqlx::query("SELECT CASE WHEN EXISTS (SELECT 1 FROM patients) THEN 1 ELSE 0 END")
        .fetch_one(db.read())
        .await?;
    Ok(row.get::<i64, _>(0) == 1)
}

/// Patients stored, all of them (merged and inactive included).
pub async fn count(db: &Db) -> Result<i64, DbError> {
    Ok(sqlx::query("SELECT COUNT(*) FROM patients")
        .fetch_one(db.read())
        .await?
        .get(0))
}

/// Takes `n` numbers of `year` from the counter in one step; returns the first sequence number.
/// The counter then holds the last one taken, as after `n` registrations.
async fn reserve(tx: &mut Tx, year: i32, n: i64) -> Result<i64, DbError> {
    let last: i64 = sqlx::query(
        "INSERT INTO patient_counters (year, next_seq) VALUES ($1, $2) \
         ON CONFLICT (facility_id, year) DO UPDATE SET next_seq = patient_counters.next_seq + $2 \
         RETURNING next_seq",
    )
    .bind(i64::from(year))
    .bind(n)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    Ok(last - n + 1)
}

/// Stores a batch of generated patients with their identifiers and name tokens, numbered
/// `{prefix}-{yy}-{seq}` in row order. `created_by` is the registering user. Their names' word
/// pairs come after the last batch, from [`pair_names`].
pub async fn insert(
    tx: &mut Tx,
    rows: &[DemoPatient],
    prefix: &str,
    created_by: Option<i64>,
) -> Result<Stored, DbError> {
    static PATIENTS: [OnceLock<Arc<str>>; 2] = [OnceLock::new(), OnceLock::new()];
    static IDENTIFIERS: [OnceLock<Arc<str>>; 2] = [OnceLock::new(), OnceLock::new()];
    static TOKENS: [OnceLock<Arc<str>>; 2] = [OnceLock::new(), OnceLock::new()];
    let p = Placeholders::of(tx);

    let mut per_year: BTreeMap<i32, i64> = BTreeMap::new();
    for r in rows {
        *per_year.entry(r.number_year).or_default() += 1;
    }
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for (year, n) in &per_year {
        next.insert(*year, reserve(tx, *year, *n).await?);
    }
    let numbers: Vec<String> = rows
        .iter()
        .map(|r| {
            let seq = next.get_mut(&r.number_year).expect("reserved above");
            let number = crate::model::patient_number(prefix, r.number_year, *seq);
            *seq += 1;
            number
        })
        .collect();

    let mut stored = Stored::default();
    let mut ids: Vec<i64> = Vec::with_capacity(rows.len());
    for (chunk, chunk_numbers) in rows.chunks(PATIENT_ROWS).zip(numbers.chunks(PATIENT_ROWS)) {
        let mut q = sqlx::query(values_statement(
            &PATIENTS,
            p,
            PATIENT_ROWS,
            chunk.len(),
            patients_sql,
        ));
        for (p, number) in chunk.iter().zip(chunk_numbers) {
            q = q
                .bind(number.as_str())
                .bind(p.first_name.as_str())
                .bind(p.middle_name.as_deref())
                .bind(p.last_name.as_str())
                .bind(p.sex)
                .bind(p.date_of_birth.as_str())
                .bind(i64::from(p.dob_estimated))
                .bind(p.phone.as_deref())
                .bind(p.county_code)
                // Allergies are rows (below), not the text column.
                .bind(None::<&str>)
                .bind(created_by)
                .bind(p.registered_at.as_str())
                .bind(p.registered_at.as_str());
        }
        // RETURNING gives no promise of order: match ids to rows by their (unique) numbers.
        let returned: HashMap<String, i64> = q
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(|r| (r.get::<String, _>(1), r.get::<i64, _>(0)))
            .collect();
        for number in chunk_numbers {
            let id = returned.get(number).copied().ok_or_else(|| {
                DbError::Sqlx(sqlx::Error::Protocol(format!(
                    "patient {number} was not returned by the insert"
                )))
            })?;
            ids.push(id);
        }
        stored.patients += chunk.len() as u64;
    }

    for (p, id) in rows.iter().zip(&ids) {
        if let Some(text) = p.allergies.as_deref() {
            super::allergies::add_generated(tx, *id, text, created_by, &p.registered_at).await?;
        }
    }

    let identifiers: Vec<(i64, &'static str, &str, &str)> = rows
        .iter()
        .zip(&ids)
        .filter_map(|(p, id)| {
            p.identifier
                .as_ref()
                .map(|(t, v)| (*id, *t, v.as_str(), p.registered_at.as_str()))
        })
        .collect();
    for chunk in identifiers.chunks(IDENTIFIER_ROWS) {
        let mut q = sqlx::query(values_statement(
            &IDENTIFIERS,
            p,
            IDENTIFIER_ROWS,
            chunk.len(),
            identifiers_sql,
        ));
        for (id, id_type, value, at) in chunk {
            q = q.bind(*id).bind(*id_type).bind(*value).bind(*at);
        }
        stored.identifiers += q.execute(&mut **tx).await?.rows_affected();
    }

    let tokens: Vec<(&str, i64)> = rows
        .iter()
        .zip(&ids)
        .flat_map(|(p, id)| p.tokens.iter().map(move |t| (t.as_str(), *id)))
        .collect();
    for chunk in tokens.chunks(TOKEN_ROWS) {
        let mut q = sqlx::query(values_statement(
            &TOKENS,
            p,
            TOKEN_ROWS,
            chunk.len(),
            tokens_sql,
        ));
        for (token, id) in chunk {
            q = q.bind(*token).bind(*id);
        }
        stored.tokens += q.execute(&mut **tx).await?.rows_affected();
    }
    Ok(stored)
}

/// The lowest and highest id of the records not merged away.
pub async fn id_range(tx: &mut Tx) -> Result<Option<(PatientId, PatientId)>, DbError> {
    let r = sqlx::query("SELECT MIN(id), MAX(id) FROM patients WHERE merged_into IS NULL")
        .fetch_one(&mut **tx)
        .await?;
    Ok(r.get::<Option<PatientId>, _>(0)
        .zip(r.get::<Option<PatientId>, _>(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_chunk_of_patients_binds_one_parameter_per_column() {
        let n = Placeholders::Numbered;
        let sql = patients_sql(n, PATIENT_ROWS);
        assert!(sql.contains(&format!("${}", PATIENT_ROWS * PATIENT_WIDTH)));
        assert!(!sql.contains(&format!("${}", PATIENT_ROWS * PATIENT_WIDTH + 1)));
        assert_eq!(
            patient_columns!().split(',').count(),
            PATIENT_WIDTH,
            "one parameter per column"
        );
    }
}
