//! Screens of the appointments module, one file per area; labels shared by them here.

pub mod booking;
pub mod display;
pub mod panel;
pub mod queue;
pub mod schedules;

use hms_core::http::RouteSpec;
use hms_core::i18n::t;

/// Every route of the module.
pub fn all() -> Vec<RouteSpec> {
    let mut routes = schedules::routes();
    routes.extend(booking::routes());
    routes.extend(queue::routes());
    routes.extend(display::routes());
    routes.extend(panel::routes());
    routes
}

/// Ways a visit is paid for, as (stored value, translation key).
pub const PAYERS: &[(&str, &str)] = &[
    ("cash", "appointments.payer_cash"),
    ("mpesa", "appointments.payer_mpesa"),
    ("sha", "appointments.payer_sha"),
    ("insurance", "appointments.payer_insurance"),
    ("waiver", "appointments.payer_waiver"),
];

/// A payer in the request's language.
pub fn payer_label(payer: &str) -> String {
    PAYERS
        .iter()
        .find(|(v, _)| *v == payer)
        .map(|(_, key)| t(key))
        .unwrap_or_else(|| payer.to_string())
}

/// An appointment status in the request's language.
pub fn status_label(status: &str) -> String {
    match status {
        "booked" => t("appointments.status_booked"),
        "arrived" => t("appointments.status_arrived"),
        "cancelled" => t("appointments.status_cancelled"),
        "no_show" => t("appointments.status_no_show"),
        other => other.to_string(),
    }
}

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
