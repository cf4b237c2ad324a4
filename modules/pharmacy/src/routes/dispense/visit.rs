//! A visit's prescriptions at the pharmacy: the patient (age, allergies, payer), each drug order
//! with its balance, the usable stock in the chosen store and the batches first expiry first
//! out would take; the prepare form (units now, another batch with a reason, the labels'
//! language). Prepare answers 303 to the dispense, 422 with messages, or 409 with the offer of
//! a partial dispense when stock is short.

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use hms_appointments::api as appts;
use hms_core::audit::Event;
use hms_core::day::Day;
use hms_core::http::{render_status, see_other, Ctx, Form};
use hms_core::i18n::t;
use hms_core::ids::VisitId;
use hms_core::orders::{self, Order};
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use crate::dispense::{self, DispenseError, Prepare, Shortfall, Want};
use crate::model;
use crate::repo::dispenses as repo;

#[derive(Debug, Default, Deserialize)]
pub struct StoreQuery {
    #[serde(default)]
    store: Option<String>,
}

/// What was typed, to show again beside the messages.
#[derive(Debug, Default)]
struct Typed {
    values: BTreeMap<String, String>,
    errors: FormErrors,
    language: Option<String>,
}

fn expiry_show(ymd: &str) -> String {
    chrono::NaiveDate::parse_from_str(ymd, "%Y-%m-%d")
        .map(hms_core::dates::show)
        .unwrap_or_else(|_| ymd.to_string())
}

fn state_label(o: &Order) -> String {
    t(&format!("pharmacy_dispense.state_{}", o.state.code()))
}

/// The page's context: patient, orders with stock and batches, the form.
async fn context(
    cx: &Ctx,
    visit_id: i64,
    asked_store: Option<i64>,
    typed: &Typed,
) -> AppResult<tera::Context> {
    let db = &cx.app().db;
    let visit = appts::visit(db, VisitId(visit_id))
        .await?
        .ok_or(AppError::NotFound)?;
    let patient = hms_patients::api::card(db, visit.patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let allergies = hms_patients::api::allergies(db, visit.patient_id).await?;
    let (stores, store) = super::store_for(db, asked_store).await?;
    let today = Day::today().date();
    let mut lines = Vec::new();
    for o in orders::for_visit(db, visit.id)
        .await?
        .into_iter()
        .filter(|o| o.kind == orders::DRUG)
    {
        let drug = match o.code.as_deref() {
            Some(code) => model::drug_by_code(db, code).await?,
            None => None,
        };
        let open = matches!(o.state.code(), "placed" | "in_progress");
        let pending: i64 = repo::pending(db, o.id.get()).await?;
        let balance = (o.quantity - o.quantity_done - pending).max(0);
        let (stock, batches) = match (&drug, &store) {
            (Some(d), Some(s)) => {
                let b = repo::usable_batches(db, s.id, d.id, today).await?;
                (Some(b.iter().map(|b| b.qty).sum::<i64>()), b)
            }
            _ => (None, Vec::new()),
        };
        // What first expiry first out takes for the balance.
        let mut left = balance;
        let mut fefo = Vec::new();
        for b in &batches {
            if left == 0 {
                break;
            }
            let n = b.qty.min(left);
            left -= n;
            fefo.push(format!(
                "{} × {} ({} {})",
                b.batch_no,
                n,
                t("pharmacy_dispense.exp"),
                expiry_show(&b.expiry)
            ));
        }
        let allergy = drug.as_ref().and_then(|d| {
            let groups: Vec<&str> = d
                .allergy_groups
                .split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .collect();
            let name = d.generic_name.to_lowercase();
            allergies
                .iter()
                .find(|a| {
                    a.drug_group.as_deref().is_some_and(|g| groups.contains(&g))
                        || (!a.allergen.trim().is_empty()
                            && name.contains(&a.allergen.trim().to_lowercase()))
                })
                .map(|a| match &a.reaction {
                    Some(r) if !r.is_empty() => format!("{} ({r})", a.allergen),
                    _ => a.allergen.clone(),
                })
        });
        let id = o.id.get();
        let value = |name: String| typed.values.get(&name).cloned().unwrap_or_default();
        lines.push(json!({
            "order": id,
            "display": o.display,
            "state": o.state.code(),
            "state_label": state_label(&o),
            "reason": o.reason,
            "quantity": o.quantity,
            "done": o.quantity_done,
            "pending": pending,
            "balance": balance,
            "open": open,
            "dispensable": open && balance > 0 && drug.as_ref().is_some_and(|d| d.active),
            "drug": drug.as_ref().map(|d| json!({"name": d.display(), "unit": d.unit, "code": d.code})),
            "stock": stock,
            "batches": batches.iter().map(|b| json!({
                "id": b.id, "batch_no": b.batch_no, "expiry": expiry_show(&b.expiry), "qty": b.qty,
                "selected": value(format!("batch_{id}")) == b.id.to_string(),
            })).collect::<Vec<_>>(),
            "has_stock": stock.is_some(),
            "fefo": fefo.join(", "),
            "allergy": allergy,
            "qty": value(format!("qty_{id}")),
            "batch": value(format!("batch_{id}")),
            "batch_reason": value(format!("batch_reason_{id}")),
            "error": typed.errors.get(&format!("qty_{id}")),
            "batch_error": typed.errors.get(&format!("batch_{id}")),
            "batch_reason_error": typed.errors.get(&format!("batch_reason_{id}")),
            "can_close": open && pending == 0,
        }));
    }
    let dispenses: Vec<Value> = repo::of_visit(db, visit.id.get())
        .await?
        .into_iter()
        .map(|d| json!({
            "id": d.id, "state": d.state,
            "state_label": t(&format!("pharmacy_dispense.dispense_{}", d.state)),
            "at": hms_core::clock::display_rfc3339(d.issued_at.as_deref().unwrap_or(&d.prepared_at)),
        }))
        .collect();
    let closed_outside = lines.iter().any(|l| {
        l["reason"].as_str() == Some(crate::dispense::CloseReason::Outside.stored().as_str())
    });
    let mut c = tera::Context::new();
    c.insert(
        "visit",
        &json!({
            "id": visit.id.get(), "token": visit.token, "day": visit.day.display(),
            "payer": appts::payer_label(&visit.payer), "open": visit.is_open(),
        }),
    );
    c.insert("patient", &patient);
    c.insert(
        "allergies",
        &allergies
            .iter()
            .map(|a| {
                json!({
                    "allergen": a.allergen, "reaction": a.reaction, "severity": a.severity,
                })
            })
            .collect::<Vec<_>>(),
    );
    c.insert("stores", &stores);
    c.insert("store", &store);
    let closable: Vec<&Value> = lines
        .iter()
        .filter(|l| l["can_close"] == json!(true))
        .collect();
    c.insert("closable", &closable);
    c.insert("lines", &lines);
    c.insert(
        "any_dispensable",
        &lines.iter().any(|l| l["dispensable"] == json!(true)),
    );
    c.insert("dispenses", &dispenses);
    c.insert("closed_outside", &closed_outside);
    c.insert("token", &hms_core::auth::random_token());
    c.insert(
        "language",
        typed
            .language
            .as_deref()
            .unwrap_or(super::default_language()),
    );
    c.insert("errors", &typed.errors);
    c.insert("has_errors", &!typed.errors.is_empty());
    c.insert(
        "at_pharmacy",
        &appts::active_entry(db, visit.id)
            .await?
            .is_some_and(|e| e.point == crate::dispense::POINT),
    );
    Ok(c)
}

/// GET `/pharmacy/visits/:id?store=`: the prescriptions and the prepare form (a fresh token).
#[handler]
pub async fn page(
    cx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<StoreQuery>,
) -> AppResult<Response> {
    let store = q.store.as_deref().and_then(|s| s.trim().parse().ok());
    let c = context(&cx, id, store, &Typed::default()).await?;
    let patient = c
        .get("patient")
        .and_then(|p| p.as_map())
        .and_then(|m| m.get(&"id".into()))
        .and_then(|v| v.as_i64())
        .unwrap_or_default();
    cx.audit_read(Event::new("pharmacy.prescriptions_view", "visit", Some(id)).patient(patient))
        .await;
    render_status(&cx, StatusCode::OK, "pharmacy/dispense_visit.html", c)
}

/// Reads the prepare form; the messages of what cannot be read.
fn read(id: i64, form: &Form) -> (Option<Prepare>, Typed) {
    let mut typed = Typed {
        language: Some(super::language(form.get("language"))),
        ..Typed::default()
    };
    typed
        .values
        .insert("store".into(), form.get("store").into());
    let token = form.get("token").trim().to_string();
    if token.is_empty() || token.len() > 100 {
        typed
            .errors
            .add("token", t("pharmacy_dispense.error_token"));
    }
    let store = form.get("store").trim().parse::<i64>().ok();
    if store.is_none() {
        typed
            .errors
            .add("store", t("pharmacy_dispense.error_store"));
    }
    let mut wants = Vec::new();
    let orders = form.all("order");
    if orders.is_empty() {
        typed
            .errors
            .add("order", t("pharmacy_dispense.error_no_lines"));
    }
    for o in orders {
        let Ok(order) = o.trim().parse::<i64>() else {
            typed
                .errors
                .add("order", t("pharmacy_dispense.error_no_lines"));
            continue;
        };
        let f = |name: &str| form.get(&format!("{name}_{order}")).trim().to_string();
        let (qty, batch, reason) = (f("qty"), f("batch"), f("batch_reason"));
        typed.values.insert(format!("qty_{order}"), qty.clone());
        typed.values.insert(format!("batch_{order}"), batch.clone());
        typed
            .values
            .insert(format!("batch_reason_{order}"), reason.clone());
        let quantity = if qty.is_empty() {
            None
        } else {
            match dispense::units(&qty) {
                Ok(n) => Some(n),
                Err(key) => {
                    typed.errors.add(&format!("qty_{order}"), t(key));
                    continue;
                }
            }
        };
        let batch = if batch.is_empty() {
            None
        } else {
            match batch.parse::<i64>() {
                Ok(b) => Some(b),
                Err(_) => {
                    typed.errors.add(
                        &format!("batch_{order}"),
                        t("pharmacy_dispense.error_batch"),
                    );
                    continue;
                }
            }
        };
        if reason.chars().count() > 300 {
            typed.errors.add(
                &format!("batch_reason_{order}"),
                t("pharmacy_dispense.error_reason"),
            );
        }
        wants.push(Want {
            order,
            quantity,
            batch,
            batch_reason: (!reason.is_empty()).then_some(reason),
        });
    }
    if !typed.errors.is_empty() {
        return (None, typed);
    }
    let asked = Prepare {
        token,
        store: store.unwrap_or_default(),
        visit: id,
        wants,
        language: typed.language.clone().unwrap_or_else(|| "en".into()),
    };
    (Some(asked), typed)
}

async fn refused(cx: &Ctx, id: i64, store: Option<i64>, typed: &Typed) -> AppResult<Response> {
    let c = context(cx, id, store, typed).await?;
    render_status(
        cx,
        StatusCode::UNPROCESSABLE_ENTITY,
        "pharmacy/dispense_visit.html",
        c,
    )
}

/// The 409 page: what is short, and the offer to dispense what there is now.
async fn short(cx: &Ctx, id: i64, p: &Prepare, short: &[Shortfall]) -> AppResult<Response> {
    let mut c = context(cx, id, Some(p.store), &Typed::default()).await?;
    let offer: Vec<Value> = p
        .wants
        .iter()
        .map(|w| {
            let s = short.iter().find(|s| s.order == Some(w.order));
            json!({
                "order": w.order,
                "qty": s.map(|s| s.available).or(w.quantity),
                "keep": s.is_none_or(|s| s.available > 0),
                "batch": if s.is_some() { None } else { w.batch },
                "batch_reason": if s.is_some() { None } else { w.batch_reason.clone() },
            })
        })
        .collect();
    let messages: Vec<String> = short
        .iter()
        .map(|s| {
            t("pharmacy_dispense.only_left")
                .replace("{drug}", &s.drug_name)
                .replace("{available}", &s.available.to_string())
                .replace("{wanted}", &s.wanted.to_string())
                .replace("{pending}", &(s.wanted - s.available).to_string())
        })
        .collect();
    c.insert("short", &messages);
    c.insert("offer", &offer);
    c.insert("offer_any", &offer.iter().any(|o| o["keep"] == json!(true)));
    c.insert("language", &p.language);
    render_status(cx, StatusCode::CONFLICT, "pharmacy/dispense_short.html", c)
}

/// POST `/pharmacy/visits/:id/prepare`.
#[handler]
pub async fn prepare(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let (p, typed) = read(id, &form);
    let store = form.get("store").trim().parse().ok();
    let Some(p) = p else {
        return refused(&cx, id, store, &typed).await;
    };
    match dispense::prepare(cx.app(), &cx.actor(), &p).await {
        Ok(d) => Ok(see_other(&format!("/pharmacy/dispenses/{d}"))),
        Err(DispenseError::Invalid(errors)) => {
            let typed = Typed { errors, ..typed };
            refused(&cx, id, store, &typed).await
        }
        Err(DispenseError::Short(s)) => short(&cx, id, &p, &s).await,
        Err(e) => Err(e.into()),
    }
}
