//! Screens of the administration module.

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;

use hms_core::auth::password;
use hms_core::auth::session::Timeouts;
use hms_core::auth::users::{self, NewUser};
use hms_core::http::{render, render_status, see_other, Ctx, FlashKind, Form};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use crate::model::{AccountForm, CADRES};
use crate::repo::{self, AdminError};
use crate::USERS_MANAGE;

const PAGE_SIZE: i64 = 25;

impl From<AdminError> for AppError {
    fn from(e: AdminError) -> Self {
        AppError::internal(e)
    }
}

fn idle_ms(cx: &Ctx) -> i64 {
    Timeouts::new(
        cx.app().config.session_idle_minutes,
        cx.app().config.session_absolute_hours,
    )
    .idle_ms
}

/// The refusal of roles the editor may not give or take, as the roles field shows it.
async fn roles_refused(cx: &Ctx, roles: &[String]) -> AppResult<String> {
    let all = users::all_roles(&cx.app().db).await?;
    let titles: Vec<String> = roles
        .iter()
        .map(|name| {
            all.iter().find(|r| &r.name == name).map_or_else(
                || name.clone(),
                |r| users::Role::from_row(r.name.clone(), r.title.clone(), r.builtin).title,
            )
        })
        .collect();
    Ok(t("admin.error_roles_beyond").replace("{roles}", &titles.join(", ")))
}

async fn role_names(cx: &Ctx) -> AppResult<Vec<String>> {
    Ok(users::all_roles(&cx.app().db)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect())
}

/// Roles and cadres every account form needs.
async fn form_context(cx: &Ctx) -> AppResult<tera::Context> {
    let mut c = tera::Context::new();
    c.insert("all_roles", &users::all_roles(&cx.app().db).await?);
    let cadres: Vec<_> = CADRES
        .iter()
        .map(|cadre| {
            serde_json::json!({
                "code": cadre.code,
                "label": t(&format!("admin_cadres.{}", cadre.code)),
                "regulator": cadre.regulator,
            })
        })
        .collect();
    c.insert("cadres", &cadres);
    c.insert("can_manage", &cx.can(USERS_MANAGE));
    Ok(c)
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

#[handler]
pub async fn users_list(cx: Ctx, Query(query): Query<ListQuery>) -> AppResult<Response> {
    let q: String = query.q.trim().chars().take(64).collect();
    let (rows, next) = repo::search(&cx.app().db, &q, &query.after, PAGE_SIZE).await?;
    let titles: std::collections::HashMap<String, String> = users::all_roles(&cx.app().db)
        .await?
        .into_iter()
        .map(|r| (r.name, r.title))
        .collect();
    let mut c = tera::Context::new();
    c.insert("role_titles", &titles);
    c.insert("users", &rows);
    c.insert("q", &q);
    c.insert("after", &query.after);
    c.insert("next", &next);
    c.insert("can_manage", &cx.can(USERS_MANAGE));
    render(&cx, "admin/users.html", c)
}

#[handler]
pub async fn user_new(cx: Ctx) -> AppResult<Response> {
    let mut c = form_context(&cx).await?;
    c.insert("values", &AccountForm::default());
    c.insert("errors", &FormErrors::new());
    render(&cx, "admin/user_new.html", c)
}

#[handler]
pub async fn user_create(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let values = AccountForm::from_form(&form);
    let temp = form.get("password");
    let mut errors = FormErrors::new();
    errors.check("username", users::check_username(&values.username));
    if errors.get("username").is_none()
        && users::id_by_username(&app.db, &values.username)
            .await?
            .is_some()
    {
        errors.add("username", t("admin.error_username_taken"));
    }
    let details = values.validate(&role_names(&cx).await?, &mut errors);
    errors.check("password", password::check(temp, &values.username));
    let Some(details) = details.filter(|_| errors.is_empty()) else {
        let mut c = form_context(&cx).await?;
        c.insert("values", &values);
        c.insert("errors", &errors);
        return render_status(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "admin/user_new.html",
            c,
        );
    };
    let hash = app.hasher.hash(temp).await?;
    let mut tx = app.db.begin().await?;
    let new = NewUser {
        username: values.username.clone(),
        full_name: values.full_name.clone(),
        password_hash: hash,
        roles: values.roles.clone(),
        details,
        must_change_password: true,
    };
    let beyond = repo::roles_beyond_grants(&mut tx, &cx.actor(), &values.roles).await?;
    if !beyond.is_empty() {
        drop(tx);
        errors.add("roles", roles_refused(&cx, &beyond).await?);
        let mut c = form_context(&cx).await?;
        c.insert("values", &values);
        c.insert("errors", &errors);
        return render_status(&cx, StatusCode::FORBIDDEN, "admin/user_new.html", c);
    }
    let id = match users::create(&mut tx, &new, &cx.actor(), false).await {
        Ok(Some(id)) => id,
        Ok(None) => return Err(AppError::internal("user not created")),
        Err(users::UserError::Duplicate(_)) => {
            drop(tx);
            errors.add("username", t("admin.error_username_taken"));
            let mut c = form_context(&cx).await?;
            c.insert("values", &values);
            c.insert("errors", &errors);
            return render_status(&cx, StatusCode::CONFLICT, "admin/user_new.html", c);
        }
        Err(e) => return Err(AppError::internal(e)),
    };
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("admin.created").replace("{name}", &values.full_name),
    );
    Ok(see_other(&format!("/admin/users/{id}")))
}

async fn show_user(
    cx: &Ctx,
    id: i64,
    status: StatusCode,
    values: Option<AccountForm>,
    errors: FormErrors,
    problem: Option<String>,
) -> AppResult<Response> {
    let app = cx.app();
    let user = repo::get(&app.db, id).await?.ok_or(AppError::NotFound)?;
    let values = values.unwrap_or_else(|| AccountForm {
        username: user.username.clone(),
        full_name: user.full_name.clone(),
        roles: user.roles.clone(),
        cadre: user.details.cadre.clone().unwrap_or_default(),
        registration_no: user.details.registration_no.clone().unwrap_or_default(),
        phone: user.phone_display.clone().unwrap_or_default(),
        email: user.details.email.clone().unwrap_or_default(),
    });
    let mut c = form_context(cx).await?;
    c.insert("sessions", &repo::sessions(&app.db, id, idle_ms(cx)).await?);
    c.insert(
        "throttles",
        &repo::throttles(&app.db, &user.username).await?,
    );
    let is_self = cx.user().is_some_and(|u| u.id == id);
    c.insert("is_self", &is_self);
    // Security actions go on when the licence pauses administration; on an administrator's
    // account they are an administrator's alone (the write checks again).
    let viewer_is_admin = cx.user().is_some_and(|u| u.has_role(repo::ADMIN_ROLE));
    let admin_only = user.roles.iter().any(|r| r == repo::ADMIN_ROLE) && !viewer_is_admin;
    c.insert("can_secure", &cx.holds(USERS_MANAGE));
    c.insert("admin_only", &admin_only);
    c.insert("account", &user);
    c.insert("values", &values);
    c.insert("errors", &errors);
    c.insert("problem", &problem);
    render_status(cx, status, "admin/user.html", c)
}

#[handler]
pub async fn user_show(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    show_user(&cx, id, StatusCode::OK, None, FormErrors::new(), None).await
}

#[handler]
pub async fn user_update(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let values = AccountForm::from_form(&form);
    let mut errors = FormErrors::new();
    let details = values.validate(&role_names(&cx).await?, &mut errors);
    let Some(details) = details else {
        return show_user(
            &cx,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(values),
            errors,
            None,
        )
        .await;
    };
    let mut tx = app.db.begin().await?;
    match repo::update(
        &mut tx,
        id,
        &values.full_name,
        &details,
        &values.roles,
        &cx.actor(),
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => return Err(AppError::NotFound),
        Err(AdminError::LastAdmin) => {
            drop(tx);
            let problem = Some(t("admin.error_last_admin"));
            return show_user(&cx, id, StatusCode::CONFLICT, Some(values), errors, problem).await;
        }
        Err(AdminError::OwnRoles) => {
            drop(tx);
            errors.add("roles", t("admin.error_own_roles"));
            return show_user(&cx, id, StatusCode::FORBIDDEN, Some(values), errors, None).await;
        }
        Err(AdminError::RolesBeyondGrants(beyond)) => {
            drop(tx);
            errors.add("roles", roles_refused(&cx, &beyond).await?);
            return show_user(&cx, id, StatusCode::FORBIDDEN, Some(values), errors, None).await;
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("admin.saved"));
    Ok(see_other(&format!("/admin/users/{id}")))
}

/// Runs one account action in a transaction, then returns to the account with a message.
async fn account_action<F>(cx: &Ctx, id: i64, done: &str, action: F) -> AppResult<Response>
where
    F: for<'t> FnOnce(
        &'t mut hms_core::db::Tx,
        hms_core::audit::Actor,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<bool, AdminError>> + Send + 't>,
    >,
{
    let app = cx.app();
    if repo::get(&app.db, id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let mut tx = app.db.begin().await?;
    match action(&mut tx, cx.actor()).await {
        Ok(_) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t(done));
            Ok(see_other(&format!("/admin/users/{id}")))
        }
        Err(AdminError::LastAdmin) => {
            drop(tx);
            show_user(
                cx,
                id,
                StatusCode::CONFLICT,
                None,
                FormErrors::new(),
                Some(t("admin.error_last_admin")),
            )
            .await
        }
        Err(AdminError::AdministratorsOnly) => {
            drop(tx);
            show_user(
                cx,
                id,
                StatusCode::FORBIDDEN,
                None,
                FormErrors::new(),
                Some(t("admin.error_admin_only")),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[handler]
pub async fn user_disable(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    account_action(&cx, id, "admin.disabled", |tx, actor| {
        Box::pin(async move { repo::disable(tx, id, &actor).await })
    })
    .await
}

#[handler]
pub async fn user_enable(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    account_action(&cx, id, "admin.enabled", |tx, actor| {
        Box::pin(async move { repo::enable(tx, id, &actor).await })
    })
    .await
}

#[handler]
pub async fn user_end_sessions(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    account_action(&cx, id, "admin.sessions_ended", |tx, actor| {
        Box::pin(async move { repo::end_sessions(tx, id, &actor).await.map(|_| true) })
    })
    .await
}

#[handler]
pub async fn user_clear_throttle(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let user = repo::get(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    account_action(&cx, id, "admin.throttle_cleared", move |tx, actor| {
        Box::pin(async move {
            repo::clear_throttle(tx, id, &user.username, &actor)
                .await
                .map(|_| true)
        })
    })
    .await
}

#[handler]
pub async fn user_reset_password(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let user = repo::get(&app.db, id).await?.ok_or(AppError::NotFound)?;
    let temp = form.get("password");
    if let Err(message) = password::check(temp, &user.username) {
        let mut errors = FormErrors::new();
        errors.add("reset_password", t(message));
        return show_user(
            &cx,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            errors,
            None,
        )
        .await;
    }
    let hash = app.hasher.hash(temp).await?;
    let mut tx = app.db.begin().await?;
    match repo::check_may_act_on(&mut tx, &cx.actor(), id).await {
        Ok(()) => {}
        Err(AdminError::AdministratorsOnly) => {
            drop(tx);
            let mut errors = FormErrors::new();
            errors.add("reset_password", t("admin.error_admin_only"));
            return show_user(&cx, id, StatusCode::FORBIDDEN, None, errors, None).await;
        }
        Err(e) => return Err(e.into()),
    }
    users::set_password(&mut tx, id, &hash, None, true, &cx.actor())
        .await
        .map_err(AppError::internal)?;
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("admin.password_reset").replace("{name}", &user.full_name),
    );
    Ok(see_other(&format!("/admin/users/{id}")))
}

#[handler]
pub async fn card_users(cx: Ctx) -> AppResult<Response> {
    let counts = repo::counts(&cx.app().db, idle_ms(&cx)).await?;
    let mut c = tera::Context::new();
    c.insert("counts", &counts);
    c.insert("detail", &json!({}));
    render(&cx, "admin/card_users.html", c)
}

#[handler]
pub async fn card_backup(cx: Ctx) -> AppResult<Response> {
    let app = cx.app();
    let postgres = app.db.backend == hms_core::db::Backend::Postgres;
    let last = hms_core::backup::last_result(&app.db).await?;
    let overdue = !postgres && hms_core::backup::is_overdue(&last, chrono::Utc::now());
    let mut c = tera::Context::new();
    c.insert("postgres", &postgres);
    c.insert("overdue", &overdue);
    c.insert(
        "last_at",
        &last
            .as_ref()
            .map(|l| hms_core::clock::display_rfc3339(&l.at)),
    );
    c.insert("last", &last);
    let folder = app.config.backup_folder();
    c.insert("backup_dir", &folder.display().to_string());
    let newest = if postgres {
        None
    } else {
        hms_core::backup::newest(&folder)
            .map(|(name, size)| json!({"name": name, "size": hms_core::backup::human_size(size)}))
    };
    c.insert("newest", &newest);
    // The audit trail's copy of its head outside the database belongs to the health of the
    // records as much as backups do.
    let head_problem = app.audit_head.problem().map(|p| match p {
        hms_core::audit::HeadProblem::Unwritable(detail) => {
            json!({"kind": "unwritable", "detail": detail})
        }
        hms_core::audit::HeadProblem::Diverged { row } => {
            json!({"kind": "diverged", "detail": t("admin.audit_head_diverged").replace("{row}", &row.to_string())})
        }
    });
    c.insert("head_problem", &head_problem);
    render(&cx, "admin/card_backup.html", c)
}

async fn licence_page(cx: &Ctx, status: StatusCode, error: Option<String>) -> AppResult<Response> {
    let app = cx.app();
    let verdict = cx.licence().clone();
    let modules: Vec<serde_json::Value> = app
        .modules
        .states()
        .into_iter()
        .map(|m| json!({"id": m.id, "title": t(m.title), "on": cx.module_on(m.id)}))
        .collect();
    let mut c = tera::Context::new();
    c.insert("standing", &verdict.standing);
    c.insert("licence", &verdict.licence);
    c.insert("modules", &modules);
    c.insert("has_key", &app.licensing.key().is_some());
    c.insert("error", &error);
    render_status(cx, status, "admin/licence.html", c)
}

#[handler]
pub async fn licence_show(cx: Ctx) -> AppResult<Response> {
    licence_page(&cx, StatusCode::OK, None).await
}

/// Installs an uploaded (or pasted) licence file after checking it; nothing changes otherwise.
#[handler]
pub async fn licence_install(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let text = match form.file("licence") {
        Some(f) => match String::from_utf8(f.data.clone()) {
            Ok(t) => t,
            Err(_) => {
                let msg = Some(t("admin.licence_not_text"));
                return licence_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
            }
        },
        None => form.get("licence_text").to_string(),
    };
    if text.trim().is_empty() {
        let msg = Some(t("admin.licence_missing"));
        return licence_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
    }
    let payload = match hms_core::licence::install(&app.db, &app.licensing, &text, &cx.actor())
        .await
    {
        Ok(p) => p,
        Err(hms_core::licence::InstallError::Refused(e)) => {
            return licence_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, Some(e.to_string())).await
        }
        Err(hms_core::licence::InstallError::Db(e)) => return Err(e.into()),
    };
    cx.flash(
        FlashKind::Success,
        t("admin.licence_installed").replace("{date}", &payload.expires),
    );
    Ok(see_other("/admin/licence"))
}
