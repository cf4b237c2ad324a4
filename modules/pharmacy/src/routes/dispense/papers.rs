//! What the pharmacy prints and shows on the chart: a dispense's labels (each print audited as a
//! read), the slip of balances to buy outside, and the chart's medicines panel.

use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;

use hms_core::audit::Event;
use hms_core::day::Day;
use hms_core::http::{pdf_inline, render_part, Ctx};
use hms_core::i18n::{t, t_in};
use hms_core::ids::{OrderId, PatientId, VisitId};
use hms_core::orders::{self, DrugDetails};
use hms_core::pdf::{Column, Document, Letterhead, PageSize};
use hms_core::{AppError, AppResult};

use crate::dispense::CloseReason;
use crate::labels::{self as label_pdf, Header, Label};
use crate::model;
use crate::repo::dispenses as repo;

#[derive(Debug, Default, Deserialize)]
pub struct LabelQuery {
    #[serde(default)]
    size: String,
    /// Another language than the dispense's, when the patient asks.
    #[serde(default)]
    lang: String,
}

fn month_year(ymd: &str) -> String {
    chrono::NaiveDate::parse_from_str(ymd, "%Y-%m-%d")
        .map(|d| d.format("%m/%Y").to_string())
        .unwrap_or_else(|_| ymd.to_string())
}

fn day_of(rfc3339: &str) -> chrono::NaiveDate {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| hms_core::clock::to_local(t.with_timezone(&chrono::Utc)).date_naive())
        .unwrap_or_else(|_| Day::today().date())
}

/// GET `/pharmacy/dispenses/:id/labels.pdf?size=label|a4`.
#[handler]
pub async fn labels(
    cx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<LabelQuery>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let d = repo::dispense(db, id).await?.ok_or(AppError::NotFound)?;
    if d.state == "cancelled" {
        return Err(AppError::Conflict(t("pharmacy_dispense.error_cancelled")));
    }
    let size = match q.size.trim() {
        "" | "label" => PageSize::Label50x25,
        other => PageSize::from_query(other)
            .filter(|s| matches!(s, PageSize::A4 | PageSize::Label50x25))
            .ok_or_else(|| AppError::BadRequest(t("pharmacy_dispense.error_size")))?,
    };
    let lang = match q.lang.trim() {
        "en" | "sw" => q.lang.trim().to_string(),
        _ => d.language.clone(),
    };
    let card = match d.patient {
        Some(p) => hms_patients::api::card(db, PatientId(p)).await?,
        None => None,
    };
    let taken = repo::taken_from(db, id).await?;
    let mut out = Vec::new();
    for l in repo::lines(db, id).await? {
        let drug = model::drug(db, l.drug).await?;
        let details: Option<DrugDetails> = match l.order {
            Some(o) => orders::get(db, OrderId(o))
                .await?
                .and_then(|o| serde_json::from_value(o.details).ok()),
            None => None,
        };
        let batches: Vec<String> = taken
            .iter()
            .filter(|(line, _, _, _)| *line == l.id)
            .map(|(_, no, exp, _)| {
                format!(
                    "{no} ({} {})",
                    t_in(&lang, "pharmacy_dispense.exp"),
                    month_year(exp)
                )
            })
            .collect();
        out.push(Label {
            drug: l.drug_name.clone(),
            quantity: if d.state == "issued" {
                l.issued
            } else {
                l.quantity
            },
            unit: l.unit.clone(),
            directions: details
                .map(|det| label_pdf::directions(&lang, &det))
                .unwrap_or_else(|| t_in(&lang, "pharmacy_dispense.as_directed")),
            antibiotic: drug.as_ref().is_some_and(|d| d.moh717 == "antibiotic"),
            controlled: l.controlled,
            batches: batches.join(", "),
        });
    }
    let head = Letterhead::load(db).await?;
    let header = Header {
        lang: lang.clone(),
        patient: card
            .as_ref()
            .map(|c| c.full_name.clone())
            .or(d.walk_in_name.clone())
            .unwrap_or_default(),
        number: card.as_ref().map(|c| c.number.clone()).unwrap_or_default(),
        date: hms_core::dates::show_in(
            &lang,
            day_of(d.issued_at.as_deref().unwrap_or(&d.prepared_at)),
        ),
        dispenser: d
            .issued_by
            .clone()
            .or(d.prepared_by.clone())
            .unwrap_or_default(),
    };
    let mut event = Event::new("pharmacy.labels_print", "dispense", Some(id)).detail(json!({
        "size": if size == PageSize::A4 { "a4" } else { "label" }, "language": lang,
    }));
    if let Some(p) = d.patient {
        event = event.patient(p);
    }
    cx.audit_read(event).await;
    let bytes = label_pdf::pdf(size, &head, &header, &out);
    Ok(pdf_inline(&format!("labels-{id}.pdf"), bytes))
}

/// GET `/pharmacy/visits/:id/slip.pdf`: the balances the patient is to buy outside.
#[handler]
pub async fn slip(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let db = &cx.app().db;
    let visit = hms_appointments::api::visit(db, VisitId(id))
        .await?
        .ok_or(AppError::NotFound)?;
    let card = hms_patients::api::card(db, visit.patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let outside = CloseReason::Outside.stored();
    let rows: Vec<Vec<String>> = orders::for_visit(db, visit.id)
        .await?
        .into_iter()
        .filter(|o| o.kind == orders::DRUG && o.reason.as_deref() == Some(outside.as_str()))
        .map(|o| {
            vec![
                o.display.clone(),
                (o.quantity - o.quantity_done).to_string(),
            ]
        })
        .collect();
    let head = Letterhead::load(db).await?;
    let title = t("pharmacy_dispense.slip_title");
    let mut doc = Document::new(PageSize::A5, &title).page_numbers(&t("pdf.page_of"));
    doc.letterhead(&head);
    doc.heading(&title);
    doc.fields(&[
        (
            &t("pharmacy_dispense.patient"),
            &format!("{} · {}", card.full_name, card.number),
        ),
        (
            &t("pharmacy_dispense.date"),
            &hms_core::dates::show(Day::today().date()),
        ),
    ]);
    if rows.is_empty() {
        doc.paragraph(&t("pharmacy_dispense.slip_empty"));
    } else {
        doc.table(
            &[
                Column::new(&t("pharmacy_dispense.prescription"), 4.0),
                Column::new(&t("pharmacy_dispense.to_buy"), 1.0),
            ],
            &rows,
        );
    }
    doc.space(6.0);
    let me = cx.user().map(|u| u.full_name.clone()).unwrap_or_default();
    doc.paragraph(&format!("{}: {me}", t("pharmacy_dispense.label_by")));
    cx.audit_read(
        Event::new("pharmacy.slip_print", "visit", Some(id))
            .patient(visit.patient_id.get())
            .detail(json!({ "lines": rows.len() })),
    )
    .await;
    Ok(pdf_inline(&format!("slip-{id}.pdf"), doc.finish()))
}

#[derive(Debug, Default, Deserialize)]
pub struct PanelQuery {
    #[serde(default)]
    patients: String,
}

/// GET `/pharmacy/patients/:id/medicines?patients=`: medicines of the last 90 days.
#[handler]
pub async fn medicines_panel(
    cx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<PanelQuery>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let mut ids = vec![id];
    ids.extend(
        q.patients
            .split(',')
            .filter_map(|s| s.trim().parse::<i64>().ok())
            .filter(|p| *p != id)
            .take(20),
    );
    let since = (chrono::Utc::now() - chrono::Duration::days(crate::dispense::PANEL_DAYS))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let given = repo::given(db, &ids, &since, 50).await?;
    cx.audit_read(
        Event::new("pharmacy.medicines_panel", "patient", Some(id))
            .patient(id)
            .detail(json!({ "shown": given.len() })),
    )
    .await;
    let rows: Vec<_> = given
        .iter()
        .map(|g| {
            json!({
                "dispense": g.dispense,
                "at": hms_core::dates::show(day_of(&g.at)),
                "said": crate::dispense::said(g),
                "instructions": g.instructions,
            })
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("patient_id", &id);
    c.insert("medicines", &rows);
    render_part(
        &cx,
        "pharmacy/dispense_medicines.html",
        "pharmacy/_medicines.html",
        c,
    )
}
