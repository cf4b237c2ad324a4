use chrono::{Timelike, Utc};
use poem::{handler, Response};

use hms_core::http::{render, Ctx};
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
    context.insert("cards", &Vec::<serde_json::Value>::new());
    render(&cx, "home.html", context)
}
