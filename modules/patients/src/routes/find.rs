//! Finding a patient: live search by number, phone, document or names.

use poem::web::Query;
use poem::{handler, Response};
use serde::Deserialize;

use hms_core::http::{render_part, Ctx};
use hms_core::AppResult;

use super::PAGE_SIZE;
use crate::picker::{picker, Screen};

#[derive(Debug, Default, Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

#[handler]
pub async fn find(cx: Ctx, Query(query): Query<FindQuery>) -> AppResult<Response> {
    let picker = picker(
        &cx,
        Screen {
            name: "find",
            q: &query.q,
            after: &query.after,
            limit: PAGE_SIZE,
            pages: Some("/patients"),
            choose: None,
            // The next steps from each result: "Check in", "Book" (for those allowed).
            actions: true,
            chart_links: true,
            newest: true,
            no_match: "patients.no_match",
            exclude: None,
            register: false,
        },
    )
    .await?;
    let mut c = tera::Context::new();
    c.insert("q", &picker.q);
    c.insert("picker", &picker);
    c.insert("can_register", &cx.can(crate::REGISTER));
    render_part(&cx, "patients/find.html", "patients/_find_results.html", c)
}
