//! Pharmacy screens: dispense.

use hms_core::http::RouteSpec;

pub fn routes() -> Vec<RouteSpec> {
    Vec::new()
}
