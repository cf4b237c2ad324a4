//! All SQL of the administration module.

use hms_core::audit::{self, Actor, Event};
use hms_core::auth::users::StaffDetails;
use hms_core::clock;
use hms_core::db::{Db, DbError, Tx};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("the last active administrator must stay an active administrator")]
    LastAdmin,
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
         WHERE ur.user_id = $1 ORDER BY r.id",
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

/// Active administrators other than `user_id`, read inside the write transaction.
async fn other_active_admins(tx: &mut Tx, user_id: i64) -> Result<i64, AdminError> {
    Ok(sqlx::query(
        "SELECT COUNT(*) FROM users u JOIN user_roles ur ON ur.user_id = u.id \
         JOIN roles r ON r.id = ur.role_id \
         WHERE r.name = 'admin' AND u.is_active = 1 AND u.id <> $1",
    )
    .bind(user_id)
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
         WHERE ur.user_id = $1 ORDER BY r.id",
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

/// Changes name, details and roles; audited with before and after. Refuses to take the admin
/// role from the last active administrator. Returns false when the user does not exist.
pub async fn update(
    tx: &mut Tx,
    user_id: i64,
    full_name: &str,
    details: &StaffDetails,
    roles: &[String],
    actor: &Actor,
) -> Result<bool, AdminError> {
    let Some((old_name, old_details, old_roles, active)) = current(tx, user_id).await? else {
        return Ok(false);
    };
    let losing_admin =
        old_roles.iter().any(|r| r == "admin") && !roles.iter().any(|r| r == "admin");
    if losing_admin && active && other_active_admins(tx, user_id).await? == 0 {
        return Err(AdminError::LastAdmin);
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
    if old_roles != roles {
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        for role in roles {
            sqlx::query(
                "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE name = $2",
            )
            .bind(user_id)
            .bind(role)
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

/// Disables an account (never deletes), refusing for the last active administrator.
pub async fn disable(tx: &mut Tx, user_id: i64, actor: &Actor) -> Result<bool, AdminError> {
    let Some((_, _, roles, _)) = current(tx, user_id).await? else {
        return Ok(false);
    };
    if roles.iter().any(|r| r == "admin") && other_active_admins(tx, user_id).await? == 0 {
        return Err(AdminError::LastAdmin);
    }
    hms_core::auth::users::disable(tx, user_id, actor)
        .await
        .map_err(|e| match e {
            hms_core::auth::users::UserError::Db(d) => AdminError::Db(d),
            other => AdminError::Db(DbError::Sqlx(sqlx::Error::Protocol(other.to_string()))),
        })
}

pub async fn enable(tx: &mut Tx, user_id: i64, actor: &Actor) -> Result<bool, AdminError> {
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

/// Ends every session of a user; returns how many.
pub async fn end_sessions(tx: &mut Tx, user_id: i64, actor: &Actor) -> Result<u64, AdminError> {
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
