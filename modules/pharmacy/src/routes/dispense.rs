//! Pharmacy screens: dispensing. The queue and *Call next*, a visit's prescriptions with the
//! prepare form, the dispense page (issue, cancel, returns), closing a balance, labels and the
//! balance slip, and the chart's medicines panel.

mod after;
mod papers;
mod queue;
mod visit;

use hms_core::http::{Access, RouteSpec};

use crate::{DISPENSE, VIEW};

pub fn routes() -> Vec<RouteSpec> {
    let p = Access::Permission;
    vec![
        RouteSpec::get("/pharmacy", p(DISPENSE), queue::index),
        RouteSpec::post("/pharmacy/next", p(DISPENSE), queue::call_next),
        RouteSpec::get("/pharmacy/visits/:id", p(DISPENSE), visit::page),
        RouteSpec::post("/pharmacy/visits/:id/prepare", p(DISPENSE), visit::prepare),
        RouteSpec::get("/pharmacy/visits/:id/slip.pdf", p(DISPENSE), papers::slip),
        RouteSpec::post("/pharmacy/visits/:id/finish", p(DISPENSE), queue::finish),
        RouteSpec::post("/pharmacy/orders/:id/close", p(DISPENSE), after::close),
        RouteSpec::get("/pharmacy/dispenses/:id", p(VIEW), after::page),
        RouteSpec::post("/pharmacy/dispenses/:id/issue", p(DISPENSE), after::issue),
        RouteSpec::post("/pharmacy/dispenses/:id/cancel", p(DISPENSE), after::cancel),
        RouteSpec::post(
            "/pharmacy/dispenses/:id/lines/:line/return",
            p(DISPENSE),
            after::return_line,
        ),
        RouteSpec::get(
            "/pharmacy/dispenses/:id/labels.pdf",
            p(DISPENSE),
            papers::labels,
        ),
        RouteSpec::get(
            "/pharmacy/patients/:id/medicines",
            p(VIEW),
            papers::medicines_panel,
        ),
    ]
}

/// The store to dispense from: the one asked for if it is active, else the first active
/// dispensary, else the first active store.
pub(crate) async fn store_for(
    db: &hms_core::db::Db,
    asked: Option<i64>,
) -> Result<(Vec<crate::model::Store>, Option<crate::model::Store>), hms_core::db::DbError> {
    let stores: Vec<_> = crate::model::stores(db)
        .await?
        .into_iter()
        .filter(|s| s.active)
        .collect();
    let chosen = asked
        .and_then(|id| stores.iter().find(|s| s.id == id))
        .or_else(|| stores.iter().find(|s| s.kind == "dispensary"))
        .or_else(|| stores.first())
        .cloned();
    Ok((stores, chosen))
}

/// The label language offered first: the reader's own.
pub(crate) fn default_language() -> &'static str {
    if hms_core::i18n::current() == "sw" {
        "sw"
    } else {
        "en"
    }
}

/// A language code as posted: `sw`, else `en`.
pub(crate) fn language(posted: &str) -> String {
    if posted.trim() == "sw" { "sw" } else { "en" }.to_string()
}
