//! Screens of the appointments module, one file per area; labels shared by them here.

mod availability;
pub mod booking;
pub mod checkin;
pub mod display;
pub mod lists;
pub mod panel;
pub mod queue;
pub mod schedules;

use hms_core::dates;
use hms_core::day::Day;
use hms_core::http::RouteSpec;

/// Every route of the module.
pub fn all() -> Vec<RouteSpec> {
    let mut routes = schedules::routes();
    routes.extend(booking::routes());
    routes.extend(checkin::routes());
    routes.extend(queue::routes());
    routes.extend(display::routes());
    routes.extend(panel::routes());
    routes
}

pub use crate::model::{payer_label, status_label, PAYERS};

/// A day typed into a form (within the range events may fall in), or the message for its field.
pub(crate) fn typed_day(value: &str) -> Result<Day, String> {
    Day::event(value).map_err(|e| e.message(dates::latest_event()))
}

/// Minutes since midnight now, in the facility's time zone.
pub(crate) fn minute_now() -> u32 {
    use chrono::Timelike;
    let now = hms_core::clock::to_local(chrono::Utc::now());
    now.hour() * 60 + now.minute()
}
