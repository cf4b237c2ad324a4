//! Screens: vital-signs trends of a patient (server-rendered SVG, abnormal points marked, the
//! table below) and the vitals panel of the chart.

use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_core::audit::Event;
use poem::http::StatusCode;

use hms_core::http::{render, render_status, Access, Ctx, RouteSpec};
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::{AppError, AppResult};
use hms_patients::api as patients;

use crate::ranges::{Flag, Measure};
use crate::repo::vitals::{self as repo, VitalsRow};
use crate::vitals;
use crate::{VIEW, VITALS};

/// Sets read for the trends (per record: the patient and records merged into it).
const TREND_SETS: i64 = 200;
/// Records a panel or page reads (the patient and records merged into it).
const MAX_RECORDS: usize = 20;

/// Size of one trend's drawing (SVG user units).
const W: i64 = 600;
const H: i64 = 160;
const PAD_X: i64 = 40;
const PAD_Y: i64 = 16;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/patients/:id/vitals", Access::Permission(VIEW), trends),
        RouteSpec::get(
            "/patients/:id/vitals/panel",
            Access::Permission(VIEW),
            panel,
        ),
    ]
}

/// A point of a trend.
#[derive(Serialize)]
struct Point {
    x: i64,
    y: i64,
    value: String,
    at: String,
    flag: &'static str,
}

/// One measure's trend, ready to draw.
#[derive(Serialize)]
struct Trend {
    field: &'static str,
    label: String,
    unit: String,
    points: Vec<Point>,
    /// The polyline through the points.
    path: String,
    min: String,
    max: String,
    width: i64,
    height: i64,
}

/// The measures drawn, each from its stored column.
const DRAWN: [Measure; 7] = [
    Measure::Temperature,
    Measure::Pulse,
    Measure::RespRate,
    Measure::Systolic,
    Measure::Diastolic,
    Measure::Spo2,
    Measure::Weight,
];

/// The trend of one measure over sets oldest first (entered in error left out).
fn trend(m: Measure, sets: &[&VitalsRow]) -> Option<Trend> {
    let values: Vec<(&VitalsRow, i64)> = sets
        .iter()
        .filter_map(|s| vitals::stored(s, m).map(|v| (*s, v)))
        .collect();
    if values.is_empty() {
        return None;
    }
    let lo = values.iter().map(|v| v.1).min().unwrap_or(0);
    let hi = values.iter().map(|v| v.1).max().unwrap_or(0);
    let span = (hi - lo).max(1);
    let n = values.len() as i64;
    let points: Vec<Point> = values
        .iter()
        .enumerate()
        .map(|(i, (s, v))| {
            let x = if n == 1 {
                W / 2
            } else {
                PAD_X + (i as i64) * (W - 2 * PAD_X) / (n - 1)
            };
            let y = if hi == lo {
                H / 2
            } else {
                H - PAD_Y - (v - lo) * (H - 2 * PAD_Y) / span
            };
            let flags: std::collections::BTreeMap<String, String> =
                serde_json::from_str(&s.flags).unwrap_or_default();
            Point {
                x,
                y,
                value: m.show(*v),
                at: hms_core::clock::display_rfc3339(&s.recorded_at),
                flag: Flag::parse(flags.get(m.field()).map(String::as_str).unwrap_or("")).code(),
            }
        })
        .collect();
    let path = points
        .iter()
        .map(|p| format!("{},{}", p.x, p.y))
        .collect::<Vec<_>>()
        .join(" ");
    Some(Trend {
        field: m.field(),
        label: t(&format!("consultations_triage.label_{}", m.field())),
        unit: t(&format!("consultations_triage.unit_{}", m.field())),
        points,
        path,
        min: m.show(lo),
        max: m.show(hi),
        width: W,
        height: H,
    })
}

/// The sets of a patient record and those merged into it, newest first.
async fn sets_of(
    db: &hms_core::db::Db,
    ids: &[PatientId],
    limit: i64,
) -> AppResult<Vec<VitalsRow>> {
    let mut sets = Vec::new();
    for id in ids.iter().take(MAX_RECORDS) {
        sets.extend(repo::of_patient(db, *id, limit).await?);
    }
    sets.sort_by(|a, b| b.recorded_at.cmp(&a.recorded_at).then(b.id.cmp(&a.id)));
    sets.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(sets)
}

/// Vital-signs history of a patient: a trend per measure and every set in a table.
#[handler]
pub async fn trends(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    trends_page(&cx, id, StatusCode::OK, None).await
}

/// A reason refused beside the set it was typed for: (set id, what was typed, the message).
pub(crate) type ReasonError = (i64, String, String);

/// The trends page; with `refused`, the message beside that set's reason (422).
pub(crate) async fn trends_page(
    cx: &Ctx,
    id: i64,
    status: StatusCode,
    refused: Option<ReasonError>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let card = patients::card(db, PatientId::from(id))
        .await?
        .ok_or(AppError::NotFound)?;
    let mut ids = vec![card.id];
    ids.extend(card.merged_ids.iter().copied());
    let sets = sets_of(db, &ids, TREND_SETS).await?;
    cx.audit_read(
        Event::new("vitals.history", "patient", Some(card.id.get()))
            .patient(card.id.get())
            .detail(json!({"sets": sets.len()})),
    )
    .await;
    let valid: Vec<&VitalsRow> = sets.iter().rev().filter(|s| s.error_at.is_none()).collect();
    let drawn: Vec<Trend> = DRAWN.iter().filter_map(|m| trend(*m, &valid)).collect();
    let table: Vec<serde_json::Value> = sets.iter().map(vitals::set_json).collect();
    let mut c = tera::Context::new();
    c.insert("patient", &card);
    c.insert("trends", &drawn);
    c.insert("sets", &table);
    c.insert("can_record", &cx.can(VITALS));
    c.insert("refused", &refused);
    render_status(cx, status, "consultations/vitals.html", c)
}

#[derive(Deserialize)]
pub struct PanelQuery {
    #[serde(default)]
    patients: String,
}

/// The chart's vitals panel: the latest set with its flags, and the way to the trends.
#[handler]
pub async fn panel(
    cx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<PanelQuery>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let mut ids = vec![PatientId::from(id)];
    ids.extend(
        q.patients
            .split(',')
            .filter_map(|s| s.trim().parse::<i64>().ok())
            .map(PatientId::from)
            .filter(|p| p.get() != id)
            .take(MAX_RECORDS),
    );
    let mut latest: Option<VitalsRow> = None;
    for p in &ids {
        if let Some(r) = repo::latest_of_patient(db, *p).await? {
            if latest
                .as_ref()
                .is_none_or(|l| r.recorded_at > l.recorded_at)
            {
                latest = Some(r);
            }
        }
    }
    cx.audit_read(
        Event::new("vitals.chart_panel", "patient", Some(id))
            .patient(id)
            .detail(json!({"shown": latest.is_some()})),
    )
    .await;
    let mut c = tera::Context::new();
    c.insert("patient_id", &id);
    c.insert("vitals", &latest.as_ref().map(vitals::set_json));
    render(&cx, "consultations/vitals_panel.html", c)
}
