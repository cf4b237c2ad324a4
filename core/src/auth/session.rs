//! Server-side sessions in the database, so several app servers can share PostgreSQL. The
//! cookie holds a random 256-bit id; the database keeps only its SHA-256. A page view reads the
//! session (one indexed read, or none when this server read it in the last 5 seconds: see
//! [`Cache`]) and writes nothing, except the last-seen refresh about once a minute; logout and
//! disabling a user delete the row and empty the cache, so the next request is refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::Row;

use crate::auth::{random_token, token_hash};
use crate::db::{Db, DbError, Tx};

pub const COOKIE: &str = "hms_session";

/// How often, at most, a session's last-seen time is written.
const TOUCH_EVERY_MS: i64 = 60_000;

/// How long a session read from the database serves page views without reading it again.
/// A change made through this server (any form it receives) empties the cache at once; one
/// made by another process or app server (a user disabled, a session ended, a role changed) is
/// seen within this time.
pub const CACHE_FOR: Duration = Duration::from_secs(5);

/// Sessions kept at most; beyond it the cache starts again empty.
const CACHE_MAX: usize = 10_000;

/// Sessions read in the last [`CACHE_FOR`], by the SHA-256 of their id: a page view then costs
/// no query for the session, the user and the roles.
#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<String, (Instant, SessionUser)>>,
    /// Counts the clears: a session read before a clear is not put after it.
    clears: AtomicU64,
}

impl Cache {
    /// The cached user of a session cookie, while fresh.
    pub fn get(&self, token: &str) -> Option<SessionUser> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (at, user) = entries.get(&token_hash(token))?;
        (at.elapsed() < CACHE_FOR).then(|| user.clone())
    }

    /// The clear count to pass to [`Cache::put`], taken before reading the database.
    pub fn epoch(&self) -> u64 {
        self.clears.load(Ordering::SeqCst)
    }

    /// Keeps a session read from the database, unless the cache was cleared since `epoch`
    /// (the read may predate the change that cleared it).
    pub fn put(&self, user: &SessionUser, epoch: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.clears.load(Ordering::SeqCst) != epoch {
            return;
        }
        if entries.len() >= CACHE_MAX {
            entries.retain(|_, (at, _)| at.elapsed() < CACHE_FOR);
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(user.session_hash.clone(), (Instant::now(), user.clone()));
    }

    /// Forgets every cached session: after any change this server makes, and when another
    /// process is known to have changed sessions, users or roles.
    pub fn clear(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.clears.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub idle_ms: i64,
    pub absolute_ms: i64,
}

impl Timeouts {
    pub fn new(idle_minutes: u64, absolute_hours: u64) -> Self {
        Self {
            idle_ms: idle_minutes as i64 * 60_000,
            absolute_ms: absolute_hours as i64 * 3_600_000,
        }
    }
}

/// The signed-in user of a request.
#[derive(Debug, Clone, Serialize)]
pub struct SessionUser {
    #[serde(skip)]
    pub session_hash: String,
    #[serde(skip)]
    pub csrf_token: String,
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub roles: Vec<crate::auth::users::Role>,
    /// Set after an administrator reset the password: every page leads to the change form.
    pub must_change_password: bool,
    /// The user's chosen language (None: the facility's default).
    pub language: Option<String>,
    #[serde(skip)]
    pub policy_version: i64,
}

impl SessionUser {
    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name == name)
    }

    pub fn role_names(&self) -> Vec<String> {
        self.roles.iter().map(|r| r.name.clone()).collect()
    }
}

/// A new session for a user; returns the cookie value (the id itself, never stored).
pub async fn create(
    tx: &mut Tx,
    user_id: i64,
    client_addr: &str,
    now_ms: i64,
    timeouts: Timeouts,
) -> Result<String, DbError> {
    // Sweep expired sessions while the write lock is held anyway.
    sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
        .bind(now_ms - timeouts.idle_ms)
        .bind(now_ms - timeouts.absolute_ms)
        .execute(&mut **tx)
        .await?;
    let token = random_token();
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, auth_epoch, created_at, last_seen_at, \
         client_addr) SELECT $1, id, $2, auth_epoch, $3, $3, $4 FROM users WHERE id = $5",
    )
    .bind(token_hash(&token))
    .bind(random_token())
    .bind(now_ms)
    .bind(client_addr)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

/// The user of a session cookie, if the session is live. Expired sessions are deleted.
pub async fn load(
    db: &Db,
    token: &str,
    now_ms: i64,
    timeouts: Timeouts,
) -> Result<Option<SessionUser>, DbError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hash = token_hash(token);
    let row = sqlx::query(
        "SELECT s.user_id, s.csrf_token, s.created_at, s.last_seen_at, u.username, u.full_name, \
         u.must_change_password, u.language, \
         (SELECT value FROM settings WHERE key = 'policy_version') \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id_hash = $1 AND u.is_active = 1 AND u.auth_epoch = s.auth_epoch",
    )
    .bind(&hash)
    .fetch_optional(db.read())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let created: i64 = row.get(2);
    let last_seen: i64 = row.get(3);
    if now_ms - last_seen > timeouts.idle_ms || now_ms - created > timeouts.absolute_ms {
        delete(db, &hash).await?;
        return Ok(None);
    }
    if now_ms - last_seen > TOUCH_EVERY_MS {
        let mut tx = db.begin().await?;
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now_ms)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    let user_id: i64 = row.get(0);
    let roles = sqlx::query(
        "SELECT r.name, r.title, r.builtin FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id = $1 AND ur.voided_at IS NULL ORDER BY r.id",
    )
    .bind(user_id)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| crate::auth::users::Role::from_row(r.get(0), r.get(1), r.get::<i64, _>(2) == 1))
    .collect();
    Ok(Some(SessionUser {
        session_hash: hash,
        csrf_token: row.get(1),
        id: user_id,
        username: row.get(4),
        full_name: row.get(5),
        roles,
        must_change_password: row.get::<i64, _>(6) == 1,
        language: row.get(7),
        policy_version: row
            .get::<Option<String>, _>(8)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    }))
}

async fn delete(db: &Db, hash: &str) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends one session inside a transaction (logout).
pub async fn end(tx: &mut Tx, session_hash: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(session_hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
