//! Pharmacy screens: the drug catalogue (list and search, new, edit with reorder levels per
//! store, the starter list, CSV import), the drug search other screens embed, and (in
//! [`places`]) stores and suppliers.

mod import;
mod places;

use std::collections::HashMap;

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;

use hms_core::audit::{self, Event};
use hms_core::http::{
    render_part, render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec,
};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use crate::catalogue::{self, DrugFields, Saved, MOH717};
use crate::model;
use crate::repo::catalogue as repo;
use crate::{CATALOGUE, VIEW};

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    let mut routes = vec![
        RouteSpec::get("/pharmacy/catalogue", P(CATALOGUE), list),
        RouteSpec::post("/pharmacy/catalogue", P(CATALOGUE), create),
        RouteSpec::get("/pharmacy/catalogue/new", P(CATALOGUE), new_form),
        RouteSpec::post("/pharmacy/catalogue/starter", P(CATALOGUE), starter),
        RouteSpec::get("/pharmacy/catalogue/:id", P(CATALOGUE), edit_form),
        RouteSpec::post("/pharmacy/catalogue/:id", P(CATALOGUE), save),
        RouteSpec::post("/pharmacy/catalogue/:id/levels", P(CATALOGUE), save_levels),
        RouteSpec::get("/pharmacy/drugs/search", P(VIEW), search),
    ];
    routes.extend(import::routes());
    routes.extend(places::routes());
    routes
}

/// Drugs on one page of the catalogue.
const PAGE: i64 = 50;
/// Longest search text.
const Q_MAX: usize = 80;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<i64>,
}

pub(crate) fn clean_q(q: &str) -> String {
    q.trim().chars().take(Q_MAX).collect()
}

/// Page numbers for a pager: the current one, the last, and the previous and next if any.
pub(crate) fn pager(page: i64, total: i64, size: i64) -> serde_json::Value {
    let last = ((total + size - 1) / size).max(1);
    let page = page.clamp(1, last);
    json!({
        "page": page,
        "last": last,
        "prev": (page > 1).then_some(page - 1),
        "next": (page < last).then_some(page + 1),
        "total": total,
    })
}

#[handler]
pub async fn list(cx: Ctx, Query(query): Query<ListQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let q = clean_q(&query.q);
    let page = query.page.unwrap_or(1).max(1);
    let (drugs, total) = repo::drugs_page(db, &q, PAGE, (page - 1) * PAGE).await?;
    let count = if q.is_empty() {
        total
    } else {
        repo::drug_count(db).await?
    };
    let mut c = tera::Context::new();
    c.insert("q", &q);
    let drugs: Vec<serde_json::Value> = drugs
        .iter()
        .map(|d| {
            catalogue::with(
                d,
                json!({
                    "name": d.display(),
                    "moh717_label": t(&format!("pharmacy_catalogue.moh717_{}", d.moh717)),
                    "price": hms_core::money::Money::from_cents(d.price_cents).to_string(),
                }),
            )
        })
        .collect();
    c.insert("drugs", &drugs);
    c.insert("pager", &pager(page, total, PAGE));
    c.insert("catalogue_empty", &(count == 0));
    c.insert("stores", &model::stores(db).await?);
    render_part(
        &cx,
        "pharmacy/catalogue.html",
        "pharmacy/_catalogue_rows.html",
        c,
    )
}

#[handler]
pub async fn starter(cx: Ctx) -> AppResult<Response> {
    let added = catalogue::load_starter(&cx.app().db, &cx.actor()).await?;
    cx.flash(
        FlashKind::Success,
        t("pharmacy_catalogue.starter_loaded").replace("{count}", &added.to_string()),
    );
    Ok(see_other("/pharmacy/catalogue"))
}

fn moh717_options() -> Vec<(String, String)> {
    MOH717
        .iter()
        .map(|c| (c.to_string(), t(&format!("pharmacy_catalogue.moh717_{c}"))))
        .collect()
}

fn level_options() -> Vec<(String, String)> {
    (1..=6)
        .map(|l| {
            (
                l.to_string(),
                t("pharmacy_catalogue.level_n").replace("{level}", &l.to_string()),
            )
        })
        .collect()
}

/// The new-drug form or a drug's edit form (with its levels per store).
async fn drug_page(
    cx: &Ctx,
    status: StatusCode,
    drug: Option<&model::Drug>,
    values: HashMap<String, String>,
    errors: &FormErrors,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let mut c = tera::Context::new();
    c.insert("drug", &drug);
    c.insert("values", &values);
    c.insert("errors", errors);
    c.insert("moh717_options", &moh717_options());
    c.insert("level_options", &level_options());
    if let Some(d) = drug {
        let levels = repo::levels_of(db, d.id).await?;
        let stores: Vec<serde_json::Value> = model::stores(db)
            .await?
            .into_iter()
            .map(|s| {
                let l = levels.iter().find(|l| l.store == s.id);
                let typed = |k: &str, stored: i64| {
                    values
                        .get(&format!("{k}_{}", s.id))
                        .cloned()
                        .unwrap_or_else(|| stored.to_string())
                };
                json!({
                    "store": s,
                    "reorder": typed("reorder", l.map(|l| l.reorder_level).unwrap_or(0)),
                    "maximum": typed("maximum", l.map(|l| l.maximum_level).unwrap_or(0)),
                })
            })
            .collect();
        c.insert("levels", &stores);
        c.insert("charge_code", &d.charge_code());
    }
    render_status(cx, status, "pharmacy/catalogue_drug.html", c)
}

#[handler]
pub async fn new_form(cx: Ctx) -> AppResult<Response> {
    let values: HashMap<String, String> = [
        ("pack_size", "1"),
        ("route", "oral"),
        ("moh717", "common"),
        ("level_of_care", "2"),
        ("prescription_only", "1"),
        ("active", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    drug_page(&cx, StatusCode::OK, None, values, &FormErrors::new()).await
}

fn typed_values(form: &Form) -> HashMap<String, String> {
    catalogue::FIELDS
        .iter()
        .chain(["seen"].iter())
        .map(|k| (k.to_string(), form.get(k).trim().to_string()))
        .collect()
}

fn refusal(field: &str, message: String) -> FormErrors {
    let mut errors = FormErrors::new();
    errors.add(field, message);
    errors
}

#[handler]
pub async fn create(cx: Ctx, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let values = typed_values(&form);
    let fields = match catalogue::read(&|k| form.get(k).to_string(), false) {
        Ok(f) => f,
        Err(errors) => {
            return drug_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, None, values, &errors).await
        }
    };
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    match catalogue::create(&mut tx, &fields, &cx.actor(), &now).await? {
        Saved::Created(id) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("pharmacy_catalogue.saved"));
            Ok(see_other(&format!("/pharmacy/catalogue/{id}")))
        }
        _ => {
            drop(tx);
            let errors = refusal("code", t("pharmacy_catalogue.error_code_taken"));
            drug_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, None, values, &errors).await
        }
    }
}

async fn stored_values(
    db: &hms_core::db::Db,
    d: &model::Drug,
) -> AppResult<HashMap<String, String>> {
    let mut values = DrugFields::of(d).values();
    values.insert(
        "seen".into(),
        repo::updated_at(db, d.id).await?.unwrap_or_default(),
    );
    Ok(values)
}

#[handler]
pub async fn edit_form(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let db = &cx.app().db;
    let drug = model::drug(db, id).await?.ok_or(AppError::NotFound)?;
    let values = stored_values(db, &drug).await?;
    drug_page(&cx, StatusCode::OK, Some(&drug), values, &FormErrors::new()).await
}

#[handler]
pub async fn save(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let before = model::drug(db, id).await?.ok_or(AppError::NotFound)?;
    let mut values = typed_values(&form);
    values.insert("code".into(), before.code.clone());
    let get = |k: &str| {
        if k == "code" {
            before.code.clone()
        } else {
            form.get(k).to_string()
        }
    };
    let fields = match catalogue::read(&get, false) {
        Ok(f) => f,
        Err(errors) => {
            return drug_page(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&before),
                values,
                &errors,
            )
            .await
        }
    };
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    let seen = form.get("seen");
    match catalogue::update(&mut tx, &before, Some(seen), &fields, &cx.actor(), &now).await? {
        Saved::Updated | Saved::Unchanged => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("pharmacy_catalogue.saved"));
            Ok(see_other(&format!("/pharmacy/catalogue/{id}")))
        }
        _ => {
            drop(tx);
            // Show what is stored now; what was typed is lost only if they choose to.
            let now_stored = model::drug(db, id).await?.ok_or(AppError::NotFound)?;
            let values = stored_values(db, &now_stored).await?;
            let errors = refusal("form", t("pharmacy_catalogue.error_changed"));
            drug_page(
                &cx,
                StatusCode::CONFLICT,
                Some(&now_stored),
                values,
                &errors,
            )
            .await
        }
    }
}

/// A level as typed: a whole number of units, 0 to a million.
fn level(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return Some(0);
    }
    text.parse::<i64>()
        .ok()
        .filter(|n| (0..=1_000_000).contains(n))
}

#[handler]
pub async fn save_levels(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let drug = model::drug(db, id).await?.ok_or(AppError::NotFound)?;
    let stores = model::stores(db).await?;
    let mut errors = FormErrors::new();
    let mut wanted = Vec::new();
    let mut values = stored_values(db, &drug).await?;
    for s in &stores {
        let (rk, mk) = (format!("reorder_{}", s.id), format!("maximum_{}", s.id));
        let (rt, mt) = (form.get(&rk).to_string(), form.get(&mk).to_string());
        values.insert(rk.clone(), rt.clone());
        values.insert(mk.clone(), mt.clone());
        match (level(&rt), level(&mt)) {
            (Some(r), Some(m)) if m == 0 || m >= r => wanted.push((s.id, r, m)),
            (Some(_), Some(_)) => errors.add(&mk, t("pharmacy_catalogue.error_maximum_below")),
            (r, m) => {
                if r.is_none() {
                    errors.add(&rk, t("pharmacy_catalogue.error_level_qty"));
                }
                if m.is_none() {
                    errors.add(&mk, t("pharmacy_catalogue.error_level_qty"));
                }
            }
        }
    }
    if !errors.is_empty() {
        errors.add("levels", t("form.fix_errors"));
        return drug_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&drug),
            values,
            &errors,
        )
        .await;
    }
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    let mut changes = Vec::new();
    for (store, r, m) in wanted {
        let before = repo::set_level(&mut tx, store, id, r, m, &now).await?;
        if before != (r, m) {
            changes
                .push(json!({ "store": store, "before": [before.0, before.1], "after": [r, m] }));
        }
    }
    if !changes.is_empty() {
        audit::record(
            &mut tx,
            &cx.actor(),
            Event::new("pharmacy.levels_edit", "drug", Some(id))
                .detail(json!({ "levels": changes })),
        )
        .await?;
    }
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("pharmacy_catalogue.levels_saved"));
    Ok(see_other(&format!("/pharmacy/catalogue/{id}#levels")))
}

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    store: Option<String>,
}

/// The drug search other screens embed (`hx-get` as the user types): active drugs matching
/// `q` with their usable stock in `store` (or in all dispensaries), as a fragment of choices.
#[handler]
pub async fn search(cx: Ctx, Query(query): Query<SearchQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let q = clean_q(&query.q);
    let store = match query
        .store
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => {
            let id: i64 = s.parse().map_err(|_| AppError::NotFound)?;
            Some(model::store(db, id).await?.ok_or(AppError::NotFound)?)
        }
    };
    let results = if q.chars().count() < 2 {
        Vec::new()
    } else {
        catalogue::search(
            db,
            &q,
            store.as_ref().map(|s| s.id),
            catalogue::SEARCH_LIMIT,
        )
        .await?
    };
    let mut c = tera::Context::new();
    c.insert("q", &q);
    c.insert("store", &store);
    let results: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let places: Vec<serde_json::Value> = r
                .places
                .iter()
                .map(|p| catalogue::with(p, json!({ "usable_text": catalogue::units(p.usable) })))
                .collect();
            catalogue::with(
                r,
                json!({ "usable_text": catalogue::units(r.usable), "places": places }),
            )
        })
        .collect();
    c.insert("results", &results);
    c.insert("searched", &(q.chars().count() >= 2));
    render_part(
        &cx,
        "pharmacy/drug_search.html",
        "pharmacy/_drug_picker.html",
        c,
    )
}
