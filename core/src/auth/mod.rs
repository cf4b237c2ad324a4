//! Authentication: passwords, users and roles, server-side sessions, login throttling and CSRF.

pub mod csrf;
pub mod password;
pub mod session;
pub mod throttle;
pub mod users;

use sha2::{Digest, Sha256};

/// A random 256-bit token as 64 hex characters (session ids, CSRF tokens).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

/// SHA-256 of a token, hex: what the database keeps instead of a session id.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
