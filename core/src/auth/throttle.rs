//! Login throttling per (username, client address): after a few failures each further attempt
//! must wait a growing delay, capped at a minute. Never a hard lock: an attacker elsewhere cannot
//! lock a doctor out mid-shift, and the delay is forgotten an hour after the last failure.

use sqlx::Row;

use crate::db::{Db, DbError, Tx};

/// Failures allowed before any delay.
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

/// Milliseconds this (username, address) must still wait before the next attempt, if any.
pub async fn wait_ms(
    db: &Db,
    username: &str,
    client_addr: &str,
    now_ms: i64,
) -> Result<Option<i64>, DbError> {
    let row = sqlx::query(
        "SELECT failures, last_failure_at FROM login_throttle \
         WHERE username = $1 AND client_addr = $2",
    )
    .bind(username)
    .bind(client_addr)
    .fetch_optional(db.read())
    .await?;
    Ok(row.and_then(|r| {
        let failures: i64 = r.get(0);
        let last: i64 = r.get(1);
        if now_ms - last > FORGET_AFTER_MS {
            return None;
        }
        let remaining = last + delay_ms(failures) - now_ms;
        (remaining > 0).then_some(remaining)
    }))
}

pub async fn record_failure(
    tx: &mut Tx,
    username: &str,
    client_addr: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO login_throttle (username, client_addr, failures, last_failure_at) \
         VALUES ($1, $2, 1, $3) ON CONFLICT (username, client_addr) DO UPDATE SET \
         failures = CASE WHEN login_throttle.last_failure_at < $4 THEN 1 \
                    ELSE login_throttle.failures + 1 END, \
         last_failure_at = $3",
    )
    .bind(username)
    .bind(client_addr)
    .bind(now_ms)
    .bind(now_ms - FORGET_AFTER_MS)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn clear(tx: &mut Tx, username: &str, client_addr: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM login_throttle WHERE username = $1 AND client_addr = $2")
        .bind(username)
        .bind(client_addr)
        .execute(&mut **tx)
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
