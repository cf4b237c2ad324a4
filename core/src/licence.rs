//! Licences: a small signed file (JSON payload and an Ed25519 signature) naming the facility,
//! its pricing tier and extra modules, and an expiry date. The verifying key is compiled into the
//! binary (`HMS_LICENCE_PUBLIC_KEY` at build time); the signing key stays with the reseller.
//!
//! A licence never stands between a patient and care. Without one, every compiled module runs
//! for 60 days of evaluation, then counts as expired. After expiry there are 30 days of grace;
//! then the administrative side turns read-only (permissions marked `Administrative`: adding
//! users, settings, reports, finance exports) while care goes on.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Db, DbError};

pub const EVALUATION_DAYS: i64 = 60;
pub const GRACE_DAYS: i64 = 30;
pub const WARN_DAYS: i64 = 30;

/// The permission to see and install the licence; never paused, so an expired licence can
/// always be replaced.
pub const MANAGE_PERMISSION: &str = "admin.licence.manage";

/// Modules of the platform itself, on in every tier.
pub const PLATFORM_MODULES: &[&str] = &["admin", "audit"];

/// The verifying key this build accepts, set when the binary is built.
pub fn compiled_key() -> Option<VerifyingKey> {
    option_env!("HMS_LICENCE_PUBLIC_KEY").and_then(parse_verifying_key)
}

pub fn parse_verifying_key(hexed: &str) -> Option<VerifyingKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hexed.trim(), &mut bytes).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

pub fn parse_signing_key(hexed: &str) -> Option<SigningKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hexed.trim(), &mut bytes).ok()?;
    Some(SigningKey::from_bytes(&bytes))
}

/// A new key pair: (signing key hex, verifying key hex).
pub fn generate_keypair() -> (String, String) {
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    (
        hex::encode(key.to_bytes()),
        hex::encode(key.verifying_key().to_bytes()),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Clinic,
    Hospital,
    Enterprise,
}

impl Tier {
    pub fn parse(s: &str) -> Option<Tier> {
        match s.trim().to_lowercase().as_str() {
            "clinic" => Some(Tier::Clinic),
            "hospital" => Some(Tier::Hospital),
            "enterprise" => Some(Tier::Enterprise),
            _ => None,
        }
    }

    /// Whether the tier includes a department module (the seed's pricing guide: each tier has
    /// the modules of the tiers below it). Ids of modules not yet built are simply absent from
    /// the binary.
    pub fn includes(self, module: &str) -> bool {
        TIER_MODULES
            .iter()
            .any(|(m, tier)| *m == module && *tier <= self)
    }
}

/// Each department module and the smallest tier that has it.
const TIER_MODULES: &[(&str, Tier)] = &[
    ("patients", Tier::Clinic),
    ("appointments", Tier::Clinic),
    ("consultations", Tier::Clinic),
    ("pharmacy", Tier::Clinic),
    ("laboratory", Tier::Hospital),
    ("billing", Tier::Hospital),
    ("reports", Tier::Hospital),
    ("inpatient", Tier::Hospital),
    ("api", Tier::Enterprise),
    ("branches", Tier::Enterprise),
    ("sync", Tier::Enterprise),
    ("offsite_backups", Tier::Enterprise),
];

/// What a licence says. Field order is the signed encoding's order: do not reorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    pub facility_name: String,
    /// KMHFL (Master Facility List) code.
    pub facility_code: String,
    pub tier: Tier,
    /// Modules beyond the tier.
    #[serde(default)]
    pub modules: Vec<String>,
    #[serde(default = "one")]
    pub branches: u32,
    /// YYYY-MM-DD.
    pub issued: String,
    /// YYYY-MM-DD: the last day the licence is valid.
    pub expires: String,
}

fn one() -> u32 {
    1
}

impl Payload {
    pub fn expires_on(&self) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(&self.expires, "%Y-%m-%d").ok()
    }

    fn signed_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a payload serialises")
    }

    pub fn covers(&self, module: &str) -> bool {
        PLATFORM_MODULES.contains(&module)
            || self.tier.includes(module)
            || self.modules.iter().any(|m| m == module)
    }
}

/// The file a reseller hands over.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceFile {
    pub licence: Payload,
    /// Ed25519 signature of the payload's JSON encoding, hex.
    pub signature: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LicenceError {
    #[error("This is not an HMS licence file (it could not be read: {0}).")]
    Format(String),
    #[error("The licence signature is not valid: the file was changed, or it was not issued for this HMS.")]
    Signature,
    #[error(
        "This is a development build of HMS (built without a licence key): it takes no licences and needs none."
    )]
    NoKey,
    #[error("The licence's expiry date '{0}' is not a date like 2027-12-31.")]
    BadDate(String),
    #[error("This licence has already expired (on {0}).")]
    Expired(String),
    #[error("This licence is for another facility ({0}, code {1}); this facility's code is {2}.")]
    OtherFacility(String, String, String),
}

/// Signs a payload (the reseller tool and tests).
pub fn sign(key: &SigningKey, payload: Payload) -> LicenceFile {
    let signature = key.sign(&payload.signed_bytes());
    LicenceFile {
        licence: payload,
        signature: hex::encode(signature.to_bytes()),
    }
}

/// Reads and checks a licence file's text against `key`.
pub fn verify(text: &str, key: Option<&VerifyingKey>) -> Result<Payload, LicenceError> {
    let file: LicenceFile = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| LicenceError::Format(e.to_string()))?;
    let key = key.ok_or(LicenceError::NoKey)?;
    let mut sig = [0u8; 64];
    hex::decode_to_slice(file.signature.trim(), &mut sig).map_err(|_| LicenceError::Signature)?;
    key.verify(&file.licence.signed_bytes(), &Signature::from_bytes(&sig))
        .map_err(|_| LicenceError::Signature)?;
    if file.licence.expires_on().is_none() {
        return Err(LicenceError::BadDate(file.licence.expires.clone()));
    }
    Ok(file.licence)
}

/// Where the licence stands on a given day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Standing {
    /// A build without a compiled-in licence key (built from source): every compiled module,
    /// nothing ever pauses, no licence can be installed.
    Development,
    /// No licence: every compiled module, for `days_left` more days.
    Evaluation {
        days_left: i64,
    },
    Valid {
        days_left: i64,
    },
    /// Expired (or evaluation over) less than the grace period ago.
    Grace {
        days_left: i64,
    },
    /// Past grace: administrative work is read-only; care goes on.
    ReadOnly,
}

impl Standing {
    pub fn read_only(&self) -> bool {
        matches!(self, Standing::ReadOnly)
    }
}

/// The standing on `today` of a licence (or of evaluation started on `first_start`).
pub fn standing(licence: Option<&Payload>, first_start: NaiveDate, today: NaiveDate) -> Standing {
    let last_day = match licence.and_then(Payload::expires_on) {
        Some(expires) => expires,
        None => first_start + chrono::Days::new(EVALUATION_DAYS as u64 - 1),
    };
    let days_left = (last_day - today).num_days();
    if days_left >= 0 {
        if licence.is_some() {
            Standing::Valid { days_left }
        } else {
            Standing::Evaluation { days_left }
        }
    } else if -days_left <= GRACE_DAYS {
        Standing::Grace {
            days_left: GRACE_DAYS + days_left,
        }
    } else {
        Standing::ReadOnly
    }
}

/// The clock licences are judged by (tests move it).
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The audit action recording the day evaluation began.
pub const EVALUATION_START: &str = "licence.evaluation_start";

/// The evaluation start as the audit trail remembers it: the day recorded by the
/// `licence.evaluation_start` row, else the (Nairobi) day of the earliest row, with where it
/// came from. `None` on an empty trail (a new database).
async fn evaluation_start_in_audit(
    tx: &mut crate::db::Tx,
) -> Result<Option<(NaiveDate, &'static str)>, DbError> {
    // Rare (the setting is missing): a scan of the trail is acceptable.
    let recorded: Option<String> =
        sqlx::query("SELECT detail FROM audit_log WHERE action = $1 ORDER BY id LIMIT 1")
            .bind(EVALUATION_START)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.get(0));
    if let Some(day) = recorded.and_then(|d| {
        let v: serde_json::Value = serde_json::from_str(&d).ok()?;
        NaiveDate::parse_from_str(v.get("first_start")?.as_str()?, "%Y-%m-%d").ok()
    }) {
        return Ok(Some((day, "audit.evaluation_start")));
    }
    let earliest: Option<String> = sqlx::query("SELECT at FROM audit_log ORDER BY id LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.get(0));
    Ok(earliest
        .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
        .map(|at| {
            (
                crate::clock::to_local(at.with_timezone(&Utc)).date_naive(),
                "audit.earliest_row",
            )
        }))
}

/// The licence in force, re-read from the database at most every few seconds (so a licence
/// installed through another app server takes effect quickly), judged against the clock on
/// every request (so expiry takes effect without a restart).
pub struct Licensing {
    key: Option<VerifyingKey>,
    clock: Arc<dyn Clock>,
    cached: Mutex<Option<(Instant, Loaded)>>,
}

#[derive(Debug, Clone)]
pub struct Loaded {
    pub licence: Option<Payload>,
    pub first_start: NaiveDate,
    /// No verifying key in this build: a development build, never paused.
    pub development: bool,
}

const RELOAD_EVERY: Duration = Duration::from_secs(5);

impl Licensing {
    pub fn new(key: Option<VerifyingKey>, clock: Arc<dyn Clock>) -> Self {
        Self {
            key,
            clock,
            cached: Mutex::new(None),
        }
    }

    pub fn key(&self) -> Option<&VerifyingKey> {
        self.key.as_ref()
    }

    pub fn today(&self) -> NaiveDate {
        crate::clock::to_local(self.clock.now()).date_naive()
    }

    /// Records the first start (evaluation begins) if not yet recorded, with an audit row in
    /// the same transaction; returns it. A missing row is not a new start: the day comes back
    /// from the audit trail (the `licence.evaluation_start` row, else the earliest row), so
    /// deleting the setting does not restart the 60 days.
    pub async fn ensure_first_start(&self, db: &Db) -> Result<NaiveDate, DbError> {
        let mut tx = db.begin().await?;
        let stored: Option<String> =
            sqlx::query("SELECT value FROM settings WHERE key = 'licence.first_start'")
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.get(0));
        if let Some(day) = stored
            .as_deref()
            .and_then(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
        {
            tx.commit().await?;
            return Ok(day);
        }
        let today = self.today();
        let (day, from) = match evaluation_start_in_audit(&mut tx).await? {
            Some((day, from)) => (day.min(today), from),
            None => (today, "today"),
        };
        let inserted = sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES ('licence.first_start', $1, $2) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(day.format("%Y-%m-%d").to_string())
        .bind(crate::clock::now_rfc3339())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            crate::audit::record(
                &mut tx,
                &crate::audit::Actor {
                    user_id: None,
                    client_addr: Some("system".into()),
                    request_id: None,
                },
                crate::audit::Event::new(EVALUATION_START, "licence", None).detail(
                    serde_json::json!({"first_start": day.format("%Y-%m-%d").to_string(), "from": from}),
                ),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(day)
    }

    /// The licence and evaluation start, from the cache or the database.
    pub async fn loaded(&self, db: &Db) -> Result<Loaded, DbError> {
        if let Some((at, loaded)) = self
            .cached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            if at.elapsed() < RELOAD_EVERY {
                return Ok(loaded.clone());
            }
        }
        let rows = sqlx::query(
            "SELECT key, value FROM settings WHERE key IN ('licence.file', 'licence.first_start')",
        )
        .fetch_all(db.read())
        .await?;
        let mut licence = None;
        let mut first_start = None;
        for r in rows {
            let key: String = r.get(0);
            let value: String = r.get(1);
            match key.as_str() {
                "licence.file" => match verify(&value, self.key.as_ref()) {
                    Ok(p) => licence = Some(p),
                    Err(e) => {
                        tracing::error!(error = %e, "the stored licence is not valid; running as unlicensed")
                    }
                },
                _ => {
                    first_start = NaiveDate::parse_from_str(&value, "%Y-%m-%d").ok();
                }
            }
        }
        // Deleted while running: put back from the audit trail (once), never today.
        let first_start = match first_start {
            Some(d) => d,
            None => self.ensure_first_start(db).await?,
        };
        let loaded = Loaded {
            licence,
            first_start,
            development: self.key.is_none(),
        };
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    /// Forgets the cache (after an install on this server).
    pub fn invalidate(&self) {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Checks a licence for installation here: signature, dates, facility code.
    pub fn check_for_install(
        &self,
        text: &str,
        facility_code: Option<&str>,
    ) -> Result<Payload, LicenceError> {
        let payload = verify(text, self.key.as_ref())?;
        let expires = payload
            .expires_on()
            .ok_or_else(|| LicenceError::BadDate(payload.expires.clone()))?;
        if expires < self.today() {
            return Err(LicenceError::Expired(payload.expires.clone()));
        }
        if let Some(code) = facility_code.filter(|c| !c.trim().is_empty()) {
            if !payload
                .facility_code
                .trim()
                .eq_ignore_ascii_case(code.trim())
            {
                return Err(LicenceError::OtherFacility(
                    payload.facility_name.clone(),
                    payload.facility_code.clone(),
                    code.to_string(),
                ));
            }
        }
        Ok(payload)
    }
}

/// What a request needs to know: which modules are on and whether admin work is read-only.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub standing: Standing,
    #[serde(skip)]
    pub licence: Option<Payload>,
}

impl Verdict {
    /// Whether a compiled module is covered (evaluation and unlicensed grace: every module).
    pub fn covers(&self, module: &str) -> bool {
        match &self.licence {
            Some(l) => l.covers(module),
            None => true,
        }
    }
}

impl Loaded {
    pub fn verdict(&self, today: NaiveDate) -> Verdict {
        Verdict {
            standing: if self.development {
                Standing::Development
            } else {
                standing(self.licence.as_ref(), self.first_start, today)
            },
            licence: self.licence.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{0}")]
    Refused(#[from] LicenceError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for InstallError {
    fn from(e: sqlx::Error) -> Self {
        InstallError::Db(DbError::Sqlx(e))
    }
}

/// Checks and installs a licence (screen and command line): signature, dates and facility
/// code; stores it and audits the installation in one transaction. The first licence names
/// the facility's code; later ones must carry the same code. Refused: nothing changes.
pub async fn install(
    db: &Db,
    licensing: &Licensing,
    text: &str,
    actor: &crate::audit::Actor,
) -> Result<Payload, InstallError> {
    let code: Option<String> =
        sqlx::query("SELECT value FROM settings WHERE key = 'facility_code'")
            .fetch_optional(db.read())
            .await?
            .map(|r| r.get::<String, _>(0))
            .filter(|c| !c.trim().is_empty());
    let payload = licensing.check_for_install(text, code.as_deref())?;
    let now = crate::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ('licence.file', $1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = $1, updated_at = $2",
    )
    .bind(text.trim())
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    if code.is_none() {
        crate::settings::put(&mut tx, "facility_code", payload.facility_code.trim()).await?;
    }
    crate::audit::record(
        &mut tx,
        actor,
        crate::audit::Event::new("licence.install", "licence", None).detail(serde_json::json!({
            "facility_code": payload.facility_code,
            "tier": payload.tier,
            "modules": payload.modules,
            "expires": payload.expires,
        })),
    )
    .await?;
    tx.commit().await?;
    licensing.invalidate();
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(expires: &str) -> Payload {
        Payload {
            facility_name: "Mwangaza Health Centre".into(),
            facility_code: "12345".into(),
            tier: Tier::Clinic,
            modules: vec!["laboratory".into()],
            branches: 1,
            issued: "2026-01-01".into(),
            expires: expires.into(),
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_signed_licence_verifies_and_any_change_breaks_it() {
        let (secret, public) = generate_keypair();
        let key = parse_signing_key(&secret).unwrap();
        let vk = parse_verifying_key(&public).unwrap();
        let text = serde_json::to_string(&sign(&key, payload("2027-12-31"))).unwrap();
        assert_eq!(verify(&text, Some(&vk)).unwrap().tier, Tier::Clinic);
        let tampered = text.replace("clinic", "enterprise");
        assert_eq!(verify(&tampered, Some(&vk)), Err(LicenceError::Signature));
        let (_, other) = generate_keypair();
        assert_eq!(
            verify(&text, parse_verifying_key(&other).as_ref()),
            Err(LicenceError::Signature)
        );
        assert_eq!(verify(&text, None), Err(LicenceError::NoKey));
        assert!(matches!(
            verify("{\"x\":1}", Some(&vk)),
            Err(LicenceError::Format(_))
        ));
    }

    #[test]
    fn tiers_cover_their_modules_and_the_platform() {
        let p = payload("2027-12-31");
        assert!(p.covers("pharmacy") && p.covers("admin") && p.covers("laboratory"));
        assert!(!p.covers("billing"));
        assert!(Tier::Hospital.includes("billing") && Tier::Hospital.includes("pharmacy"));
        assert!(!Tier::Hospital.includes("sync"));
        assert!(Tier::Enterprise.includes("sync") && Tier::Enterprise.includes("patients"));
    }

    #[test]
    fn standing_moves_from_valid_through_grace_to_read_only() {
        let p = payload("2026-12-31");
        let start = day("2026-01-01");
        assert_eq!(
            standing(Some(&p), start, day("2026-12-31")),
            Standing::Valid { days_left: 0 }
        );
        assert_eq!(
            standing(Some(&p), start, day("2027-01-01")),
            Standing::Grace { days_left: 29 }
        );
        assert_eq!(
            standing(Some(&p), start, day("2027-01-30")),
            Standing::Grace { days_left: 0 }
        );
        assert_eq!(
            standing(Some(&p), start, day("2027-01-31")),
            Standing::ReadOnly
        );
        assert_eq!(
            standing(None, start, day("2026-01-01")),
            Standing::Evaluation { days_left: 59 }
        );
        assert_eq!(
            standing(None, start, day("2026-03-02")),
            Standing::Grace { days_left: 29 }
        );
    }
}
