//! Adjustments: the list, the form (choose store and drug, then the batch, quantity and reason)
//! and the expired stock on the shelf, written off one batch or all at once.

use poem::http::StatusCode;
use poem::web::Query;
use poem::{handler, Response};
use serde::Serialize;

use hms_core::day::Day;
use hms_core::http::{render, render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::AppResult;

use super::{drug_choices, labelled, store_choices, Page, PAGE};
use crate::movements::adjustments::{self, Typed, REASONS};
use crate::movements::{id, new_token, MoveError};
use crate::repo::movements as repo;
use crate::ADJUST;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/pharmacy/adjustments", Access::Permission(ADJUST), list),
        RouteSpec::post("/pharmacy/adjustments", Access::Permission(ADJUST), post),
        RouteSpec::get(
            "/pharmacy/adjustments/expired",
            Access::Permission(ADJUST),
            expired,
        ),
        RouteSpec::post(
            "/pharmacy/adjustments/expired",
            Access::Permission(ADJUST),
            write_off,
        ),
    ]
}

#[derive(Serialize)]
struct BatchChoice {
    id: i64,
    label: String,
}

async fn page(
    cx: &Ctx,
    status: StatusCode,
    store: Option<i64>,
    drug: Option<i64>,
    typed: &Typed,
    errors: &FormErrors,
    before: Option<i64>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let rows = repo::adjustments::list(db, before, PAGE).await?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let batches: Vec<BatchChoice> = match (store, drug) {
        (Some(s), Some(d)) => repo::batches_of(db, s, d)
            .await?
            .into_iter()
            .map(|b| BatchChoice {
                id: b.id,
                label: format!(
                    "{} · {} {} · {} {}",
                    b.batch_no,
                    t("pharmacy_movements.expiry"),
                    hms_core::dates::show(
                        chrono::NaiveDate::parse_from_str(&b.expiry, "%Y-%m-%d")
                            .unwrap_or_default()
                    ),
                    b.qty_on_hand,
                    b.unit
                ),
            })
            .collect(),
        _ => Vec::new(),
    };
    let reasons: Vec<(String, String)> = REASONS
        .iter()
        .map(|r| (r.to_string(), t(&format!("pharmacy_movements.reason_{r}"))))
        .collect();
    let mut c = tera::Context::new();
    c.insert(
        "adjustments",
        &labelled(rows, "pharmacy_movements.reason_", |r| &r.reason),
    );
    c.insert("next", &next);
    c.insert("stores", &store_choices(db).await?);
    c.insert("drugs", &drug_choices(db).await?);
    c.insert("store", &store.map(|s| s.to_string()).unwrap_or_default());
    c.insert("drug", &drug.map(|s| s.to_string()).unwrap_or_default());
    c.insert("chosen", &(store.is_some() && drug.is_some()));
    c.insert("batches", &batches);
    c.insert("reasons", &reasons);
    c.insert("values", typed);
    c.insert("errors", errors);
    c.insert("has_errors", &!errors.is_empty());
    render_status(cx, status, "pharmacy/adjustments.html", c)
}

#[handler]
pub async fn list(cx: Ctx, Query(q): Query<Page>) -> AppResult<Response> {
    let store = q.store.as_deref().and_then(id);
    let drug = q.drug.as_deref().and_then(id);
    let typed = Typed {
        token: new_token(),
        ..Default::default()
    };
    page(
        &cx,
        StatusCode::OK,
        store,
        drug,
        &typed,
        &FormErrors::new(),
        q.before,
    )
    .await
}

#[handler]
pub async fn post(cx: Ctx, form: Form) -> AppResult<Response> {
    let typed = Typed {
        token: form.get("token").to_string(),
        batch: form.get("batch").to_string(),
        quantity: form.get("quantity").to_string(),
        reason: form.get("reason").to_string(),
        note: form.get("note").to_string(),
    };
    // The form carries its store and drug; the batch names them too.
    let chosen = match id(&typed.batch) {
        Some(b) => repo::batch(&cx.app().db, b).await?,
        None => None,
    };
    let store = id(form.get("store")).or(chosen.as_ref().map(|b| b.store_id));
    let drug = id(form.get("drug")).or(chosen.as_ref().map(|b| b.drug_id));
    let refused = |errors: FormErrors| {
        let cx = cx.clone();
        let typed = typed.clone();
        async move {
            page(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                store,
                drug,
                &typed,
                &errors,
                None,
            )
            .await
        }
    };
    let adjustment = match adjustments::validate(&typed) {
        Ok(a) => a,
        Err(errors) => return refused(errors).await,
    };
    match adjustments::post(&cx.app().db, &cx.actor(), &adjustment).await {
        Ok(_) => {
            cx.flash(FlashKind::Success, t("pharmacy_movements.adjustment_done"));
            Ok(see_other("/pharmacy/adjustments"))
        }
        Err(MoveError::Refused(m)) => {
            let mut errors = FormErrors::new();
            errors.add("quantity", m);
            refused(errors).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
struct ExpiredRow {
    #[serde(flatten)]
    batch: repo::BatchRow,
    value: String,
}

#[handler]
pub async fn expired(cx: Ctx, Query(q): Query<Page>) -> AppResult<Response> {
    let db = &cx.app().db;
    let store = q.store.as_deref().and_then(id);
    let today = Day::today().text();
    let rows: Vec<_> = repo::adjustments::expired(db, &today, store)
        .await?
        .into_iter()
        .map(|batch| ExpiredRow {
            value: super::money(batch.unit_cost_cents * batch.qty_on_hand),
            batch,
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("batches", &rows);
    c.insert("token", &new_token());
    c.insert("stores", &store_choices(db).await?);
    c.insert("store", &store.map(|s| s.to_string()).unwrap_or_default());
    render(&cx, "pharmacy/adjust_expired.html", c)
}

#[handler]
pub async fn write_off(cx: Ctx, form: Form) -> AppResult<Response> {
    let store = id(form.get("store"));
    let batch = id(form.get("batch"));
    if batch.is_none() && form.get("all") != "1" {
        return Err(hms_core::AppError::BadRequest("batch".into()));
    }
    let today = Day::today().date();
    let n = adjustments::write_off_expired(
        &cx.app().db,
        &cx.actor(),
        form.get("token"),
        store,
        batch,
        today,
    )
    .await?;
    cx.flash(
        FlashKind::Success,
        t("pharmacy_movements.written_off").replace("{count}", &n.to_string()),
    );
    let back = match store {
        Some(s) => format!("/pharmacy/adjustments/expired?store={s}"),
        None => "/pharmacy/adjustments/expired".to_string(),
    };
    Ok(see_other(&back))
}
