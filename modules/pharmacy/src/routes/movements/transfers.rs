//! Transfers: requisitions waiting for the store, the form (a requisition or a direct
//! transfer), a transfer with its issue form, and cancelling a requisition.

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Serialize;

use hms_core::day::Day;
use hms_core::http::{render, render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use super::{drug_choices, labelled, nth, store_choices, Page, PAGE};
use crate::movements::transfers::{self, line_field, Typed, TypedLine};
use crate::movements::{new_token, MoveError, MAX_QUANTITY};
use crate::repo::movements as repo;
use crate::TRANSFER;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/pharmacy/transfers", Access::Permission(TRANSFER), list),
        RouteSpec::get("/pharmacy/transfers/new", Access::Permission(TRANSFER), new),
        RouteSpec::post("/pharmacy/transfers", Access::Permission(TRANSFER), create),
        RouteSpec::get(
            "/pharmacy/transfers/:id",
            Access::Permission(TRANSFER),
            show,
        ),
        RouteSpec::post(
            "/pharmacy/transfers/:id/issue",
            Access::Permission(TRANSFER),
            issue,
        ),
        RouteSpec::post(
            "/pharmacy/transfers/:id/cancel",
            Access::Permission(TRANSFER),
            cancel,
        ),
    ]
}

#[handler]
pub async fn list(cx: Ctx, Query(q): Query<Page>) -> AppResult<Response> {
    let db = &cx.app().db;
    let done = repo::transfers::done(db, q.before, PAGE).await?;
    let next = (done.len() as i64 == PAGE)
        .then(|| done.last().map(|r| r.id))
        .flatten();
    let mut c = tera::Context::new();
    c.insert(
        "waiting",
        &labelled(
            repo::transfers::waiting(db).await?,
            "pharmacy_movements.transfer_",
            |r| &r.state,
        ),
    );
    c.insert(
        "done",
        &labelled(done, "pharmacy_movements.transfer_", |r| &r.state),
    );
    c.insert("next", &next);
    c.insert("stores", &store_choices(db).await?.len());
    render(&cx, "pharmacy/transfers.html", c)
}

#[derive(Serialize)]
struct LineView {
    n: usize,
    typed: TypedLine,
    drug_error: String,
    quantity_error: String,
}

async fn form_page(
    cx: &Ctx,
    status: StatusCode,
    typed: &Typed,
    errors: &FormErrors,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let lines: Vec<LineView> = typed
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| LineView {
            n: i + 1,
            typed: l.clone(),
            drug_error: errors
                .get(&line_field(i + 1, "drug"))
                .unwrap_or("")
                .to_string(),
            quantity_error: errors
                .get(&line_field(i + 1, "quantity"))
                .unwrap_or("")
                .to_string(),
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("values", typed);
    c.insert("mode", if typed.request { "request" } else { "direct" });
    c.insert("lines", &lines);
    c.insert("errors", errors);
    c.insert("has_errors", &!errors.is_empty());
    c.insert("stores", &store_choices(db).await?);
    c.insert("drugs", &drug_choices(db).await?);
    render_status(cx, status, "pharmacy/transfer_form.html", c)
}

#[handler]
pub async fn new(cx: Ctx, Query(q): Query<Page>) -> AppResult<Response> {
    let typed = Typed {
        token: new_token(),
        request: q.mode.as_deref() == Some("request"),
        lines: vec![TypedLine::default(); q.lines.unwrap_or(5).clamp(1, 40)],
        ..Default::default()
    };
    form_page(&cx, StatusCode::OK, &typed, &FormErrors::new()).await
}

#[handler]
pub async fn create(cx: Ctx, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let drugs = form.all("drug");
    let quantities = form.all("quantity");
    let n = drugs.len().max(quantities.len()).min(200);
    let typed = Typed {
        token: form.get("token").to_string(),
        request: form.get("mode") == "request",
        from: form.get("from").to_string(),
        to: form.get("to").to_string(),
        note: form.get("note").to_string(),
        lines: (0..n)
            .map(|i| TypedLine {
                drug: nth(&drugs, i).to_string(),
                quantity: nth(&quantities, i).to_string(),
            })
            .collect(),
    };
    let transfer = match transfers::validate(db, &typed).await? {
        Ok(tr) => tr,
        Err(errors) => {
            return form_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, &typed, &errors).await
        }
    };
    match transfers::create(db, &cx.actor(), &transfer, Day::today().date()).await {
        Ok(posted) => Ok(see_other(&format!("/pharmacy/transfers/{}", posted.id))),
        Err(MoveError::Refused(m)) => {
            let mut errors = FormErrors::new();
            errors.add("lines", m);
            form_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, &typed, &errors).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn show_page(cx: &Ctx, id: i64, status: StatusCode, error: &str) -> AppResult<Response> {
    let db = &cx.app().db;
    let transfer = repo::transfers::get(db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let lines = repo::transfers::lines(db, id, &Day::today().text()).await?;
    let mut c = tera::Context::new();
    c.insert("transfer", &transfer);
    c.insert("lines", &lines);
    c.insert("error", error);
    c.insert(
        "state_label",
        &t(&format!("pharmacy_movements.transfer_{}", transfer.state)),
    );
    render_status(cx, status, "pharmacy/transfer.html", c)
}

#[handler]
pub async fn show(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    show_page(&cx, id, StatusCode::OK, "").await
}

#[handler]
pub async fn issue(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let lines = repo::transfers::lines(db, id, &Day::today().text()).await?;
    if lines.is_empty() {
        return Err(AppError::NotFound);
    }
    let mut quantities = Vec::new();
    for l in &lines {
        let text = form.get(&format!("issue_{}", l.id)).trim().replace(',', "");
        let q = if text.is_empty() || text == "0" {
            Ok(0)
        } else {
            crate::movements::quantity(&text)
        };
        match q {
            Ok(q) if q <= MAX_QUANTITY => quantities.push((l.id, q)),
            Ok(_) => {
                return show_page(
                    &cx,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &t("pharmacy_movements.error_quantity_huge"),
                )
                .await
            }
            Err(k) => return show_page(&cx, id, StatusCode::UNPROCESSABLE_ENTITY, &t(k)).await,
        }
    }
    match transfers::issue(db, &cx.actor(), id, &quantities, Day::today().date()).await {
        Ok(()) => {
            cx.flash(
                FlashKind::Success,
                t("pharmacy_movements.transfer_issued_now"),
            );
            Ok(see_other(&format!("/pharmacy/transfers/{id}")))
        }
        Err(MoveError::Refused(m)) => {
            show_page(&cx, id, StatusCode::UNPROCESSABLE_ENTITY, &m).await
        }
        Err(e) => Err(e.into()),
    }
}

#[handler]
pub async fn cancel(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    transfers::cancel(&cx.app().db, &cx.actor(), id).await?;
    Ok(see_other(&format!("/pharmacy/transfers/{id}")))
}
