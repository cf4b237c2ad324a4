//! Stores (the main store and the dispensaries) and suppliers (KEMSA, MEDS, wholesalers): one
//! screen each, listing them with a form per row and a form to add one; an empty screen offers
//! the usual ones in one click.

use poem::http::StatusCode;
use poem::web::Path;
use poem::{handler, Response};
use serde_json::json;

use hms_core::audit::{self, Event};
use hms_core::http::{render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use crate::model;
use crate::repo::catalogue as repo;
use crate::CATALOGUE;

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/pharmacy/stores", P(CATALOGUE), stores),
        RouteSpec::post("/pharmacy/stores", P(CATALOGUE), add_store),
        RouteSpec::post("/pharmacy/stores/usual", P(CATALOGUE), usual_stores),
        RouteSpec::post("/pharmacy/stores/:id", P(CATALOGUE), save_store),
        RouteSpec::get("/pharmacy/suppliers", P(CATALOGUE), suppliers),
        RouteSpec::post("/pharmacy/suppliers", P(CATALOGUE), add_supplier),
        RouteSpec::post("/pharmacy/suppliers/usual", P(CATALOGUE), usual_suppliers),
        RouteSpec::post("/pharmacy/suppliers/:id", P(CATALOGUE), save_supplier),
    ]
}

const STORE_KINDS: &[&str] = &["main", "dispensary"];
const SUPPLIER_KINDS: &[&str] = &["kemsa", "meds", "wholesaler", "donor", "other"];

fn options(prefix: &str, kinds: &[&str]) -> Vec<(String, String)> {
    kinds
        .iter()
        .map(|k| {
            (
                k.to_string(),
                t(&format!("pharmacy_catalogue.{prefix}_{k}")),
            )
        })
        .collect()
}

/// A name as typed: required, at most `max` characters.
fn name(form: &Form, key: &str, max: usize, errors: &mut FormErrors) -> String {
    let v = form.get(key).trim().to_string();
    if v.is_empty() {
        errors.add(key, t(&format!("pharmacy_catalogue.error_{key}")));
    } else if v.chars().count() > max {
        errors.add(
            key,
            t("pharmacy_catalogue.error_too_long").replace("{max}", &max.to_string()),
        );
    }
    v
}

fn kind(form: &Form, kinds: &[&str], errors: &mut FormErrors) -> String {
    let v = form.get("kind").trim().to_string();
    if !kinds.contains(&v.as_str()) {
        errors.add("kind", t("pharmacy_catalogue.error_kind"));
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Stores

async fn stores_page(
    cx: &Ctx,
    status: StatusCode,
    errors: &FormErrors,
    editing: Option<i64>,
    form: Option<&Form>,
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("stores", &model::stores(&cx.app().db).await?);
    c.insert("kinds", &options("store_kind", STORE_KINDS));
    c.insert("errors", errors);
    c.insert("editing", &editing);
    // Messages go beside the form they belong to: a row's form, or the form to add one.
    let none = FormErrors::new();
    c.insert("add_errors", if editing.is_none() { errors } else { &none });
    let typed = |k: &str| {
        form.map(|f| f.get(k).trim().to_string())
            .unwrap_or_default()
    };
    c.insert(
        "values",
        &json!({ "code": typed("code"), "name": typed("name"), "kind": typed("kind") }),
    );
    render_status(cx, status, "pharmacy/catalogue_stores.html", c)
}

#[handler]
pub async fn stores(cx: Ctx) -> AppResult<Response> {
    stores_page(&cx, StatusCode::OK, &FormErrors::new(), None, None).await
}

#[handler]
pub async fn add_store(cx: Ctx, form: Form) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    let code = name(&form, "code", 12, &mut errors).to_uppercase();
    if !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        errors.add("code", t("pharmacy_catalogue.error_code_chars"));
    }
    let store_name = name(&form, "name", 80, &mut errors);
    let kind = kind(&form, STORE_KINDS, &mut errors);
    if !errors.is_empty() {
        return stores_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
            None,
            Some(&form),
        )
        .await;
    }
    let now = hms_core::clock::now_rfc3339();
    let mut tx = cx.app().db.begin().await?;
    let Some(id) = repo::insert_store(&mut tx, &code, &store_name, &kind, &now).await? else {
        drop(tx);
        errors.add("code", t("pharmacy_catalogue.error_store_code_taken"));
        return stores_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
            None,
            Some(&form),
        )
        .await;
    };
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("pharmacy.store_create", "store", Some(id))
            .detail(json!({ "after": { "code": code, "name": store_name, "kind": kind } })),
    )
    .await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("pharmacy_catalogue.store_saved"));
    Ok(see_other("/pharmacy/stores"))
}

/// The main store and the OPD dispensary, for a pharmacy that has none yet.
#[handler]
pub async fn usual_stores(cx: Ctx) -> AppResult<Response> {
    let now = hms_core::clock::now_rfc3339();
    let mut tx = cx.app().db.begin().await?;
    let mut added = Vec::new();
    for (code, key, kind) in [
        ("MAIN", "usual_main_store", "main"),
        ("OPD", "usual_opd_dispensary", "dispensary"),
    ] {
        let label = t(&format!("pharmacy_catalogue.{key}"));
        if let Some(id) = repo::insert_store(&mut tx, code, &label, kind, &now).await? {
            added.push(json!({ "id": id, "code": code, "name": label, "kind": kind }));
        }
    }
    if !added.is_empty() {
        audit::record(
            &mut tx,
            &cx.actor(),
            Event::new("pharmacy.store_create", "store", None).detail(json!({ "after": added })),
        )
        .await?;
    }
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("pharmacy_catalogue.store_saved"));
    Ok(see_other("/pharmacy/stores"))
}

#[handler]
pub async fn save_store(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let before = model::store(db, id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FormErrors::new();
    let store_name = name(&form, "name", 80, &mut errors);
    let kind = kind(&form, STORE_KINDS, &mut errors);
    if !errors.is_empty() {
        return stores_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
            Some(id),
            Some(&form),
        )
        .await;
    }
    let active = form.get("active") == "1";
    let mut tx = db.begin().await?;
    if !repo::update_store(&mut tx, id, &store_name, &kind, active).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("pharmacy.store_edit", "store", Some(id)).detail(json!({
            "before": before,
            "after": { "name": store_name, "kind": kind, "active": active },
        })),
    )
    .await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("pharmacy_catalogue.store_saved"));
    Ok(see_other("/pharmacy/stores"))
}

// ---------------------------------------------------------------------------------------------
// Suppliers

async fn suppliers_page(
    cx: &Ctx,
    status: StatusCode,
    errors: &FormErrors,
    editing: Option<i64>,
    form: Option<&Form>,
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("suppliers", &repo::suppliers(&cx.app().db).await?);
    c.insert("kinds", &options("supplier_kind", SUPPLIER_KINDS));
    c.insert("errors", errors);
    c.insert("editing", &editing);
    // Messages go beside the form they belong to: a row's form, or the form to add one.
    let none = FormErrors::new();
    c.insert("add_errors", if editing.is_none() { errors } else { &none });
    let typed = |k: &str| {
        form.map(|f| f.get(k).trim().to_string())
            .unwrap_or_default()
    };
    c.insert(
        "values",
        &json!({ "name": typed("name"), "kind": typed("kind"), "phone": typed("phone") }),
    );
    render_status(cx, status, "pharmacy/catalogue_suppliers.html", c)
}

fn phone(form: &Form, errors: &mut FormErrors) -> String {
    let v = form.get("phone").trim().to_string();
    let ok = v.chars().count() <= 20
        && v.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-'));
    if !ok {
        errors.add("phone", t("pharmacy_catalogue.error_phone"));
    }
    v
}

#[handler]
pub async fn suppliers(cx: Ctx) -> AppResult<Response> {
    suppliers_page(&cx, StatusCode::OK, &FormErrors::new(), None, None).await
}

#[handler]
pub async fn add_supplier(cx: Ctx, form: Form) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    let supplier = name(&form, "name", 120, &mut errors);
    let kind = kind(&form, SUPPLIER_KINDS, &mut errors);
    let phone = phone(&form, &mut errors);
    if !errors.is_empty() {
        return suppliers_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
            None,
            Some(&form),
        )
        .await;
    }
    let now = hms_core::clock::now_rfc3339();
    let mut tx = cx.app().db.begin().await?;
    let Some(id) = repo::insert_supplier(&mut tx, &supplier, &kind, &phone, &now).await? else {
        drop(tx);
        errors.add("name", t("pharmacy_catalogue.error_supplier_taken"));
        return suppliers_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
            None,
            Some(&form),
        )
        .await;
    };
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("pharmacy.supplier_create", "supplier", Some(id))
            .detail(json!({ "after": { "name": supplier, "kind": kind, "phone": phone } })),
    )
    .await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("pharmacy_catalogue.supplier_saved"));
    Ok(see_other("/pharmacy/suppliers"))
}

/// KEMSA and MEDS, the suppliers most public and mission facilities order from.
#[handler]
pub async fn usual_suppliers(cx: Ctx) -> AppResult<Response> {
    let now = hms_core::clock::now_rfc3339();
    let mut tx = cx.app().db.begin().await?;
    let mut added = Vec::new();
    for (supplier, kind) in [
        ("KEMSA (Kenya Medical Supplies Authority)", "kemsa"),
        ("MEDS (Mission for Essential Drugs and Supplies)", "meds"),
    ] {
        if let Some(id) = repo::insert_supplier(&mut tx, supplier, kind, "", &now).await? {
            added.push(json!({ "id": id, "name": supplier, "kind": kind }));
        }
    }
    if !added.is_empty() {
        audit::record(
            &mut tx,
            &cx.actor(),
            Event::new("pharmacy.supplier_create", "supplier", None)
                .detail(json!({ "after": added })),
        )
        .await?;
    }
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("pharmacy_catalogue.supplier_saved"));
    Ok(see_other("/pharmacy/suppliers"))
}

#[handler]
pub async fn save_supplier(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let before = repo::suppliers(db)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(AppError::NotFound)?;
    let mut errors = FormErrors::new();
    let supplier = name(&form, "name", 120, &mut errors);
    let kind = kind(&form, SUPPLIER_KINDS, &mut errors);
    let phone = phone(&form, &mut errors);
    if !errors.is_empty() {
        return suppliers_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
            Some(id),
            Some(&form),
        )
        .await;
    }
    let active = form.get("active") == "1";
    let mut tx = db.begin().await?;
    match repo::update_supplier(&mut tx, id, &supplier, &kind, &phone, active).await? {
        None => return Err(AppError::NotFound),
        Some(false) => {
            drop(tx);
            errors.add("name", t("pharmacy_catalogue.error_supplier_taken"));
            return suppliers_page(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &errors,
                Some(id),
                Some(&form),
            )
            .await;
        }
        Some(true) => {}
    }
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("pharmacy.supplier_edit", "supplier", Some(id)).detail(json!({
            "before": before,
            "after": { "name": supplier, "kind": kind, "phone": phone, "active": active },
        })),
    )
    .await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("pharmacy_catalogue.supplier_saved"));
    Ok(see_other("/pharmacy/suppliers"))
}
