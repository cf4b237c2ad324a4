//! Pharmacy screens: cards.

use hms_core::http::RouteSpec;

pub fn routes() -> Vec<RouteSpec> {
    Vec::new()
}
