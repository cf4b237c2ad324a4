//! The access report a patient may ask for under Kenya's Data Protection Act: every entry of the
//! audit trail about the patient's record and every record merged into it, with who (and their
//! roles), when (Nairobi time), from which computer, and the action in words.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use hms_core::clock;
use hms_core::db::{Db, DbError};
use hms_core::i18n::{has, t};

/// At most this many entries per record (the newest).
pub const PER_RECORD: i64 = 5000;

/// One entry of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Access {
    pub id: i64,
    pub at_local: String,
    /// "Jane Wambui (jane), Receptionist", or the system.
    pub who: String,
    pub what: String,
    pub computer: String,
    /// The entry is about a record merged into the survivor.
    pub merged_record: bool,
}

/// Every entry about the records `ids` (the survivor first), newest first.
pub async fn entries(db: &Db, ids: &[i64]) -> Result<Vec<Access>, DbError> {
    let mut rows = Vec::new();
    for &pid in ids {
        let found = sqlx::query(
            "SELECT a.id, a.at, a.user_id, u.username, u.full_name, a.action, a.detail, \
             a.client_addr FROM audit_log a LEFT JOIN users u ON u.id = a.user_id \
             WHERE a.patient_id = $1 ORDER BY a.id DESC LIMIT CAST($2 AS BIGINT)",
        )
        .bind(pid)
        .bind(PER_RECORD)
        .fetch_all(db.read())
        .await?;
        rows.extend(found.into_iter().map(|r| (pid, r)));
    }
    let roles = roles(db).await?;
    let survivor = ids.first().copied().unwrap_or(0);
    let mut out: Vec<Access> = rows
        .into_iter()
        .map(|(pid, r)| {
            let user: Option<i64> = r.get(2);
            let username: Option<String> = r.get(3);
            let full_name: Option<String> = r.get(4);
            let action: String = r.get(5);
            let detail: String = r.get(6);
            let who = match (full_name, username) {
                (Some(name), Some(login)) => {
                    let role = user
                        .and_then(|u| roles.get(&u))
                        .cloned()
                        .unwrap_or_default();
                    if role.is_empty() {
                        format!("{name} ({login})")
                    } else {
                        format!("{name} ({login}), {role}")
                    }
                }
                _ => t("audit.system"),
            };
            Access {
                id: r.get(0),
                at_local: clock::display_rfc3339(&r.get::<String, _>(1)),
                who,
                what: words(&action, &detail),
                computer: r.get::<Option<String>, _>(7).unwrap_or_default(),
                merged_record: pid != survivor,
            }
        })
        .collect();
    out.sort_by_key(|a| std::cmp::Reverse(a.id));
    Ok(out)
}

/// Each user's roles, by title in the reader's language ("Receptionist, Nurse").
async fn roles(db: &Db) -> Result<BTreeMap<i64, String>, DbError> {
    let rows = sqlx::query(
        "SELECT ur.user_id, r.name, r.title FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         ORDER BY ur.user_id, r.name",
    )
    .fetch_all(db.read())
    .await?;
    let mut out: BTreeMap<i64, String> = BTreeMap::new();
    for r in rows {
        let name: String = r.get(1);
        let key = format!("role.{name}");
        let title = if has(&key) { t(&key) } else { r.get(2) };
        let entry = out.entry(r.get(0)).or_default();
        if !entry.is_empty() {
            entry.push_str(", ");
        }
        entry.push_str(&title);
    }
    Ok(out)
}

/// An audit action code in words ("patient.view" is "opened the chart"); a code without words
/// shows as itself, so a new action is never hidden from the report.
pub fn words(action: &str, detail: &str) -> String {
    let code = if action == "patient.print" {
        let what = serde_json::from_str::<serde_json::Value>(detail)
            .ok()
            .and_then(|d| d.get("what").and_then(|w| w.as_str()).map(str::to_string));
        match what.as_deref() {
            Some("label") => "patient.print_label".to_string(),
            _ => "patient.print_card".to_string(),
        }
    } else {
        action.to_string()
    };
    let key = format!("audit.report.action.{}", code.replace('.', "_"));
    if has(&key) {
        t(&key)
    } else {
        action.to_string()
    }
}
