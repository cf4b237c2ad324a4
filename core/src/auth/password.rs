//! Password hashing (argon2id) off the async threads, and the password policy: 10 to 128
//! characters, no composition rules, not a commonly used password.

use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::error::AppError;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 128;

const COMMON: &str = include_str!("common-passwords.txt");

/// Hashes and verifies passwords on blocking threads, at most one per CPU at a time: each argon2
/// hash takes ~19 MiB and tens of milliseconds, and must not stall the async workers.
///
/// The 19 MiB work areas are kept and reused (at most one per permit): allocating one per
/// hash left glibc holding hundreds of megabytes after a morning's sign-ins, and faulting in
/// fresh pages each time costs a third of the hash's time.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    /// Verified against when the username is unknown, so that case takes as long as a wrong
    /// password. Made at the first such sign-in, so that starting the server costs no hash.
    dummy: Arc<OnceLock<String>>,
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
        Self {
            permits: Arc::new(Semaphore::new(cpus)),
            memory: Arc::new(Mutex::new(Vec::new())),
            dummy: Arc::new(OnceLock::new()),
        }
    }

    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let password = password.to_string();
        let memory = self.memory.clone();
        tokio::task::spawn_blocking(move || hash_blocking(&memory, &password))
            .await
            .map_err(AppError::internal)?
    }

    /// True when `password` matches `hash`; with no hash (unknown user) it checks a dummy hash
    /// and returns false, taking the same time.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let known = hash.map(str::to_string);
        let password = password.to_string();
        let memory = self.memory.clone();
        let dummy = self.dummy.clone();
        tokio::task::spawn_blocking(move || {
            let stored = known.as_deref().unwrap_or_else(|| {
                dummy.get_or_init(|| {
                    hash_blocking(&memory, &crate::auth::random_token()).unwrap_or_default()
                })
            });
            verify_blocking(&memory, &password, stored) && known.is_some()
        })
        .await
        .unwrap_or(false)
    }
}

/// Runs argon2 in a work area taken from the pool (or made, the first time) and gives it back.
fn compute(
    pool: &Mutex<Vec<Vec<Block>>>,
    argon: &Argon2,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let taken = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let mut blocks = taken.unwrap_or_default();
    blocks.resize(params.block_count(), Block::new());
    let result = argon.hash_password_into_with_memory(password, salt, out, &mut blocks[..]);
    pool.lock().unwrap_or_else(|e| e.into_inner()).push(blocks);
    result
}

fn hash_blocking(pool: &Mutex<Vec<Vec<Block>>>, password: &str) -> Result<String, AppError> {
    let failed =
        |e: &dyn std::fmt::Display| AppError::Internal(format!("password hashing failed: {e}"));
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(pool, &argon, &params, password.as_bytes(), &salt, &mut out).map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// Recomputes the stored hash's output with its own parameters and compares in constant time.
fn verify_blocking(pool: &Mutex<Vec<Vec<Block>>>, password: &str, stored: &str) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = phc.version.map(Version::try_from).transpose() else {
        return false;
    };
    let Ok(params) = Params::try_from(&phc) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version.unwrap_or_default(), params.clone());
    let mut out = vec![0u8; expected.as_bytes().len()];
    compute(pool, &argon, &params, password.as_bytes(), salt, &mut out).is_ok()
        && crate::auth::constant_time_eq(&out, expected.as_bytes())
}

/// Checks a new password; returns the message to show beside the field.
pub fn check(password: &str, username: &str) -> Result<(), &'static str> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err("validation.password_short");
    }
    if len > MAX_LEN {
        return Err("validation.password_long");
    }
    let lower = password.to_lowercase();
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        return Err("validation.password_username");
    }
    if is_common(&lower) {
        return Err("validation.password_common");
    }
    if lower
        .chars()
        .all(|c| c == lower.chars().next().unwrap_or(' '))
    {
        return Err("validation.password_repeated");
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
        // The string is a standard PHC hash that the argon2 crate verifies itself.
        use argon2::password_hash::PasswordVerifier;
        assert!(Argon2::default()
            .verify_password(b"green mango season", hash.as_str())
            .is_ok());
        assert!(h.verify("green mango season", Some(&hash)).await);
        assert!(!h.verify("green mango seasons", Some(&hash)).await);
        assert!(!h.verify("green mango season", None).await);
        assert!(!h.verify("green mango season", Some("not a hash")).await);
        // The work area is kept for the next hash, one per hash run at once.
        assert_eq!(h.memory.lock().unwrap().len(), 1);
    }

    #[test]
    fn hashes_made_elsewhere_verify() {
        // An argon2id hash of "green mango season" made by the argon2 crate's own
        // PasswordHasher, as stored before the work areas were pooled.
        use argon2::password_hash::PasswordHasher;
        let stored = Argon2::default()
            .hash_password(b"green mango season")
            .unwrap()
            .to_string();
        let pool = Mutex::new(Vec::new());
        assert!(verify_blocking(&pool, "green mango season", &stored));
        assert!(!verify_blocking(&pool, "green mango seasoN", &stored));
    }
}
