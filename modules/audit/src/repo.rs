//! All SQL of the audit screens, and the CSV form of rows.

use chrono::{NaiveDate, TimeZone};
use hms_core::clock;
use hms_core::db::{Db, DbError};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// The viewer's filters, as typed (all optional).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub patient: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// Filters checked and turned into query bounds.
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    username: String,
    patient_id: i64,
    action: String,
    action_prefix: String,
    from_utc: String,
    to_utc: String,
}

impl Bounds {
    /// Only entries about the record `patient` (its row id, found from the number typed).
    pub fn for_patient(mut self, patient: i64) -> Self {
        self.patient_id = patient;
        self
    }
}

/// Start of a Nairobi calendar day, as stored UTC text.
fn day_start_utc(date: NaiveDate) -> String {
    let local = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    clock::nairobi()
        .from_local_datetime(&local)
        .single()
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_default()
}

impl Filters {
    /// The bounds, or the messages to show beside the filters.
    pub fn bounds(&self) -> Result<Bounds, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        // A patient number as on the card ("P-26-00042"); the record it names is looked up
        // by the caller (`Bounds::for_patient`), never typed as a row id.
        let number = self.patient.trim();
        if !number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/')
            || (!number.is_empty() && !number.chars().any(|c| c.is_ascii_digit()))
        {
            errors.push(("patient", hms_core::i18n::t("audit.error_patient")));
        }
        let date = |s: &str, field: &'static str, errors: &mut Vec<_>| -> Option<NaiveDate> {
            if s.trim().is_empty() {
                return None;
            }
            match hms_core::dates::event(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    errors.push((field, e.message(hms_core::dates::latest_event())));
                    None
                }
            }
        };
        let from = date(&self.from, "from", &mut errors);
        let to = date(&self.to, "to", &mut errors);
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                errors.push(("to", hms_core::i18n::t("audit.error_date_order")));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let action = self.action.trim().to_lowercase();
        // "patient." (ending with a dot) means every patient action.
        let (action, action_prefix) = match action.strip_suffix('.') {
            Some(prefix) if !prefix.is_empty() => (String::new(), format!("{prefix}.%")),
            _ => (action, String::new()),
        };
        Ok(Bounds {
            username: self.user.trim().to_lowercase(),
            patient_id: 0,
            action,
            action_prefix,
            from_utc: from.map(day_start_utc).unwrap_or_default(),
            to_utc: to
                .and_then(|d| d.succ_opt())
                .map(day_start_utc)
                .unwrap_or_default(),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub at_local: String,
    pub username: Option<String>,
    pub full_name: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub patient_id: Option<i64>,
    /// The patient's number, filled in by the screen (`None` in exports).
    pub patient_number: Option<String>,
    pub detail: String,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
    pub hash: String,
}

/// The filter conditions every query shape shares; each shape leads with the condition its
/// index serves (patient, user, or newest-first by id), so a rare match never scans the log.
macro_rules! audit_query {
    ($lead:literal) => {
        concat!(
            "SELECT a.id, a.at, u.username, u.full_name, a.action, a.entity, a.entity_id, \
             a.patient_id, a.detail, a.client_addr, a.request_id, a.hash \
             FROM audit_log a LEFT JOIN users u ON u.id = a.user_id WHERE ",
            $lead,
            " AND ($1 = '' OR u.username = $1) \
               AND ($2 = 0 OR a.patient_id = $2) \
               AND ($3 = '' OR a.action = $3) \
               AND ($4 = '' OR a.action LIKE $4) \
               AND ($5 = '' OR a.at >= $5) \
               AND ($6 = '' OR a.at < $6) \
               AND ($7 = 0 OR a.id < $7) \
             ORDER BY a.id DESC LIMIT CAST($8 AS BIGINT)"
        )
    };
}

/// Newest first, rows with id below `before` (0 = from the newest), at most `limit`.
pub async fn page(db: &Db, b: &Bounds, before: i64, limit: i64) -> Result<Vec<AuditRow>, DbError> {
    // The user filter goes through the user's id, so the (user_id, id) index serves it.
    let user_id: i64 = if b.username.is_empty() {
        0
    } else {
        match sqlx::query("SELECT id FROM users WHERE username = $1")
            .bind(&b.username)
            .fetch_optional(db.read())
            .await?
        {
            Some(r) => r.get(0),
            None => return Ok(Vec::new()),
        }
    };
    let sql = if b.patient_id != 0 {
        audit_query!("a.patient_id = $2")
    } else if user_id != 0 {
        audit_query!("a.user_id = $9")
    } else {
        audit_query!("$9 = 0")
    };
    let rows = sqlx::query(sql)
        .bind(&b.username)
        .bind(b.patient_id)
        .bind(&b.action)
        .bind(&b.action_prefix)
        .bind(&b.from_utc)
        .bind(&b.to_utc)
        .bind(before)
        .bind(limit)
        .bind(user_id)
        .fetch_all(db.read())
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let at: String = r.get(1);
            AuditRow {
                id: r.get(0),
                at_local: clock::display_rfc3339(&at),
                at,
                username: r.get(2),
                full_name: r.get(3),
                action: r.get(4),
                entity: r.get(5),
                entity_id: r.get(6),
                patient_id: r.get(7),
                patient_number: None,
                detail: r.get(8),
                client_addr: r.get(9),
                request_id: r.get(10),
                hash: r.get(11),
            }
        })
        .collect())
}

/// One CSV cell, formulas defused (shared with every CSV export: it lives in core).
pub use hms_core::ui::csv_cell;

pub const CSV_HEADER: &str = "id,time_utc,time_nairobi,username,full_name,action,entity,entity_id,patient_id,client_addr,request_id,detail,hash\r\n";

pub fn csv_line(r: &AuditRow) -> String {
    let cells = [
        r.id.to_string(),
        r.at.clone(),
        r.at_local.clone(),
        r.username.clone().unwrap_or_default(),
        r.full_name.clone().unwrap_or_default(),
        r.action.clone(),
        r.entity.clone(),
        r.entity_id.clone().unwrap_or_default(),
        r.patient_id.map(|p| p.to_string()).unwrap_or_default(),
        r.client_addr.clone().unwrap_or_default(),
        r.request_id.clone().unwrap_or_default(),
        r.detail.clone(),
        r.hash.clone(),
    ];
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_quotes_doubled() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+254712345678"), "\"'+254712345678\"");
        assert_eq!(csv_cell("-1"), "\"'-1\"");
        assert_eq!(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_cell("\tx"), "\"'\tx\"");
        assert_eq!(csv_cell("plain, text"), "\"plain, text\"");
        assert_eq!(csv_cell("a\nb"), "\"a\nb\"");
    }

    #[test]
    fn dates_are_nairobi_days_and_bad_filters_are_explained() {
        let b = Filters {
            from: "2026-11-25".into(),
            to: "2026-11-25".into(),
            ..Default::default()
        }
        .bounds()
        .unwrap();
        assert_eq!(b.from_utc, "2026-11-24T21:00:00.000Z");
        assert_eq!(b.to_utc, "2026-11-25T21:00:00.000Z");
        let errors = Filters {
            patient: "P 26".into(),
            from: "31/02/2026".into(),
            ..Default::default()
        }
        .bounds()
        .unwrap_err();
        assert_eq!(errors.len(), 2);
        let later = Filters {
            from: "2026-11-26".into(),
            to: "2026-11-25".into(),
            ..Default::default()
        };
        assert!(later.bounds().is_err());
        let prefix = Filters {
            action: "Patient.".into(),
            ..Default::default()
        }
        .bounds()
        .unwrap();
        assert_eq!(prefix.action_prefix, "patient.%");
    }
}
