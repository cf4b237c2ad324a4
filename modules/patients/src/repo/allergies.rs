//! Storage of a patient's allergies (`patient_allergies`): read with the records merged into the
//! patient, added (audited), refuted by a guarded update (audited); never deleted.

use hms_core::audit::{self, Actor, Event};
use hms_core::clock;
use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::PatientId;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::allergies::{entries, NewAllergy};

/// One allergy as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Allergy {
    pub id: i64,
    /// The record it was written on (a record merged into the patient keeps its rows).
    pub patient_id: PatientId,
    pub allergen: String,
    /// `penicillins`, `sulfonamides`, `cephalosporins`, `nsaids`, `opioids`, or none.
    pub drug_group: Option<String>,
    pub reaction: Option<String>,
    /// `mild`, `moderate`, `severe`, or none when not known.
    pub severity: Option<String>,
    /// False once refuted.
    pub active: bool,
    pub recorded_by: Option<String>,
    pub recorded_at: String,
    pub refuted_by: Option<String>,
    pub refuted_at: Option<String>,
}

/// The allergies of a patient and of every record merged into it, active first.
pub async fn of_patients(db: &Db, survivor: i64) -> Result<Vec<Allergy>, DbError> {
    Ok(sqlx::query(
        "WITH RECURSIVE m(id) AS (SELECT CAST($1 AS BIGINT) \
         UNION SELECT p.id FROM patients p JOIN m ON p.merged_into = m.id) \
         SELECT a.id, a.patient_id, a.allergen, a.drug_group, a.reaction, a.severity, a.status, \
         r.full_name, a.recorded_at, f.full_name, a.refuted_at \
         FROM patient_allergies a JOIN m ON m.id = a.patient_id \
         LEFT JOIN users r ON r.id = a.recorded_by LEFT JOIN users f ON f.id = a.refuted_by \
         ORDER BY CASE WHEN a.status = 'active' THEN 0 ELSE 1 END, a.id",
    )
    .bind(survivor)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| Allergy {
        id: r.get(0),
        patient_id: PatientId(r.get(1)),
        allergen: r.get(2),
        drug_group: r.get(3),
        reaction: r.get(4),
        severity: r.get(5),
        active: r.get::<String, _>(6) == "active",
        recorded_by: r.get(7),
        recorded_at: r.get(8),
        refuted_by: r.get(9),
        refuted_at: r.get(10),
    })
    .collect())
}

/// Records an allergy on a patient's record; returns its id.
pub async fn add(tx: &mut Tx, patient: i64, a: &NewAllergy, actor: &Actor) -> Result<i64, DbError> {
    let id: i64 = sqlx::query(
        "INSERT INTO patient_allergies (patient_id, allergen, drug_group, reaction, severity, \
         status, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7) \
         RETURNING id",
    )
    .bind(patient)
    .bind(&a.allergen)
    .bind(a.drug_group.as_deref())
    .bind(a.reaction.as_deref())
    .bind(a.severity.as_deref())
    .bind(actor.user_id)
    .bind(clock::now_rfc3339())
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    audit::record(
        tx,
        actor,
        Event::new("patient.allergy_add", "patient", Some(patient))
            .patient(patient)
            .detail(json!({"allergy": id, "after": a})),
    )
    .await?;
    Ok(id)
}

/// Records each entry of an allergies text typed at registration as a row.
pub async fn add_entries(
    tx: &mut Tx,
    patient: i64,
    text: &str,
    actor: &Actor,
) -> Result<(), DbError> {
    for entry in entries(text) {
        add(tx, patient, &NewAllergy::from_entry(entry), actor).await?;
    }
    Ok(())
}

/// Records the entries of a generated patient's allergies text (demo data, loaded in bulk
/// without an audit row per record, like the patients themselves).
pub async fn add_generated(
    tx: &mut Tx,
    patient: i64,
    text: &str,
    recorded_by: Option<i64>,
    at: &str,
) -> Result<(), DbError> {
    for entry in entries(text) {
        let a = NewAllergy::from_entry(entry);
        sqlx::query(
            "INSERT INTO patient_allergies (patient_id, allergen, drug_group, status, \
             recorded_by, recorded_at) VALUES ($1, $2, $3, 'active', $4, $5)",
        )
        .bind(patient)
        .bind(&a.allergen)
        .bind(a.drug_group.as_deref())
        .bind(recorded_by)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Marks an active allergy of the patient (or of a record merged into it) refuted;
/// [`DbError::Conflict`] when it is not there or was refuted already.
pub async fn refute(tx: &mut Tx, patient: i64, allergy: i64, actor: &Actor) -> Result<(), DbError> {
    let Some(row) = sqlx::query(
        "UPDATE patient_allergies SET status = 'refuted', refuted_by = $3, refuted_at = $4 \
         WHERE id = $1 AND status = 'active' AND patient_id IN \
         (WITH RECURSIVE m(id) AS (SELECT CAST($2 AS BIGINT) \
          UNION SELECT p.id FROM patients p JOIN m ON p.merged_into = m.id) SELECT id FROM m) \
         RETURNING allergen",
    )
    .bind(allergy)
    .bind(patient)
    .bind(actor.user_id)
    .bind(clock::now_rfc3339())
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Err(DbError::Conflict);
    };
    audit::record(
        tx,
        actor,
        Event::new("patient.allergy_refute", "patient", Some(patient))
            .patient(patient)
            .detail(json!({"allergy": allergy, "before": {"allergen": row.get::<String, _>(0)}})),
    )
    .await?;
    Ok(())
}
