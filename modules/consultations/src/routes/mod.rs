//! Screens of the consultations module, one file per area, and the checks they share.

pub mod diagnoses;
pub mod documents;
pub mod orders;
pub mod triage;
pub mod vitals;
pub mod workspace;

use hms_core::http::RouteSpec;
use hms_core::ids::EncounterId;
use hms_core::{AppError, AppResult};

use crate::encounter::{self, Encounter};

/// Every route of the module.
pub fn all() -> Vec<RouteSpec> {
    let mut routes = triage::routes();
    routes.extend(vitals::routes());
    routes.extend(workspace::routes());
    routes.extend(diagnoses::routes());
    routes.extend(orders::routes());
    routes.extend(documents::routes());
    routes
}

/// A note that exists (404 otherwise).
pub(crate) async fn encounter_of(db: &hms_core::db::Db, id: EncounterId) -> AppResult<Encounter> {
    encounter::get(db, id).await?.ok_or(AppError::NotFound)
}
