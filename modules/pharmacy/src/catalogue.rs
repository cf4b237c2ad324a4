//! The drug catalogue: drugs with their dispensing unit, pack size, allergy groups and MOH 717
//! category, the starter list in `data/`, CSV import; stores, suppliers and reorder levels; what
//! prescribers see while ordering (usable stock per dispensary).

use hms_core::db::{Db, DbError};
use hms_core::module::Orderable;

/// Catalogue entries matching `query` with their usable (unexpired) stock, for prescribers.
pub async fn orderables(_db: &Db, _query: &str) -> Result<Vec<Orderable>, DbError> {
    Ok(Vec::new())
}

/// One catalogue entry by code.
pub async fn orderable(_db: &Db, _code: &str) -> Result<Option<Orderable>, DbError> {
    Ok(None)
}
