//! First run: while no user exists every page leads here, to name the facility and create the
//! first administrator. Once anyone exists this page is gone (404): there is no default account.

use poem::http::StatusCode;
use poem::{handler, Response};
use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::auth::password;
use hms_core::auth::session::{self, Timeouts};
use hms_core::auth::users::{self, NewUser};
use hms_core::http::{cookie_header, render, render_status, see_other, Ctx, Form};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{clock, AppError, AppResult};

/// The reception and clinical roles the first account also takes when the box "I also do
/// reception and clinical work" is ticked.
const FRONT_LINE_ROLES: [&str; 3] = ["receptionist", "nurse", "doctor"];

/// The first account's roles: administrator, and the front-line roles when asked for.
fn first_roles(front_line: bool) -> Vec<String> {
    let mut roles = vec!["admin".to_string()];
    if front_line {
        roles.extend(FRONT_LINE_ROLES.iter().map(|r| r.to_string()));
    }
    roles
}

#[handler]
pub async fn show(cx: Ctx) -> AppResult<Response> {
    if cx.app().users_exist().await? {
        return Err(AppError::NotFound);
    }
    let mut context = tera::Context::new();
    context.insert(
        "values",
        &json!({"facility_name": "", "full_name": "", "username": "", "front_line": false}),
    );
    context.insert("errors", &FormErrors::new());
    render(&cx, "setup.html", context)
}

#[handler]
pub async fn submit(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    if app.users_exist().await? {
        return Err(AppError::NotFound);
    }
    let facility = form.get("facility_name").trim().to_string();
    let full_name = form.get("full_name").trim().to_string();
    let username = users::normalize_username(form.get("username"));
    let pw = form.get("password");
    // A one-person dispensary: the administrator also registers, checks in and sees patients.
    let front_line = form.get("front_line") == "1";

    let mut errors = FormErrors::new();
    let facility_len = facility.chars().count();
    if !(2..=120).contains(&facility_len) {
        errors.add("facility_name", t("validation.facility_name"));
    }
    errors.check("full_name", users::check_full_name(&full_name));
    errors.check("username", users::check_username(&username));
    errors.check("password", password::check(pw, &username));
    if pw != form.get("password_confirm") {
        errors.add("password_confirm", t("validation.passwords_differ"));
    }
    if !errors.is_empty() {
        let mut context = tera::Context::new();
        context.insert(
            "values",
            &json!({
                "facility_name": facility,
                "full_name": full_name,
                "username": username,
                "front_line": front_line,
            }),
        );
        context.insert("errors", &errors);
        return render_status(&cx, StatusCode::UNPROCESSABLE_ENTITY, "setup.html", context);
    }

    let hash = app.hasher.hash(pw).await?;
    let mut tx = app.db.begin().await?;
    let new = NewUser {
        username: username.clone(),
        full_name,
        password_hash: hash,
        roles: first_roles(front_line),
        details: Default::default(),
        must_change_password: false,
    };
    let actor = cx.actor();
    let created = users::create(&mut tx, &new, &actor, true)
        .await
        .map_err(AppError::internal)?;
    let Some(user_id) = created else {
        // Someone else finished setup a moment ago.
        return Err(AppError::NotFound);
    };
    hms_core::settings::put(&mut tx, "facility_name", &facility).await?;
    let timeouts = Timeouts::new(
        app.config.session_idle_minutes,
        app.config.session_absolute_hours,
    );
    let token = session::create(
        &mut tx,
        user_id,
        cx.client_addr(),
        clock::now_ms(),
        timeouts,
    )
    .await?;
    let actor = Actor {
        user_id: Some(user_id),
        ..actor
    };
    audit::record(
        &mut tx,
        &actor,
        Event::new("setup.complete", "settings", None)
            .detail(json!({"after": {"facility_name": facility, "roles": new.roles}})),
    )
    .await?;
    tx.commit().await?;
    app.users_exist().await?;
    app.refresh_facility().await?;
    tracing::info!(user_id, "first-run setup completed");
    cx.add_cookie(cookie_header(
        session::COOKIE,
        &token,
        None,
        app.config.cookie_secure,
    ));
    Ok(see_other("/"))
}
