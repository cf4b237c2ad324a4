//! The application state shared by every request: configuration, database, templates,
//! password hasher and signing key.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use sqlx::Row;

use crate::audit::AuditReads;
use crate::auth::csrf::SigningKey;
use crate::auth::password::Hasher;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::licence::{Clock, Licensing, SystemClock};
use crate::module::{Module, Registry};
use crate::rbac::Rbac;
use crate::ui::Ui;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("templates: {0}")]
    Templates(String),
    /// The enabled modules cannot run together (two fill one order kind).
    #[error("modules: {0}")]
    Modules(String),
    #[error(transparent)]
    Translations(#[from] crate::i18n::CatalogueError),
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Upgrade(#[from] crate::backup::upgrade::UpgradeError),
}

pub struct AppInner {
    pub config: Config,
    pub db: Db,
    pub ui: Ui,
    pub hasher: Hasher,
    pub key: SigningKey,
    pub modules: Registry,
    pub rbac: Rbac,
    /// Writer of read-audit rows (group commit).
    pub audit_reads: AuditReads,
    /// What is wrong with the audit head file, if anything (for the health card).
    pub audit_head: crate::audit::HeadWatch,
    pub licensing: Licensing,
    /// Sessions read in the last few seconds (see `session::Cache`).
    pub sessions: crate::auth::session::Cache,
    /// Sign-in throttling (its limits and the refusals not yet written).
    pub throttle: crate::auth::throttle::Throttle,
    users_exist: AtomicBool,
    facility_name: RwLock<String>,
    /// ETag of the facility's logo, when one is stored.
    facility_logo: RwLock<Option<String>>,
    default_language: RwLock<&'static str>,
}

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

impl Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// What the binary adds to the platform: templates of its screens and modules, and the
/// version of each static file (for cache-busting URLs).
#[derive(Default)]
pub struct Parts {
    pub modules: Vec<Arc<dyn Module>>,
    /// Replaces the compiled licence key: for the test kit only (code, never configuration).
    pub licence_key: Option<ed25519_dalek::VerifyingKey>,
    /// The clock licences are judged by (tests move it); the system clock by default.
    pub clock: Option<Arc<dyn Clock>>,
    pub templates: Vec<(String, String)>,
    pub asset_versions: HashMap<String, String>,
}

impl App {
    /// Opens (creating and migrating, after a backup when it holds data) the database and
    /// builds the state.
    pub async fn start(config: Config, parts: Parts) -> Result<Self, StartError> {
        let (db, _) = crate::backup::upgrade::open(&config).await?;
        Self::with_db(config, db, parts).await
    }

    pub async fn with_db(config: Config, db: Db, parts: Parts) -> Result<Self, StartError> {
        // Whatever the database: the audit head file and read-audit spill files live here.
        std::fs::create_dir_all(&config.data_dir).map_err(|source| DbError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        // A spill file the database still refuses stays for the next start; it must not keep
        // the clinic from working.
        match crate::audit::replay_spills(&db, &config.data_dir).await {
            Ok(0) => {}
            Ok(rows) => tracing::warn!(
                rows,
                "read-audit rows kept on disk while the database refused them are now in the audit trail"
            ),
            Err(e) => tracing::error!(
                error = %e,
                "read-audit rows kept on disk could not be added to the audit trail; trying again at the next start"
            ),
        }
        let key = SigningKey::load_or_create(&db).await?;
        let modules = Registry::new(parts.modules, &config.modules_disabled);
        if let Some(clash) = modules.filler_clash() {
            return Err(StartError::Modules(clash));
        }
        modules.install_translations()?;
        let declared: Vec<_> = modules
            .all()
            .iter()
            .map(|m| (m.id(), m.settings()))
            .collect();
        crate::module_config::check(&config.modules, &declared)?;
        let seeded = crate::rbac::seed_new_modules(&db, &modules).await?;
        if !seeded.is_empty() {
            tracing::info!(modules = ?seeded, "default grants seeded for new modules");
        }
        let mut templates = parts.templates;
        templates.extend(modules.templates());
        let ui = Ui::new(templates, parts.asset_versions)
            .map_err(|e| StartError::Templates(format!("{e:?}")))?;
        let licensing = Licensing::new(
            parts.licence_key.or_else(crate::licence::compiled_key),
            parts.clock.unwrap_or_else(|| Arc::new(SystemClock)),
        );
        licensing.ensure_first_start(&db).await?;
        let hasher = Hasher::new();
        let throttle = crate::auth::throttle::Throttle::new(crate::auth::throttle::AddressLimit {
            failures: config.login_address_failures as i64,
            window_ms: config.login_address_window_minutes as i64 * 60_000,
        });
        let audit_reads = AuditReads::start(db.clone(), config.data_dir.clone());
        let app = App(Arc::new(AppInner {
            config,
            db: db.clone(),
            ui,
            hasher,
            key,
            modules,
            rbac: Rbac::default(),
            audit_reads,
            audit_head: Default::default(),
            licensing,
            sessions: Default::default(),
            throttle,
            users_exist: AtomicBool::new(false),
            facility_name: RwLock::new(String::new()),
            facility_logo: RwLock::new(None),
            default_language: RwLock::new("en"),
        }));
        app.refresh_facility().await?;
        Ok(app)
    }

    /// True once any user exists. Users are never deleted, so once true it stays true and
    /// costs no query.
    pub async fn users_exist(&self) -> Result<bool, DbError> {
        if self.users_exist.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let exists = crate::auth::users::any_exist(&self.db).await?;
        if exists {
            self.users_exist.store(true, Ordering::Relaxed);
            self.refresh_facility().await?;
        }
        Ok(exists)
    }

    pub fn facility_name(&self) -> String {
        self.facility_name
            .read()
            .map(|n| n.clone())
            .unwrap_or_default()
    }

    /// The facility's default language.
    pub fn default_language(&self) -> &'static str {
        self.default_language.read().map(|l| *l).unwrap_or("en")
    }

    /// The ETag of the facility's logo, when there is one (for the top bar).
    pub fn facility_logo(&self) -> Option<String> {
        self.facility_logo.read().ok().and_then(|l| l.clone())
    }

    /// Re-reads facility settings (after setup or a settings change).
    pub async fn refresh_facility(&self) -> Result<(), DbError> {
        let logo = crate::settings::logo_etag(&self.db).await?;
        if let Ok(mut slot) = self.facility_logo.write() {
            *slot = logo;
        }
        let rows = sqlx::query(
            "SELECT key, value FROM settings WHERE key IN ('facility_name', 'default_language')",
        )
        .fetch_all(self.db.read())
        .await?;
        for r in rows {
            let key: String = r.get(0);
            let value: String = r.get(1);
            if key == "facility_name" {
                if let Ok(mut slot) = self.facility_name.write() {
                    *slot = value;
                }
            } else if let (Some(lang), Ok(mut slot)) =
                (crate::i18n::resolve(&value), self.default_language.write())
            {
                *slot = lang;
            }
        }
        Ok(())
    }
}
