use poem::http::StatusCode;
use poem::{handler, Response};

use hms_core::http::Ctx;

/// `GET /healthz`: 200 `ok` when the database answers, 503 otherwise (for load balancers and
/// monitoring).
#[handler]
pub async fn healthz(cx: Ctx) -> Response {
    match cx.app().db.ping().await {
        Ok(()) => Response::builder()
            .content_type("text/plain; charset=utf-8")
            .body("ok"),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .content_type("text/plain; charset=utf-8")
                .body("database unavailable")
        }
    }
}
