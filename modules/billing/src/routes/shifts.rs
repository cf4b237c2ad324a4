//! Cashier shifts: `/billing/shifts` shows one's own open shift (open one with a float, or close
//! it with a blind count by denomination) and the recent shifts with their variances;
//! `POST /billing/shifts/open`, `POST /billing/shifts/close`, `POST /billing/shifts/:id/approve`
//! (someone else's closed shift only) and `/billing/shifts/:id.pdf`, the Z-report.

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde_json::json;

use hms_core::http::{
    pdf_inline, render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec,
};
use hms_core::i18n::t;
use hms_core::money::Money;
use hms_core::pdf::Letterhead;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use crate::model;
use crate::shifts::{self, ShiftError};
use crate::{APPROVE, COLLECT, VIEW};

const PAGE: i64 = 20;

/// Notes and coins counted at close, largest first (Kenyan shillings).
pub const DENOMINATIONS: &[i64] = &[1000, 500, 200, 100, 50, 40, 20, 10, 5, 1];

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/billing/shifts", Access::Permission(VIEW), shifts_page),
        RouteSpec::post("/billing/shifts/open", Access::Permission(COLLECT), open),
        RouteSpec::post("/billing/shifts/close", Access::Permission(COLLECT), close)
            .multiline(&["reason"]),
        RouteSpec::post(
            "/billing/shifts/:id/approve",
            Access::Permission(APPROVE),
            approve,
        ),
        RouteSpec::get("/billing/shifts/:file", Access::Permission(VIEW), z_report),
    ]
}

async fn render_page(
    cx: &Ctx,
    status: StatusCode,
    page: i64,
    typed: serde_json::Value,
    errors: FormErrors,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let me = cx.require_user()?.id;
    let mine = shifts::open_of(db, me).await?;
    let list = shifts::recent(db, PAGE + 1, (page - 1) * PAGE).await?;
    let mut c = tera::Context::new();
    c.insert("mine", &mine);
    c.insert("has_next", &(list.len() as i64 > PAGE));
    c.insert(
        "shifts",
        &list.into_iter().take(PAGE as usize).collect::<Vec<_>>(),
    );
    c.insert("me", &me);
    c.insert("page", &page);
    c.insert("can_collect", &cx.can(COLLECT));
    c.insert("can_approve", &cx.can(APPROVE));
    c.insert("denominations", DENOMINATIONS);
    c.insert("typed", &typed);
    c.insert("errors", &errors);
    render_status(cx, status, "billing/shifts.html", c)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    page: Option<String>,
}

/// GET `/billing/shifts`.
#[handler]
pub async fn shifts_page(cx: Ctx, Query(q): Query<PageQuery>) -> AppResult<Response> {
    let page = super::page(q.page.as_deref());
    render_page(&cx, StatusCode::OK, page, json!({}), FormErrors::new()).await
}

/// POST `/billing/shifts/open` (field `float`).
#[handler]
pub async fn open(cx: Ctx, form: Form) -> AppResult<Response> {
    let float = match model::count(form.get("float")) {
        Ok(f) => f,
        Err(key) => {
            let mut errors = FormErrors::new();
            errors.add("float", t(key));
            let typed = json!({ "float": form.get("float") });
            return render_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, 1, typed, errors).await;
        }
    };
    let mut tx = cx.app().db.begin().await?;
    match shifts::open(&mut tx, &cx.actor(), float, &hms_core::clock::now_rfc3339()).await {
        // The desk shows the open shift: no message needed.
        Ok(_) => tx.commit().await?,
        Err(ShiftError::AlreadyOpen) => {
            tx.rollback().await.ok();
            cx.flash(FlashKind::Info, t(ShiftError::AlreadyOpen.key()));
        }
        Err(ShiftError::Db(e)) => return Err(e.into()),
        Err(e) => return Err(AppError::BadRequest(t(e.key()))),
    }
    Ok(see_other("/billing"))
}

/// POST `/billing/shifts/close` (fields `count_<denomination>` and `reason`).
#[handler]
pub async fn close(cx: Ctx, form: Form) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    let mut counted = Money::ZERO;
    let mut detail = serde_json::Map::new();
    let mut typed = serde_json::Map::new();
    for d in DENOMINATIONS {
        let field = format!("count_{d}");
        let text = form.get(&field).trim();
        typed.insert(field.clone(), json!(text));
        if text.is_empty() {
            continue;
        }
        match text.parse::<i64>() {
            Ok(n) if (0..=100_000).contains(&n) => {
                counted += Money::from_shillings(*d) * n;
                detail.insert(d.to_string(), json!(n));
            }
            _ => errors.add(&field, t("billing_shifts.error_count")),
        }
    }
    let reason = form.get("reason").trim().to_string();
    typed.insert("reason".into(), json!(reason));
    if reason.chars().count() > 500 {
        errors.add("reason", t("billing_shifts.error_reason_long"));
    }
    if errors.is_empty() {
        let mut tx = cx.app().db.begin().await?;
        match shifts::close(
            &mut tx,
            &cx.actor(),
            counted,
            &serde_json::Value::Object(detail),
            &reason,
            &hms_core::clock::now_rfc3339(),
        )
        .await
        {
            Ok(id) => {
                tx.commit().await?;
                cx.flash(FlashKind::Success, t("billing_shifts.closed_flash"));
                return Ok(see_other(&format!("/billing/shifts#shift-{id}")));
            }
            Err(ShiftError::Db(e)) => return Err(e.into()),
            Err(e) => {
                tx.rollback().await.ok();
                errors.add("reason", t(e.key()));
            }
        }
    }
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    render_page(&cx, status, 1, serde_json::Value::Object(typed), errors).await
}

/// POST `/billing/shifts/:id/approve`.
#[handler]
pub async fn approve(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let mut tx = cx.app().db.begin().await?;
    match shifts::approve(&mut tx, &cx.actor(), id, &hms_core::clock::now_rfc3339()).await {
        Ok(()) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("billing_shifts.approved_flash"));
            Ok(see_other(&format!("/billing/shifts#shift-{id}")))
        }
        Err(ShiftError::Db(e)) => Err(e.into()),
        Err(e) => {
            tx.rollback().await.ok();
            Err(AppError::Conflict(t(e.key())))
        }
    }
}

/// GET `/billing/shifts/:id.pdf`: the Z-report.
#[handler]
pub async fn z_report(cx: Ctx, Path(file): Path<String>) -> AppResult<Response> {
    let Some((id, true)) = super::file_id(&file) else {
        return Err(AppError::NotFound);
    };
    let db = &cx.app().db;
    let shift = shifts::get(db, id).await?.ok_or(AppError::NotFound)?;
    let methods = shifts::by_method(db, id).await?;
    let head = Letterhead::load(db).await?;
    let bytes = crate::docs::z_report_pdf(&head, &shift, &methods);
    Ok(pdf_inline(&format!("z-report-{id}.pdf"), bytes))
}
