//! SQL of the patient chart: the record with its details and identifiers (a merged record
//! leads to its survivor), and the records merged into it.

use hms_core::clock;
use hms_core::db::{Db, DbError};
use serde::Serialize;
use sqlx::Row;

use super::{details_at, full_name, identifiers_of};
use crate::form::Details;

#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub id: i64,
    pub number: String,
    pub name: String,
    #[serde(flatten)]
    pub details: Details,
    pub consent_at: Option<String>,
    pub is_active: bool,
    pub inactive_reason: Option<String>,
    pub inactive_on: Option<String>,
    pub identifiers: Vec<(String, String)>,
    pub created_at: String,
    /// The `updated_at` stamp that guards an edit.
    pub version: String,
}

/// A patient's chart data; a merged record leads to the survivor.
pub async fn chart(db: &Db, id: i64) -> Result<Option<Chart>, DbError> {
    let mut id = id;
    for _ in 0..8 {
        let Some(r) = sqlx::query(concat!(
            "SELECT id, number, is_active, inactive_reason, inactive_on, created_at, updated_at, \
             merged_into, ",
            details_columns!(),
            " FROM patients WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        else {
            return Ok(None);
        };
        if let Some(next) = r.get::<Option<i64>, _>(7) {
            id = next;
            continue;
        }
        let identifiers = identifiers_of(db.read(), id).await?;
        let (details, consent_at) = details_at(&r, 8);
        return Ok(Some(Chart {
            id,
            number: r.get(1),
            name: full_name(
                &details.first_name,
                details.middle_name.as_deref(),
                &details.last_name,
            ),
            details,
            consent_at: consent_at.as_deref().map(clock::display_rfc3339),
            is_active: r.get::<i64, _>(2) == 1,
            inactive_reason: r.get(3),
            inactive_on: r.get(4),
            identifiers,
            created_at: clock::display_rfc3339(&r.get::<String, _>(5)),
            version: r.get(6),
        }));
    }
    Ok(None)
}

/// Ids of the records merged into `survivor`, directly or through a record merged later.
pub async fn merged_ids(db: &Db, survivor: i64) -> Result<Vec<i64>, DbError> {
    Ok(sqlx::query(
        "WITH RECURSIVE m(id) AS (SELECT id FROM patients WHERE merged_into = $1 \
         UNION SELECT p.id FROM patients p JOIN m ON p.merged_into = m.id) \
         SELECT id FROM m LIMIT 100",
    )
    .bind(survivor)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| r.get(0))
    .collect())
}
