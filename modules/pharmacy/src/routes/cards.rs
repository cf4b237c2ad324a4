//! Pharmacy screens: the dashboard cards. The pharmacist's: prescriptions waiting, balances
//! waiting for stock, below reorder level, expiring within 90 days, expired on the shelf; the
//! administrator's: stock takes to approve and the last stock ledger check. Each is also a full
//! page, and says what to do next when it has nothing to show.

use std::collections::HashMap;

use poem::{handler, Response};
use serde::Serialize;

use hms_core::day::Day;
use hms_core::http::{render, Access, Ctx, RouteSpec};
use hms_core::i18n::t;
use hms_core::{clock, AppResult};

use crate::alerts::{self, CARD_LINES, EXPIRING_DAYS};
use crate::repo::reports as repo;
use crate::{APPROVE, DISPENSE};

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/pharmacy/cards/waiting", P(DISPENSE), waiting),
        RouteSpec::get("/pharmacy/cards/balances", P(DISPENSE), balances),
        RouteSpec::get("/pharmacy/cards/reorder", P(DISPENSE), reorder),
        RouteSpec::get("/pharmacy/cards/expiring", P(DISPENSE), expiring),
        RouteSpec::get("/pharmacy/cards/expired", P(DISPENSE), expired),
        RouteSpec::get("/pharmacy/cards/stocktakes", P(APPROVE), stocktakes),
        RouteSpec::get("/pharmacy/cards/ledger", P(APPROVE), ledger),
    ]
}

#[handler]
pub async fn waiting(cx: Ctx) -> AppResult<Response> {
    let (lines, patients, oldest) = repo::waiting(&cx.app().db).await?;
    let longest = oldest.map_or(0, |at| clock::minutes_since(&at, chrono::Utc::now()));
    let mut c = tera::Context::new();
    c.insert("lines", &lines);
    c.insert("patients", &patients);
    c.insert("longest", &longest);
    render(&cx, "pharmacy/card_waiting.html", c)
}

#[derive(Debug, Serialize)]
struct BalanceLine {
    display: String,
    balance: i64,
    /// Usable units in the dispensaries now.
    in_stock: i64,
    placed: String,
}

#[handler]
pub async fn balances(cx: Ctx) -> AppResult<Response> {
    let db = &cx.app().db;
    let (count, rows) = repo::balances(db, CARD_LINES).await?;
    let stock: HashMap<String, i64> = if rows.is_empty() {
        HashMap::new()
    } else {
        repo::usable_in_dispensaries(db, &alerts::iso(Day::today().date()))
            .await?
            .into_iter()
            .collect()
    };
    let lines: Vec<BalanceLine> = rows
        .into_iter()
        .map(|b| BalanceLine {
            in_stock: b
                .code
                .as_ref()
                .and_then(|code| stock.get(code))
                .copied()
                .unwrap_or(0),
            display: b.display,
            balance: b.balance,
            placed: clock::display_rfc3339(&b.placed_at),
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("count", &count);
    c.insert("lines", &lines);
    render(&cx, "pharmacy/card_balances.html", c)
}

fn items_page(
    cx: &Ctx,
    which: &str,
    count: i64,
    units: Option<i64>,
    items: &[alerts::Item],
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("which", which);
    c.insert("count", &count);
    c.insert("units", &units);
    c.insert("items", items);
    c.insert("days", &EXPIRING_DAYS);
    // Each card's own texts, looked up here so that every key stays literal.
    let (title, empty) = match which {
        "reorder" => (
            "pharmacy.card_reorder",
            "pharmacy_reports.card_reorder_empty",
        ),
        "expiring" => (
            "pharmacy.card_expiring",
            "pharmacy_reports.card_expiring_empty",
        ),
        _ => (
            "pharmacy.card_expired",
            "pharmacy_reports.card_expired_empty",
        ),
    };
    c.insert("title", &t(title));
    c.insert("empty", &t(empty));
    render(cx, "pharmacy/card_items.html", c)
}

#[handler]
pub async fn reorder(cx: Ctx) -> AppResult<Response> {
    let (count, items) = alerts::reorder(&cx.app().db, Day::today().date()).await?;
    items_page(&cx, "reorder", count, None, &items)
}

#[handler]
pub async fn expiring(cx: Ctx) -> AppResult<Response> {
    let today = Day::today().date();
    let until = hms_core::dates::shift(today, EXPIRING_DAYS);
    let (count, units, items) = alerts::batches(&cx.app().db, today, until, today).await?;
    items_page(&cx, "expiring", count, Some(units), &items)
}

#[handler]
pub async fn expired(cx: Ctx) -> AppResult<Response> {
    let today = Day::today().date();
    let first = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(today);
    let yesterday = hms_core::dates::shift(today, -1);
    let (count, units, items) = alerts::batches(&cx.app().db, first, yesterday, today).await?;
    items_page(&cx, "expired", count, Some(units), &items)
}

#[derive(Debug, Serialize)]
struct CountLine {
    href: String,
    store: String,
    submitted: String,
    by: String,
    lines: i64,
}

#[handler]
pub async fn stocktakes(cx: Ctx) -> AppResult<Response> {
    let (count, rows) = repo::submitted_counts(&cx.app().db, CARD_LINES).await?;
    let lines: Vec<CountLine> = rows
        .into_iter()
        .map(|s| CountLine {
            href: format!("/pharmacy/stocktakes/{}", s.id),
            store: s.store_name,
            submitted: s
                .submitted_at
                .as_deref()
                .map(clock::display_rfc3339)
                .unwrap_or_default(),
            by: s.submitted_by.unwrap_or_default(),
            lines: s.lines,
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("count", &count);
    c.insert("lines", &lines);
    render(&cx, "pharmacy/card_stocktakes.html", c)
}

#[derive(Debug, Serialize)]
struct LastCheck {
    ran: String,
    finished: bool,
    nightly: bool,
    batches: i64,
    differences: i64,
    detail: Vec<String>,
}

#[handler]
pub async fn ledger(cx: Ctx) -> AppResult<Response> {
    let last = repo::last_check(&cx.app().db).await?.map(|r| LastCheck {
        ran: clock::display_rfc3339(&r.ran_at),
        finished: r.finished_at.is_some(),
        nightly: r.night.is_some(),
        batches: r.batches,
        differences: r.differences,
        detail: r
            .detail
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    });
    let mut c = tera::Context::new();
    c.insert("last", &last);
    render(&cx, "pharmacy/card_ledger.html", c)
}
