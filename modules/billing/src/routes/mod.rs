//! Billing's screens, one file per area.

pub mod adjust;
pub mod cards;
pub mod claims;
pub mod deposit;
pub mod desk;
pub mod documents;
pub mod etims;
pub mod mpesa;
pub mod prices;
pub mod remit;
pub mod settings;
pub mod shifts;

use hms_core::http::RouteSpec;

/// Every route of the module.
pub fn all() -> Vec<RouteSpec> {
    let mut routes = desk::routes();
    routes.extend(documents::routes());
    routes.extend(adjust::routes());
    routes.extend(mpesa::routes());
    routes.extend(etims::routes());
    routes.extend(claims::routes());
    routes.extend(remit::routes());
    routes.extend(deposit::routes());
    routes.extend(shifts::routes());
    routes.extend(prices::routes());
    routes.extend(settings::routes());
    routes.extend(cards::routes());
    routes
}

/// Page `n` of a list (1-based) read from a query value; bad input is page 1.
pub fn page(text: Option<&str>) -> i64 {
    text.and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|p| (1..=100_000).contains(p))
        .unwrap_or(1)
}

/// `42.pdf` gives 42, `42` gives 42 with `false`.
pub fn file_id(file: &str) -> Option<(i64, bool)> {
    match file.strip_suffix(".pdf") {
        Some(id) => id.parse().ok().map(|id| (id, true)),
        None => file.parse().ok().map(|id| (id, false)),
    }
}
