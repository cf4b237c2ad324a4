//! Configuration: defaults < config file < `HMS_*` environment < command-line flags.
//! Every value remembers where it came from so `hms config` can say so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod trusted;
pub use trusted::TrustedNet;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
    /// A module setting (`modules.appointments.reminder_hour`).
    #[error("{key}: {message}")]
    Module { key: String, message: String },
}

/// Settings that moved to a module's table: the old name and where it lives now. Refused with
/// that place named, rather than silently ignored.
const MOVED: &[(&str, &str, &str)] = &[
    (
        "reminder_days_before",
        "[modules.appointments] reminder_days_before",
        "HMS_MODULES_APPOINTMENTS_REMINDER_DAYS_BEFORE",
    ),
    (
        "reminder_hour",
        "[modules.appointments] reminder_hour",
        "HMS_MODULES_APPOINTMENTS_REMINDER_HOUR",
    ),
];

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(&'static str),
    /// An environment variable named at run time (module settings).
    EnvVar(String),
    Flag,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(name) => write!(f, "environment {name}"),
            Source::EnvVar(name) => write!(f, "environment {name}"),
            Source::Flag => write!(f, "command line"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Address the server listens on.
    pub bind: String,
    /// Directory for the SQLite database, backups and other local state.
    pub data_dir: PathBuf,
    /// Explicit database URL; `None` means SQLite at `data_dir/hms.db`.
    pub database_url: Option<String>,
    /// Mark cookies Secure (set when HMS is served over HTTPS).
    pub cookie_secure: bool,
    /// Proxies whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<TrustedNet>,
    pub session_idle_minutes: u64,
    pub session_absolute_hours: u64,
    /// tracing filter, e.g. `info` or `hms=debug`.
    pub log: String,
    /// Folder for the daily automatic backups, as configured; must be outside the data
    /// directory. `None`: `hms-backups` beside the data directory. Read it through
    /// [`Config::backup_folder`], which resolves it (never against the working directory).
    pub backup_dir: Option<PathBuf>,
    /// Compiled modules switched off at this facility.
    pub modules_disabled: Vec<String>,
    /// SMTP server for outgoing email (`smtp://`, `smtps://` or `smtp://...?tls=required`);
    /// `None`: emails stay in the outbox.
    pub smtp_url: Option<String>,
    /// Failed sign-ins allowed from one client address, across usernames, in a window of
    /// `login_address_window_minutes`; a clinic's staff often share one address.
    pub login_address_failures: u64,
    pub login_address_window_minutes: u64,
    /// The address staff reach HMS at (`https://hms.example.org`), for links shown to them
    /// (the waiting-room display). Never taken from a request's Host header.
    pub public_url: Option<String>,
    /// Where the daily audit anchor (the audit chain's head) is emailed, to be kept off this
    /// machine; `None`: no anchor is sent.
    pub audit_anchor_email: Option<String>,
    /// Seconds a client has to send a request's whole header (slow or stalled clients hold a
    /// file descriptor each).
    pub header_timeout_seconds: u64,
    /// Seconds an open connection may sit idle between requests.
    pub keepalive_timeout_seconds: u64,
    /// Most client connections open at once; 0: derived from the open-files limit, leaving
    /// room for the database and files.
    pub max_connections: u64,
    /// Apply a new version's database changes without the backup made (SQLite) or asked for
    /// (PostgreSQL) first; for sites backed up another way.
    pub upgrade_without_backup: bool,
    /// Each module's settings (`[modules.<id>]`), as configured; modules read them typed
    /// through `module_integer` and its siblings (see `module_config`).
    pub modules: BTreeMap<String, toml::Table>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./hms-data"),
            database_url: None,
            cookie_secure: false,
            trusted_proxies: Vec::new(),
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            log: "info".into(),
            backup_dir: None,
            modules_disabled: Vec::new(),
            smtp_url: None,
            login_address_failures: 100,
            login_address_window_minutes: 15,
            public_url: None,
            audit_anchor_email: None,
            header_timeout_seconds: 10,
            keepalive_timeout_seconds: 60,
            max_connections: 0,
            upgrade_without_backup: false,
            modules: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The database URL in force: the configured one, or SQLite in the data directory.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("hms.db").display()),
        }
    }

    /// The backup folder as an absolute path. A relative `backup_dir` (and the default,
    /// `hms-backups`) is taken from the folder that holds the data directory, never from the
    /// folder HMS was started in: a service started from `/` keeps its backups beside its data.
    pub fn backup_folder(&self) -> PathBuf {
        let data = absolute(&self.data_dir);
        let beside = data.parent().map(Path::to_path_buf).unwrap_or(data);
        let folder = self
            .backup_dir
            .as_deref()
            .unwrap_or(Path::new(DEFAULT_BACKUP_FOLDER));
        absolute(&beside.join(folder))
    }
}

/// The backup folder's name beside the data directory when `backup_dir` is not set.
pub const DEFAULT_BACKUP_FOLDER: &str = "hms-backups";

/// `path` made absolute against the working directory, without `.` and `..` (links are kept).
pub fn absolute(path: &Path) -> PathBuf {
    let full = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in full.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    cookie_secure: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
    session_idle_minutes: Option<u64>,
    session_absolute_hours: Option<u64>,
    log: Option<String>,
    backup_dir: Option<PathBuf>,
    modules_disabled: Option<Vec<String>>,
    smtp_url: Option<String>,
    reminder_days_before: Option<toml::Value>,
    reminder_hour: Option<toml::Value>,
    login_address_failures: Option<u64>,
    login_address_window_minutes: Option<u64>,
    public_url: Option<String>,
    audit_anchor_email: Option<String>,
    header_timeout_seconds: Option<u64>,
    keepalive_timeout_seconds: Option<u64>,
    max_connections: Option<u64>,
    upgrade_without_backup: Option<bool>,
    modules: Option<BTreeMap<String, toml::Table>>,
}

/// The effective configuration and where each value came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub sources: BTreeMap<&'static str, Source>,
    pub file: Option<PathBuf>,
    /// Where each module setting came from (`modules.<id>.<key>`), once resolved against the
    /// compiled modules (`module_config::resolve`).
    pub module_sources: BTreeMap<String, Source>,
}

impl Loaded {
    /// Lines for `hms config`: key, value (secrets redacted) and source.
    pub fn describe(&self) -> Vec<(&'static str, String, String)> {
        let c = &self.config;
        let proxies = c
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let db = redact_url(&c.effective_database_url());
        let rows: Vec<(&'static str, String)> = vec![
            ("bind", c.bind.clone()),
            ("data_dir", c.data_dir.display().to_string()),
            ("database_url", db),
            ("cookie_secure", c.cookie_secure.to_string()),
            ("trusted_proxies", proxies),
            ("session_idle_minutes", c.session_idle_minutes.to_string()),
            (
                "session_absolute_hours",
                c.session_absolute_hours.to_string(),
            ),
            ("log", c.log.clone()),
            ("backup_dir", c.backup_folder().display().to_string()),
            ("modules_disabled", c.modules_disabled.join(",")),
            (
                "smtp_url",
                c.smtp_url.as_deref().map(redact_url).unwrap_or_default(),
            ),
            (
                "login_address_failures",
                c.login_address_failures.to_string(),
            ),
            (
                "login_address_window_minutes",
                c.login_address_window_minutes.to_string(),
            ),
            ("public_url", c.public_url.clone().unwrap_or_default()),
            (
                "audit_anchor_email",
                c.audit_anchor_email.clone().unwrap_or_default(),
            ),
            (
                "header_timeout_seconds",
                c.header_timeout_seconds.to_string(),
            ),
            (
                "keepalive_timeout_seconds",
                c.keepalive_timeout_seconds.to_string(),
            ),
            (
                "upgrade_without_backup",
                c.upgrade_without_backup.to_string(),
            ),
            (
                "max_connections",
                match c.max_connections {
                    0 => "auto".to_string(),
                    n => n.to_string(),
                },
            ),
        ];
        rows.into_iter()
            .map(|(k, v)| {
                let src = self.sources.get(k).cloned().unwrap_or(Source::Default);
                let src = if k == "database_url" && c.database_url.is_none() {
                    format!("{src} (SQLite in data_dir)")
                } else {
                    src.to_string()
                };
                (k, v, src)
            })
            .collect()
    }
}

/// Hides the password in a database URL (`postgres://user:secret@host/db`).
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.rsplit_once('@') {
            if let Some((user, _)) = creds.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

/// Loads the configuration from the process environment.
pub fn load(overrides: &Overrides) -> Result<Loaded, ConfigError> {
    load_from(overrides, |k| std::env::var(k).ok())
}

/// Loads the configuration with an explicit environment lookup (tests pass their own).
pub fn load_from(
    overrides: &Overrides,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigError> {
    let mut c = Config::default();
    let mut sources: BTreeMap<&'static str, Source> = BTreeMap::new();

    let file = overrides
        .config_file
        .clone()
        .or_else(|| env("HMS_CONFIG").map(PathBuf::from))
        .or_else(|| Some(PathBuf::from("hms.toml")).filter(|p| p.exists()));
    if let Some(path) = &file {
        let fc = read_file(path)?;
        let src = || Source::File(path.clone());
        macro_rules! take {
            ($field:ident, $key:literal) => {
                if let Some(v) = fc.$field {
                    c.$field = v;
                    sources.insert($key, src());
                }
            };
        }
        take!(bind, "bind");
        take!(data_dir, "data_dir");
        take!(cookie_secure, "cookie_secure");
        take!(session_idle_minutes, "session_idle_minutes");
        take!(session_absolute_hours, "session_absolute_hours");
        take!(log, "log");
        if let Some(v) = fc.backup_dir {
            c.backup_dir = Some(v);
            sources.insert("backup_dir", src());
        }
        take!(modules_disabled, "modules_disabled");
        for (old, moved) in [
            (fc.reminder_days_before.is_some(), MOVED[0]),
            (fc.reminder_hour.is_some(), MOVED[1]),
        ] {
            if old {
                return Err(ConfigError::Invalid {
                    key: moved.0,
                    message: format!("this setting moved: write it as {} in the file", moved.1),
                });
            }
        }
        if let Some(tables) = fc.modules {
            c.modules = tables;
        }
        take!(login_address_failures, "login_address_failures");
        take!(login_address_window_minutes, "login_address_window_minutes");
        if let Some(v) = fc.public_url {
            c.public_url = Some(v);
            sources.insert("public_url", src());
        }
        take!(header_timeout_seconds, "header_timeout_seconds");
        take!(keepalive_timeout_seconds, "keepalive_timeout_seconds");
        take!(max_connections, "max_connections");
        take!(upgrade_without_backup, "upgrade_without_backup");
        if let Some(v) = fc.smtp_url {
            c.smtp_url = Some(v);
            sources.insert("smtp_url", src());
        }
        if let Some(v) = fc.audit_anchor_email {
            c.audit_anchor_email = Some(v);
            sources.insert("audit_anchor_email", src());
        }
        if let Some(v) = fc.database_url {
            c.database_url = Some(v);
            sources.insert("database_url", src());
        }
        if let Some(list) = fc.trusted_proxies {
            c.trusted_proxies = parse_proxies(list.iter().map(String::as_str))?;
            sources.insert("trusted_proxies", src());
        }
    }

    let mut from_env = |key: &'static str, var: &'static str| -> Option<String> {
        let v = env(var).filter(|v| !v.trim().is_empty())?;
        sources.insert(key, Source::Env(var));
        Some(v.trim().to_string())
    };
    if let Some(v) = from_env("bind", "HMS_BIND") {
        c.bind = v;
    }
    if let Some(v) = from_env("data_dir", "HMS_DATA_DIR") {
        c.data_dir = PathBuf::from(v);
    }
    if let Some(v) = from_env("database_url", "HMS_DATABASE_URL") {
        c.database_url = Some(v);
    }
    if let Some(v) = from_env("upgrade_without_backup", "HMS_UPGRADE_WITHOUT_BACKUP") {
        c.upgrade_without_backup = parse_bool("HMS_UPGRADE_WITHOUT_BACKUP", &v)?;
    }
    if let Some(v) = from_env("cookie_secure", "HMS_COOKIE_SECURE") {
        c.cookie_secure = parse_bool("HMS_COOKIE_SECURE", &v)?;
    }
    if let Some(v) = from_env("trusted_proxies", "HMS_TRUSTED_PROXIES") {
        c.trusted_proxies = parse_proxies(v.split(','))?;
    }
    if let Some(v) = from_env("session_idle_minutes", "HMS_SESSION_IDLE_MINUTES") {
        c.session_idle_minutes = parse_num("HMS_SESSION_IDLE_MINUTES", &v)?;
    }
    if let Some(v) = from_env("session_absolute_hours", "HMS_SESSION_ABSOLUTE_HOURS") {
        c.session_absolute_hours = parse_num("HMS_SESSION_ABSOLUTE_HOURS", &v)?;
    }
    if let Some(v) = from_env("log", "HMS_LOG") {
        c.log = v;
    }
    if let Some(v) = from_env("backup_dir", "HMS_BACKUP_DIR") {
        c.backup_dir = Some(PathBuf::from(v));
    }
    if let Some(v) = from_env("modules_disabled", "HMS_MODULES_DISABLED") {
        c.modules_disabled = v
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
    }

    if let Some(v) = from_env("smtp_url", "HMS_SMTP_URL") {
        c.smtp_url = Some(v);
    }
    for (old, _, new) in MOVED {
        let var = format!("HMS_{}", old.to_ascii_uppercase());
        if env(&var).is_some_and(|v| !v.trim().is_empty()) {
            return Err(ConfigError::Invalid {
                key: old,
                message: format!("{var} is no longer read: set {new} instead"),
            });
        }
    }
    if let Some(v) = from_env("audit_anchor_email", "HMS_AUDIT_ANCHOR_EMAIL") {
        c.audit_anchor_email = Some(v);
    }
    if let Some(v) = from_env("login_address_failures", "HMS_LOGIN_ADDRESS_FAILURES") {
        c.login_address_failures = parse_num("HMS_LOGIN_ADDRESS_FAILURES", &v)?;
    }
    if let Some(v) = from_env(
        "login_address_window_minutes",
        "HMS_LOGIN_ADDRESS_WINDOW_MINUTES",
    ) {
        c.login_address_window_minutes = parse_num("HMS_LOGIN_ADDRESS_WINDOW_MINUTES", &v)?;
    }
    if let Some(v) = from_env("public_url", "HMS_PUBLIC_URL") {
        c.public_url = Some(v);
    }
    for (key, var, field) in [
        (
            "header_timeout_seconds",
            "HMS_HEADER_TIMEOUT_SECONDS",
            &mut c.header_timeout_seconds,
        ),
        (
            "keepalive_timeout_seconds",
            "HMS_KEEPALIVE_TIMEOUT_SECONDS",
            &mut c.keepalive_timeout_seconds,
        ),
        (
            "max_connections",
            "HMS_MAX_CONNECTIONS",
            &mut c.max_connections,
        ),
    ] {
        if let Some(v) = from_env(key, var) {
            *field = parse_num(var, &v)?;
        }
    }

    if let Some(v) = &overrides.bind {
        c.bind = v.clone();
        sources.insert("bind", Source::Flag);
    }
    if let Some(v) = &overrides.data_dir {
        c.data_dir = v.clone();
        sources.insert("data_dir", Source::Flag);
    }
    if let Some(v) = &overrides.database_url {
        c.database_url = Some(v.clone());
        sources.insert("database_url", Source::Flag);
    }

    if let Some(url) = c.public_url.as_mut() {
        let trimmed = url.trim_end_matches('/').len();
        url.truncate(trimmed);
    }
    validate(&c)?;
    Ok(Loaded {
        config: c,
        sources,
        file,
        module_sources: BTreeMap::new(),
    })
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })
}

fn parse_bool(key: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            key,
            message: format!("'{v}' is not one of 1, 0, true, false"),
        }),
    }
}

fn parse_num(key: &'static str, v: &str) -> Result<u64, ConfigError> {
    v.parse().map_err(|_| ConfigError::Invalid {
        key,
        message: format!("'{v}' is not a whole number"),
    })
}

fn parse_proxies<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<TrustedNet>, ConfigError> {
    items
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            TrustedNet::parse(s).map_err(|message| ConfigError::Invalid {
                key: "trusted_proxies",
                message,
            })
        })
        .collect()
}

fn validate(c: &Config) -> Result<(), ConfigError> {
    if c.bind.parse::<std::net::SocketAddr>().is_err() {
        return Err(ConfigError::Invalid {
            key: "bind",
            message: format!("'{}' is not an address like 127.0.0.1:8080", c.bind),
        });
    }
    if let Some(url) = &c.database_url {
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                key: "database_url",
                message: "must start with sqlite:// or postgres://".into(),
            });
        }
    }
    if let Some(url) = &c.smtp_url {
        if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
            return Err(ConfigError::Invalid {
                key: "smtp_url",
                message: "must start with smtp:// or smtps://".into(),
            });
        }
    }
    if let Some(to) = &c.audit_anchor_email {
        if !crate::outbox::valid_address(to) {
            return Err(ConfigError::Invalid {
                key: "audit_anchor_email",
                message: format!("'{to}' is not an email address"),
            });
        }
    }
    if c.login_address_failures == 0 || c.login_address_window_minutes == 0 {
        return Err(ConfigError::Invalid {
            key: "login_address_failures",
            message: "the limit and its window must be at least 1".into(),
        });
    }
    if let Some(url) = &c.public_url {
        let host = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .unwrap_or("");
        if host.is_empty()
            || host.contains(['/', '?', '#', '@'])
            || host.chars().any(char::is_whitespace)
        {
            return Err(ConfigError::Invalid {
                key: "public_url",
                message: format!(
                    "'{url}' is not an address like https://hms.example.org (no path after the host)"
                ),
            });
        }
    }
    if !(1..=3600).contains(&c.header_timeout_seconds) {
        return Err(ConfigError::Invalid {
            key: "header_timeout_seconds",
            message: format!("{} is not from 1 to 3600", c.header_timeout_seconds),
        });
    }
    if !(1..=86_400).contains(&c.keepalive_timeout_seconds) {
        return Err(ConfigError::Invalid {
            key: "keepalive_timeout_seconds",
            message: format!("{} is not from 1 to 86400", c.keepalive_timeout_seconds),
        });
    }
    if c.session_idle_minutes == 0 || c.session_absolute_hours == 0 {
        return Err(ConfigError::Invalid {
            key: "session timeouts",
            message: "must be at least 1".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_beats_default_and_flag_beats_env() {
        let env = |k: &str| match k {
            "HMS_BIND" => Some("0.0.0.0:9000".to_string()),
            "HMS_COOKIE_SECURE" => Some("1".to_string()),
            _ => None,
        };
        let loaded = load_from(&Overrides::default(), env).unwrap();
        assert_eq!(loaded.config.bind, "0.0.0.0:9000");
        assert!(loaded.config.cookie_secure);
        assert_eq!(loaded.sources["bind"], Source::Env("HMS_BIND"));

        let flags = Overrides {
            bind: Some("127.0.0.1:7000".into()),
            ..Default::default()
        };
        let loaded = load_from(&flags, env).unwrap();
        assert_eq!(loaded.config.bind, "127.0.0.1:7000");
        assert_eq!(loaded.sources["bind"], Source::Flag);
    }

    #[test]
    fn the_file_sits_between_defaults_and_environment() {
        let path = std::env::temp_dir().join(format!("hms-config-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "bind = \"0.0.0.0:8081\"\nsession_idle_minutes = 15\ntrusted_proxies = [\"10.0.0.1\"]\n",
        )
        .unwrap();
        let file = path.display().to_string();
        let env = |k: &str| match k {
            "HMS_CONFIG" => Some(file.clone()),
            "HMS_SESSION_IDLE_MINUTES" => Some("20".to_string()),
            _ => None,
        };
        let loaded = load_from(&Overrides::default(), env).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(loaded.config.bind, "0.0.0.0:8081");
        assert_eq!(loaded.sources["bind"], Source::File(path.clone()));
        assert_eq!(
            loaded.config.session_idle_minutes, 20,
            "environment beats the file"
        );
        assert_eq!(loaded.config.trusted_proxies.len(), 1);
        assert_eq!(loaded.config.session_absolute_hours, 12, "default kept");
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let path = std::env::temp_dir().join(format!("hms-config-bad-{}.toml", std::process::id()));
        std::fs::write(&path, "bnd = \"0.0.0.0:8081\"\n").unwrap();
        let file = path.display().to_string();
        let err = load_from(&Overrides::default(), |k| {
            (k == "HMS_CONFIG").then(|| file.clone())
        });
        std::fs::remove_file(&path).unwrap();
        assert!(err.is_err());
    }

    #[test]
    fn bad_values_are_refused_with_the_key_named() {
        let env = |k: &str| (k == "HMS_BIND").then(|| "not-an-address".to_string());
        let err = load_from(&Overrides::default(), env).unwrap_err();
        assert!(err.to_string().starts_with("bind:"), "{err}");
    }

    #[test]
    fn settings_moved_to_a_module_are_refused_with_their_new_place() {
        let env = |k: &str| (k == "HMS_REMINDER_HOUR").then(|| "7".to_string());
        let err = load_from(&Overrides::default(), env).unwrap_err();
        assert!(
            err.to_string()
                .contains("set HMS_MODULES_APPOINTMENTS_REMINDER_HOUR instead"),
            "{err}"
        );
        let path =
            std::env::temp_dir().join(format!("hms-config-moved-{}.toml", std::process::id()));
        std::fs::write(&path, "reminder_days_before = 2\n").unwrap();
        let file = path.display().to_string();
        let err = load_from(&Overrides::default(), |k| {
            (k == "HMS_CONFIG").then(|| file.clone())
        })
        .unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(
            err.to_string()
                .contains("[modules.appointments] reminder_days_before"),
            "{err}"
        );
    }

    #[test]
    fn trusted_networks_match_addresses() {
        let net = TrustedNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.20.30.40".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let one = TrustedNet::parse("127.0.0.1").unwrap();
        assert!(one.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(TrustedNet::parse("10.0.0.0/40").is_err());
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://hms:s3cret@db:5432/hms"),
            "postgres://hms:***@db:5432/hms"
        );
        assert_eq!(
            redact_url("smtps://clinic%40mail.example:p4ss@mail.example:465"),
            "smtps://clinic%40mail.example:***@mail.example:465"
        );
        assert_eq!(
            redact_url("sqlite://./hms-data/hms.db"),
            "sqlite://./hms-data/hms.db"
        );
    }

    #[test]
    fn the_backup_folder_is_found_from_the_data_directory_never_the_working_directory() {
        let flags = Overrides {
            data_dir: Some(PathBuf::from("/srv/hms/data")),
            ..Overrides::default()
        };
        let env = |k: &str| (k == "HMS_BACKUP_DIR").then(|| "copies".to_string());
        let loaded = load_from(&flags, env).unwrap();
        assert_eq!(loaded.config.backup_folder(), Path::new("/srv/hms/copies"));
        let shown = loaded.describe();
        assert!(shown
            .iter()
            .any(|(k, v, _)| *k == "backup_dir" && v == "/srv/hms/copies"));
        let default = load_from(&flags, |_| None).unwrap();
        assert_eq!(
            default.config.backup_folder(),
            Path::new("/srv/hms/hms-backups")
        );
    }
}
