//! The order basket of a draft note: lab tests and drug lines gathered while consulting (from
//! the fillers' catalogues or as free text), placed as core orders all in one transaction; and
//! procedures done in the room, each posting its charge.

use hms_core::db::{Db, DbError, Tx};

use crate::encounter::Encounter;

/// The basket, the orders placed from this note and the procedures done, for the consultation
/// page (JSON for `consultations/_orders.html`).
pub async fn section(_db: &Db, _encounter: &Encounter) -> Result<serde_json::Value, DbError> {
    Ok(serde_json::Value::Null)
}

/// Items still in the basket (signing refuses while any are left unplaced).
pub async fn unplaced(_tx: &mut Tx, _encounter: &Encounter) -> Result<i64, DbError> {
    Ok(0)
}
