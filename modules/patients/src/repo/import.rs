//! SQL of importing patients from a file: staging an upload with its preview, the duplicate
//! lookups (the same shape as `holder_of` and `likely_matches`, but on one connection, so the
//! import sees the rows it registered a moment ago in its own transaction), and the import
//! itself in batches through [`super::register`].

use hms_core::audit::{self, Actor, Event};
use hms_core::clock;
use hms_core::db::{Db, DbError, Tx};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::form::Valid;
use crate::import::{
    decide, summarise, Checked, Existing, Lookup, Outcome, ReportRow, Seen, Summary,
};

/// Rows registered per transaction: large enough to be quick, small enough that a receptionist
/// registering at the same time waits a moment at most (each batch holds the number counter and
/// the audit chain head until it commits).
const BATCH: usize = 200;

/// An upload as the screens show it (without its content and per-row report).
#[derive(Debug, Clone, Serialize)]
pub struct Staged {
    pub id: i64,
    pub file_sha256: String,
    pub filename: String,
    pub row_count: i64,
    /// previewed, importing or imported.
    pub status: String,
    pub created_by: String,
    pub created_at: String,
    pub imported_at: Option<String>,
    pub summary: Summary,
}

macro_rules! staged_columns {
    () => {
        "i.id, i.file_sha256, i.filename, i.row_count, i.status, u.full_name, i.created_at, \
         i.imported_at, i.summary"
    };
}

fn staged_at(r: &sqlx::any::AnyRow) -> Staged {
    Staged {
        id: r.get(0),
        file_sha256: r.get(1),
        filename: r.get(2),
        row_count: r.get(3),
        status: r.get(4),
        created_by: r.get::<Option<String>, _>(5).unwrap_or_default(),
        created_at: clock::display_rfc3339(&r.get::<String, _>(6)),
        imported_at: r
            .get::<Option<String>, _>(7)
            .as_deref()
            .map(clock::display_rfc3339),
        summary: serde_json::from_str(&r.get::<String, _>(8)).unwrap_or_default(),
    }
}

/// A new upload and its preview.
pub struct NewImport<'a> {
    pub file_sha256: &'a str,
    pub filename: &'a str,
    pub content: &'a str,
    pub report: &'a [ReportRow],
}

/// Stages an upload with its preview; returns its id. Nothing else is written.
pub async fn stage(db: &Db, new: &NewImport<'_>, actor: &Actor) -> Result<i64, DbError> {
    let summary = summarise(new.report);
    let report = serde_json::to_string(new.report).unwrap_or_else(|_| "[]".into());
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO patient_imports (file_sha256, filename, row_count, status, created_by, \
         created_at, summary, report, content) \
         VALUES ($1, $2, $3, 'previewed', $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(new.file_sha256)
    .bind(new.filename)
    .bind(summary.rows as i64)
    .bind(actor.user_id)
    .bind(clock::now_rfc3339())
    .bind(json!(summary).to_string())
    .bind(&report)
    .bind(new.content)
    .fetch_one(&mut *tx)
    .await?
    .get(0);
    // The file holds patient data: its upload is recorded too (counts and the file's hash only).
    audit::record(
        &mut tx,
        actor,
        Event::new("patient.import_preview", "patient_import", Some(id)).detail(json!({
            "file_sha256": new.file_sha256, "filename": new.filename, "summary": summary,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Staged>, DbError> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        staged_columns!(),
        " FROM patient_imports i LEFT JOIN users u ON u.id = i.created_by WHERE i.id = $1"
    ))
    .bind(id)
    .fetch_optional(db.read())
    .await?
    .map(|r| staged_at(&r)))
}

/// The latest uploads, newest first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Staged>, DbError> {
    Ok(sqlx::query(concat!(
        "SELECT ",
        staged_columns!(),
        " FROM patient_imports i LEFT JOIN users u ON u.id = i.created_by \
          ORDER BY i.id DESC LIMIT CAST($1 AS BIGINT)"
    ))
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(staged_at)
    .collect())
}

/// The per-row report of an upload (as previewed, or as imported).
pub async fn report(db: &Db, id: i64) -> Result<Option<Vec<ReportRow>>, DbError> {
    Ok(
        sqlx::query("SELECT report FROM patient_imports WHERE id = $1")
            .bind(id)
            .fetch_optional(db.read())
            .await?
            .map(|r| serde_json::from_str(&r.get::<String, _>(0)).unwrap_or_default()),
    )
}

/// The staged file's text, read back for the import.
pub async fn content(db: &Db, id: i64) -> Result<Option<String>, DbError> {
    Ok(
        sqlx::query("SELECT content FROM patient_imports WHERE id = $1")
            .bind(id)
            .fetch_optional(db.read())
            .await?
            .map(|r| r.get(0)),
    )
}

/// When the same file (by SHA-256) was imported before, by another upload.
pub async fn imported_before(
    db: &Db,
    file_sha256: &str,
    except: i64,
) -> Result<Option<String>, DbError> {
    Ok(sqlx::query(
        "SELECT imported_at FROM patient_imports \
         WHERE file_sha256 = $1 AND status = 'imported' AND id <> $2 ORDER BY id LIMIT 1",
    )
    .bind(file_sha256)
    .bind(except)
    .fetch_optional(db.read())
    .await?
    .and_then(|r| r.get::<Option<String>, _>(0))
    .map(|at| clock::display_rfc3339(&at)))
}

/// Marks a previewed upload as being imported; false when it is not previewed (imported
/// already, or another click or another administrator started it).
pub async fn start(db: &Db, id: i64, actor: &Actor) -> Result<bool, DbError> {
    let mut tx = db.begin().await?;
    let changed = sqlx::query(
        "UPDATE patient_imports SET status = 'importing', imported_by = $1 \
         WHERE id = $2 AND status = 'previewed'",
    )
    .bind(actor.user_id)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(changed == 1)
}

/// Puts an import that failed half-way back to previewed. The batches already committed stay,
/// with their row keys, so importing again skips them as already imported.
pub async fn abandon(db: &Db, id: i64) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE patient_imports SET status = 'previewed', imported_by = NULL \
         WHERE id = $1 AND status = 'importing'",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What the database knows about a valid row: imported before; a patient holding one of its
/// identifiers; and, when `possible`, a patient with its phone or its sex, birth date and a name.
async fn lookup(
    conn: &mut AnyConnection,
    key: &str,
    valid: &Valid,
    possible: bool,
) -> Result<Lookup, DbError> {
    let mut found = Lookup::default();
    let existing = |r: &sqlx::any::AnyRow| Existing {
        id: r.get(0),
        number: r.get(1),
    };
    found.already = sqlx::query("SELECT id FROM patient_import_rows WHERE row_key = $1")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if found.already {
        return Ok(found);
    }
    for (id_type, value) in &valid.identifiers {
        let holder = sqlx::query(
            "SELECT p.id, p.number FROM patient_identifiers i JOIN patients p ON p.id = i.patient_id \
             WHERE i.id_type = $1 AND i.value = $2 AND i.voided_at IS NULL",
        )
        .bind(id_type)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = holder {
            found.holder = Some(existing(&r));
            return Ok(found);
        }
    }
    if !possible {
        return Ok(found);
    }
    let d = &valid.details;
    if let Some(phone) = &d.phone {
        found.phone = sqlx::query(
            "SELECT p.id, p.number FROM patients p WHERE p.phone = $1 AND p.merged_into IS NULL \
             ORDER BY p.id LIMIT 1",
        )
        .bind(phone)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| existing(&r));
        if found.phone.is_some() {
            return Ok(found);
        }
    }
    let tokens = d.tokens();
    for r in sqlx::query(
        "SELECT p.id, p.number, p.first_name, p.middle_name, p.last_name FROM patients p \
         WHERE p.date_of_birth = $1 AND p.sex = $2 AND p.merged_into IS NULL ORDER BY p.id LIMIT 50",
    )
    .bind(&d.date_of_birth)
    .bind(d.sex)
    .fetch_all(&mut *conn)
    .await?
    {
        let theirs = crate::model::name_tokens(&[
            r.get::<String, _>(2).as_str(),
            r.get::<Option<String>, _>(3).unwrap_or_default().as_str(),
            r.get::<String, _>(4).as_str(),
        ]);
        if theirs.iter().any(|t| tokens.contains(t)) {
            found.likely = Some(existing(&r));
            break;
        }
    }
    Ok(found)
}

/// The preview: each row's outcome, reading only.
pub async fn preview(db: &Db, rows: &[Checked]) -> Result<Vec<ReportRow>, DbError> {
    let mut conn = db.read().acquire().await?;
    let mut seen = Seen::default();
    let mut report = Vec::with_capacity(rows.len());
    for c in rows {
        let outcome = match &c.result {
            Err(errors) => Outcome::Invalid {
                errors: errors.clone(),
            },
            Ok(valid) => {
                let known = lookup(&mut conn, &c.key, valid, true).await?;
                let outcome = decide(&c.key, valid, &known, &seen, false);
                if outcome == Outcome::Create {
                    seen.add(c.line, &c.key, valid);
                }
                outcome
            }
        };
        report.push(ReportRow {
            line: c.line,
            name: c.name.clone(),
            outcome,
        });
    }
    Ok(report)
}

/// Claims a row key for this import; `None` when another import holds it already.
async fn claim(tx: &mut Tx, import_id: i64, line: u64, key: &str) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query(
        "INSERT INTO patient_import_rows (import_id, row_number, row_key, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (row_key) DO NOTHING RETURNING id",
    )
    .bind(import_id)
    .bind(line as i64)
    .bind(key)
    .bind(clock::now_rfc3339())
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| r.get(0)))
}

/// Imports the rows of a started upload: each row checked again against the database and the
/// rows before it, then registered through [`super::register`] (numbers, identifiers, search
/// tokens and its audit row), in transactions of [`BATCH`] rows. Returns the per-row report.
pub async fn run(
    db: &Db,
    import_id: i64,
    rows: &[Checked],
    include_possible: bool,
    year: i32,
    actor: &Actor,
) -> Result<Vec<ReportRow>, DbError> {
    let mut seen = Seen::default();
    let mut report = Vec::with_capacity(rows.len());
    for batch in rows.chunks(BATCH) {
        let mut tx = db.begin().await?;
        for c in batch {
            let outcome = match &c.result {
                Err(errors) => Outcome::Invalid {
                    errors: errors.clone(),
                },
                Ok(valid) => {
                    let known = lookup(&mut tx, &c.key, valid, !include_possible).await?;
                    match decide(&c.key, valid, &known, &seen, include_possible) {
                        Outcome::Create => match claim(&mut tx, import_id, c.line, &c.key).await? {
                            None => Outcome::Already,
                            Some(claimed) => {
                                let (id, number) = super::register(
                                    &mut tx,
                                    valid,
                                    crate::model::NUMBER_PREFIX,
                                    year,
                                    actor,
                                )
                                .await?;
                                sqlx::query(
                                    "UPDATE patient_import_rows SET patient_id = $1 WHERE id = $2",
                                )
                                .bind(id)
                                .bind(claimed)
                                .execute(&mut *tx)
                                .await?;
                                seen.add(c.line, &c.key, valid);
                                Outcome::Created {
                                    patient: Existing { id, number },
                                }
                            }
                        },
                        other => other,
                    }
                }
            };
            report.push(ReportRow {
                line: c.line,
                name: c.name.clone(),
                outcome,
            });
        }
        tx.commit().await?;
    }
    Ok(report)
}

/// Marks the upload imported with its report, and records the import (counts and the file's
/// hash and name, never a patient's details).
pub async fn finish(
    db: &Db,
    staged: &Staged,
    report: &[ReportRow],
    include_possible: bool,
    actor: &Actor,
) -> Result<Summary, DbError> {
    let summary = summarise(report);
    let mut tx = db.begin().await?;
    let changed = sqlx::query(
        "UPDATE patient_imports SET status = 'imported', imported_at = $1, summary = $2, \
         report = $3 WHERE id = $4 AND status = 'importing'",
    )
    .bind(clock::now_rfc3339())
    .bind(json!(summary).to_string())
    .bind(serde_json::to_string(report).unwrap_or_else(|_| "[]".into()))
    .bind(staged.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(DbError::Sqlx(sqlx::Error::RowNotFound));
    }
    audit::record(
        &mut tx,
        actor,
        Event::new("patient.import", "patient_import", Some(staged.id)).detail(json!({
            "file_sha256": staged.file_sha256,
            "filename": staged.filename,
            "rows": summary.rows,
            "created": summary.created,
            "duplicates": summary.duplicate,
            "possible_duplicates": summary.possible,
            "already_imported": summary.already,
            "invalid": summary.invalid,
            "include_possible": include_possible,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(summary)
}
