//! Screens of the pharmacy, one file per area.

pub mod cards;
pub mod catalogue;
pub mod dispense;
pub mod movements;
pub mod reports;
pub mod sales;
pub mod stock;

use hms_core::http::RouteSpec;

/// Every route of the module.
pub fn all() -> Vec<RouteSpec> {
    let mut routes = catalogue::routes();
    routes.extend(stock::routes());
    routes.extend(movements::routes());
    routes.extend(dispense::routes());
    routes.extend(sales::routes());
    routes.extend(reports::routes());
    routes.extend(cards::routes());
    routes
}
