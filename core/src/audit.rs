//! The audit log: one row per change, written in the same transaction as the change, last.
//! The table is append-only (database triggers refuse UPDATE and DELETE).

use serde_json::Value;

use crate::db::Tx;

/// Who did it and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

impl Actor {
    /// A change made from the command line on this machine.
    pub fn cli(user_id: Option<i64>) -> Self {
        Self {
            user_id,
            client_addr: Some("cli".into()),
            request_id: None,
        }
    }
}

/// What happened.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: &'static str,
    pub entity: &'static str,
    pub entity_id: Option<String>,
    pub patient_id: Option<i64>,
    pub detail: Value,
}

impl Event {
    pub fn new(action: &'static str, entity: &'static str, entity_id: Option<i64>) -> Self {
        Self {
            action,
            entity,
            entity_id: entity_id.map(|id| id.to_string()),
            patient_id: None,
            detail: Value::Object(Default::default()),
        }
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Appends the audit row inside the caller's transaction; call it last, just before COMMIT.
pub async fn record(tx: &mut Tx, actor: &Actor, event: Event) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, user_id, action, entity, entity_id, patient_id, detail, \
         client_addr, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(crate::clock::now_rfc3339())
    .bind(actor.user_id)
    .bind(event.action)
    .bind(event.entity)
    .bind(event.entity_id)
    .bind(event.patient_id)
    .bind(event.detail.to_string())
    .bind(actor.client_addr.as_deref())
    .bind(actor.request_id.as_deref())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
