//! Roles and their permissions: the matrix an administrator ticks, and custom roles ("records
//! clerk", "triage nurse"). Saving bumps the policy version, so every signed-in user's
//! permissions are resolved again on their next request, on every app server.

use std::collections::BTreeSet;

use poem::http::StatusCode;
use poem::web::Path;
use poem::{handler, Response};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use hms_core::audit::{self, Event};
use hms_core::http::{render, render_status, see_other, Ctx, FlashKind, Form};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{rbac, AppError, AppResult};

/// The administrator role keeps this one, so nobody can lock everyone out of this screen.
const KEEP: (&str, &str) = ("admin", crate::ROLES_MANAGE);

#[derive(Serialize)]
struct MatrixRow {
    code: &'static str,
    description: &'static str,
    module: String,
    cells: Vec<Cell>,
}

#[derive(Serialize)]
struct Cell {
    role: String,
    granted: bool,
    locked: bool,
}

async fn current_grants(cx: &Ctx) -> AppResult<BTreeSet<(String, String)>> {
    Ok(
        sqlx::query("SELECT role_name, permission FROM role_grants WHERE voided_at IS NULL")
            .fetch_all(cx.app().db.read())
            .await?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect(),
    )
}

async fn matrix_page(cx: &Ctx, status: StatusCode, problem: Option<String>) -> AppResult<Response> {
    let app = cx.app();
    let roles = hms_core::auth::users::all_roles(&app.db).await?;
    let grants = current_grants(cx).await?;
    let mut rows = Vec::new();
    for module in app.modules.all().iter().filter(|m| cx.module_on(m.id())) {
        for p in module.permissions() {
            rows.push(MatrixRow {
                code: p.code,
                description: p.description,
                module: t(module.title()),
                cells: roles
                    .iter()
                    .map(|r| Cell {
                        granted: grants.contains(&(r.name.clone(), p.code.to_string())),
                        locked: (r.name.as_str(), p.code) == KEEP,
                        role: r.name.clone(),
                    })
                    .collect(),
            });
        }
    }
    let holders = role_holders(cx).await?;
    let mut c = tera::Context::new();
    c.insert("roles", &roles);
    c.insert("holders", &holders);
    c.insert("rows", &rows);
    c.insert("problem", &problem);
    render_status(cx, status, "admin/roles.html", c)
}

/// How many users hold each role (a role in use cannot be removed).
async fn role_holders(cx: &Ctx) -> AppResult<std::collections::HashMap<String, i64>> {
    Ok(sqlx::query(
        "SELECT r.name, COUNT(ur.user_id) FROM roles r \
         LEFT JOIN user_roles ur ON ur.role_id = r.id AND ur.voided_at IS NULL \
         WHERE r.voided_at IS NULL GROUP BY r.name",
    )
    .fetch_all(cx.app().db.read())
    .await?
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

#[handler]
pub async fn matrix(cx: Ctx) -> AppResult<Response> {
    matrix_page(&cx, StatusCode::OK, None).await
}

/// Saves the ticked grants of the permissions shown (those of modules that are on).
#[handler]
pub async fn save_matrix(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    // Only a submission of the whole matrix is read: an empty post must not revoke everything.
    if form.get("matrix") != "1" {
        return Err(AppError::BadRequest(
            "the permissions form was incomplete".into(),
        ));
    }
    let all_roles = hms_core::auth::users::all_roles(&app.db).await?;
    let roles: Vec<String> = all_roles.iter().map(|r| r.name.clone()).collect();
    let shown: BTreeSet<&'static str> = app
        .modules
        .all()
        .iter()
        .filter(|m| cx.module_on(m.id()))
        .flat_map(|m| m.permissions().iter().map(|p| p.code))
        .collect();
    let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
    for value in form.all("grant") {
        let Some((role, perm)) = value.split_once('|') else {
            return Err(AppError::BadRequest("malformed grant".into()));
        };
        if !roles.iter().any(|r| r == role) || !shown.contains(perm) {
            return Err(AppError::BadRequest("unknown role or permission".into()));
        }
        wanted.insert((role.to_string(), perm.to_string()));
    }
    wanted.insert((KEEP.0.to_string(), KEEP.1.to_string()));
    let current = current_grants(&cx).await?;
    let in_scope = |(_, p): &&(String, String)| shown.contains(p.as_str());
    let added: Vec<&(String, String)> = wanted.difference(&current).collect();
    let removed: Vec<&(String, String)> = current.difference(&wanted).filter(in_scope).collect();
    if added.is_empty() && removed.is_empty() {
        cx.flash(FlashKind::Info, t("admin.roles_unchanged"));
        return Ok(see_other("/admin/roles"));
    }
    let mut tx = app.db.begin().await?;
    for (role, perm) in &added {
        rbac::grant(&mut tx, role, perm).await?;
    }
    for (role, perm) in &removed {
        rbac::revoke(&mut tx, role, perm).await?;
    }
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("roles.permissions", "role_grants", None).detail(json!({
            "granted": added,
            "revoked": removed,
        })),
    )
    .await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("admin.roles_saved"));
    for line in change_lines(&all_roles, &added, &removed) {
        cx.flash(FlashKind::Info, line);
    }
    Ok(see_other("/admin/roles"))
}

/// At most this many permissions are named after a save (the lines travel in a cookie); the
/// rest are counted.
const NAMED_CHANGES: usize = 30;

/// What a save changed, one line per role in the matrix's order: "Nurse: + vitals.record,
/// − patients.edit".
fn change_lines(
    roles: &[hms_core::auth::users::Role],
    added: &[&(String, String)],
    removed: &[&(String, String)],
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut named = 0;
    let mut unnamed = 0;
    for role in roles {
        let changes: Vec<String> = added
            .iter()
            .filter(|(r, _)| *r == role.name)
            .map(|(_, p)| format!("+ {p}"))
            .chain(
                removed
                    .iter()
                    .filter(|(r, _)| *r == role.name)
                    .map(|(_, p)| format!("\u{2212} {p}")),
            )
            .collect();
        if changes.is_empty() {
            continue;
        }
        let room = NAMED_CHANGES.saturating_sub(named);
        if room == 0 {
            unnamed += changes.len();
            continue;
        }
        let shown = changes.len().min(room);
        named += shown;
        unnamed += changes.len() - shown;
        let title = hms_core::auth::users::Role::from_row(
            role.name.clone(),
            role.title.clone(),
            role.builtin,
        )
        .title;
        lines.push(format!("{title}: {}", changes[..shown].join(", ")));
    }
    if unnamed > 0 {
        lines.push(t("admin.roles_more_changes").replace("{count}", &unnamed.to_string()));
    }
    lines
}

#[derive(Debug, Default, Serialize)]
struct NewRole {
    name: String,
    title: String,
    description: String,
}

fn role_page(
    cx: &Ctx,
    status: StatusCode,
    values: &NewRole,
    errors: &FormErrors,
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("values", values);
    c.insert("errors", errors);
    render_status(cx, status, "admin/role_new.html", c)
}

#[handler]
pub async fn new_role(cx: Ctx) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("values", &NewRole::default());
    c.insert("errors", &FormErrors::new());
    render(&cx, "admin/role_new.html", c)
}

#[handler]
pub async fn create_role(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let values = NewRole {
        name: form.get("name").trim().to_lowercase(),
        title: form.get("title").trim().to_string(),
        description: form.get("description").trim().to_string(),
    };
    let mut errors = FormErrors::new();
    let name_ok = (3..=32).contains(&values.name.len())
        && values
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
        && values
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !name_ok {
        errors.add("name", t("admin.role_error_name"));
    }
    if !(2..=60).contains(&values.title.chars().count()) {
        errors.add("title", t("admin.role_error_title"));
    }
    if values.description.chars().count() > 200 {
        errors.add("description", t("admin.role_error_description"));
    }
    if errors.is_empty() {
        let taken = sqlx::query("SELECT id FROM roles WHERE name = $1 AND voided_at IS NULL")
            .bind(&values.name)
            .fetch_optional(app.db.read())
            .await?
            .is_some();
        if taken {
            errors.add("name", t("admin.role_error_taken"));
        }
    }
    if !errors.is_empty() {
        return role_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, &values, &errors);
    }
    let mut tx = app.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO roles (name, title, description, builtin, created_at) VALUES ($1, $2, $3, 0, $4) \
         ON CONFLICT (name) DO UPDATE SET title = excluded.title, \
         description = excluded.description, created_at = excluded.created_at, \
         voided_at = NULL, voided_by = NULL WHERE roles.voided_at IS NOT NULL",
    )
    .bind(&values.name)
    .bind(&values.title)
    .bind(&values.description)
    .bind(hms_core::clock::now_rfc3339())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        drop(tx);
        errors.add("name", t("admin.role_error_taken"));
        return role_page(&cx, StatusCode::CONFLICT, &values, &errors);
    }
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("role.create", "role", None).detail(json!({"after": values})),
    )
    .await?;
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("admin.role_created").replace("{name}", &values.title),
    );
    Ok(see_other("/admin/roles"))
}

/// Removes a custom role that no user holds (built-in roles stay).
#[handler]
pub async fn delete_role(cx: Ctx, Path(name): Path<String>) -> AppResult<Response> {
    let app = cx.app();
    let mut tx = app.db.begin().await?;
    let Some(row) =
        sqlx::query("SELECT id, builtin, title FROM roles WHERE name = $1 AND voided_at IS NULL")
            .bind(&name)
            .fetch_optional(&mut *tx)
            .await?
    else {
        return Err(AppError::NotFound);
    };
    let (id, builtin, title): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
    let problem = if builtin == 1 {
        Some(t("admin.role_error_builtin"))
    } else {
        let holders: i64 =
            sqlx::query("SELECT COUNT(*) FROM user_roles WHERE role_id = $1 AND voided_at IS NULL")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .get(0);
        (holders > 0).then(|| t("admin.role_error_in_use").replace("{count}", &holders.to_string()))
    };
    if let Some(problem) = problem {
        drop(tx);
        return matrix_page(&cx, StatusCode::CONFLICT, Some(problem)).await;
    }
    let (now, by) = (hms_core::clock::now_rfc3339(), cx.actor().user_id);
    sqlx::query(
        "UPDATE role_grants SET voided_at = $2, voided_by = $3 \
         WHERE role_name = $1 AND voided_at IS NULL",
    )
    .bind(&name)
    .bind(&now)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE roles SET voided_at = $2, voided_by = $3 \
         WHERE id = $1 AND builtin = 0 AND voided_at IS NULL",
    )
    .bind(id)
    .bind(&now)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    rbac::bump_version(&mut tx).await?;
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("role.delete", "role", Some(id))
            .detail(json!({"before": {"name": name, "title": title}})),
    )
    .await?;
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("admin.role_deleted").replace("{name}", &title),
    );
    Ok(see_other("/admin/roles"))
}
