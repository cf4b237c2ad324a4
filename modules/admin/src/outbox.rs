//! The email outbox screen: messages not yet sent, with "retry now" for failed ones.

use poem::web::Path;
use poem::{handler, Response};
use serde_json::json;

use hms_core::audit::{self, Event};
use hms_core::http::{render, see_other, Ctx, FlashKind};
use hms_core::i18n::t;
use hms_core::{outbox, settings, AppError, AppResult};

const SHOWN: i64 = 200;

#[handler]
pub async fn outbox_list(cx: Ctx) -> AppResult<Response> {
    let app = cx.app();
    let messages = outbox::unsent(&app.db, SHOWN).await?;
    let from = settings::get(&app.db, "mail_from")
        .await?
        .filter(|f| !f.is_empty());
    let mut c = tera::Context::new();
    c.insert("messages", &messages);
    c.insert("smtp_configured", &app.config.smtp_url.is_some());
    c.insert("mail_from", &from);
    c.insert("can_settings", &cx.can(crate::SETTINGS_MANAGE));
    render(&cx, "admin/outbox.html", c)
}

/// Queues a failed message again at once (with a fresh set of attempts).
#[handler]
pub async fn outbox_retry(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let app = cx.app();
    let mut tx = app.db.begin().await?;
    if !outbox::retry_now(&mut tx, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("outbox.retry", "outbox", Some(id))
            .detail(json!({"before": {"status": "failed"}, "after": {"status": "queued"}})),
    )
    .await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("outbox.retried"));
    Ok(see_other("/admin/outbox"))
}
