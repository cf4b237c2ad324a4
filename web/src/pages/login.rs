//! Sign in and sign out. A wrong password and an unknown username get the same message and
//! take the same time; repeated failures from one address for one username are slowed down.

use poem::http::StatusCode;
use poem::web::Query;
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::auth::session::{self, Timeouts};
use hms_core::auth::{throttle, users};
use hms_core::http::{
    cookie_header, render, render_status, safe_next, see_other, Ctx, FlashKind, Form,
};
use hms_core::i18n::t;
use hms_core::{clock, AppResult};

#[derive(Debug, Default, Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

impl NextParam {
    fn target(&self) -> Option<&str> {
        self.next.as_deref().and_then(safe_next)
    }
}

fn login_page(
    cx: &Ctx,
    status: StatusCode,
    username: &str,
    error: Option<String>,
    next: Option<&str>,
) -> AppResult<Response> {
    let mut context = tera::Context::new();
    context.insert("username", username);
    context.insert("error", &error);
    context.insert("next", &next);
    render_status(cx, status, "login.html", context)
}

#[handler]
pub async fn show(cx: Ctx, Query(q): Query<NextParam>) -> AppResult<Response> {
    if cx.user().is_some() {
        return Ok(see_other(q.target().unwrap_or("/")));
    }
    let mut context = tera::Context::new();
    context.insert("username", "");
    context.insert("error", &None::<String>);
    context.insert("next", &q.target());
    render(&cx, "login.html", context)
}

#[handler]
pub async fn submit(cx: Ctx, form: Form, Query(q): Query<NextParam>) -> AppResult<Response> {
    let app = cx.app();
    let next = q.target();
    let username = users::normalize_username(form.get("username"));
    let pw = form.get("password");
    if username.is_empty() || pw.is_empty() {
        return login_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &username,
            Some(t("login.missing")),
            next,
        );
    }
    // Over-long input is never a real account: answer like a wrong password, without hashing it.
    let username: String = username.chars().take(64).collect();
    let client = cx.client_addr().to_string();
    let now = clock::now_ms();

    let _reservation = match app
        .throttle
        .attempt(&app.db, &cx.actor(), &username, &client, now)
        .await?
    {
        throttle::Attempt::Allowed(reservation) => reservation,
        throttle::Attempt::Refused { wait_ms, scope } => {
            tracing::info!(?scope, "sign-in attempt refused: throttled");
            return login_page(
                &cx,
                StatusCode::TOO_MANY_REQUESTS,
                &username,
                Some(throttled_message(wait_ms, scope)),
                next,
            );
        }
    };

    let creds = users::find_credentials(&app.db, &username).await?;
    let password_ok = app
        .hasher
        .verify(pw, creds.as_ref().map(|(_, hash, _)| hash.as_str()))
        .await;

    match creds {
        Some((user_id, _, true)) if password_ok => {
            let token = start_session(&cx, user_id, &username, &client, now).await?;
            cx.add_cookie(cookie_header(
                session::COOKIE,
                &token,
                None,
                app.config.cookie_secure,
            ));
            Ok(see_other(next.unwrap_or("/")))
        }
        creds => {
            let disabled = matches!(creds, Some((_, _, false))) && password_ok;
            record_failure(&cx, creds.map(|c| c.0), &username, disabled).await?;
            let message = if disabled {
                t("login.disabled")
            } else {
                t("login.failed")
            };
            login_page(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &username,
                Some(message),
                next,
            )
        }
    }
}

/// A correct password: the throttle cleared, any earlier session of this browser ended, a new
/// session and its audit row, in one transaction. Returns the session token.
async fn start_session(
    cx: &Ctx,
    user_id: i64,
    username: &str,
    client: &str,
    now: i64,
) -> AppResult<String> {
    let app = cx.app();
    let timeouts = Timeouts::new(
        app.config.session_idle_minutes,
        app.config.session_absolute_hours,
    );
    let mut tx = app.db.begin().await?;
    app.throttle
        .succeeded(&mut tx, &cx.actor(), username, client)
        .await?;
    if let Some(old) = cx.user() {
        session::end(&mut tx, &old.session_hash).await?;
    }
    let token = session::create(&mut tx, user_id, client, now, timeouts).await?;
    let actor = Actor {
        user_id: Some(user_id),
        ..cx.actor()
    };
    audit::record(
        &mut tx,
        &actor,
        Event::new("auth.login", "user", Some(user_id)),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id, "signed in");
    Ok(token)
}

/// A refused sign-in in the audit trail (the failure itself was counted when the attempt was
/// reserved).
async fn record_failure(
    cx: &Ctx,
    user_id: Option<i64>,
    username: &str,
    disabled: bool,
) -> AppResult<()> {
    let mut tx = cx.app().db.begin().await?;
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("auth.login_failed", "user", user_id).detail(json!({
            "username": username,
            "reason": if disabled { "disabled" } else { "bad_credentials" },
        })),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(disabled, "sign-in attempt failed");
    Ok(())
}

/// What a throttled person reads: how long to wait, and why.
pub fn throttled_message(wait_ms: i64, scope: throttle::Scope) -> String {
    let seconds = (wait_ms + 999) / 1000;
    match scope {
        throttle::Scope::Account => t("login.throttled").replace("{seconds}", &seconds.to_string()),
        throttle::Scope::Address => {
            t("login.throttled_address").replace("{minutes}", &((seconds + 59) / 60).to_string())
        }
    }
}

#[handler]
pub async fn logout(cx: Ctx) -> AppResult<Response> {
    let app = cx.app();
    let user = cx.require_user()?;
    let mut tx = app.db.begin().await?;
    session::end(&mut tx, &user.session_hash).await?;
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("auth.logout", "user", Some(user.id)),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = user.id, "signed out");
    cx.add_cookie(cookie_header(
        session::COOKIE,
        "",
        Some(0),
        app.config.cookie_secure,
    ));
    cx.flash(FlashKind::Info, t("login.signed_out"));
    Ok(see_other("/login"))
}
