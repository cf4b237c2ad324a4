//! Pharmacy screens: stock. `/pharmacy/stock` is the stock on hand of one store, a line per
//! drug (usable units, expired units still on the shelf, the earliest expiry, the reorder
//! level), searchable, filterable by flag and paginated, from one grouped query per page;
//! `/pharmacy/stock/:drug` shows a drug's batches in every store and its stock card (its ledger
//! rows, newest first).

use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;

use hms_core::day::Day;
use hms_core::http::{render, render_part, Access, Ctx, RouteSpec};
use hms_core::i18n::t;
use hms_core::{AppError, AppResult};

use super::catalogue::{clean_q, pager};
use crate::catalogue;
use crate::model::{self, Store};
use crate::repo::catalogue::{self as repo, stock};
use crate::{CATALOGUE, VIEW};

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/pharmacy/stock", P(VIEW), store_stock),
        RouteSpec::get("/pharmacy/stock/:drug", P(VIEW), drug_stock),
    ]
}

/// Lines on one page of a store's stock.
const PAGE: i64 = 50;
/// Rows on one page of a stock card.
const CARD_PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct StockQuery {
    #[serde(default)]
    store: Option<String>,
    #[serde(default)]
    q: String,
    #[serde(default)]
    flag: String,
    #[serde(default)]
    page: Option<i64>,
}

/// The store asked for, or the first active dispensary (then any active store, then any).
fn chosen(stores: &[Store], asked: Option<&str>) -> Result<Option<Store>, AppError> {
    match asked.map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => {
            let id: i64 = text.parse().map_err(|_| AppError::NotFound)?;
            Ok(Some(
                stores
                    .iter()
                    .find(|s| s.id == id)
                    .cloned()
                    .ok_or(AppError::NotFound)?,
            ))
        }
        None => Ok(stores
            .iter()
            .find(|s| s.active && s.kind == "dispensary")
            .or_else(|| stores.iter().find(|s| s.active))
            .or_else(|| stores.first())
            .cloned()),
    }
}

#[handler]
pub async fn store_stock(cx: Ctx, Query(query): Query<StockQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let stores = model::stores(db).await?;
    let store = chosen(&stores, query.store.as_deref())?;
    let q = clean_q(&query.q);
    let flag = if stock::FLAGS.contains(&query.flag.as_str()) {
        query.flag.clone()
    } else {
        String::new()
    };
    let page = query.page.unwrap_or(1).max(1);
    let today = Day::today().date();
    let soon = catalogue::warning_end(today);
    let (lines, total) = match &store {
        Some(s) => {
            stock::store_page(
                db,
                s.id,
                &repo::like_pattern(&q),
                &flag,
                today,
                soon,
                PAGE,
                (page - 1) * PAGE,
            )
            .await?
        }
        None => (Vec::new(), 0),
    };
    let drugs = if lines.is_empty() {
        repo::drug_count(db).await?
    } else {
        total
    };
    let mut c = tera::Context::new();
    c.insert("stores", &stores);
    c.insert("store", &store);
    c.insert("q", &q);
    c.insert("flag", &flag);
    let flags: Vec<(&str, String)> = stock::FLAGS
        .iter()
        .map(|f| (*f, t(&format!("pharmacy_catalogue.flag_{f}"))))
        .collect();
    c.insert("flags", &flags);
    let lines: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            catalogue::with(
                l,
                serde_json::json!({ "usable_text": catalogue::units(l.usable) }),
            )
        })
        .collect();
    c.insert("lines", &lines);
    c.insert("pager", &pager(page, total, PAGE));
    c.insert("no_drugs", &(drugs == 0));
    c.insert("can_catalogue", &cx.can(CATALOGUE));
    c.insert("warning_days", &catalogue::EXPIRY_WARNING_DAYS);
    render_part(&cx, "pharmacy/stock.html", "pharmacy/_stock_rows.html", c)
}

#[derive(Deserialize, Default)]
pub struct CardQuery {
    #[serde(default)]
    store: Option<String>,
    #[serde(default)]
    page: Option<i64>,
}

#[handler]
pub async fn drug_stock(
    cx: Ctx,
    Path(id): Path<i64>,
    Query(query): Query<CardQuery>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let drug = model::drug(db, id).await?.ok_or(AppError::NotFound)?;
    let stores = model::stores(db).await?;
    let store = match query
        .store
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(_) => chosen(&stores, query.store.as_deref())?,
    };
    let today = Day::today().date();
    let soon = catalogue::warning_end(today);
    let batches = stock::batches(db, id, today, soon).await?;
    let page = query.page.unwrap_or(1).max(1);
    let (card, total) = stock::card(
        db,
        id,
        store.as_ref().map(|s| s.id),
        CARD_PAGE,
        (page - 1) * CARD_PAGE,
    )
    .await?;
    let levels = repo::levels_of(db, id).await?;
    let per_store: Vec<serde_json::Value> = stores
        .iter()
        .map(|s| {
            let mine: Vec<&stock::BatchLine> = batches.iter().filter(|b| b.store == s.id).collect();
            let usable: i64 = mine
                .iter()
                .filter(|b| !b.expired)
                .map(|b| b.qty_on_hand)
                .sum();
            let expired: i64 = mine
                .iter()
                .filter(|b| b.expired)
                .map(|b| b.qty_on_hand)
                .sum();
            let level = levels.iter().find(|l| l.store == s.id);
            serde_json::json!({
                "store": s,
                "batches": mine,
                "usable": usable,
                "expired": expired,
                "reorder_level": level.map(|l| l.reorder_level).unwrap_or(0),
                "maximum_level": level.map(|l| l.maximum_level).unwrap_or(0),
            })
        })
        .filter(|v| {
            v["batches"].as_array().is_some_and(|b| !b.is_empty()) || v["reorder_level"] != 0
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("drug", &drug);
    c.insert("display", &drug.display());
    c.insert("stores", &stores);
    c.insert("store", &store);
    c.insert("per_store", &per_store);
    let card: Vec<serde_json::Value> = card
        .iter()
        .map(|r| {
            catalogue::with(
                r,
                serde_json::json!({ "kind_label": t(&format!("pharmacy_catalogue.kind_{}", r.kind)) }),
            )
        })
        .collect();
    c.insert("card", &card);
    c.insert("pager", &pager(page, total, CARD_PAGE));
    c.insert("can_catalogue", &cx.can(CATALOGUE));
    render(&cx, "pharmacy/stock_drug.html", c)
}
