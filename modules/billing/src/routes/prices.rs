//! Schemes and price lists: `/billing/prices` lists the schemes with their versions and adds an
//! insurer or a corporate (`POST /billing/prices/schemes`: `code`, `name`, `kind`);
//! `/billing/prices/:scheme` shows a scheme's versions and adds one (`POST`: `effective_from`,
//! `note`, `lines` as CSV text `item code, price, covered, co-pay, scheme code`), pre-filled with
//! the version in force so a change is an edit of a copy. Nothing is ever edited in place.

use poem::http::StatusCode;
use poem::web::Path;
use poem::{handler, Response};
use serde_json::json;
use sqlx::Row;

use hms_core::http::{render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use crate::prices::{self, ListError};
use crate::PRICES;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/billing/prices", Access::Permission(PRICES), index),
        RouteSpec::post(
            "/billing/prices/schemes",
            Access::Permission(PRICES),
            add_scheme,
        ),
        RouteSpec::get(
            "/billing/prices/:scheme",
            Access::Permission(PRICES),
            scheme_page,
        ),
        RouteSpec::post(
            "/billing/prices/:scheme",
            Access::Permission(PRICES),
            add_list,
        )
        .multiline(&["lines"])
        .body_limit(2 * 1024 * 1024),
        RouteSpec::get(
            "/billing/prices/:scheme/statement",
            Access::Permission(PRICES),
            statement,
        ),
        RouteSpec::post(
            "/billing/prices/:scheme/credit-limit",
            Access::Permission(PRICES),
            set_credit_limit,
        ),
    ]
}

const KINDS: &[&str] = &["insurer", "corporate"];

async fn index_page(
    cx: &Ctx,
    status: StatusCode,
    typed: serde_json::Value,
    errors: FormErrors,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let mut schemes = Vec::new();
    for s in prices::schemes(db).await? {
        let lists = prices::lists(db, s.id).await?;
        schemes.push(json!({ "scheme": s, "versions": lists.len(), "latest": lists.first() }));
    }
    let mut c = tera::Context::new();
    c.insert("schemes", &schemes);
    c.insert("kinds", KINDS);
    c.insert("typed", &typed);
    c.insert("errors", &errors);
    render_status(cx, status, "billing/prices.html", c)
}

/// GET `/billing/prices`.
#[handler]
pub async fn index(cx: Ctx) -> AppResult<Response> {
    index_page(&cx, StatusCode::OK, json!({}), FormErrors::new()).await
}

/// POST `/billing/prices/schemes`.
#[handler]
pub async fn add_scheme(cx: Ctx, form: Form) -> AppResult<Response> {
    let code = form.get("code").trim().to_ascii_lowercase();
    let name = form.get("name").trim().to_string();
    let kind = form.get("kind").trim().to_string();
    let pin = form.get("kra_pin").trim().to_ascii_uppercase();
    let mut errors = FormErrors::new();
    let code_ok = (2..=30).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !code_ok {
        errors.add("code", t("billing_prices.error_code"));
    }
    if name.is_empty() || name.chars().count() > 120 {
        errors.add("name", t("billing_prices.error_name"));
    }
    if !KINDS.contains(&kind.as_str()) {
        errors.add("kind", t("billing_prices.error_kind"));
    }
    if !pin.is_empty() && !super::settings::kra_pin_ok(&pin) {
        errors.add("kra_pin", t("billing.error_kra_pin"));
    }
    let typed = json!({ "code": code, "name": name, "kind": kind, "kra_pin": pin });
    if !errors.is_empty() {
        return index_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, typed, errors).await;
    }
    let mut tx = cx.app().db.begin().await?;
    match prices::add_scheme(
        &mut tx,
        &cx.actor(),
        &code,
        &name,
        &kind,
        Some(pin.as_str()).filter(|p| !p.is_empty()),
    )
    .await?
    {
        Some(id) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("billing_prices.scheme_added"));
            Ok(see_other(&format!("/billing/prices/{id}")))
        }
        None => {
            tx.rollback().await.ok();
            errors.add("code", t("billing_prices.error_code_taken"));
            index_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, typed, errors).await
        }
    }
}

async fn scheme_view(
    cx: &Ctx,
    status: StatusCode,
    scheme_id: i64,
    typed: Option<serde_json::Value>,
    errors: FormErrors,
    line_errors: Vec<serde_json::Value>,
    preview: Option<Vec<serde_json::Value>>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let scheme = prices::scheme(db, scheme_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let lists = prices::lists(db, scheme_id).await?;
    let today = hms_core::day::Day::today();
    let in_force = lists.iter().find(|l| l.effective_from <= today.text());
    let current = match in_force {
        Some(l) => prices::lines(db, l.id).await?,
        None => Vec::new(),
    };
    let csv: String = current
        .iter()
        .map(|l| {
            format!(
                "{},{},{},{},{},{}\n",
                l.item,
                l.price.plain(),
                if l.covered { "yes" } else { "no" },
                l.copay.plain(),
                l.scheme_code.clone().unwrap_or_default(),
                l.tax_type
            )
        })
        .collect();
    let typed = typed.unwrap_or_else(
        || json!({ "effective_from": today.plus_days(1).form(), "note": "", "lines": csv }),
    );
    let mut c = tera::Context::new();
    if scheme.kind == "corporate" {
        let (limit, owed) = prices::credit_of(db, scheme_id).await?;
        c.insert(
            "credit",
            &json!({
                "limit": limit.map(|l| l.to_string()),
                "limit_plain": limit.map(|l| l.plain()).unwrap_or_default(),
                "owed": owed.to_string(),
            }),
        );
        c.insert("this_month", &today.date().format("%Y-%m").to_string());
    }
    c.insert("scheme", &scheme);
    c.insert("lists", &lists);
    c.insert("in_force", &in_force);
    c.insert("current", &current);
    c.insert("typed", &typed);
    c.insert("errors", &errors);
    c.insert("line_errors", &line_errors);
    c.insert("preview", &preview);
    render_status(cx, status, "billing/scheme.html", c)
}

/// GET `/billing/prices/:scheme`.
#[handler]
pub async fn scheme_page(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    scheme_view(
        &cx,
        StatusCode::OK,
        id,
        None,
        FormErrors::new(),
        Vec::new(),
        None,
    )
    .await
}

/// POST `/billing/prices/:scheme`.
#[handler]
pub async fn add_list(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let scheme = prices::scheme(db, id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FormErrors::new();
    let typed = json!({
        "effective_from": form.get("effective_from"), "note": form.get("note"), "lines": form.get("lines"),
    });
    let from = match hms_core::dates::read(form.get("effective_from")) {
        Ok(d) => Some(d),
        Err(_) => {
            errors.add("effective_from", t("billing_prices.error_date"));
            None
        }
    };
    let note = form.get("note").trim();
    if note.chars().count() > 200 {
        errors.add("note", t("billing_prices.error_note"));
    }
    let mut line_errors = Vec::new();
    let lines = match prices::parse_lines(form.get("lines")) {
        Ok(l) => l,
        Err(list) => {
            errors.add("lines", t("billing_prices.error_lines"));
            line_errors = list
                .into_iter()
                .map(|(n, key)| json!({ "line": n, "message": t(key) }))
                .collect();
            Vec::new()
        }
    };
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let (Some(from), true) = (from, errors.is_empty()) else {
        return scheme_view(&cx, status, id, Some(typed), errors, line_errors, None).await;
    };
    // *Preview*: what the version would change against the prices in force, nothing saved.
    if !form.get("preview").is_empty() {
        let rows = preview_rows(db, id, &lines).await?;
        return scheme_view(
            &cx,
            StatusCode::OK,
            id,
            Some(typed),
            errors,
            line_errors,
            Some(rows),
        )
        .await;
    }
    let mut tx = db.begin().await?;
    let note = Some(note).filter(|n| !n.is_empty());
    match prices::add_list(&mut tx, &cx.actor(), &scheme, from, note, &lines).await {
        Ok(_) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("billing_prices.list_added"));
            Ok(see_other(&format!("/billing/prices/{id}")))
        }
        Err(ListError::DateTaken) => {
            tx.rollback().await.ok();
            errors.add("effective_from", t("billing_prices.error_date_taken"));
            scheme_view(&cx, status, id, Some(typed), errors, line_errors, None).await
        }
        Err(ListError::Db(e)) => Err(e.into()),
    }
}

/// Each line of a version to be saved against the prices in force: new, changed (with the
/// price before), or the same; then the items in force the version leaves out.
async fn preview_rows(
    db: &hms_core::db::Db,
    scheme: i64,
    lines: &[prices::PriceLine],
) -> AppResult<Vec<serde_json::Value>> {
    let today = hms_core::day::Day::today().text();
    let lists = prices::lists(db, scheme).await?;
    let current = match lists.iter().find(|l| l.effective_from <= today) {
        Some(l) => prices::lines(db, l.id).await?,
        None => Vec::new(),
    };
    let mut rows: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            let before = current.iter().find(|c| c.item == l.item);
            let change = match before {
                None => "new",
                Some(b) if b == l => "same",
                Some(_) => "changed",
            };
            json!({
                "item": l.item, "price": l.price.to_string(), "covered": l.covered,
                "copay": l.copay.to_string(), "scheme_code": l.scheme_code, "tax_type": l.tax_type,
                "change": change, "before": before.map(|b| b.price.to_string()),
            })
        })
        .collect();
    rows.extend(
        current
            .iter()
            .filter(|c| !lines.iter().any(|l| l.item == c.item))
            .map(|c| json!({ "item": c.item, "price": c.price.to_string(), "change": "removed" })),
    );
    Ok(rows)
}

/// POST `/billing/prices/:scheme/credit-limit` (`credit_limit` in KES, blank for none): a
/// company's credit limit, checked at every issue of its invoices.
#[handler]
pub async fn set_credit_limit(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let typed = form.get("credit_limit").trim();
    let limit = if typed.is_empty() {
        None
    } else {
        match crate::model::count(typed) {
            Ok(l) => Some(l),
            Err(key) => {
                let mut errors = FormErrors::new();
                errors.add("credit_limit", t(key));
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                return scheme_view(&cx, status, id, None, errors, Vec::new(), None).await;
            }
        }
    };
    let mut tx = cx.app().db.begin().await?;
    if !prices::set_credit_limit(&mut tx, &cx.actor(), id, limit).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("billing_prices.credit_limit_saved"));
    Ok(see_other(&format!("/billing/prices/{id}")))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct MonthQuery {
    #[serde(default)]
    month: Option<String>,
}

/// GET `/billing/prices/:scheme/statement?month=YYYY-MM` (this month when absent): the company's
/// statement of the month as PDF.
#[handler]
pub async fn statement(
    cx: Ctx,
    Path(id): Path<i64>,
    poem::web::Query(q): poem::web::Query<MonthQuery>,
) -> AppResult<Response> {
    use chrono::Datelike;
    let db = &cx.app().db;
    let scheme = prices::scheme(db, id).await?.ok_or(AppError::NotFound)?;
    if scheme.kind != "corporate" {
        return Err(AppError::NotFound);
    }
    let today = hms_core::day::Day::today().date();
    let first = match q.month.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        None => today.with_day(1),
        Some(m) => chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok(),
    }
    .ok_or_else(|| AppError::BadRequest(t("billing_prices.error_month")))?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| AppError::BadRequest(t("billing_prices.error_month")))?;
    let utc = |d: chrono::NaiveDate| {
        chrono::DateTime::from_timestamp_millis(hms_core::day::Day::new(d).start_ms())
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default()
    };
    let found = sqlx::query(
        "SELECT number, issued_at, patient_id, total_cents, paid_cents, credited_cents \
         FROM billing_invoices WHERE scheme_id = $1 AND payer = 'scheme' AND status = 'issued' \
         AND issued_at >= $2 AND issued_at < $3 ORDER BY id",
    )
    .bind(id)
    .bind(utc(first))
    .bind(utc(next))
    .fetch_all(db.read())
    .await
    .map_err(hms_core::db::DbError::from)?;
    let ids: Vec<hms_core::ids::PatientId> = found
        .iter()
        .map(|r| hms_core::ids::PatientId(r.get(2)))
        .collect();
    let cards = hms_patients::api::cards(db, &ids).await?;
    let rows: Vec<crate::docs::StatementRow> = found
        .iter()
        .map(|r| {
            let patient = hms_core::ids::PatientId(r.get(2));
            let who = cards
                .iter()
                .find(|c| c.id == patient)
                .map(|c| format!("{} · {}", c.number, c.full_name))
                .unwrap_or_default();
            crate::docs::StatementRow {
                number: r.get(0),
                issued_at: r.get(1),
                patient: who,
                total: r.get(3),
                paid: r.get(4),
                credited: r.get(5),
            }
        })
        .collect();
    let (_, owed) = prices::credit_of(db, id).await?;
    cx.audit_read(
        hms_core::audit::Event::new("billing.scheme.statement", "billing_scheme", Some(id)).detail(
            json!({
                "month": first.format("%Y-%m").to_string(), "invoices": rows.len(),
            }),
        ),
    )
    .await;
    let head = hms_core::pdf::Letterhead::load(db).await?;
    let pin = super::documents::kra_pin(db).await?;
    let month = format!(
        "{} {}",
        t(&format!("billing_statement_pdf.month_{}", first.month())),
        first.year()
    );
    let bytes = crate::docs::statement_pdf(&head, &pin, (&scheme.name, &month), &rows, owed);
    Ok(hms_core::http::pdf_inline(
        &format!("statement-{}-{}.pdf", scheme.code, first.format("%Y-%m")),
        bytes,
    ))
}
