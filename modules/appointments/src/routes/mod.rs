//! Screens of the appointments module, one file per area; labels shared by them here.

pub mod booking;
pub mod checkin;
pub mod display;
pub mod queue;
pub mod schedules;

use hms_core::http::RouteSpec;

/// Every route of the module.
pub fn all() -> Vec<RouteSpec> {
    let mut routes = schedules::routes();
    routes.extend(booking::routes());
    routes.extend(checkin::routes());
    routes.extend(queue::routes());
    routes.extend(display::routes());
    routes
}

pub use crate::model::{payer_label, status_label, PAYERS};

/// Today in the facility's time zone.
pub(crate) fn today() -> chrono::NaiveDate {
    hms_core::clock::to_local(chrono::Utc::now()).date_naive()
}

/// Minutes since midnight now, in the facility's time zone.
pub(crate) fn minute_now() -> u32 {
    use chrono::Timelike;
    let now = hms_core::clock::to_local(chrono::Utc::now());
    now.hour() * 60 + now.minute()
}
