//! The signed-in user's own account: changing their password.

use poem::http::StatusCode;
use poem::{handler, Response};

use hms_core::audit::{self, Event};
use hms_core::auth::{password, throttle, users};
use hms_core::http::{render, render_status, see_other, Ctx, FlashKind, Form};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{clock, AppError, AppResult};

#[handler]
pub async fn password_form(cx: Ctx) -> AppResult<Response> {
    cx.require_user()?;
    let mut context = tera::Context::new();
    context.insert("errors", &FormErrors::new());
    render(&cx, "account_password.html", context)
}

#[handler]
pub async fn password_submit(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let user = cx.require_user()?;
    let current = form.get("current_password");
    let new = form.get("password");

    let mut errors = FormErrors::new();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if current.is_empty() {
        errors.add("current_password", t("validation.required"));
    } else {
        // The current password is a sign-in by another door: throttled and audited alike.
        let client = cx.client_addr().to_string();
        let attempt = app
            .throttle
            .attempt(
                &app.db,
                &cx.actor(),
                &user.username,
                &client,
                clock::now_ms(),
            )
            .await?;
        match attempt {
            throttle::Attempt::Refused { wait_ms, scope } => {
                status = StatusCode::TOO_MANY_REQUESTS;
                errors.add(
                    "current_password",
                    super::login::throttled_message(wait_ms, scope),
                );
            }
            throttle::Attempt::Allowed(_reservation) => {
                let creds = users::find_credentials(&app.db, &user.username).await?;
                let hash = creds.as_ref().map(|(_, h, _)| h.as_str());
                if !app.hasher.verify(current, hash).await {
                    let mut tx = app.db.begin().await?;
                    audit::record(
                        &mut tx,
                        &cx.actor(),
                        Event::new("auth.password_check_failed", "user", Some(user.id)),
                    )
                    .await?;
                    tx.commit().await?;
                    tracing::info!(user_id = user.id, "current password wrong");
                    errors.add("current_password", t("account.current_wrong"));
                } else {
                    let mut tx = app.db.begin().await?;
                    app.throttle
                        .succeeded(&mut tx, &cx.actor(), &user.username, &client)
                        .await?;
                    tx.commit().await?;
                }
            }
        }
    }
    errors.check("password", password::check(new, &user.username));
    if new != form.get("password_confirm") {
        errors.add("password_confirm", t("validation.passwords_differ"));
    }
    if !errors.is_empty() {
        let mut context = tera::Context::new();
        context.insert("errors", &errors);
        return render_status(&cx, status, "account_password.html", context);
    }

    let new_hash = app.hasher.hash(new).await?;
    let mut tx = app.db.begin().await?;
    users::set_password(
        &mut tx,
        user.id,
        &new_hash,
        Some(&user.session_hash),
        false,
        &cx.actor(),
    )
    .await
    .map_err(AppError::internal)?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("account.password_changed"));
    Ok(see_other("/"))
}
