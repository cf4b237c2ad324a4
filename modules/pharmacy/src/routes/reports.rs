//! Pharmacy screens: the reports index and each report on screen, as CSV and as PDF
//! (`/pharmacy/reports/:name?store=&month=YYYY-MM&day=&within=&format=csv|pdf`). Reports that
//! name patients (the dispensing and controlled-drug registers) are audited as reads.

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_core::audit::Event;
use hms_core::day::Day;
use hms_core::http::{csv_attachment, pdf_inline, render, render_status, Access, Ctx, RouteSpec};
use hms_core::i18n::t;
use hms_core::pdf::Letterhead;
use hms_core::{AppError, AppResult};

use crate::model::{self, Store};
use crate::reports::{self, registers, Kind, Month, Table};
use crate::REPORTS;

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/pharmacy/reports", P(REPORTS), index),
        RouteSpec::get("/pharmacy/reports/:name", P(REPORTS), report),
    ]
}

#[derive(Debug, Serialize)]
struct Entry {
    href: String,
    title: String,
    about: String,
}

#[handler]
pub async fn index(cx: Ctx) -> AppResult<Response> {
    let entries: Vec<Entry> = reports::KINDS
        .iter()
        .map(|k| Entry {
            href: format!("/pharmacy/reports/{}", k.name),
            title: t(&reports::title_key(k.name)),
            about: t(&format!(
                "pharmacy_reports.about_{}",
                k.name.replace('-', "_")
            )),
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("entries", &entries);
    render(&cx, "pharmacy/report_index.html", c)
}

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    store: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    day: String,
    #[serde(default)]
    within: String,
    #[serde(default)]
    format: String,
}

/// What a report was asked for, read and checked.
struct Asked {
    /// 0: every store.
    store: i64,
    month: Month,
    day: Day,
    within: i64,
    format: &'static str,
}

const WITHIN_DEFAULT: i64 = 180;
const WITHIN_MAX: i64 = 730;

/// The store a report shows when none is chosen: the first dispensary, else the first store.
fn default_store(stores: &[Store]) -> i64 {
    stores
        .iter()
        .filter(|s| s.active)
        .find(|s| s.kind == "dispensary")
        .or_else(|| stores.first())
        .map_or(0, |s| s.id)
}

fn read(kind: Kind, q: &ReportQuery, stores: &[Store]) -> Result<Asked, Vec<String>> {
    let mut errors = Vec::new();
    let today = Day::today().date();
    let store = match q.store.trim() {
        "" => match kind.store {
            Some(true) => default_store(stores),
            _ => 0,
        },
        "all" | "0" if kind.store == Some(false) => 0,
        text => match text.parse::<i64>() {
            Ok(id) if stores.iter().any(|s| s.id == id) => id,
            _ => {
                errors.push(t("pharmacy_reports.error_store"));
                0
            }
        },
    };
    let month = match q.month.trim() {
        "" => Month::previous(today),
        text => Month::parse(text).unwrap_or_else(|| {
            errors.push(t("pharmacy_reports.error_month"));
            Month::previous(today)
        }),
    };
    let day = match q.day.trim() {
        "" => Day::today(),
        text => Day::event(text).unwrap_or_else(|_| {
            errors.push(t("pharmacy_reports.error_day"));
            Day::today()
        }),
    };
    let within = match q.within.trim() {
        "" => WITHIN_DEFAULT,
        text => match text.parse::<i64>() {
            Ok(n) if (1..=WITHIN_MAX).contains(&n) => n,
            _ => {
                errors.push(t("pharmacy_reports.error_within"));
                WITHIN_DEFAULT
            }
        },
    };
    let format = match q.format.trim() {
        "" | "html" => "html",
        "csv" => "csv",
        "pdf" => "pdf",
        _ => {
            errors.push(t("pharmacy_reports.error_format"));
            "html"
        }
    };
    if errors.is_empty() {
        Ok(Asked {
            store,
            month,
            day,
            within,
            format,
        })
    } else {
        Err(errors)
    }
}

/// The report's table, its subtitle, and how many patients it names.
async fn build(
    cx: &Ctx,
    kind: Kind,
    a: &Asked,
    stores: &[Store],
) -> AppResult<(Table, String, usize)> {
    let db = &cx.app().db;
    let today = Day::today().date();
    let store_name = stores
        .iter()
        .find(|s| s.id == a.store)
        .map_or_else(|| t("pharmacy_reports.all_stores"), |s| s.name.clone());
    Ok(match kind.name {
        "consumption" => (
            registers::consumption(db, a.store, a.month, today).await?,
            format!("{store_name} · {}", a.month.display()),
            0,
        ),
        "stock-on-hand" => (
            registers::stock_on_hand(db, a.store, today).await?,
            format!("{store_name} · {}", Day::today().display()),
            0,
        ),
        "dispensing-register" => {
            let (table, named) = registers::dispensing_register(db, a.store, a.day).await?;
            (table, format!("{store_name} · {}", a.day.display()), named)
        }
        "controlled-drugs" => {
            let (table, named) = registers::controlled(db, a.store, a.month).await?;
            (
                table,
                format!("{store_name} · {}", a.month.display()),
                named,
            )
        }
        "expiry" => (
            registers::expiry(db, a.store, a.within, today).await?,
            format!(
                "{store_name} · {}",
                t("pharmacy_reports.within_days").replace("{days}", &a.within.to_string())
            ),
            0,
        ),
        "moh717" => (registers::moh717(db, a.month).await?, a.month.display(), 0),
        _ => return Err(AppError::NotFound),
    })
}

#[handler]
pub async fn report(
    cx: Ctx,
    Path(name): Path<String>,
    Query(q): Query<ReportQuery>,
) -> AppResult<Response> {
    let kind = reports::kind(&name).ok_or(AppError::NotFound)?;
    let stores = model::stores(&cx.app().db).await?;
    let title = t(&reports::title_key(kind.name));
    let mut c = tera::Context::new();
    c.insert("name", kind.name);
    c.insert("title", &title);
    c.insert("asks_store", &kind.store.is_some());
    c.insert("store_optional", &(kind.store == Some(false)));
    c.insert("asks_month", &kind.month);
    c.insert("asks_day", &kind.day);
    c.insert("asks_within", &kind.within);
    c.insert("stores", &stores);
    let asked = match read(kind, &q, &stores) {
        Ok(a) => a,
        Err(errors) => {
            c.insert("errors", &errors);
            c.insert("store", &q.store.trim());
            c.insert("month", &q.month.trim());
            c.insert("day", &q.day.trim());
            c.insert("within", &q.within.trim());
            c.insert("no_store", &false);
            c.insert("table", &Table::default());
            c.insert("subtitle", "");
            c.insert("query", "");
            return render_status(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                "pharmacy/report.html",
                c,
            );
        }
    };
    let no_store = kind.store == Some(true) && stores.is_empty();
    let (table, subtitle, named) = if no_store {
        (Table::default(), String::new(), 0)
    } else {
        build(&cx, kind, &asked, &stores).await?
    };
    if kind.patients {
        cx.audit_read(
            Event::new("pharmacy.report_view", "pharmacy_report", None).detail(json!({
                "report": kind.name,
                "store": asked.store,
                "month": asked.month.text(),
                "day": asked.day.text(),
                "format": asked.format,
                "rows": table.rows.len(),
                "patients": named,
            })),
        )
        .await;
    }
    let stem = format!(
        "pharmacy-{}-{}",
        kind.name,
        if kind.day {
            asked.day.text()
        } else {
            asked.month.text()
        }
    );
    match asked.format {
        "csv" => return Ok(csv_attachment(&stem, table.csv())),
        "pdf" => {
            let head = Letterhead::load(&cx.app().db).await?;
            return Ok(pdf_inline(
                &format!("{stem}.pdf"),
                table.pdf(&head, &title, &subtitle),
            ));
        }
        _ => {}
    }
    let store_text = if asked.store == 0 {
        String::new()
    } else {
        asked.store.to_string()
    };
    let query = format!(
        "store={}&month={}&day={}&within={}",
        store_text,
        asked.month.text(),
        asked.day.text(),
        asked.within
    );
    c.insert("errors", &Vec::<String>::new());
    c.insert("store", &store_text);
    c.insert("month", &asked.month.text());
    c.insert("day", &asked.day.text());
    c.insert("within", &asked.within.to_string());
    c.insert("no_store", &no_store);
    c.insert("table", &table);
    c.insert("subtitle", &subtitle);
    c.insert("query", &query);
    render(&cx, "pharmacy/report.html", c)
}
