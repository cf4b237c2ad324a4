//! The language switch in the top bar: English or Kiswahili. Signed-in staff keep their
//! choice on their account; before signing in it is kept in a cookie.

use poem::{handler, Response};
use serde_json::json;

use hms_core::audit::{self, Event};
use hms_core::http::{cookie_header, safe_next, see_other, Ctx, Form, LANG_COOKIE};
use hms_core::{i18n, AppError, AppResult};

#[handler]
pub async fn switch(cx: Ctx, form: Form) -> AppResult<Response> {
    let lang = i18n::resolve(form.get("lang"))
        .ok_or_else(|| AppError::BadRequest("unknown language".into()))?;
    let app = cx.app();
    if let Some(user) = cx.user() {
        let mut tx = app.db.begin().await?;
        sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
            .bind(lang)
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            &cx.actor(),
            Event::new("user.language", "user", Some(user.id)).detail(json!({
                "before": {"language": user.language},
                "after": {"language": lang},
            })),
        )
        .await?;
        tx.commit().await?;
    }
    cx.add_cookie(cookie_header(
        LANG_COOKIE,
        lang,
        Some(365 * 24 * 3600),
        app.config.cookie_secure,
    ));
    Ok(see_other(safe_next(form.get("next")).unwrap_or("/")))
}
