//! The pharmacy's contributions to reports: prescriptions per MOH 717 D.1-D.4, and the
//! patient's medicines in their data export.

use hms_core::db::{Db, DbError};
use hms_core::ids::PatientId;
use hms_core::module::{ExportSection, Figure, FigureRange, FigureSource, Indicator};

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

pub async fn export(_db: &Db, _patients: &[PatientId]) -> Result<Vec<ExportSection>, DbError> {
    Ok(Vec::new())
}
