//! Signing of the anonymous double-submit CSRF cookie and of flash messages. The key is made
//! once per installation and kept in the database so every app server shares it.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::Row;

use crate::db::{Db, DbError};

#[derive(Clone)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    pub async fn load_or_create(db: &Db) -> Result<Self, DbError> {
        let fresh = crate::auth::random_token();
        let mut tx = db.begin().await?;
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES ('signing_key', $1, $2) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&fresh)
        .bind(crate::clock::now_rfc3339())
        .execute(&mut *tx)
        .await?;
        let stored: String = sqlx::query("SELECT value FROM settings WHERE key = 'signing_key'")
            .fetch_one(&mut *tx)
            .await?
            .get(0);
        tx.commit().await?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(stored.trim(), &mut key)
            .map_err(|_| DbError::Sqlx(sqlx::Error::Protocol("signing key is corrupt".into())))?;
        Ok(Self(key))
    }

    fn mac(&self, purpose: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// `value.signature`, for a cookie.
    pub fn sign(&self, purpose: &str, value: &str) -> String {
        format!("{value}.{}", self.mac(purpose, value))
    }

    /// The value of a signed cookie, when its signature is right.
    pub fn verify(&self, purpose: &str, signed: &str) -> Option<String> {
        let (value, sig) = signed.rsplit_once('.')?;
        let expected = self.mac(purpose, value);
        crate::auth::constant_time_eq(expected.as_bytes(), sig.as_bytes())
            .then(|| value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_value_and_purpose() {
        let key = SigningKey([7u8; 32]);
        let signed = key.sign("csrf", "abc");
        assert_eq!(key.verify("csrf", &signed).as_deref(), Some("abc"));
        assert_eq!(key.verify("flash", &signed), None);
        assert_eq!(key.verify("csrf", &signed.replace("abc", "abd")), None);
        assert_eq!(SigningKey([8u8; 32]).verify("csrf", &signed), None);
    }
}
