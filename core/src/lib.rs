//! hms-core: the platform every HMS department module builds on: configuration, the database
//! (SQLite or PostgreSQL through one code path), users and roles, sessions, CSRF, the request
//! pipeline, rendering, flash messages, translations and the audit log.

pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod charges;
pub mod clock;
pub mod config;
pub mod dates;
pub mod day;
pub mod db;
pub mod demo;
pub mod error;
pub mod group_commit;
pub mod http;
pub mod i18n;
pub mod ids;
pub mod licence;
pub mod module;
pub mod module_config;
pub mod money;
pub mod orders;
pub mod outbound;
pub mod outbox;
pub mod pdf;
pub mod phone;
pub mod props;
pub mod rbac;
pub mod read_pool;
pub mod settings;
pub mod tables;
pub mod ui;

pub use app::App;
pub use error::{AppError, AppResult};
