//! Password hashing (argon2id) off the async threads, and the password policy: 10 to 128
//! characters, no composition rules, not a commonly used password.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use tokio::sync::Semaphore;

use crate::error::AppError;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 128;

const COMMON: &str = include_str!("common-passwords.txt");

/// Hashes and verifies passwords on blocking threads, at most one per CPU at a time: each argon2
/// hash takes ~19 MiB and tens of milliseconds, and must not stall the async workers.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// Verified against when the username is unknown, so that case takes as long as a wrong password.
    dummy: Arc<String>,
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    pub fn new() -> Self {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let dummy = hash_blocking(&crate::auth::random_token()).unwrap_or_default();
        Self {
            permits: Arc::new(Semaphore::new(cpus)),
            dummy: Arc::new(dummy),
        }
    }

    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let password = password.to_string();
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(AppError::internal)?
    }

    /// True when `password` matches `hash`; with no hash (unknown user) it checks a dummy hash
    /// and returns false, taking the same time.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let known = hash.is_some();
        let hash = hash
            .map(str::to_string)
            .unwrap_or_else(|| (*self.dummy).clone());
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok()
        })
        .await
        .unwrap_or(false);
        ok && known
    }
}

fn hash_blocking(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

/// Checks a new password; returns the message to show beside the field.
pub fn check(password: &str, username: &str) -> Result<(), &'static str> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(
            "Password must be at least 10 characters long. A few words together make a good one.",
        );
    }
    if len > MAX_LEN {
        return Err("Password must be at most 128 characters long.");
    }
    let lower = password.to_lowercase();
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        return Err("Password must not contain the username.");
    }
    if is_common(&lower) {
        return Err("This password is too common and easy to guess. Choose another one.");
    }
    if lower
        .chars()
        .all(|c| c == lower.chars().next().unwrap_or(' '))
    {
        return Err("Password must not be one character repeated.");
    }
    Ok(())
}

fn is_common(lower: &str) -> bool {
    COMMON
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l == lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_limits_apply() {
        assert!(check("short", "amina").is_err());
        assert!(check(&"x1".repeat(65), "amina").is_err());
        assert!(check("green mango season", "amina").is_ok());
    }

    #[test]
    fn common_and_username_passwords_are_refused() {
        assert!(check("password123", "amina").is_err());
        assert!(check("Qwertyuiop", "amina").is_err());
        assert!(check("amina2026!!", "amina").is_err());
        assert!(check("aaaaaaaaaaaa", "amina").is_err());
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let h = Hasher::new();
        let hash = h.hash("green mango season").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(h.verify("green mango season", Some(&hash)).await);
        assert!(!h.verify("green mango seasons", Some(&hash)).await);
        assert!(!h.verify("green mango season", None).await);
    }
}
