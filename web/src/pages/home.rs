use chrono::{Timelike, Utc};
use poem::{handler, Response};

use hms_core::http::{render, Ctx};
use hms_core::i18n::t;
use hms_core::{clock, AppResult};

/// `GET /`: the signed-in user's dashboard. Department modules add their cards here.
#[handler]
pub async fn dashboard(cx: Ctx) -> AppResult<Response> {
    cx.require_user()?;
    let hour = clock::to_local(Utc::now()).hour();
    let greeting = match hour {
        0..=11 => "home.greeting_morning",
        12..=16 => "home.greeting_afternoon",
        _ => "home.greeting_evening",
    };
    let mut context = tera::Context::new();
    context.insert("greeting_key", greeting);
    let cards: Vec<serde_json::Value> = cx
        .app()
        .modules
        .cards_for(|p| cx.can(p))
        .into_iter()
        .map(|c| serde_json::json!({"id": c.id, "title": t(c.title), "href": c.href}))
        .collect();
    context.insert("cards", &cards);
    render(&cx, "home.html", context)
}
