//! Pharmacy screens: over-the-counter sales. `/pharmacy/sales/new` lists the medicines sold
//! without a prescription; `POST /pharmacy/sales` (fields `token`, `store`, optional
//! `patient_number` or `walk_in_name`, `language`, repeated `drug` and `quantity`, blank lines
//! skipped) answers 303 to the dispense, 422 with messages, 409 when stock is short.

use poem::http::StatusCode;
use poem::web::Query;
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;

use hms_core::http::{render_status, see_other, Access, Ctx, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::money::Money;
use hms_core::ui::FormErrors;
use hms_core::AppResult;

use crate::dispense::{self, DispenseError, Sale, SaleLine};
use crate::repo::dispenses as repo;
use crate::DISPENSE;

/// Lines the form offers.
const LINES: usize = 5;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/pharmacy/sales/new", Access::Permission(DISPENSE), new),
        RouteSpec::post("/pharmacy/sales", Access::Permission(DISPENSE), create),
    ]
}

#[derive(Debug, Default, Deserialize)]
pub struct StoreQuery {
    #[serde(default)]
    store: Option<String>,
}

#[derive(Debug, Default)]
struct Typed {
    store: String,
    patient_number: String,
    walk_in_name: String,
    language: String,
    lines: Vec<(String, String)>,
}

async fn form_page(
    cx: &Ctx,
    status: StatusCode,
    typed: &Typed,
    errors: &FormErrors,
    short: &[String],
) -> AppResult<Response> {
    let db = &cx.app().db;
    let (stores, store) = super::dispense::store_for(db, typed.store.trim().parse().ok()).await?;
    let drugs: Vec<_> = repo::otc_drugs(db)
        .await?
        .into_iter()
        .map(|d| {
            json!({
                "id": d.id, "name": d.display(), "unit": d.unit,
                "price": Money::from_cents(d.price_cents).to_string(),
            })
        })
        .collect();
    let lines: Vec<_> = (0..LINES.max(typed.lines.len()))
        .map(|i| {
            let (drug, qty) = typed.lines.get(i).cloned().unwrap_or_default();
            json!({ "i": i, "drug": drug, "quantity": qty, "error": errors.get(&format!("drug_{i}")),
                    "qty_error": errors.get(&format!("quantity_{i}")) })
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("stores", &stores);
    c.insert("store", &store);
    c.insert("drugs", &drugs);
    c.insert("lines", &lines);
    c.insert(
        "typed",
        &json!({
            "patient_number": typed.patient_number, "walk_in_name": typed.walk_in_name,
        }),
    );
    c.insert(
        "language",
        if typed.language.is_empty() {
            super::dispense::default_language()
        } else {
            &typed.language
        },
    );
    c.insert("token", &hms_core::auth::random_token());
    c.insert("errors", errors);
    c.insert("has_errors", &!errors.is_empty());
    c.insert("short", short);
    render_status(cx, status, "pharmacy/sale_new.html", c)
}

/// GET `/pharmacy/sales/new`.
#[handler]
pub async fn new(cx: Ctx, Query(q): Query<StoreQuery>) -> AppResult<Response> {
    let typed = Typed {
        store: q.store.unwrap_or_default(),
        ..Typed::default()
    };
    form_page(&cx, StatusCode::OK, &typed, &FormErrors::new(), &[]).await
}

/// POST `/pharmacy/sales`.
#[handler]
pub async fn create(cx: Ctx, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let drugs = form.all("drug");
    let quantities = form.all("quantity");
    let mut typed = Typed {
        store: form.get("store").to_string(),
        patient_number: form.get("patient_number").trim().to_string(),
        walk_in_name: form.get("walk_in_name").trim().to_string(),
        language: super::dispense::language(form.get("language")),
        lines: Vec::new(),
    };
    let mut errors = FormErrors::new();
    let mut lines = Vec::new();
    for i in 0..drugs.len().max(quantities.len()) {
        let drug = drugs.get(i).map(|s| s.trim()).unwrap_or("");
        let qty = quantities.get(i).map(|s| s.trim()).unwrap_or("");
        if drug.is_empty() && qty.is_empty() {
            continue;
        }
        let n = typed.lines.len();
        typed.lines.push((drug.to_string(), qty.to_string()));
        let Ok(drug) = drug.parse::<i64>() else {
            errors.add(&format!("drug_{n}"), t("pharmacy_dispense.error_drug"));
            continue;
        };
        match dispense::units(qty) {
            Ok(quantity) => lines.push(SaleLine { drug, quantity }),
            Err(key) => errors.add(&format!("quantity_{n}"), t(key)),
        }
    }
    let token = form.get("token").trim().to_string();
    if token.is_empty() || token.len() > 100 {
        errors.add("token", t("pharmacy_dispense.error_token"));
    }
    let Ok(store) = typed.store.trim().parse::<i64>() else {
        errors.add("store", t("pharmacy_dispense.error_store"));
        return form_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, &typed, &errors, &[]).await;
    };
    if typed.walk_in_name.chars().count() > 120 {
        errors.add("walk_in_name", t("pharmacy_dispense.error_name"));
    }
    let patient = if typed.patient_number.is_empty() {
        None
    } else {
        match hms_patients::api::card_by_number(db, &typed.patient_number).await? {
            Some(c) => Some(c.id.get()),
            None => {
                errors.add("patient_number", t("pharmacy_dispense.error_patient"));
                None
            }
        }
    };
    if lines.is_empty() && errors.is_empty() {
        errors.add("drug_0", t("pharmacy_dispense.error_no_lines"));
    }
    if !errors.is_empty() {
        return form_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, &typed, &errors, &[]).await;
    }
    let sale = Sale {
        token,
        store,
        patient,
        walk_in_name: (!typed.walk_in_name.is_empty()).then(|| typed.walk_in_name.clone()),
        lines,
        language: typed.language.clone(),
    };
    match dispense::sell(cx.app(), &cx.actor(), &sale).await {
        Ok(id) => Ok(see_other(&format!("/pharmacy/dispenses/{id}"))),
        Err(DispenseError::Invalid(errors)) => {
            form_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, &typed, &errors, &[]).await
        }
        Err(DispenseError::Short(s)) => {
            let messages: Vec<String> = s
                .iter()
                .map(|s| {
                    t("pharmacy_dispense.only_left_sale")
                        .replace("{drug}", &s.drug_name)
                        .replace("{available}", &s.available.to_string())
                })
                .collect();
            form_page(
                &cx,
                StatusCode::CONFLICT,
                &typed,
                &FormErrors::new(),
                &messages,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
