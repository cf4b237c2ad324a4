//! Sign-in throttling, per (username, client address) and per client address.
//!
//! Each attempt is reserved before its password is checked: a guarded upsert counts it as a
//! failure and says when the next attempt may start, so of many guesses sent at the same moment
//! only the free ones are checked and the rest are turned away at once. A correct password then
//! clears the reservation. After a few failures each further attempt waits a growing delay,
//! capped at a minute; never a hard lock, so an attacker elsewhere cannot lock a doctor out
//! mid-shift, and the delay is forgotten an hour after the last failure. An address that fails
//! too often across usernames (one password sprayed over many accounts) waits out its window;
//! its limit is high, since a clinic's staff often share one address.
//!
//! Turned-away attempts write nothing while they last: an episode is audited when its first
//! attempt is refused and when it ends (cleared by a correct password, or expired), with the
//! number refused. Refusals are counted in memory and added to the rows by [`Throttle::sweep`],
//! which also deletes expired rows.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Actor, Event};
use crate::db::{Db, DbError, Tx};

/// Failures allowed per (username, address) before any delay.
const FREE_FAILURES: i64 = 5;
const MAX_DELAY_MS: i64 = 60_000;
/// Failures older than this no longer count.
const FORGET_AFTER_MS: i64 = 3_600_000;

/// The delay owed after `failures` consecutive failures.
pub fn delay_ms(failures: i64) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let doublings = (failures - FREE_FAILURES).min(16) as u32;
    (1000i64 << doublings).min(MAX_DELAY_MS)
}

/// Limits of the per-address count (from the configuration).
#[derive(Debug, Clone, Copy)]
pub struct AddressLimit {
    /// Failed attempts allowed from one address in a window, across usernames.
    pub failures: i64,
    pub window_ms: i64,
}

/// How long an attempt waits for colleagues' attempts on the same account and address.
const SHARED_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// What a throttle said of an attempt.
#[derive(Debug)]
pub enum Attempt<'a> {
    /// Reserved: check the password, then call [`Throttle::succeeded`] if it was right.
    Allowed(Reservation<'a>),
    /// Turned away; try again after this many milliseconds.
    Refused { wait_ms: i64, scope: Scope },
}

/// Which count turned an attempt away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This username from this address.
    Account,
    /// This address, across usernames.
    Address,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::Address => "address",
        }
    }
}

/// Why the rows turn an attempt away.
#[derive(Debug, Clone, Copy)]
struct Refusal {
    scope: Scope,
    wait_ms: i64,
    /// The episode's first refusal (audited).
    first: bool,
    /// The failures counted in that scope, attempts being checked included.
    failures: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Address(String),
    Account {
        username: String,
        client_addr: String,
    },
}

/// The throttle of this server: its limits, the refusals not yet added to the rows and the
/// attempts being checked.
#[derive(Debug)]
pub struct Throttle {
    address: AddressLimit,
    pending: Mutex<HashMap<Key, i64>>,
    checking: Mutex<HashMap<(String, String), usize>>,
}

/// An attempt being checked; counted until dropped.
#[derive(Debug)]
pub struct Reservation<'a> {
    throttle: &'a Throttle,
    key: (String, String),
}

impl<'a> Reservation<'a> {
    fn new(throttle: &'a Throttle, key: (String, String)) -> Self {
        *throttle
            .checking
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default() += 1;
        Self { throttle, key }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut checking = self
            .throttle
            .checking
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = checking.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                checking.remove(&self.key);
            }
        }
    }
}

impl Throttle {
    pub fn new(address: AddressLimit) -> Self {
        Self {
            address,
            pending: Mutex::default(),
            checking: Mutex::default(),
        }
    }

    /// Reserves an attempt for `username` from `client_addr`, or says how long to wait.
    /// A refusal writes nothing but the audit row of an episode's first refusal. An attempt
    /// turned away only because attempts of the same account and address are being checked
    /// on this server right now (colleagues signing in together) waits for them, briefly.
    pub async fn attempt(
        &self,
        db: &Db,
        actor: &Actor,
        username: &str,
        client_addr: &str,
        now_ms: i64,
    ) -> Result<Attempt<'_>, DbError> {
        let key = (username.to_string(), client_addr.to_string());
        let started = std::time::Instant::now();
        // Once it has waited, an attempt may still take a free attempt left by colleagues who
        // got in, but never one that a delay allows: guesses sent together stay at the free few.
        let mut free_only = false;
        loop {
            let now_ms = now_ms + started.elapsed().as_millis() as i64;
            let reservation = Reservation::new(self, key.clone());
            let refusal = match self
                .refusal(db, username, client_addr, now_ms, free_only)
                .await?
            {
                Some(refusal) => Some(refusal),
                None => {
                    self.reserve(db, username, client_addr, now_ms, free_only)
                        .await?
                }
            };
            let Some(refusal) = refusal else {
                return Ok(Attempt::Allowed(reservation));
            };
            drop(reservation);
            let checking = self.checking(&key) as i64;
            let caused_by_checks = refusal.scope == Scope::Account
                && checking > 0
                && refusal.failures - checking < FREE_FAILURES;
            if caused_by_checks && started.elapsed() < SHARED_WAIT {
                free_only = true;
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                continue;
            }
            return self.refuse(db, actor, username, client_addr, refusal).await;
        }
    }

    /// The guarded upserts that reserve an attempt; `None` when reserved, else the refusal.
    async fn reserve(
        &self,
        db: &Db,
        username: &str,
        client_addr: &str,
        now_ms: i64,
        free_only: bool,
    ) -> Result<Option<Refusal>, DbError> {
        let mut tx = db.begin().await?;
        let address_ok = sqlx::query(
            "INSERT INTO login_throttle_addr (client_addr, window_start, failures, refused) \
             VALUES ($1, $2, 1, 0) ON CONFLICT (client_addr) DO UPDATE SET \
             failures = CASE WHEN login_throttle_addr.window_start < $3 THEN 1 \
                        ELSE login_throttle_addr.failures + 1 END, \
             window_start = CASE WHEN login_throttle_addr.window_start < $3 THEN $2 \
                            ELSE login_throttle_addr.window_start END \
             WHERE login_throttle_addr.window_start < $3 OR login_throttle_addr.failures < $4 \
             RETURNING failures",
        )
        .bind(client_addr)
        .bind(now_ms)
        .bind(now_ms - self.address.window_ms)
        .bind(self.address.failures)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        let failures: Option<i64> = if address_ok {
            sqlx::query(
                "INSERT INTO login_throttle \
                 (username, client_addr, failures, last_failure_at, next_allowed_at, refused) \
                 VALUES ($1, $2, 1, $3, $3, 0) ON CONFLICT (username, client_addr) DO UPDATE SET \
                 failures = CASE WHEN login_throttle.last_failure_at < $4 THEN 1 \
                            ELSE login_throttle.failures + 1 END, \
                 last_failure_at = $3 \
                 WHERE (login_throttle.next_allowed_at <= $3 AND login_throttle.failures < $5) \
                    OR login_throttle.last_failure_at < $4 \
                 RETURNING failures",
            )
            .bind(username)
            .bind(client_addr)
            .bind(now_ms)
            .bind(now_ms - FORGET_AFTER_MS)
            .bind(if free_only { FREE_FAILURES } else { i64::MAX })
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.get(0))
        } else {
            None
        };
        let Some(failures) = failures else {
            // Another attempt got there first: this one waits like the rest.
            tx.rollback().await?;
            return Ok(Some(
                self.refusal(db, username, client_addr, now_ms, free_only)
                    .await?
                    .unwrap_or(Refusal {
                        scope: Scope::Account,
                        wait_ms: 1000,
                        first: false,
                        failures: FREE_FAILURES,
                    }),
            ));
        };
        sqlx::query(
            "UPDATE login_throttle SET next_allowed_at = $3 \
             WHERE username = $1 AND client_addr = $2",
        )
        .bind(username)
        .bind(client_addr)
        .bind(now_ms + delay_ms(failures))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(None)
    }

    /// Attempts of this account and address being checked on this server now.
    fn checking(&self, key: &(String, String)) -> usize {
        self.checking
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// Whether the rows turn this attempt away (`free_only`: also once the free attempts are
    /// used, whatever the delay).
    async fn refusal(
        &self,
        db: &Db,
        username: &str,
        client_addr: &str,
        now_ms: i64,
        free_only: bool,
    ) -> Result<Option<Refusal>, DbError> {
        let address = sqlx::query(
            "SELECT window_start, failures, refused FROM login_throttle_addr \
             WHERE client_addr = $1",
        )
        .bind(client_addr)
        .fetch_optional(db.read())
        .await?;
        if let Some(r) = address {
            let (start, failures, refused): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
            let ends = start + self.address.window_ms;
            if ends > now_ms && failures >= self.address.failures {
                return Ok(Some(Refusal {
                    scope: Scope::Address,
                    wait_ms: ends - now_ms,
                    first: refused == 0,
                    failures,
                }));
            }
        }
        let account = sqlx::query(
            "SELECT next_allowed_at, last_failure_at, refused, failures FROM login_throttle \
             WHERE username = $1 AND client_addr = $2",
        )
        .bind(username)
        .bind(client_addr)
        .fetch_optional(db.read())
        .await?;
        Ok(account.and_then(|r| {
            let (next, last, refused, failures): (i64, i64, i64, i64) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            let waiting = next > now_ms || (free_only && failures >= FREE_FAILURES);
            (waiting && now_ms - last <= FORGET_AFTER_MS).then(|| Refusal {
                scope: Scope::Account,
                wait_ms: (next - now_ms).max(1000),
                first: refused == 0,
                failures,
            })
        }))
    }

    async fn refuse(
        &self,
        db: &Db,
        actor: &Actor,
        username: &str,
        client_addr: &str,
        refusal: Refusal,
    ) -> Result<Attempt<'_>, DbError> {
        let Refusal {
            scope,
            wait_ms,
            first,
            ..
        } = refusal;
        let refused = Attempt::Refused { wait_ms, scope };
        if first {
            // The episode's first refusal: one request wins the guarded update and audits it.
            let mut tx = db.begin().await?;
            let marked = match scope {
                Scope::Account => sqlx::query(
                    "UPDATE login_throttle SET refused = 1 \
                     WHERE username = $1 AND client_addr = $2 AND refused = 0",
                )
                .bind(username)
                .bind(client_addr),
                Scope::Address => sqlx::query(
                    "UPDATE login_throttle_addr SET refused = 1 \
                     WHERE client_addr = $1 AND refused = 0",
                )
                .bind(client_addr),
            }
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if marked {
                audit::record(
                    &mut tx,
                    actor,
                    Event::new("auth.login_throttled", "user", None).detail(json!({
                        "username": username,
                        "scope": scope.as_str(),
                        "wait_seconds": (wait_ms + 999) / 1000,
                    })),
                )
                .await?;
                tx.commit().await?;
                return Ok(refused);
            }
            tx.rollback().await?;
        }
        let key = match scope {
            Scope::Account => Key::Account {
                username: username.to_string(),
                client_addr: client_addr.to_string(),
            },
            Scope::Address => Key::Address(client_addr.to_string()),
        };
        *self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += 1;
        Ok(refused)
    }

    /// The password was right: the reservation is cleared in the caller's transaction, and an
    /// episode of refusals for this account and address ends (audited with its count).
    pub async fn succeeded(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        username: &str,
        client_addr: &str,
    ) -> Result<(), DbError> {
        let key = Key::Account {
            username: username.to_string(),
            client_addr: client_addr.to_string(),
        };
        let unflushed = self.take_pending(&key);
        // Rows are locked in one order everywhere, the address's first (PostgreSQL would
        // otherwise find two sign-ins waiting for each other).
        sqlx::query(
            "UPDATE login_throttle_addr SET failures = failures - 1 \
             WHERE client_addr = $1 AND failures > 0",
        )
        .bind(client_addr)
        .execute(&mut **tx)
        .await?;
        let row = sqlx::query(
            "DELETE FROM login_throttle WHERE username = $1 AND client_addr = $2 \
             RETURNING failures, refused",
        )
        .bind(username)
        .bind(client_addr)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(r) = row {
            let (failures, refused): (i64, i64) = (r.get(0), r.get(1));
            if refused + unflushed > 0 {
                end_event(
                    tx,
                    actor,
                    Some(username),
                    client_addr,
                    failures - 1,
                    refused + unflushed,
                    "signed_in",
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn anything_expired(&self, db: &Db, now_ms: i64) -> Result<bool, DbError> {
        let found = sqlx::query(
            "SELECT 1 FROM login_throttle_addr WHERE window_start < $1 \
             UNION ALL SELECT 1 FROM login_throttle WHERE last_failure_at < $2 LIMIT 1",
        )
        .bind(now_ms - self.address.window_ms)
        .bind(now_ms - FORGET_AFTER_MS)
        .fetch_optional(db.read())
        .await?;
        Ok(found.is_some())
    }

    fn take_pending(&self, key: &Key) -> i64 {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key)
            .unwrap_or(0)
    }

    /// Adds the refusals counted in memory to their rows, then deletes expired rows, auditing
    /// the end of each episode that refused anything. Run every few seconds and at shutdown.
    pub async fn sweep(&self, db: &Db, now_ms: i64) -> Result<(), DbError> {
        let mut pending: Vec<(Key, i64)> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        if pending.is_empty() && !self.anything_expired(db, now_ms).await? {
            // An idle server writes nothing.
            return Ok(());
        }
        // Rows are locked as every other writer locks them: addresses, then accounts, each in
        // order, and the audit chain last.
        pending.sort_by(|a, b| a.0.cmp(&b.0));
        let mut tx = db.begin().await?;
        for (key, n) in &pending {
            if let Key::Address(client_addr) = key {
                sqlx::query(
                    "UPDATE login_throttle_addr SET refused = refused + $2 WHERE client_addr = $1",
                )
                .bind(client_addr)
                .bind(n)
                .execute(&mut *tx)
                .await?;
            }
        }
        let mut ended: Vec<(Option<String>, String, i64, i64)> = sqlx::query(
            "DELETE FROM login_throttle_addr WHERE window_start < $1 \
             RETURNING client_addr, failures, refused",
        )
        .bind(now_ms - self.address.window_ms)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (None, r.get(0), r.get(1), r.get(2)))
        .collect();
        for (key, n) in &pending {
            if let Key::Account {
                username,
                client_addr,
            } = key
            {
                sqlx::query(
                    "UPDATE login_throttle SET refused = refused + $3 \
                     WHERE username = $1 AND client_addr = $2",
                )
                .bind(username)
                .bind(client_addr)
                .bind(n)
                .execute(&mut *tx)
                .await?;
            }
        }
        ended.extend(
            sqlx::query(
                "DELETE FROM login_throttle WHERE last_failure_at < $1 \
                 RETURNING username, client_addr, failures, refused",
            )
            .bind(now_ms - FORGET_AFTER_MS)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| (Some(r.get(0)), r.get(1), r.get(2), r.get(3))),
        );
        let system = Actor::default();
        for (username, addr, failures, refused) in ended {
            if refused > 0 {
                end_event(
                    &mut tx,
                    &system,
                    username.as_deref(),
                    &addr,
                    failures,
                    refused,
                    "expired",
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn end_event(
    tx: &mut Tx,
    actor: &Actor,
    username: Option<&str>,
    client_addr: &str,
    failures: i64,
    refused: i64,
    how: &str,
) -> Result<(), DbError> {
    audit::record(
        tx,
        actor,
        Event::new("auth.login_throttle_ended", "user", None).detail(json!({
            "username": username,
            "client_addr": client_addr,
            "scope": if username.is_some() { "account" } else { "address" },
            "failures": failures,
            "refused": refused,
            "ended": how,
        })),
    )
    .await?;
    Ok(())
}

/// Clears every delay of a username (an administrator's act). Returns how many were cleared.
pub async fn clear_user(tx: &mut Tx, username: &str) -> Result<u64, DbError> {
    Ok(
        sqlx::query("DELETE FROM login_throttle WHERE username = $1")
            .bind(username)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_then_caps() {
        assert_eq!(delay_ms(0), 0);
        assert_eq!(delay_ms(4), 0);
        assert_eq!(delay_ms(5), 1000);
        assert_eq!(delay_ms(6), 2000);
        assert_eq!(delay_ms(8), 8000);
        assert_eq!(delay_ms(50), MAX_DELAY_MS);
    }
}
