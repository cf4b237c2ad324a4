//! Reads of dispensing for the chart (a patient's medicines), the over-the-counter form and the
//! prescription page (units prepared and not yet issued).

use sqlx::Row;

use hms_core::db::{Db, DbError};
use serde::Serialize;

/// A medicine given to a patient, for the chart (timeline and panel).
#[derive(Debug, Clone, Serialize)]
pub struct Given {
    pub dispense: i64,
    pub at: String,
    pub drug_name: String,
    pub quantity: i64,
    pub issued: i64,
    pub returned: i64,
    pub instructions: String,
    /// The prescribed quantity of the order it filled (none for a sale).
    pub order_quantity: Option<i64>,
}

/// The patients' issued lines since `since` (RFC 3339), newest first.
pub async fn given(
    db: &Db,
    patients: &[i64],
    since: &str,
    limit: i64,
) -> Result<Vec<Given>, DbError> {
    let mut out = Vec::new();
    for p in patients {
        let rows = sqlx::query(
            "SELECT d.id, d.issued_at, dr.generic_name, dr.strength, dr.form, l.quantity, \
             l.quantity_issued, l.quantity_returned, l.instructions, o.quantity \
             FROM dispenses d JOIN dispense_lines l ON l.dispense_id = d.id \
             JOIN drugs dr ON dr.id = l.drug_id LEFT JOIN orders o ON o.id = l.order_id \
             WHERE d.patient_id = $1 AND d.state = 'issued' AND d.issued_at >= $2 \
             ORDER BY d.issued_at DESC, l.id LIMIT CAST($3 AS BIGINT)",
        )
        .bind(p)
        .bind(since)
        .bind(limit)
        .fetch_all(db.read())
        .await?;
        out.extend(rows.iter().map(|r| {
            Given {
                dispense: r.get(0),
                at: r.get(1),
                drug_name: [r.get::<String, _>(2), r.get(3), r.get(4)]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
                quantity: r.get(5),
                issued: r.get(6),
                returned: r.get(7),
                instructions: r.get(8),
                order_quantity: r.get(9),
            }
        }));
    }
    out.sort_by(|a, b| b.at.cmp(&a.at));
    out.truncate(limit.max(0) as usize);
    Ok(out)
}

/// Drugs sold without a prescription, for the over-the-counter form.
pub async fn otc_drugs(db: &Db) -> Result<Vec<crate::model::Drug>, DbError> {
    Ok(sqlx::query(crate::select_drugs!(
        "WHERE d.active = 1 AND d.prescription_only = 0 ORDER BY d.generic_name, d.strength LIMIT 500"
    ))
    .fetch_all(db.read())
    .await?
    .iter()
    .map(crate::model::drug_from)
    .collect())
}

/// Units of an order in dispenses prepared and not yet issued.
pub async fn pending(db: &Db, order: i64) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM dispense_lines l \
         JOIN dispenses d ON d.id = l.dispense_id WHERE l.order_id = $1 AND d.state = 'prepared'",
    )
    .bind(order)
    .fetch_one(db.read())
    .await?)
}
