//! Stock takes: the list and the start form, the count sheet (blind while counting when asked),
//! counting, submitting, and the approver's decision.

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};

use hms_core::http::{render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::{AppError, AppResult};

use super::{labelled, store_choices, Page, PAGE};
use crate::movements::{id, stocktakes, MoveError};
use crate::repo::movements::stocktakes as repo;
use crate::{APPROVE, COUNT, VIEW};

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/pharmacy/stocktakes", Access::Permission(VIEW), list),
        RouteSpec::post("/pharmacy/stocktakes", Access::Permission(COUNT), start),
        RouteSpec::get("/pharmacy/stocktakes/:id", Access::Permission(VIEW), show),
        RouteSpec::post(
            "/pharmacy/stocktakes/:id/count",
            Access::Permission(COUNT),
            count,
        ),
        RouteSpec::post(
            "/pharmacy/stocktakes/:id/submit",
            Access::Permission(COUNT),
            submit,
        ),
        RouteSpec::post(
            "/pharmacy/stocktakes/:id/approve",
            Access::Permission(APPROVE),
            approve,
        ),
        RouteSpec::post(
            "/pharmacy/stocktakes/:id/reject",
            Access::Permission(APPROVE),
            reject,
        ),
    ]
}

async fn list_page(
    cx: &Ctx,
    status: StatusCode,
    error: &str,
    before: Option<i64>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let rows = repo::list(db, before, PAGE).await?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let mut c = tera::Context::new();
    c.insert(
        "takes",
        &labelled(rows, "pharmacy_movements.stocktake_", |r| &r.state),
    );
    c.insert("next", &next);
    c.insert("stores", &store_choices(db).await?);
    c.insert("can_count", &cx.can(COUNT));
    c.insert("error", error);
    render_status(cx, status, "pharmacy/stocktakes.html", c)
}

#[handler]
pub async fn list(cx: Ctx, Query(q): Query<Page>) -> AppResult<Response> {
    list_page(&cx, StatusCode::OK, "", q.before).await
}

#[handler]
pub async fn start(cx: Ctx, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let Some(store) = id(form.get("store")) else {
        return list_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &t("pharmacy_movements.error_store"),
            None,
        )
        .await;
    };
    if crate::model::store(db, store).await?.is_none() {
        return list_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &t("pharmacy_movements.error_store"),
            None,
        )
        .await;
    }
    match stocktakes::start(db, &cx.actor(), store, form.get("blind") == "1").await {
        Ok(id) => Ok(see_other(&format!("/pharmacy/stocktakes/{id}"))),
        // Already being counted: that sheet.
        Err(MoveError::Conflict(m)) => match repo::open_of(db, store).await? {
            Some(open) => {
                cx.flash(FlashKind::Info, m);
                Ok(see_other(&format!("/pharmacy/stocktakes/{open}")))
            }
            None => Err(AppError::Conflict(m)),
        },
        Err(MoveError::Refused(m)) => {
            list_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, &m, None).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn sheet_page(cx: &Ctx, id: i64, status: StatusCode, error: &str) -> AppResult<Response> {
    let db = &cx.app().db;
    let take = repo::get(db, id).await?.ok_or(AppError::NotFound)?;
    let lines = repo::sheet(db, id).await?;
    let mut c = tera::Context::new();
    // A blind count shows counters no balance; the approver sees everything once submitted.
    c.insert("show_system", &(!take.blind || take.state != "counting"));
    c.insert(
        "state_label",
        &t(&format!("pharmacy_movements.stocktake_{}", take.state)),
    );
    c.insert("take", &take);
    c.insert("lines", &lines);
    c.insert("can_count", &cx.can(COUNT));
    c.insert("can_approve", &cx.can(APPROVE));
    c.insert("error", error);
    render_status(cx, status, "pharmacy/stocktake.html", c)
}

#[handler]
pub async fn show(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    sheet_page(&cx, id, StatusCode::OK, "").await
}

/// Sends a refusal back on the sheet (422), a state conflict as 409.
async fn answer(
    cx: &Ctx,
    id: i64,
    done: Result<(), MoveError>,
    flash: &str,
) -> AppResult<Response> {
    match done {
        Ok(()) => {
            cx.flash(FlashKind::Success, t(flash));
            Ok(see_other(&format!("/pharmacy/stocktakes/{id}")))
        }
        Err(MoveError::Refused(m)) => {
            sheet_page(cx, id, StatusCode::UNPROCESSABLE_ENTITY, &m).await
        }
        Err(MoveError::Conflict(m)) => sheet_page(cx, id, StatusCode::CONFLICT, &m).await,
        Err(e) => Err(e.into()),
    }
}

#[handler]
pub async fn count(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let lines = repo::sheet(db, id).await?;
    if lines.is_empty() {
        return Err(AppError::NotFound);
    }
    let mut counts = Vec::new();
    for l in &lines {
        match stocktakes::counted(form.get(&format!("count_{}", l.id))) {
            Ok(Some(c)) => counts.push((l.id, c)),
            Ok(None) => {}
            Err(k) => {
                let m = format!("{} {}: {}", l.drug, l.batch_no, t(k));
                return sheet_page(&cx, id, StatusCode::UNPROCESSABLE_ENTITY, &m).await;
            }
        }
    }
    if counts.is_empty() {
        let m = t("pharmacy_movements.error_nothing_counted");
        return sheet_page(&cx, id, StatusCode::UNPROCESSABLE_ENTITY, &m).await;
    }
    let done = stocktakes::count(db, &cx.actor(), id, &counts).await;
    answer(&cx, id, done, "pharmacy_movements.counts_saved").await
}

#[handler]
pub async fn submit(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let done = stocktakes::submit(&cx.app().db, &cx.actor(), id).await;
    answer(&cx, id, done, "pharmacy_movements.stocktake_submitted_now").await
}

#[handler]
pub async fn approve(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let done = stocktakes::approve(&cx.app().db, &cx.actor(), id)
        .await
        .map(|_| ());
    answer(&cx, id, done, "pharmacy_movements.stocktake_approved_now").await
}

#[handler]
pub async fn reject(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let done = stocktakes::reject(&cx.app().db, &cx.actor(), id).await;
    answer(&cx, id, done, "pharmacy_movements.stocktake_rejected_now").await
}
