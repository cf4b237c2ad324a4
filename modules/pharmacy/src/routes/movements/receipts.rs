//! Receiving stock: the list of receipts, the form (lines of drug, batch, expiry, quantity or
//! packs, unit cost) and a posted receipt.

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Serialize;

use hms_core::day::Day;
use hms_core::http::{render, render_status, see_other, Access, Ctx, Form, RouteSpec};
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use super::{drug_choices, money, nth, store_choices, Page, PAGE};
use crate::movements::receipts::{self, line_field, Typed, TypedLine};
use crate::movements::{new_token, MoveError, SHORT_EXPIRY_DAYS};
use crate::repo::movements as repo;
use crate::RECEIVE;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/pharmacy/receipts", Access::Permission(RECEIVE), list),
        RouteSpec::get("/pharmacy/receipts/new", Access::Permission(RECEIVE), new),
        RouteSpec::post("/pharmacy/receipts", Access::Permission(RECEIVE), post),
        RouteSpec::get("/pharmacy/receipts/:id", Access::Permission(RECEIVE), show),
    ]
}

#[derive(Serialize)]
struct ListRow {
    #[serde(flatten)]
    row: repo::receipts::ReceiptRow,
    value: String,
}

#[handler]
pub async fn list(cx: Ctx, Query(page): Query<Page>) -> AppResult<Response> {
    let db = &cx.app().db;
    let rows = repo::receipts::list(db, page.before, PAGE).await?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let rows: Vec<_> = rows
        .into_iter()
        .map(|row| ListRow {
            value: money(row.value_cents),
            row,
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("receipts", &rows);
    c.insert("next", &next);
    c.insert("ready", &ready(&cx).await?);
    render(&cx, "pharmacy/receipts.html", c)
}

/// What the form needs before it can be used: a store, a supplier and a drug.
#[derive(Serialize)]
struct Ready {
    stores: bool,
    suppliers: bool,
    drugs: bool,
}

async fn ready(cx: &Ctx) -> AppResult<Ready> {
    let db = &cx.app().db;
    Ok(Ready {
        stores: !store_choices(db).await?.is_empty(),
        suppliers: repo::suppliers(db).await?.iter().any(|s| s.active),
        drugs: !repo::drug_choices(db).await?.is_empty(),
    })
}

#[derive(Serialize)]
struct LineView {
    n: usize,
    typed: TypedLine,
    errors: std::collections::BTreeMap<&'static str, String>,
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
        .map(|(i, l)| {
            let mut e = std::collections::BTreeMap::new();
            for f in [
                "drug",
                "batch_no",
                "expiry",
                "quantity",
                "packs",
                "unit_cost",
            ] {
                if let Some(m) = errors.get(&line_field(i + 1, f)) {
                    e.insert(f, m.to_string());
                }
            }
            LineView {
                n: i + 1,
                typed: l.clone(),
                errors: e,
            }
        })
        .collect();
    let suppliers: Vec<(String, String)> = repo::suppliers(db)
        .await?
        .into_iter()
        .filter(|s| s.active)
        .map(|s| (s.id.to_string(), s.name))
        .collect();
    let mut c = tera::Context::new();
    let columns: Vec<(&str, String)> = ["batch_no", "expiry", "quantity", "packs", "unit_cost"]
        .into_iter()
        .map(|f| (f, hms_core::i18n::t(&format!("pharmacy_movements.{f}"))))
        .collect();
    c.insert("columns", &columns);
    c.insert("values", typed);
    c.insert("lines", &lines);
    c.insert("errors", errors);
    c.insert("has_errors", &!errors.is_empty());
    c.insert("stores", &store_choices(db).await?);
    c.insert("suppliers", &suppliers);
    c.insert("drugs", &drug_choices(db).await?);
    c.insert(
        "confirm_label",
        &hms_core::i18n::t("pharmacy_movements.confirm_short_expiry")
            .replace("{days}", &short_days(cx).to_string()),
    );
    c.insert("ready", &ready(cx).await?);
    c.insert("more", &(typed.lines.len() + 5).min(40));
    render_status(cx, status, "pharmacy/receipt_form.html", c)
}

fn short_days(cx: &Ctx) -> i64 {
    cx.app()
        .config
        .module_integer("pharmacy", &SHORT_EXPIRY_DAYS)
}

#[handler]
pub async fn new(cx: Ctx, Query(page): Query<Page>) -> AppResult<Response> {
    let n = page.lines.unwrap_or(5).clamp(1, 40);
    let typed = Typed {
        token: new_token(),
        store: page.store.unwrap_or_default(),
        received_on: Day::today().form(),
        lines: vec![TypedLine::default(); n],
        ..Default::default()
    };
    form_page(&cx, StatusCode::OK, &typed, &FormErrors::new()).await
}

fn typed_from(form: &Form) -> Typed {
    let fields = [
        "drug",
        "batch_no",
        "expiry",
        "quantity",
        "packs",
        "unit_cost",
    ];
    let values: Vec<Vec<&str>> = fields.iter().map(|f| form.all(f)).collect();
    let n = values.iter().map(Vec::len).max().unwrap_or(0).min(200);
    Typed {
        token: form.get("token").to_string(),
        store: form.get("store").to_string(),
        supplier: form.get("supplier").to_string(),
        reference: form.get("reference").to_string(),
        received_on: form.get("received_on").to_string(),
        confirm_short_expiry: form.get("confirm_short_expiry") == "1",
        lines: (0..n)
            .map(|i| TypedLine {
                drug: nth(&values[0], i).to_string(),
                batch_no: nth(&values[1], i).to_string(),
                expiry: nth(&values[2], i).to_string(),
                quantity: nth(&values[3], i).to_string(),
                packs: nth(&values[4], i).to_string(),
                unit_cost: nth(&values[5], i).to_string(),
            })
            .collect(),
    }
}

#[handler]
pub async fn post(cx: Ctx, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let typed = typed_from(&form);
    let today = Day::today().date();
    let receipt = match receipts::validate(db, &typed, today, short_days(&cx)).await? {
        Ok(r) => r,
        Err(errors) => {
            return form_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, &typed, &errors).await
        }
    };
    match receipts::post(db, &cx.actor(), &receipt).await {
        Ok(posted) => Ok(see_other(&format!("/pharmacy/receipts/{}", posted.id))),
        Err(MoveError::Refused(m)) => {
            let mut errors = FormErrors::new();
            errors.add("lines", m);
            form_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, &typed, &errors).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
struct ShowLine {
    #[serde(flatten)]
    line: repo::receipts::LineRow,
    cost: String,
    value: String,
}

#[handler]
pub async fn show(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let db = &cx.app().db;
    let receipt = repo::receipts::get(db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let lines: Vec<_> = repo::receipts::lines(db, id)
        .await?
        .into_iter()
        .map(|line| ShowLine {
            cost: money(line.unit_cost_cents),
            value: money(line.unit_cost_cents * line.quantity),
            line,
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("value", &money(receipt.value_cents));
    c.insert("receipt", &receipt);
    c.insert("lines", &lines);
    render(&cx, "pharmacy/receipt.html", c)
}
