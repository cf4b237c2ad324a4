//! The facility's logo (uploaded under Settings), for the top bar of signed-in pages.

use poem::http::{header, StatusCode};
use poem::{handler, Request, Response};

use hms_core::http::Ctx;
use hms_core::{AppError, AppResult};

/// The stored PNG or JPEG with its ETag; 304 when the browser has it, 404 when there is none.
#[handler]
pub async fn show(cx: Ctx, req: &Request) -> AppResult<Response> {
    let logo = hms_core::settings::logo(&cx.app().db)
        .await?
        .ok_or(AppError::NotFound)?;
    let etag = format!("\"{}\"", logo.etag);
    let matches = req
        .header(header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    // Private: only signed-in staff fetch it. A versioned URL (?v=ETag) never changes.
    let versioned = req
        .uri()
        .query()
        .is_some_and(|q| q == format!("v={}", logo.etag));
    let cache = if versioned {
        "private, max-age=31536000, immutable"
    } else {
        "private, no-cache"
    };
    let builder = Response::builder()
        .header(header::ETAG, etag.as_str())
        .header(header::CACHE_CONTROL, cache);
    if matches {
        return Ok(builder.status(StatusCode::NOT_MODIFIED).finish());
    }
    Ok(builder.content_type(logo.content_type).body(logo.data))
}
