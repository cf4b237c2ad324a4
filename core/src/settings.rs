//! Facility settings: rows of the `settings` key/value table (name, KMHFL code, level, contacts,
//! default language, working days, email from-address) and the facility's logo, kept in the
//! database (`facility_logo`) so that every app server serves the same one.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{Db, DbError, Tx};

/// The keys of the facility settings screen, in the order they are shown and audited.
pub const FACILITY_KEYS: &[&str] = &[
    "facility_name",
    "facility_code",
    "facility_level",
    "facility_address",
    "facility_phone",
    "facility_email",
    "default_language",
    "working_days",
    "mail_from",
];

/// Days of the week as stored in `working_days` (comma-separated, in this order).
pub const WEEK_DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Largest logo accepted.
pub const LOGO_MAX_BYTES: usize = 256 * 1024;

/// One setting's value, if stored.
pub async fn get(db: &Db, key: &str) -> Result<Option<String>, DbError> {
    Ok(sqlx::query("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_optional(db.read())
        .await?
        .map(|r| r.get(0)))
}

/// The stored facility settings (keys of [`FACILITY_KEYS`] that have a row).
pub async fn facility(db: &Db) -> Result<BTreeMap<String, String>, DbError> {
    let rows = sqlx::query("SELECT key, value FROM settings")
        .fetch_all(db.read())
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .filter(|(k, _)| FACILITY_KEYS.contains(&k.as_str()))
        .collect())
}

/// The facility settings inside a write transaction (the "before" of an audited change).
pub async fn facility_in(tx: &mut Tx) -> Result<BTreeMap<String, String>, DbError> {
    let rows = sqlx::query("SELECT key, value FROM settings")
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .filter(|(k, _)| FACILITY_KEYS.contains(&k.as_str()))
        .collect())
}

/// Stores one setting inside the caller's transaction.
pub async fn put(tx: &mut Tx, key: &str, value: &str) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = $3",
    )
    .bind(key)
    .bind(value)
    .bind(crate::clock::now_rfc3339())
    .execute(&mut **tx)
    .await?;
    keep_facility_in_step(tx, key, value).await
}

/// The install's facility (row 1 of `facilities`) carries the name and KMHFL code of the
/// settings, changed in the same transaction as the setting.
async fn keep_facility_in_step(tx: &mut Tx, key: &str, value: &str) -> Result<(), DbError> {
    let sql = match key {
        "facility_name" if !value.trim().is_empty() => {
            "UPDATE facilities SET name = $1 WHERE id = 1"
        }
        "facility_code" => "UPDATE facilities SET kmhfl_code = NULLIF($1, '') WHERE id = 1",
        _ => return Ok(()),
    };
    sqlx::query(sql)
        .bind(value.trim())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The kind of image a logo file is, judged by its first bytes (never by its name).
pub fn image_type(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// The stored logo.
#[derive(Debug, Clone)]
pub struct Logo {
    pub content_type: String,
    pub data: Vec<u8>,
    pub etag: String,
}

pub async fn logo(db: &Db) -> Result<Option<Logo>, DbError> {
    Ok(
        sqlx::query("SELECT content_type, data, etag FROM facility_logo WHERE singleton = 1")
            .fetch_optional(db.read())
            .await?
            .map(|r| Logo {
                content_type: r.get(0),
                data: r.get(1),
                etag: r.get(2),
            }),
    )
}

/// The ETag of the stored logo, if there is one (cheap: no image bytes are read).
pub async fn logo_etag(db: &Db) -> Result<Option<String>, DbError> {
    Ok(
        sqlx::query("SELECT etag FROM facility_logo WHERE singleton = 1")
            .fetch_optional(db.read())
            .await?
            .map(|r| r.get(0)),
    )
}

/// Stores (replaces) the logo inside the caller's transaction; returns its ETag.
pub async fn put_logo(tx: &mut Tx, content_type: &str, data: &[u8]) -> Result<String, DbError> {
    let etag = hex::encode(&Sha256::digest(data)[..12]);
    sqlx::query(
        "INSERT INTO facility_logo (singleton, content_type, data, etag, updated_at) \
         VALUES (1, $1, $2, $3, $4) \
         ON CONFLICT (singleton) DO UPDATE SET content_type = $1, data = $2, etag = $3, \
         updated_at = $4",
    )
    .bind(content_type)
    .bind(data)
    .bind(&etag)
    .bind(crate::clock::now_rfc3339())
    .execute(&mut **tx)
    .await?;
    Ok(etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_recognised_by_their_first_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(image_type(b"GIF89a"), None);
        assert_eq!(image_type(b""), None);
    }
}
