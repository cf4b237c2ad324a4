//! Finding a patient: live search by number, phone, document or names.

use poem::web::Query;
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_core::audit::Event;
use hms_core::http::{render_part, Ctx};
use hms_core::ids::PatientId;
use hms_core::module::ChartLink;
use hms_core::AppResult;

use super::{shown, PAGE_SIZE};
use crate::search::search;
use crate::search::Pick;

#[derive(Debug, Default, Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

/// A result with the buttons other modules contribute ("Check in", "Book").
#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    shown: Pick,
    actions: Vec<ChartLink>,
}

#[handler]
pub async fn find(cx: Ctx, Query(query): Query<FindQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let q: String = query.q.trim().chars().take(80).collect();
    let (results, next) = search(db, &q, &query.after, PAGE_SIZE).await?;
    if !q.is_empty() {
        // One audit row per search, without the typed text (it may be a name).
        cx.audit_read(
            Event::new("patient.search", "patient", None).detail(json!({"results": results.len()})),
        )
        .await;
    }
    let mut c = tera::Context::new();
    c.insert("q", &q);
    let actions = cx
        .app()
        .modules
        .chart_actions_for(|m| cx.module_on(m), |p| cx.can(p));
    let rows: Vec<Row> = results
        .into_iter()
        .map(|f| {
            let id = PatientId(f.id);
            Row {
                shown: shown(f),
                actions: actions.iter().map(|a| a.link(id)).collect(),
            }
        })
        .collect();
    c.insert("with_actions", &!actions.is_empty());
    c.insert("results", &rows);
    c.insert("next", &next);
    c.insert("can_register", &cx.can(crate::REGISTER));
    render_part(&cx, "patients/find.html", "patients/_find_results.html", c)
}
