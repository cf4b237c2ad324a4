//! Stores (the main store and the dispensaries) and suppliers (KEMSA, MEDS, wholesalers): one
//! screen each, listing them with a form per row and a form to add one; an empty screen offers
//! the usual ones in one click.

use poem::http::StatusCode;
use poem::web::Path;
use poem::{handler, Response};
use serde_json::json;

use hms_core::audit::{self, Event};
use hms_core::db::Tx;
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

/// The two screens: one page, one way to save; what differs is said here.
#[derive(Clone, Copy)]
enum Place {
    Store,
    Supplier,
}

impl Place {
    fn href(self) -> &'static str {
        match self {
            Place::Store => "/pharmacy/stores",
            Place::Supplier => "/pharmacy/suppliers",
        }
    }

    /// The fields a refused form shows again as typed.
    fn typed(self) -> &'static [&'static str] {
        match self {
            Place::Store => &["code", "name", "kind"],
            Place::Supplier => &["name", "kind", "phone"],
        }
    }

    /// Their list, the kinds to choose from and the page, in `c`; returns the template.
    async fn fill(self, cx: &Ctx, c: &mut tera::Context) -> AppResult<&'static str> {
        let db = &cx.app().db;
        Ok(match self {
            Place::Store => {
                c.insert("stores", &model::stores(db).await?);
                c.insert("kinds", &options("store_kind", STORE_KINDS));
                "pharmacy/catalogue_stores.html"
            }
            Place::Supplier => {
                c.insert("suppliers", &repo::suppliers(db).await?);
                c.insert("kinds", &options("supplier_kind", SUPPLIER_KINDS));
                "pharmacy/catalogue_suppliers.html"
            }
        })
    }

    fn saved(self) -> String {
        match self {
            Place::Store => t("pharmacy_catalogue.store_saved"),
            Place::Supplier => t("pharmacy_catalogue.supplier_saved"),
        }
    }

    /// The screen, with `errors` beside the form they belong to: a row's (`editing`), or the
    /// form to add one.
    async fn page(
        self,
        cx: &Ctx,
        status: StatusCode,
        errors: &FormErrors,
        editing: Option<i64>,
        form: Option<&Form>,
    ) -> AppResult<Response> {
        let mut c = tera::Context::new();
        let template = self.fill(cx, &mut c).await?;
        c.insert("errors", errors);
        c.insert("editing", &editing);
        let none = FormErrors::new();
        c.insert("add_errors", if editing.is_none() { errors } else { &none });
        let values: serde_json::Map<String, serde_json::Value> = self
            .typed()
            .iter()
            .map(|k| {
                let v = form.map(|f| f.get(k).trim().to_string());
                (k.to_string(), v.unwrap_or_default().into())
            })
            .collect();
        c.insert("values", &values);
        render_status(cx, status, template, c)
    }

    /// The screen again with the form's errors.
    async fn refused(
        self,
        cx: &Ctx,
        errors: &FormErrors,
        editing: Option<i64>,
        form: &Form,
    ) -> AppResult<Response> {
        self.page(
            cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            editing,
            Some(form),
        )
        .await
    }

    /// Audits the change (none when `event` is), commits, and goes back to the screen.
    async fn done(self, cx: &Ctx, mut tx: Tx, event: Option<Event>) -> AppResult<Response> {
        if let Some(event) = event {
            audit::record(&mut tx, &cx.actor(), event).await?;
        }
        tx.commit().await?;
        cx.flash(FlashKind::Success, self.saved());
        Ok(see_other(self.href()))
    }
}

// ---------------------------------------------------------------------------------------------
// Stores

#[handler]
pub async fn stores(cx: Ctx) -> AppResult<Response> {
    Place::Store
        .page(&cx, StatusCode::OK, &FormErrors::new(), None, None)
        .await
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
        return Place::Store.refused(&cx, &errors, None, &form).await;
    }
    let now = hms_core::clock::now_rfc3339();
    let mut tx = cx.app().db.begin().await?;
    let Some(id) = repo::insert_store(&mut tx, &code, &store_name, &kind, &now).await? else {
        drop(tx);
        errors.add("code", t("pharmacy_catalogue.error_store_code_taken"));
        return Place::Store.refused(&cx, &errors, None, &form).await;
    };
    let event = Event::new("pharmacy.store_create", "store", Some(id))
        .detail(json!({ "after": { "code": code, "name": store_name, "kind": kind } }));
    Place::Store.done(&cx, tx, Some(event)).await
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
    let event = (!added.is_empty()).then(|| {
        Event::new("pharmacy.store_create", "store", None).detail(json!({ "after": added }))
    });
    Place::Store.done(&cx, tx, event).await
}

#[handler]
pub async fn save_store(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let before = model::store(db, id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FormErrors::new();
    let store_name = name(&form, "name", 80, &mut errors);
    let kind = kind(&form, STORE_KINDS, &mut errors);
    if !errors.is_empty() {
        return Place::Store.refused(&cx, &errors, Some(id), &form).await;
    }
    let active = form.get("active") == "1";
    let mut tx = db.begin().await?;
    if !repo::update_store(&mut tx, id, &store_name, &kind, active).await? {
        return Err(AppError::NotFound);
    }
    let event = Event::new("pharmacy.store_edit", "store", Some(id)).detail(json!({
        "before": before,
        "after": { "name": store_name, "kind": kind, "active": active },
    }));
    Place::Store.done(&cx, tx, Some(event)).await
}

// ---------------------------------------------------------------------------------------------
// Suppliers

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
    Place::Supplier
        .page(&cx, StatusCode::OK, &FormErrors::new(), None, None)
        .await
}

#[handler]
pub async fn add_supplier(cx: Ctx, form: Form) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    let supplier = name(&form, "name", 120, &mut errors);
    let kind = kind(&form, SUPPLIER_KINDS, &mut errors);
    let phone = phone(&form, &mut errors);
    if !errors.is_empty() {
        return Place::Supplier.refused(&cx, &errors, None, &form).await;
    }
    let now = hms_core::clock::now_rfc3339();
    let mut tx = cx.app().db.begin().await?;
    let Some(id) = repo::insert_supplier(&mut tx, &supplier, &kind, &phone, &now).await? else {
        drop(tx);
        errors.add("name", t("pharmacy_catalogue.error_supplier_taken"));
        return Place::Supplier.refused(&cx, &errors, None, &form).await;
    };
    let event = Event::new("pharmacy.supplier_create", "supplier", Some(id))
        .detail(json!({ "after": { "name": supplier, "kind": kind, "phone": phone } }));
    Place::Supplier.done(&cx, tx, Some(event)).await
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
    let event = (!added.is_empty()).then(|| {
        Event::new("pharmacy.supplier_create", "supplier", None).detail(json!({ "after": added }))
    });
    Place::Supplier.done(&cx, tx, event).await
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
        return Place::Supplier.refused(&cx, &errors, Some(id), &form).await;
    }
    let active = form.get("active") == "1";
    let mut tx = db.begin().await?;
    match repo::update_supplier(&mut tx, id, &supplier, &kind, &phone, active).await? {
        None => return Err(AppError::NotFound),
        Some(false) => {
            drop(tx);
            errors.add("name", t("pharmacy_catalogue.error_supplier_taken"));
            return Place::Supplier.refused(&cx, &errors, Some(id), &form).await;
        }
        Some(true) => {}
    }
    let event = Event::new("pharmacy.supplier_edit", "supplier", Some(id)).detail(json!({
        "before": before,
        "after": { "name": supplier, "kind": kind, "phone": phone, "active": active },
    }));
    Place::Supplier.done(&cx, tx, Some(event)).await
}
