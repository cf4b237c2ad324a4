//! The module's contributions to reports and claims: MOH 705 cases per row (counted from
//! diagnoses fixed at signing), referrals out, deaths, procedures for MOH 717, a visit's
//! diagnoses and procedures for claims, and its part of a patient's export.

use hms_core::db::{Db, DbError};
use hms_core::ids::{PatientId, VisitId};
use hms_core::module::{ExportSection, Figure, FigureRange, FigureSource, Indicator, VisitFact};

pub const INDICATORS: &[Indicator] = &[];

pub async fn figures(
    _db: &Db,
    _indicator: &str,
    _range: &FigureRange,
) -> Result<Option<Figure>, DbError> {
    Ok(None)
}

pub async fn figure_sources(
    _db: &Db,
    _indicator: &str,
    _range: &FigureRange,
) -> Result<Vec<FigureSource>, DbError> {
    Ok(Vec::new())
}

pub async fn visit_facts(_db: &Db, _visits: &[VisitId]) -> Result<Vec<VisitFact>, DbError> {
    Ok(Vec::new())
}

pub async fn export(_db: &Db, _patients: &[PatientId]) -> Result<Vec<ExportSection>, DbError> {
    Ok(Vec::new())
}
