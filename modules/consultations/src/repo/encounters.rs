//! Storage of consultation notes (`encounters`, `encounter_versions`, `encounter_addenda`).

use hms_core::day::Day;
use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::{EncounterId, PatientId, UserId, VisitId};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::encounter::Encounter;

/// The columns [`encounter_of`] reads.
macro_rules! encounter_columns {
    () => {
        "id, patient_id, visit_id, visit_day, clinician_id, state, version, complaint, \
         complaint_duration, history, examination, assessment, plan, outcome, outcome_detail, \
         started_at, updated_at, signed_at, signed_by, queue_entry_id"
    };
}
#[allow(unused_imports)]
pub(crate) use encounter_columns;

pub(crate) fn encounter_of(r: &AnyRow) -> Result<Encounter, sqlx::Error> {
    let detail: String = r.try_get("outcome_detail")?;
    Ok(Encounter {
        id: r.try_get("id")?,
        patient_id: r.try_get("patient_id")?,
        visit_id: r.try_get("visit_id")?,
        visit_day: r.try_get("visit_day")?,
        clinician_id: r.try_get("clinician_id")?,
        state: r.try_get("state")?,
        version: r.try_get("version")?,
        complaint: r.try_get("complaint")?,
        complaint_duration: r.try_get("complaint_duration")?,
        history: r.try_get("history")?,
        examination: r.try_get("examination")?,
        assessment: r.try_get("assessment")?,
        plan: r.try_get("plan")?,
        outcome: r.try_get("outcome")?,
        outcome_detail: serde_json::from_str(&detail).unwrap_or_default(),
        started_at: r.try_get("started_at")?,
        updated_at: r.try_get("updated_at")?,
        signed_at: r.try_get("signed_at")?,
        signed_by: r.try_get("signed_by")?,
        queue_entry_id: r.try_get("queue_entry_id")?,
    })
}

pub async fn get(db: &Db, id: EncounterId) -> Result<Option<Encounter>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        encounter_columns!(),
        " FROM encounters WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.read())
    .await?;
    Ok(row.as_ref().map(encounter_of).transpose()?)
}

/// The note inside a transaction, as it is now (for checks that must hold at the write).
pub async fn get_in(tx: &mut Tx, id: EncounterId) -> Result<Option<Encounter>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        encounter_columns!(),
        " FROM encounters WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.as_ref().map(encounter_of).transpose()?)
}

/// The draft of a visit, if one is open (at most one: a unique index).
pub async fn draft_of_visit(tx: &mut Tx, visit: VisitId) -> Result<Option<EncounterId>, DbError> {
    let row = sqlx::query("SELECT id FROM encounters WHERE visit_id = $1 AND state = 'draft'")
        .bind(visit)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// A new, empty draft.
pub struct NewDraft {
    pub patient: PatientId,
    pub visit: VisitId,
    pub visit_day: Day,
    pub clinician: UserId,
    pub queue_entry: i64,
    pub now: String,
}

pub async fn insert_draft(tx: &mut Tx, d: &NewDraft) -> Result<EncounterId, DbError> {
    let row = sqlx::query(
        "INSERT INTO encounters (patient_id, visit_id, visit_day, clinician_id, started_at, \
         updated_at, updated_by, queue_entry_id) VALUES ($1, $2, $3, $4, $5, $5, $4, $6) \
         RETURNING id",
    )
    .bind(d.patient)
    .bind(d.visit)
    .bind(d.visit_day)
    .bind(d.clinician)
    .bind(&d.now)
    .bind(d.queue_entry)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.get(0))
}

/// A draft taken up again from the queue (the patient came back): the entry it now answers
/// and the doctor who took it. Guarded on the draft state.
pub async fn reopen(
    tx: &mut Tx,
    id: EncounterId,
    clinician: UserId,
    queue_entry: i64,
    now: &str,
) -> Result<(), DbError> {
    let done = sqlx::query(
        "UPDATE encounters SET queue_entry_id = $2, clinician_id = $3, updated_at = $4, \
         updated_by = $3 WHERE id = $1 AND state = 'draft'",
    )
    .bind(id)
    .bind(queue_entry)
    .bind(clinician)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    hms_core::db::one_row(done)
}

/// The texts of a note as one save writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Texts {
    pub complaint: String,
    pub complaint_duration: String,
    pub history: String,
    pub examination: String,
    pub assessment: String,
    pub plan: String,
}

impl Texts {
    pub fn of(e: &Encounter) -> Texts {
        Texts {
            complaint: e.complaint.clone(),
            complaint_duration: e.complaint_duration.clone(),
            history: e.history.clone(),
            examination: e.examination.clone(),
            assessment: e.assessment.clone(),
            plan: e.plan.clone(),
        }
    }
}

/// Saves the texts over `version` (guarded: the draft still at that version) and keeps the new
/// version's texts in `encounter_versions`; the new version, or `None` when the note moved on
/// (saved by someone else, or signed).
pub async fn save(
    tx: &mut Tx,
    id: EncounterId,
    version: i64,
    texts: &Texts,
    user: UserId,
    now: &str,
) -> Result<Option<i64>, DbError> {
    let done = sqlx::query(
        "UPDATE encounters SET complaint = $3, complaint_duration = $4, history = $5, \
         examination = $6, assessment = $7, plan = $8, version = version + 1, \
         updated_at = $9, updated_by = $10 \
         WHERE id = $1 AND state = 'draft' AND version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(&texts.complaint)
    .bind(&texts.complaint_duration)
    .bind(&texts.history)
    .bind(&texts.examination)
    .bind(&texts.assessment)
    .bind(&texts.plan)
    .bind(now)
    .bind(user)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(None);
    }
    let new = version + 1;
    sqlx::query(
        "INSERT INTO encounter_versions (encounter_id, version, texts, saved_by, saved_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(new)
    .bind(serde_json::to_string(texts).unwrap_or_default())
    .bind(user)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(Some(new))
}

/// Signs the draft at `version` (guarded `WHERE state = 'draft' AND version = $v`).
pub async fn sign(
    tx: &mut Tx,
    id: EncounterId,
    version: i64,
    outcome: &str,
    detail: &serde_json::Value,
    user: UserId,
    now: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE encounters SET state = 'signed', outcome = $3, outcome_detail = $4, \
         signed_at = $5, signed_by = $6, updated_at = $5, updated_by = $6 \
         WHERE id = $1 AND state = 'draft' AND version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(outcome)
    .bind(detail.to_string())
    .bind(now)
    .bind(user)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A draft on the doctor's lists.
#[derive(Debug, Clone)]
pub struct DraftLine {
    pub id: EncounterId,
    pub patient_id: PatientId,
    pub visit_day: Day,
    pub complaint: String,
    pub updated_at: String,
    /// Orders of the visit with a result back (completed or partly done).
    pub results: i64,
}

/// The doctor's drafts, most recently touched first, with the results back on each visit.
pub async fn drafts_of(db: &Db, clinician: UserId, limit: i64) -> Result<Vec<DraftLine>, DbError> {
    let rows = sqlx::query(
        "SELECT e.id, e.patient_id, e.visit_day, e.complaint, e.updated_at, \
         (SELECT COUNT(*) FROM orders o WHERE o.visit_id = e.visit_id \
          AND o.state IN ('completed', 'partly_done')) \
         FROM encounters e WHERE e.clinician_id = $1 AND e.state = 'draft' \
         ORDER BY e.updated_at DESC, e.id DESC LIMIT CAST($2 AS BIGINT)",
    )
    .bind(clinician)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DraftLine {
                id: r.try_get(0)?,
                patient_id: r.try_get(1)?,
                visit_day: r.try_get(2)?,
                complaint: r.try_get(3)?,
                updated_at: r.try_get(4)?,
                results: r.try_get(5)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// For the doctor's cards: (drafts of earlier days, drafts whose visit has results back).
pub async fn draft_counts(db: &Db, clinician: UserId, today: Day) -> Result<(i64, i64), DbError> {
    let r = sqlx::query(
        "SELECT COALESCE(SUM(CASE WHEN e.visit_day < $2 THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM orders o WHERE o.visit_id = e.visit_id \
           AND o.state IN ('completed', 'partly_done')) THEN 1 ELSE 0 END), 0) \
         FROM encounters e WHERE e.clinician_id = $1 AND e.state = 'draft'",
    )
    .bind(clinician)
    .bind(today)
    .fetch_one(db.read())
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

/// A user's name as notes show it.
pub async fn user_name(db: &Db, id: UserId) -> Result<Option<String>, DbError> {
    let row = sqlx::query("SELECT full_name FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// A diagnosis of a note, as addenda name it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NoteDiagnosis {
    pub id: i64,
    pub display: String,
    pub icd10: Option<String>,
    pub certainty: String,
    /// Marked entered in error by an addendum.
    pub in_error: bool,
}

/// The diagnoses of a note, in the order they were made.
pub async fn diagnoses_of(db: &Db, id: EncounterId) -> Result<Vec<NoteDiagnosis>, DbError> {
    let rows = sqlx::query(
        "SELECT d.id, d.display, d.icd10, d.certainty, \
         EXISTS (SELECT 1 FROM encounter_addenda a WHERE a.diagnosis_id = d.id \
                 AND a.kind = 'error') \
         FROM note_diagnoses d WHERE d.encounter_id = $1 ORDER BY d.id",
    )
    .bind(id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(NoteDiagnosis {
                id: r.try_get(0)?,
                display: r.try_get(1)?,
                icd10: r.try_get(2)?,
                certainty: r.try_get(3)?,
                in_error: truthy(r, 4)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// A boolean expression's value: an integer on SQLite, a boolean on PostgreSQL.
fn truthy(r: &AnyRow, i: usize) -> Result<bool, sqlx::Error> {
    match r.try_get::<bool, _>(i) {
        Ok(b) => Ok(b),
        Err(_) => Ok(r.try_get::<i64, _>(i)? != 0),
    }
}

/// The diagnosis `diagnosis` of note `id` inside the transaction: its display, and whether an
/// addendum already marked it entered in error. `None` when it is not this note's.
pub async fn diagnosis_in(
    tx: &mut Tx,
    id: EncounterId,
    diagnosis: i64,
) -> Result<Option<(String, bool)>, DbError> {
    let row = sqlx::query(
        "SELECT d.display, (SELECT COUNT(*) FROM encounter_addenda a WHERE a.diagnosis_id = d.id \
         AND a.kind = 'error') FROM note_diagnoses d WHERE d.id = $1 AND d.encounter_id = $2",
    )
    .bind(diagnosis)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? > 0)))
        .transpose()
        .map_err(|e: sqlx::Error| DbError::from(e))
}

/// Appends an addendum; its id.
pub async fn insert_addendum(
    tx: &mut Tx,
    e: &Encounter,
    kind: &str,
    text: &str,
    diagnosis: Option<i64>,
    user: UserId,
    now: &str,
) -> Result<i64, DbError> {
    let row = sqlx::query(
        "INSERT INTO encounter_addenda (encounter_id, patient_id, kind, text, diagnosis_id, \
         written_by, written_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(e.id)
    .bind(e.patient_id)
    .bind(kind)
    .bind(text)
    .bind(diagnosis)
    .bind(user)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.get(0))
}

/// An addendum as the note shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Addendum {
    pub kind: String,
    pub text: String,
    pub diagnosis: Option<String>,
    pub written_by: Option<String>,
    pub written_at: String,
}

pub async fn addenda_of(db: &Db, id: EncounterId) -> Result<Vec<Addendum>, DbError> {
    let rows = sqlx::query(
        "SELECT a.kind, a.text, d.display, u.full_name, a.written_at FROM encounter_addenda a \
         LEFT JOIN note_diagnoses d ON d.id = a.diagnosis_id \
         LEFT JOIN users u ON u.id = a.written_by \
         WHERE a.encounter_id = $1 ORDER BY a.id",
    )
    .bind(id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Addendum {
                kind: r.try_get(0)?,
                text: r.try_get(1)?,
                diagnosis: r.try_get(2)?,
                written_by: r.try_get(3)?,
                written_at: r.try_get(4)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// A diagnosis of the patient's earlier signed notes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EarlierDiagnosis {
    pub display: String,
    pub icd10: Option<String>,
    pub certainty: String,
    pub visit_day: Day,
}

/// The patient's diagnoses in signed notes other than `except`, newest first (those an addendum
/// marked entered in error left out).
pub async fn earlier_diagnoses(
    db: &Db,
    patient: PatientId,
    except: EncounterId,
    limit: i64,
) -> Result<Vec<EarlierDiagnosis>, DbError> {
    let rows = sqlx::query(
        "SELECT d.display, d.icd10, d.certainty, d.visit_day FROM note_diagnoses d \
         JOIN encounters e ON e.id = d.encounter_id \
         WHERE d.patient_id = $1 AND d.encounter_id <> $2 AND e.state = 'signed' \
         AND NOT EXISTS (SELECT 1 FROM encounter_addenda a WHERE a.diagnosis_id = d.id \
                         AND a.kind = 'error') \
         ORDER BY d.added_at DESC, d.id DESC LIMIT CAST($3 AS BIGINT)",
    )
    .bind(patient)
    .bind(except)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EarlierDiagnosis {
                display: r.try_get(0)?,
                icd10: r.try_get(1)?,
                certainty: r.try_get(2)?,
                visit_day: r.try_get(3)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// A signed note on the chart timeline: (id, signed_at, complaint, outcome, diagnoses joined).
pub type SignedLine = (EncounterId, String, String, Option<String>, Vec<String>);

/// A patient's signed notes, newest first, each with its diagnoses (not those in error).
pub async fn signed_of(db: &Db, patient: i64, limit: i64) -> Result<Vec<SignedLine>, DbError> {
    let rows = sqlx::query(
        "SELECT e.id, e.signed_at, e.complaint, e.outcome, d.display FROM encounters e \
         LEFT JOIN note_diagnoses d ON d.encounter_id = e.id \
           AND NOT EXISTS (SELECT 1 FROM encounter_addenda a WHERE a.diagnosis_id = d.id \
                           AND a.kind = 'error') \
         WHERE e.id IN (SELECT id FROM encounters WHERE patient_id = $1 AND state = 'signed' \
                        ORDER BY started_at DESC LIMIT CAST($2 AS BIGINT)) \
         ORDER BY e.signed_at DESC, e.id DESC, d.id",
    )
    .bind(patient)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    let mut out: Vec<SignedLine> = Vec::new();
    for r in &rows {
        let id: EncounterId = r.try_get(0)?;
        let diagnosis: Option<String> = r.try_get(4)?;
        match out.last_mut() {
            Some(last) if last.0 == id => last.4.extend(diagnosis),
            _ => out.push((
                id,
                r.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                r.try_get(2)?,
                r.try_get(3)?,
                diagnosis.into_iter().collect(),
            )),
        }
    }
    Ok(out)
}
