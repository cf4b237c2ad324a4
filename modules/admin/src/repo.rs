//! All SQL of the administration module.

use std::collections::BTreeSet;

use hms_core::audit::{self, Actor, Event};
use hms_core::auth::users::StaffDetails;
use hms_core::clock;
use hms_core::db::{Db, DbError, Tx};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

/// The role whose holders are the facility's administrators.
pub const ADMIN_ROLE: &str = "admin";

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("the last active administrator must stay an active administrator")]
    LastAdmin,
    #[error("nobody changes their own roles")]
    OwnRoles,
    /// Roles given or taken that hold permissions the person changing them lacks.
    #[error("roles beyond the editor's own permissions: {0:?}")]
    RolesBeyondGrants(Vec<String>),
    #[error("only an administrator may do this to an administrator's account")]
    AdministratorsOnly,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for AdminError {
    fn from(e: sqlx::Error) -> Self {
        AdminError::Db(DbError::Sqlx(e))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub is_active: bool,
    pub cadre: Option<String>,
    pub roles: Vec<String>,
}

/// Escapes LIKE wildcards in what a person typed.
fn like_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// One page of users matching `q` (username or name), after `after` in username order.
/// Returns the rows and the key of the next page, if there is one. Two queries per page.
pub async fn search(
    db: &Db,
    q: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<UserRow>, Option<String>), DbError> {
    let pattern = like_pattern(q.trim());
    let rows = sqlx::query(
        "SELECT id, username, full_name, is_active, cadre FROM users \
         WHERE username > $1 AND (username LIKE $2 ESCAPE '\\' OR LOWER(full_name) LIKE $2 ESCAPE '\\') \
         ORDER BY username LIMIT CAST($3 AS BIGINT)",
    )
    .bind(after)
    .bind(&pattern)
    .bind(limit + 1)
    .fetch_all(db.read())
    .await?;
    let mut users: Vec<UserRow> = rows
        .into_iter()
        .map(|r| UserRow {
            id: r.get(0),
            username: r.get(1),
            full_name: r.get(2),
            is_active: r.get::<i64, _>(3) == 1,
            cadre: r.get(4),
            roles: Vec::new(),
        })
        .collect();
    let next = if users.len() as i64 > limit {
        users.truncate(limit as usize);
        users.last().map(|u| u.username.clone())
    } else {
        None
    };
    if let (Some(first), Some(last)) = (users.first(), users.last()) {
        // Roles of the whole page in one query: the page is a username range.
        let links = sqlx::query(
            "SELECT ur.user_id, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
             JOIN users u ON u.id = ur.user_id WHERE u.username >= $1 AND u.username <= $2 \
             AND ur.voided_at IS NULL \
             ORDER BY r.id",
        )
        .bind(&first.username)
        .bind(&last.username)
        .fetch_all(db.read())
        .await?;
        for l in links {
            let id: i64 = l.get(0);
            if let Some(u) = users.iter_mut().find(|u| u.id == id) {
                u.roles.push(l.get(1));
            }
        }
    }
    Ok((users, next))
}

#[derive(Debug, Clone, Serialize)]
pub struct UserDetail {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub is_active: bool,
    pub must_change_password: bool,
    pub roles: Vec<String>,
    pub details: StaffDetails,
    pub phone_display: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub async fn get(db: &Db, id: i64) -> Result<Option<UserDetail>, DbError> {
    let Some(r) = sqlx::query(
        "SELECT id, username, full_name, is_active, must_change_password, cadre, registration_no, \
         phone, email, created_at, updated_at FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await?
    else {
        return Ok(None);
    };
    let roles = role_names(db, id).await?;
    let phone: Option<String> = r.get(7);
    Ok(Some(UserDetail {
        id: r.get(0),
        username: r.get(1),
        full_name: r.get(2),
        is_active: r.get::<i64, _>(3) == 1,
        must_change_password: r.get::<i64, _>(4) == 1,
        roles,
        phone_display: phone.as_deref().map(hms_core::phone::display),
        details: StaffDetails {
            cadre: r.get(5),
            registration_no: r.get(6),
            phone,
            email: r.get(8),
        },
        created_at: clock::display_rfc3339(&r.get::<String, _>(9)),
        updated_at: clock::display_rfc3339(&r.get::<String, _>(10)),
    }))
}

async fn role_names(db: &Db, user_id: i64) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query(
        "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id = $1 AND ur.voided_at IS NULL ORDER BY r.id",
    )
    .bind(user_id)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| r.get(0))
    .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionRow {
    pub started: String,
    pub last_seen: String,
    pub client_addr: String,
}

pub async fn sessions(db: &Db, user_id: i64, idle_ms: i64) -> Result<Vec<SessionRow>, DbError> {
    Ok(sqlx::query(
        "SELECT created_at, last_seen_at, client_addr FROM sessions \
         WHERE user_id = $1 AND last_seen_at >= $2 ORDER BY last_seen_at DESC",
    )
    .bind(user_id)
    .bind(clock::now_ms() - idle_ms)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| SessionRow {
        started: clock::display_ms(r.get(0)),
        last_seen: clock::display_ms(r.get(1)),
        client_addr: r.get(2),
    })
    .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct ThrottleRow {
    pub client_addr: String,
    pub failures: i64,
    pub last_failure: String,
}

pub async fn throttles(db: &Db, username: &str) -> Result<Vec<ThrottleRow>, DbError> {
    Ok(sqlx::query(
        "SELECT client_addr, failures, last_failure_at FROM login_throttle WHERE username = $1 \
         ORDER BY last_failure_at DESC",
    )
    .bind(username)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| ThrottleRow {
        client_addr: r.get(0),
        failures: r.get(1),
        last_failure: clock::display_ms(r.get(2)),
    })
    .collect())
}

/// Serializes every change that could leave the facility without an active administrator.
/// On SQLite the transaction already holds the write lock (`BEGIN IMMEDIATE`); on PostgreSQL,
/// two administrators disabling each other would each count the other as still active, so
/// both lock the administrator role's row first and count after the other has committed.
/// `FOR NO KEY UPDATE` leaves `user_roles` inserts (which take a key-share lock) unblocked.
async fn lock_administrators(tx: &mut Tx) -> Result<(), AdminError> {
    if tx.backend_name().eq_ignore_ascii_case("postgresql") {
        sqlx::query("SELECT id FROM roles WHERE name = $1 FOR NO KEY UPDATE")
            .bind(ADMIN_ROLE)
            .fetch_optional(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Whether a user holds the administrator role, read inside the write transaction.
async fn is_administrator(tx: &mut Tx, user_id: Option<i64>) -> Result<bool, AdminError> {
    let Some(user_id) = user_id else {
        return Ok(false);
    };
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id = $1 AND r.name = $2 AND ur.voided_at IS NULL",
    )
    .bind(user_id)
    .bind(ADMIN_ROLE)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    Ok(n > 0)
}

/// Refuses an action on an administrator's account (reset password, end sessions, disable)
/// unless the actor is an administrator too: a delegate who manages staff accounts must not
/// take over or shut out the people above them.
pub async fn check_may_act_on(tx: &mut Tx, actor: &Actor, target: i64) -> Result<(), AdminError> {
    if is_administrator(tx, Some(target)).await? && !is_administrator(tx, actor.user_id).await? {
        return Err(AdminError::AdministratorsOnly);
    }
    Ok(())
}

/// The roles among `roles` the actor may not give or take: those granting a permission none
/// of the actor's own roles grants. Administrators may give any role (they hold the roles
/// screen and could grant themselves anything there). Read from the database in the
/// transaction of the change, not from the session's cached permissions.
pub async fn roles_beyond_grants(
    tx: &mut Tx,
    actor: &Actor,
    roles: &[String],
) -> Result<Vec<String>, AdminError> {
    if is_administrator(tx, actor.user_id).await? {
        return Ok(Vec::new());
    }
    let mut beyond = Vec::new();
    for role in roles.iter().collect::<BTreeSet<_>>() {
        let missing: i64 = sqlx::query(
            "SELECT COUNT(*) FROM role_grants g WHERE g.role_name = $1 AND g.voided_at IS NULL \
             AND g.permission NOT IN \
             (SELECT mine.permission FROM role_grants mine JOIN roles r ON r.name = mine.role_name \
              JOIN user_roles ur ON ur.role_id = r.id WHERE ur.user_id = $2 \
              AND mine.voided_at IS NULL AND ur.voided_at IS NULL)",
        )
        .bind(role)
        .bind(actor.user_id.unwrap_or(0))
        .fetch_one(&mut **tx)
        .await?
        .get(0);
        // The administrator role is beyond every non-administrator, whatever its grants say.
        if missing > 0 || role == ADMIN_ROLE {
            beyond.push(role.clone());
        }
    }
    Ok(beyond)
}

/// Active administrators other than `user_id`, read inside the write transaction (after
/// [`lock_administrators`]).
async fn other_active_admins(tx: &mut Tx, user_id: i64) -> Result<i64, AdminError> {
    Ok(sqlx::query(
        "SELECT COUNT(*) FROM users u JOIN user_roles ur ON ur.user_id = u.id \
         JOIN roles r ON r.id = ur.role_id \
         WHERE r.name = $2 AND u.is_active = 1 AND u.id <> $1 AND ur.voided_at IS NULL",
    )
    .bind(user_id)
    .bind(ADMIN_ROLE)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

async fn current(
    tx: &mut Tx,
    user_id: i64,
) -> Result<Option<(String, StaffDetails, Vec<String>, bool)>, AdminError> {
    let Some(r) = sqlx::query(
        "SELECT full_name, cadre, registration_no, phone, email, is_active FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(None);
    };
    let roles: Vec<String> = sqlx::query(
        "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id = $1 AND ur.voided_at IS NULL ORDER BY r.id",
    )
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|r| r.get(0))
    .collect();
    Ok(Some((
        r.get(0),
        StaffDetails {
            cadre: r.get(1),
            registration_no: r.get(2),
            phone: r.get(3),
            email: r.get(4),
        },
        roles,
        r.get::<i64, _>(5) == 1,
    )))
}

/// Changes name, details and roles; audited with before and after. Nobody changes their own
/// roles; a role is given or taken only by someone holding all its permissions (or an
/// administrator); the last active administrator keeps the role. Returns false when the user
/// does not exist.
pub async fn update(
    tx: &mut Tx,
    user_id: i64,
    full_name: &str,
    details: &StaffDetails,
    roles: &[String],
    actor: &Actor,
) -> Result<bool, AdminError> {
    lock_administrators(tx).await?;
    let Some((old_name, old_details, old_roles, active)) = current(tx, user_id).await? else {
        return Ok(false);
    };
    let before: BTreeSet<&String> = old_roles.iter().collect();
    let after: BTreeSet<&String> = roles.iter().collect();
    let changed: Vec<String> = before
        .symmetric_difference(&after)
        .map(|r| r.to_string())
        .collect();
    let losing_admin =
        old_roles.iter().any(|r| r == ADMIN_ROLE) && !roles.iter().any(|r| r == ADMIN_ROLE);
    if losing_admin && active && other_active_admins(tx, user_id).await? == 0 {
        return Err(AdminError::LastAdmin);
    }
    if !changed.is_empty() {
        if actor.user_id == Some(user_id) {
            return Err(AdminError::OwnRoles);
        }
        let beyond = roles_beyond_grants(tx, actor, &changed).await?;
        if !beyond.is_empty() {
            return Err(AdminError::RolesBeyondGrants(beyond));
        }
    }
    sqlx::query(
        "UPDATE users SET full_name = $1, cadre = $2, registration_no = $3, phone = $4, email = $5, \
         updated_at = $6 WHERE id = $7",
    )
    .bind(full_name)
    .bind(details.cadre.as_deref())
    .bind(details.registration_no.as_deref())
    .bind(details.phone.as_deref())
    .bind(details.email.as_deref())
    .bind(clock::now_rfc3339())
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    if !changed.is_empty() {
        // Roles taken away are voided; roles given (new, or voided before) are active.
        sqlx::query(
            "UPDATE user_roles SET voided_at = $2, voided_by = $3 \
             WHERE user_id = $1 AND voided_at IS NULL",
        )
        .bind(user_id)
        .bind(clock::now_rfc3339())
        .bind(actor.user_id)
        .execute(&mut **tx)
        .await?;
        for role in &after {
            sqlx::query(
                "INSERT INTO user_roles (user_id, role_id) \
                 SELECT $1, id FROM roles WHERE name = $2 AND voided_at IS NULL \
                 ON CONFLICT (user_id, role_id) DO UPDATE SET voided_at = NULL, voided_by = NULL",
            )
            .bind(user_id)
            .bind(role.as_str())
            .execute(&mut **tx)
            .await?;
        }
    }
    audit::record(
        tx,
        actor,
        Event::new("user.update", "user", Some(user_id)).detail(json!({
            "before": {"full_name": old_name, "details": old_details, "roles": old_roles},
            "after": {"full_name": full_name, "details": details, "roles": roles},
        })),
    )
    .await?;
    Ok(true)
}

/// Disables an account (never deletes), refusing for the last active administrator and, for
/// an administrator's account, for anyone but an administrator.
pub async fn disable(tx: &mut Tx, user_id: i64, actor: &Actor) -> Result<bool, AdminError> {
    lock_administrators(tx).await?;
    let Some((_, _, roles, _)) = current(tx, user_id).await? else {
        return Ok(false);
    };
    check_may_act_on(tx, actor, user_id).await?;
    if roles.iter().any(|r| r == ADMIN_ROLE) && other_active_admins(tx, user_id).await? == 0 {
        return Err(AdminError::LastAdmin);
    }
    hms_core::auth::users::disable(tx, user_id, actor)
        .await
        .map_err(|e| match e {
            hms_core::auth::users::UserError::Db(d) => AdminError::Db(d),
            other => AdminError::Db(DbError::Sqlx(sqlx::Error::Protocol(other.to_string()))),
        })
}

/// Enables an account again; an administrator's only by an administrator (it may have been
/// disabled because someone else had its password).
pub async fn enable(tx: &mut Tx, user_id: i64, actor: &Actor) -> Result<bool, AdminError> {
    check_may_act_on(tx, actor, user_id).await?;
    let changed = sqlx::query(
        "UPDATE users SET is_active = 1, updated_at = $1 WHERE id = $2 AND is_active = 0",
    )
    .bind(clock::now_rfc3339())
    .bind(user_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed == 1 {
        audit::record(
            tx,
            actor,
            Event::new("user.enable", "user", Some(user_id))
                .detail(json!({"before": {"is_active": false}, "after": {"is_active": true}})),
        )
        .await?;
    }
    Ok(changed == 1)
}

/// Ends every session of a user (of an administrator: only by an administrator); returns how
/// many.
pub async fn end_sessions(tx: &mut Tx, user_id: i64, actor: &Actor) -> Result<u64, AdminError> {
    check_may_act_on(tx, actor, user_id).await?;
    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    audit::record(
        tx,
        actor,
        Event::new("user.sessions_end", "user", Some(user_id)).detail(json!({"ended": ended})),
    )
    .await?;
    Ok(ended)
}

pub async fn clear_throttle(
    tx: &mut Tx,
    user_id: i64,
    username: &str,
    actor: &Actor,
) -> Result<u64, AdminError> {
    let cleared = hms_core::auth::throttle::clear_user(tx, username).await?;
    audit::record(
        tx,
        actor,
        Event::new("auth.throttle_clear", "user", Some(user_id))
            .detail(json!({"username": username, "cleared": cleared})),
    )
    .await?;
    Ok(cleared)
}

#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub active: i64,
    pub disabled: i64,
    pub signed_in: i64,
}

pub async fn counts(db: &Db, idle_ms: i64) -> Result<Counts, DbError> {
    let r = sqlx::query(
        "SELECT \
           (SELECT COUNT(*) FROM users WHERE is_active = 1), \
           (SELECT COUNT(*) FROM users WHERE is_active = 0), \
           (SELECT COUNT(DISTINCT user_id) FROM sessions WHERE last_seen_at >= $1)",
    )
    .bind(clock::now_ms() - idle_ms)
    .fetch_one(db.read())
    .await?;
    Ok(Counts {
        active: r.get(0),
        disabled: r.get(1),
        signed_in: r.get(2),
    })
}
