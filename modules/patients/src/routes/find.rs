//! Finding a patient: live search by number, phone, document or names.

use poem::web::Query;
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;

use hms_core::audit::Event;
use hms_core::http::{render_part, Ctx};
use hms_core::{phone, AppResult};

use super::{shown, PAGE_SIZE};
use crate::model;
use crate::repo::{self, Found};

#[derive(Debug, Default, Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

#[handler]
pub async fn find(cx: Ctx, Query(query): Query<FindQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let q: String = query.q.trim().chars().take(80).collect();
    let mut next = None;
    let results: Vec<Found> = if q.is_empty() {
        repo::newest(db, PAGE_SIZE).await?
    } else {
        let compact: String = q.chars().filter(|c| !c.is_whitespace()).collect();
        let phone = phone::normalize_mobile(&q).ok();
        let mut exact = repo::exact(
            db,
            &compact.to_uppercase(),
            phone.as_deref(),
            &compact.to_uppercase(),
        )
        .await?;
        let tokens = model::query_tokens(&q);
        let after = query
            .after
            .rsplit_once(':')
            .and_then(|(tok, id)| Some((tok.to_string(), id.parse::<i64>().ok()?)));
        let after_ref = after
            .as_ref()
            .map(|(t, i)| (t.as_str(), *i))
            .unwrap_or(("", 0));
        if !tokens.is_empty() {
            let (by_name, more) = repo::by_names(db, &tokens, after_ref, PAGE_SIZE).await?;
            for f in by_name {
                if !exact.iter().any(|e| e.id == f.id) {
                    exact.push(f);
                }
            }
            next = more.map(|(tok, id)| format!("{tok}:{id}"));
        }
        // One audit row per search, without the typed text (it may be a name).
        cx.audit_read(
            Event::new("patient.search", "patient", None).detail(json!({"results": exact.len()})),
        )
        .await;
        exact
    };
    let mut c = tera::Context::new();
    c.insert("q", &q);
    c.insert(
        "results",
        &results.into_iter().map(shown).collect::<Vec<_>>(),
    );
    c.insert("next", &next);
    c.insert("can_register", &cx.can(crate::REGISTER));
    render_part(&cx, "patients/find.html", "results", c)
}
