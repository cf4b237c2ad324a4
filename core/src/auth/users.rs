//! Users and roles: the repository and the validation of what people type.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Actor, Event};
use crate::db::{Db, DbError, Tx};

#[derive(Debug, Clone, Serialize)]
pub struct Role {
    pub name: String,
    pub title: String,
    /// One of the seven roles HMS ships with (cannot be removed).
    pub builtin: bool,
}

impl Role {
    /// A role as shown: built-in roles in the request's language, custom ones as named.
    pub fn from_row(name: String, title: String, builtin: bool) -> Self {
        let title = if builtin {
            crate::i18n::t(&format!("role.{name}"))
        } else {
            title
        };
        Role {
            name,
            title,
            builtin,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub is_active: bool,
    pub roles: Vec<String>,
    pub created_at: String,
}

/// The fields of a user to create; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub full_name: String,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub details: StaffDetails,
    /// The password was set by someone else: the user must choose their own at first sign-in.
    pub must_change_password: bool,
}

/// Professional and contact details of a staff member, printed on clinical documents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StaffDetails {
    pub cadre: Option<String>,
    pub registration_no: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("the username '{0}' is already taken")]
    Duplicate(String),
    #[error("unknown role '{0}'; roles are: {1}")]
    UnknownRole(String, String),
    #[error("no user called '{0}'")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for UserError {
    fn from(e: sqlx::Error) -> Self {
        UserError::Db(DbError::Sqlx(e))
    }
}

/// Usernames are stored in lower case, without surrounding spaces.
pub fn normalize_username(raw: &str) -> String {
    raw.trim().to_lowercase()
}

pub fn check_username(username: &str) -> Result<(), &'static str> {
    let len = username.chars().count();
    if !(3..=32).contains(&len) {
        return Err("validation.username_length");
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    {
        return Err("validation.username_characters");
    }
    if !username
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return Err("validation.username_start");
    }
    Ok(())
}

pub fn check_full_name(name: &str) -> Result<(), &'static str> {
    let len = name.trim().chars().count();
    if len < 2 {
        return Err("validation.full_name_required");
    }
    if len > 120 {
        return Err("validation.full_name_length");
    }
    Ok(())
}

pub async fn any_exist(db: &Db) -> Result<bool, DbError> {
    let row = sqlx::query("SELECT CASE WHEN EXISTS (SELECT 1 FROM users) THEN 1 ELSE 0 END")
        .fetch_one(db.read())
        .await?;
    Ok(row.get::<i64, _>(0) == 1)
}

/// What the login check needs: id, password hash and whether the account is active.
pub async fn find_credentials(
    db: &Db,
    username: &str,
) -> Result<Option<(i64, String, bool)>, DbError> {
    let row = sqlx::query("SELECT id, password_hash, is_active FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(db.read())
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get::<i64, _>(2) == 1)))
}

pub async fn id_by_username(db: &Db, username: &str) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(db.read())
        .await?
        .map(|r| r.get(0)))
}

pub async fn all_roles(db: &Db) -> Result<Vec<Role>, DbError> {
    Ok(
        sqlx::query("SELECT name, title, builtin FROM roles WHERE voided_at IS NULL ORDER BY id")
            .fetch_all(db.read())
            .await?
            .into_iter()
            .map(|r| Role::from_row(r.get(0), r.get(1), r.get::<i64, _>(2) == 1))
            .collect(),
    )
}

/// Every user with their role names, by username.
pub async fn list(db: &Db) -> Result<Vec<User>, DbError> {
    let rows = sqlx::query(
        "SELECT id, username, full_name, is_active, created_at FROM users ORDER BY username",
    )
    .fetch_all(db.read())
    .await?;
    let links = sqlx::query(
        "SELECT ur.user_id, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.voided_at IS NULL ORDER BY r.id",
    )
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let id: i64 = r.get(0);
            User {
                id,
                username: r.get(1),
                full_name: r.get(2),
                is_active: r.get::<i64, _>(3) == 1,
                created_at: r.get(4),
                roles: links
                    .iter()
                    .filter(|l| l.get::<i64, _>(0) == id)
                    .map(|l| l.get(1))
                    .collect(),
            }
        })
        .collect())
}

/// Creates a user with roles. With `only_if_first`, refuses when any user exists (first-run
/// setup racing itself). Audited in the same transaction.
pub async fn create(
    tx: &mut Tx,
    user: &NewUser,
    actor: &Actor,
    only_if_first: bool,
) -> Result<Option<i64>, UserError> {
    let mut role_ids = Vec::new();
    for name in &user.roles {
        let id: Option<i64> =
            sqlx::query("SELECT id FROM roles WHERE name = $1 AND voided_at IS NULL")
                .bind(name)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.get(0));
        match id {
            Some(id) => role_ids.push(id),
            None => {
                let names: Vec<String> =
                    sqlx::query("SELECT name FROM roles WHERE voided_at IS NULL ORDER BY id")
                        .fetch_all(&mut **tx)
                        .await?
                        .into_iter()
                        .map(|r| r.get(0))
                        .collect();
                return Err(UserError::UnknownRole(name.clone(), names.join(", ")));
            }
        }
    }
    if only_if_first {
        let exists: i64 =
            sqlx::query("SELECT CASE WHEN EXISTS (SELECT 1 FROM users) THEN 1 ELSE 0 END")
                .fetch_one(&mut **tx)
                .await?
                .get(0);
        if exists == 1 {
            return Ok(None);
        }
    }
    let taken: Option<i64> = sqlx::query("SELECT id FROM users WHERE username = $1")
        .bind(&user.username)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.get(0));
    if taken.is_some() {
        return Err(UserError::Duplicate(user.username.clone()));
    }
    let now = crate::clock::now_rfc3339();
    let id: i64 = sqlx::query(
        "INSERT INTO users (username, full_name, password_hash, password_changed_at, created_at, \
         updated_at, cadre, registration_no, phone, email, must_change_password) \
         VALUES ($1, $2, $3, $4, $4, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(&user.username)
    .bind(user.full_name.trim())
    .bind(&user.password_hash)
    .bind(&now)
    .bind(user.details.cadre.as_deref())
    .bind(user.details.registration_no.as_deref())
    .bind(user.details.phone.as_deref())
    .bind(user.details.email.as_deref())
    .bind(i64::from(user.must_change_password))
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    for role_id in role_ids {
        sqlx::query("INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)")
            .bind(id)
            .bind(role_id)
            .execute(&mut **tx)
            .await?;
    }
    audit::record(
        tx,
        actor,
        Event::new("user.create", "user", Some(id)).detail(json!({"after": {
            "username": user.username,
            "full_name": user.full_name.trim(),
            "roles": user.roles,
            "details": user.details,
        }})),
    )
    .await?;
    Ok(Some(id))
}

/// Sets a new password and ends every session of the user except `keep_session`. With
/// `must_change`, the user must choose a new password at their next sign-in (a reset by an
/// administrator or from the command line).
pub async fn set_password(
    tx: &mut Tx,
    user_id: i64,
    password_hash: &str,
    keep_session: Option<&str>,
    must_change: bool,
    actor: &Actor,
) -> Result<(), UserError> {
    let now = crate::clock::now_rfc3339();
    sqlx::query(
        "UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2, \
         must_change_password = $4 WHERE id = $3",
    )
    .bind(password_hash)
    .bind(&now)
    .bind(user_id)
    .bind(i64::from(must_change))
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user_id)
        .bind(keep_session.unwrap_or(""))
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        actor,
        Event::new("user.set_password", "user", Some(user_id)),
    )
    .await?;
    Ok(())
}

/// Disables a user: they cannot sign in, and their sessions end at once (the session row goes
/// and the auth epoch moves, so a cached session of another server no longer matches).
pub async fn disable(tx: &mut Tx, user_id: i64, actor: &Actor) -> Result<bool, UserError> {
    let now = crate::clock::now_rfc3339();
    let changed = sqlx::query(
        "UPDATE users SET is_active = 0, auth_epoch = auth_epoch + 1, updated_at = $1 \
         WHERE id = $2 AND is_active = 1",
    )
    .bind(&now)
    .bind(user_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    if changed == 1 {
        audit::record(
            tx,
            actor,
            Event::new("user.disable", "user", Some(user_id))
                .detail(json!({"before": {"is_active": true}, "after": {"is_active": false}})),
        )
        .await?;
    }
    Ok(changed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(normalize_username("  Amina.W "), "amina.w");
        assert!(check_username("amina.w").is_ok());
        assert!(check_username("am").is_err());
        assert!(check_username("amina w").is_err());
        assert!(check_username("_amina").is_err());
    }
}
