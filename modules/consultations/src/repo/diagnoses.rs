//! Storage of the diagnosis catalogue (`diagnosis_catalogue`) and of the diagnoses of notes
//! (`encounter_diagnoses`, with the addenda that added them or marked them entered in error).

use hms_core::audit::Actor;
use hms_core::clock;
use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::EncounterId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::diagnoses::{search_text, Entry, Mapping, Pick, Shipped};
use crate::encounter::Encounter;

/// The columns [`entry_of`] reads.
macro_rules! entry_columns {
    () => {
        "id, code, name, name_sw, synonyms, icd10, icd11, moh705a_row, moh705b_row, \
         pregnancy_row, mapping, active"
    };
}

fn entry_of(r: &AnyRow) -> Result<Entry, sqlx::Error> {
    Ok(Entry {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        name_sw: r.try_get("name_sw")?,
        synonyms: r.try_get("synonyms")?,
        icd10: r.try_get("icd10")?,
        icd11: r.try_get("icd11")?,
        mapping: Mapping {
            a: r.try_get("moh705a_row")?,
            b: r.try_get("moh705b_row")?,
            pregnancy: r.try_get("pregnancy_row")?,
        },
        source: r.try_get("mapping")?,
        active: r.try_get::<i64, _>("active")? == 1,
    })
}

fn blank_none(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.is_empty())
}

pub async fn catalogue_size(db: &Db) -> Result<i64, DbError> {
    Ok(sqlx::query("SELECT COUNT(*) FROM diagnosis_catalogue")
        .fetch_one(db.read())
        .await?
        .try_get(0)?)
}

/// Writes the shipped entries not yet in the table (by code); how many were added.
pub async fn seed(tx: &mut Tx, entries: &[Shipped]) -> Result<u64, DbError> {
    let now = clock::now_rfc3339();
    let mut added = 0;
    for e in entries {
        let done = sqlx::query(
            "INSERT INTO diagnosis_catalogue (code, name, name_sw, synonyms, icd10, icd11, \
             moh705a_row, moh705b_row, pregnancy_row, mapping, active, search_text, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'hms', 1, $10, $11) \
             ON CONFLICT (code) DO NOTHING",
        )
        .bind(&e.code)
        .bind(&e.name)
        .bind(blank_none(&e.name_sw))
        .bind(&e.synonyms)
        .bind(blank_none(&e.icd10))
        .bind(blank_none(&e.icd11))
        .bind(e.mapping.a)
        .bind(e.mapping.b)
        .bind(e.mapping.pregnancy)
        .bind(search_text(&e.name, &e.name_sw, &e.synonyms, &e.icd10))
        .bind(&now)
        .execute(&mut **tx)
        .await?;
        added += done.rows_affected();
    }
    Ok(added)
}

pub async fn entry_by_code(db: &Db, code: &str) -> Result<Option<Entry>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM diagnosis_catalogue WHERE code = $1"
    ))
    .bind(code)
    .fetch_optional(db.read())
    .await?;
    Ok(row.as_ref().map(entry_of).transpose()?)
}

pub async fn entry(db: &Db, id: i64) -> Result<Option<Entry>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM diagnosis_catalogue WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.read())
    .await?;
    Ok(row.as_ref().map(entry_of).transpose()?)
}

/// `%text%` for LIKE, with the wildcards of the text itself escaped.
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Entries whose names, synonyms or ICD-10 code contain every word of `q` (in any order, lower
/// case), best first: code equal to `q`, then names starting with it, then the rest by name.
/// The database narrows by the longest word; the catalogue holds a few hundred entries, so
/// checking the other words and ranking here costs nothing.
pub async fn search(
    db: &Db,
    q: &str,
    only_active: bool,
    limit: usize,
) -> Result<Vec<Entry>, DbError> {
    let q = q.trim().to_lowercase();
    let words: Vec<&str> = q.split_whitespace().collect();
    let longest = words.iter().copied().max_by_key(|w| w.len()).unwrap_or("");
    let rows = sqlx::query(concat!(
        "SELECT ",
        entry_columns!(),
        ", search_text FROM diagnosis_catalogue WHERE search_text LIKE $1 ESCAPE '\\' \
         AND (active = 1 OR $2 = 0) ORDER BY name"
    ))
    .bind(contains_pattern(longest))
    .bind(i64::from(only_active))
    .fetch_all(db.read())
    .await?;
    let mut found = Vec::new();
    for r in &rows {
        let text: String = r.try_get("search_text")?;
        if words.iter().all(|w| text.contains(w)) {
            found.push(entry_of(r)?);
        }
    }
    let rank = |e: &Entry| {
        let code = e.icd10.as_deref().unwrap_or("").to_lowercase();
        let names = [
            e.name.to_lowercase(),
            e.name_sw.as_deref().unwrap_or("").to_lowercase(),
        ];
        if !q.is_empty() && (code == q || code.replace('.', "") == q) {
            0
        } else if names.iter().any(|n| n.starts_with(&q)) {
            1
        } else if names.iter().any(|n| n.contains(&q)) {
            2
        } else {
            3
        }
    };
    found.sort_by_key(|e| (rank(e), e.name.to_lowercase()));
    found.truncate(limit);
    Ok(found)
}

/// What the catalogue screen changes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EntryFields {
    pub name: String,
    pub name_sw: String,
    pub synonyms: String,
    pub icd10: String,
    pub icd11: String,
    pub mapping: Mapping,
    pub active: bool,
}

/// Changes an entry if nobody changed it since `seen` (its `updated_at` when the form was
/// shown); false when someone did.
pub async fn update_entry(
    tx: &mut Tx,
    id: i64,
    seen: &str,
    f: &EntryFields,
    actor: &Actor,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE diagnosis_catalogue SET name = $1, name_sw = $2, synonyms = $3, icd10 = $4, \
         icd11 = $5, moh705a_row = $6, moh705b_row = $7, pregnancy_row = $8, active = $9, \
         mapping = 'admin', search_text = $10, updated_by = $11, updated_at = $12 \
         WHERE id = $13 AND updated_at = $14",
    )
    .bind(&f.name)
    .bind(blank_none(&f.name_sw))
    .bind(&f.synonyms)
    .bind(blank_none(&f.icd10))
    .bind(blank_none(&f.icd11))
    .bind(f.mapping.a)
    .bind(f.mapping.b)
    .bind(f.mapping.pregnancy)
    .bind(i64::from(f.active))
    .bind(search_text(&f.name, &f.name_sw, &f.synonyms, &f.icd10))
    .bind(actor.user_id)
    .bind(clock::now_rfc3339())
    .bind(id)
    .bind(seen)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn updated_at(db: &Db, id: i64) -> Result<Option<String>, DbError> {
    Ok(
        sqlx::query("SELECT updated_at FROM diagnosis_catalogue WHERE id = $1")
            .bind(id)
            .fetch_optional(db.read())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?,
    )
}

/// A diagnosis of a note with its entry's current mapping.
#[derive(Debug, Clone)]
pub struct NoteDiagnosis {
    pub id: i64,
    pub catalogue_code: Option<String>,
    pub display: String,
    pub icd10: Option<String>,
    pub certainty: String,
    pub moh_form: Option<String>,
    pub moh_row: Option<i64>,
    pub mapping: Option<Mapping>,
    pub by_addendum: bool,
    pub in_error: bool,
}

/// The columns [`note_diagnosis_of`] reads (`d` the diagnosis, `c` its catalogue entry).
macro_rules! note_diagnosis_columns {
    () => {
        "d.id, d.catalogue_code, d.display, d.icd10, d.certainty, d.moh_form, d.moh_row, \
         c.id AS entry_id, c.moh705a_row, c.moh705b_row, c.pregnancy_row, \
         (SELECT COUNT(*) FROM encounter_addenda a WHERE a.diagnosis_id = d.id \
          AND a.kind = 'diagnosis') AS added, \
         (SELECT COUNT(*) FROM encounter_addenda a WHERE a.diagnosis_id = d.id \
          AND a.kind = 'error') AS errors"
    };
}

fn note_diagnosis_of(r: &AnyRow) -> Result<NoteDiagnosis, sqlx::Error> {
    let entry: Option<i64> = r.try_get("entry_id")?;
    Ok(NoteDiagnosis {
        id: r.try_get("id")?,
        catalogue_code: r.try_get("catalogue_code")?,
        display: r.try_get("display")?,
        icd10: r.try_get("icd10")?,
        certainty: r.try_get("certainty")?,
        moh_form: r.try_get("moh_form")?,
        moh_row: r.try_get("moh_row")?,
        mapping: match entry {
            Some(_) => Some(Mapping {
                a: r.try_get("moh705a_row")?,
                b: r.try_get("moh705b_row")?,
                pregnancy: r.try_get("pregnancy_row")?,
            }),
            None => None,
        },
        by_addendum: r.try_get::<i64, _>("added")? > 0,
        in_error: r.try_get::<i64, _>("errors")? > 0,
    })
}

/// The diagnoses of a note in the order they were made.
pub async fn of_encounter(db: &Db, id: EncounterId) -> Result<Vec<NoteDiagnosis>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        note_diagnosis_columns!(),
        " FROM note_diagnoses d \
         LEFT JOIN diagnosis_catalogue c ON c.code = d.catalogue_code \
         WHERE d.encounter_id = $1 ORDER BY d.id"
    ))
    .bind(id)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(note_diagnosis_of)
        .collect::<Result<_, _>>()?)
}

/// One diagnosis of a note, inside the transaction that changes it.
pub async fn one_in(
    tx: &mut Tx,
    encounter: EncounterId,
    id: i64,
) -> Result<Option<NoteDiagnosis>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        note_diagnosis_columns!(),
        " FROM note_diagnoses d \
         LEFT JOIN diagnosis_catalogue c ON c.code = d.catalogue_code \
         WHERE d.encounter_id = $1 AND d.id = $2"
    ))
    .bind(encounter)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.as_ref().map(note_diagnosis_of).transpose()?)
}

/// Each diagnosis of a note with its entry's mapping (none for free text), at signing.
pub async fn mappings_in(
    tx: &mut Tx,
    encounter: EncounterId,
) -> Result<Vec<(i64, Option<Mapping>)>, DbError> {
    let rows = sqlx::query(
        "SELECT d.id, c.id AS entry_id, c.moh705a_row, c.moh705b_row, c.pregnancy_row \
         FROM note_diagnoses d LEFT JOIN diagnosis_catalogue c ON c.code = d.catalogue_code \
         WHERE d.encounter_id = $1 ORDER BY d.id",
    )
    .bind(encounter)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            let entry: Option<i64> = r.try_get("entry_id")?;
            let mapping = match entry {
                Some(_) => Some(Mapping {
                    a: r.try_get("moh705a_row")?,
                    b: r.try_get("moh705b_row")?,
                    pregnancy: r.try_get("pregnancy_row")?,
                }),
                None => None,
            };
            Ok((r.try_get("id")?, mapping))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Fixes form and row of these diagnoses of a note.
pub async fn fix_rows(
    tx: &mut Tx,
    encounter: EncounterId,
    ids: &[i64],
    form: &str,
    row: i64,
) -> Result<(), DbError> {
    for id in ids {
        sqlx::query(
            "UPDATE encounter_diagnoses SET moh_form = $1, moh_row = $2 \
             WHERE encounter_id = $3 AND id = $4",
        )
        .bind(form)
        .bind(row)
        .bind(encounter)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Whether the note already has this catalogue entry (not marked entered in error).
pub async fn has_code(tx: &mut Tx, encounter: EncounterId, code: &str) -> Result<bool, DbError> {
    Ok(sqlx::query(
        "SELECT 1 FROM note_diagnoses d WHERE d.encounter_id = $1 AND d.catalogue_code = $2 \
         AND NOT EXISTS (SELECT 1 FROM encounter_addenda a WHERE a.diagnosis_id = d.id \
         AND a.kind = 'error')",
    )
    .bind(encounter)
    .bind(code)
    .fetch_optional(&mut **tx)
    .await?
    .is_some())
}

/// Adds a diagnosis to a note; `fixed` is the form and row when they are fixed at once (a
/// signed note's addendum). Returns the new id.
pub async fn insert(
    tx: &mut Tx,
    encounter: &Encounter,
    pick: &Pick,
    fixed: Option<(&str, i64)>,
    actor: &Actor,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO encounter_diagnoses (encounter_id, patient_id, visit_id, visit_day, \
         catalogue_code, free_text, display, icd10, certainty, moh_form, moh_row, added_by, \
         added_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(encounter.id)
    .bind(encounter.patient_id)
    .bind(encounter.visit_id)
    .bind(encounter.visit_day)
    .bind(pick.code.as_deref())
    .bind(pick.free_text.as_deref())
    .bind(&pick.display)
    .bind(pick.icd10.as_deref())
    .bind(&pick.certainty)
    .bind(fixed.map(|(f, _)| f))
    .bind(fixed.map(|(_, r)| r))
    .bind(actor.user_id)
    .bind(clock::now_rfc3339())
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?)
}

/// Takes a diagnosis off a draft note: voided (kept, marked removed), never deleted; the
/// database refuses it once signed. Whether one was removed.
pub async fn remove(
    tx: &mut Tx,
    encounter: EncounterId,
    id: i64,
    by: Option<i64>,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE encounter_diagnoses SET removed_at = $3, removed_by = $4 \
         WHERE encounter_id = $1 AND id = $2 AND removed_at IS NULL \
         AND EXISTS (SELECT 1 FROM encounters e WHERE e.id = $1 AND e.state = 'draft')",
    )
    .bind(encounter)
    .bind(id)
    .bind(clock::now_rfc3339())
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Changes the certainty of a draft note's diagnosis; whether it changed.
pub async fn set_certainty(
    tx: &mut Tx,
    encounter: EncounterId,
    id: i64,
    certainty: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE encounter_diagnoses SET certainty = $1 WHERE encounter_id = $2 AND id = $3 \
         AND removed_at IS NULL AND EXISTS (SELECT 1 FROM encounters e WHERE e.id = $2 AND e.state = 'draft')",
    )
    .bind(certainty)
    .bind(encounter)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
