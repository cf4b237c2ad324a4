//! Dispensing: the pharmacy queue (core `drug` orders placed or part done), preparing line by
//! line with charges, issuing after clearance (stock moves only here, first expiry first out),
//! partial dispenses, closing balances, returns, over-the-counter sales; the chart's timeline
//! entries and its medicines panel.

use hms_core::db::{Db, DbError};
use hms_core::module::{ChartPanel, TimelineEntry};

/// The chart panel: medicines of the last 90 days.
pub const PANELS: &[ChartPanel] = &[];

/// The patients' dispenses and returns for the chart timeline, newest first.
pub async fn timeline(
    _db: &Db,
    _patients: &[i64],
    _limit: i64,
) -> Result<Vec<TimelineEntry>, DbError> {
    Ok(Vec::new())
}
