//! Module settings: each module declares its settings ([`Setting`]: key, default, meaning,
//! allowed values) and reads them typed; the values come from the `[modules.<id>]` table of the
//! configuration file and the `HMS_MODULES_<ID>_<KEY>` environment variables (which win), and
//! `hms config` lists them with where each came from, like the platform's own settings.

use std::collections::BTreeMap;

use crate::config::{Config, ConfigError, Loaded, Source};

/// The kind of a setting, its default and its allowed values.
#[derive(Debug, Clone, Copy)]
pub enum SettingKind {
    /// A whole number from `min` to `max`.
    Integer {
        default: i64,
        min: i64,
        max: i64,
    },
    Bool {
        default: bool,
    },
    Text {
        default: &'static str,
    },
}

/// One setting of a module (`reminder_hour` of `[modules.appointments]`).
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub key: &'static str,
    /// What it does, for `hms config` and the README.
    pub description: &'static str,
    pub kind: SettingKind,
}

impl Setting {
    /// The value when nothing is configured.
    pub fn default_value(&self) -> toml::Value {
        match self.kind {
            SettingKind::Integer { default, .. } => toml::Value::Integer(default),
            SettingKind::Bool { default } => toml::Value::Boolean(default),
            SettingKind::Text { default } => toml::Value::String(default.into()),
        }
    }

    /// Checks a configured value: the right kind and within bounds.
    pub fn check(&self, value: &toml::Value) -> Result<(), String> {
        match (self.kind, value) {
            (SettingKind::Integer { min, max, .. }, toml::Value::Integer(n)) => {
                if (min..=max).contains(n) {
                    Ok(())
                } else {
                    Err(format!("{n} is not from {min} to {max}"))
                }
            }
            (SettingKind::Integer { .. }, v) => Err(format!("{v} is not a whole number")),
            (SettingKind::Bool { .. }, toml::Value::Boolean(_)) => Ok(()),
            (SettingKind::Bool { .. }, v) => Err(format!("{v} is not true or false")),
            (SettingKind::Text { .. }, toml::Value::String(_)) => Ok(()),
            (SettingKind::Text { .. }, v) => Err(format!("{v} is not text in quotes")),
        }
    }

    /// Reads an environment variable's text as this setting's kind.
    fn read_env(&self, text: &str) -> Result<toml::Value, String> {
        let value = match self.kind {
            SettingKind::Integer { .. } => text
                .parse::<i64>()
                .map(toml::Value::Integer)
                .map_err(|_| format!("'{text}' is not a whole number"))?,
            SettingKind::Bool { .. } => match text.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => toml::Value::Boolean(true),
                "0" | "false" | "no" | "off" => toml::Value::Boolean(false),
                _ => return Err(format!("'{text}' is not one of 1, 0, true, false")),
            },
            SettingKind::Text { .. } => toml::Value::String(text.into()),
        };
        self.check(&value)?;
        Ok(value)
    }
}

/// Each compiled module's id and its declared settings.
pub type Declared<'a> = &'a [(&'static str, &'static [Setting])];

/// The environment variable of a module setting: `HMS_MODULES_APPOINTMENTS_REMINDER_HOUR`.
pub fn env_var(module: &str, key: &str) -> String {
    format!("HMS_MODULES_{}_{}", module, key).to_ascii_uppercase()
}

fn invalid(module: &str, key: &str, message: String) -> ConfigError {
    ConfigError::Module {
        key: format!("modules.{module}.{key}"),
        message,
    }
}

/// Checks the `[modules.*]` tables against what the compiled modules declare: a table for a
/// module not compiled in, a key the module does not declare, or a value of the wrong kind or
/// out of bounds is refused with its place named.
pub fn check(
    modules: &BTreeMap<String, toml::Table>,
    declared: Declared,
) -> Result<(), ConfigError> {
    for (module, table) in modules {
        let Some((_, settings)) = declared.iter().find(|(id, _)| id == module) else {
            let known: Vec<&str> = declared.iter().map(|(id, _)| *id).collect();
            return Err(ConfigError::Module {
                key: format!("modules.{module}"),
                message: format!(
                    "no module '{module}' is compiled into this binary (modules: {})",
                    known.join(", ")
                ),
            });
        };
        for (key, value) in table {
            let Some(setting) = settings.iter().find(|s| s.key == key) else {
                let known: Vec<&str> = settings.iter().map(|s| s.key).collect();
                return Err(invalid(
                    module,
                    key,
                    format!(
                        "the {module} module has no such setting (its settings: {})",
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            };
            setting.check(value).map_err(|m| invalid(module, key, m))?;
        }
    }
    Ok(())
}

/// Applies the `HMS_MODULES_<ID>_<KEY>` environment variables over the file's tables, checks
/// the result and records where each module setting came from.
pub fn resolve(
    loaded: &mut Loaded,
    declared: Declared,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (module, table) in &loaded.config.modules {
        for key in table.keys() {
            if let Some(file) = &loaded.file {
                loaded.module_sources.insert(
                    format!("modules.{module}.{key}"),
                    Source::File(file.clone()),
                );
            }
        }
    }
    for (module, settings) in declared {
        for setting in *settings {
            let var = env_var(module, setting.key);
            let Some(text) = env(&var).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let value = setting
                .read_env(text.trim())
                .map_err(|m| invalid(module, setting.key, format!("{var}: {m}")))?;
            loaded
                .config
                .modules
                .entry(module.to_string())
                .or_default()
                .insert(setting.key.to_string(), value);
            loaded.module_sources.insert(
                format!("modules.{module}.{}", setting.key),
                Source::EnvVar(var),
            );
        }
    }
    check(&loaded.config.modules, declared)
}

impl Loaded {
    /// Lines for `hms config`: every declared module setting, its value and its source.
    pub fn describe_modules(&self, declared: Declared) -> Vec<(String, String, String)> {
        let mut rows = Vec::new();
        for (module, settings) in declared {
            for setting in *settings {
                let name = format!("modules.{module}.{}", setting.key);
                let value = self.config.module_value(module, setting);
                let value = match value {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                let source = self
                    .module_sources
                    .get(&name)
                    .cloned()
                    .unwrap_or(Source::Default);
                rows.push((name, value, source.to_string()));
            }
        }
        rows
    }
}

impl Config {
    /// A module setting: the configured value, else the declared default.
    pub fn module_value(&self, module: &str, setting: &Setting) -> toml::Value {
        self.modules
            .get(module)
            .and_then(|t| t.get(setting.key))
            .filter(|v| setting.check(v).is_ok())
            .cloned()
            .unwrap_or_else(|| setting.default_value())
    }

    /// A whole-number module setting (the default for a setting of another kind).
    pub fn module_integer(&self, module: &str, setting: &Setting) -> i64 {
        let default = match setting.kind {
            SettingKind::Integer { default, .. } => default,
            _ => 0,
        };
        self.module_value(module, setting)
            .as_integer()
            .unwrap_or(default)
    }

    pub fn module_bool(&self, module: &str, setting: &Setting) -> bool {
        self.module_value(module, setting)
            .as_bool()
            .unwrap_or(false)
    }

    pub fn module_text(&self, module: &str, setting: &Setting) -> String {
        match self.module_value(module, setting) {
            toml::Value::String(s) => s,
            other => other.to_string(),
        }
    }

    /// Sets a module setting (tests, and tools that build a configuration in code).
    pub fn set_module_value(&mut self, module: &str, key: &str, value: impl Into<toml::Value>) {
        self.modules
            .entry(module.to_string())
            .or_default()
            .insert(key.to_string(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_from, Overrides};

    const HOUR: Setting = Setting {
        key: "hour",
        description: "Hour",
        kind: SettingKind::Integer {
            default: 9,
            min: 0,
            max: 23,
        },
    };
    const LOUD: Setting = Setting {
        key: "loud",
        description: "Loud",
        kind: SettingKind::Bool { default: false },
    };
    const DECLARED: Declared = &[("clinic", &[HOUR, LOUD])];

    fn with_file(text: &str, env: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("hms-module-config-{}-{n}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let file = path.display().to_string();
        let lookup = |k: &str| {
            if k == "HMS_CONFIG" {
                return Some(file.clone());
            }
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        let result = load_from(&Overrides::default(), lookup).and_then(|mut loaded| {
            resolve(&mut loaded, DECLARED, lookup)?;
            Ok(loaded)
        });
        std::fs::remove_file(&path).unwrap();
        result
    }

    #[test]
    fn module_settings_come_from_default_file_and_environment() {
        let loaded = with_file("[modules.clinic]\nhour = 7\n", &[]).unwrap();
        assert_eq!(loaded.config.module_integer("clinic", &HOUR), 7);
        assert!(!loaded.config.module_bool("clinic", &LOUD), "default");
        let rows = loaded.describe_modules(DECLARED);
        assert!(
            rows[0].0 == "modules.clinic.hour"
                && rows[0].1 == "7"
                && rows[0].2.starts_with("file ")
        );
        assert_eq!(
            rows[1],
            (
                "modules.clinic.loud".into(),
                "false".into(),
                "default".into()
            )
        );

        let loaded = with_file(
            "[modules.clinic]\nhour = 7\n",
            &[
                ("HMS_MODULES_CLINIC_HOUR", "5"),
                ("HMS_MODULES_CLINIC_LOUD", "yes"),
            ],
        )
        .unwrap();
        assert_eq!(loaded.config.module_integer("clinic", &HOUR), 5);
        assert!(loaded.config.module_bool("clinic", &LOUD));
        let rows = loaded.describe_modules(DECLARED);
        assert_eq!(rows[0].2, "environment HMS_MODULES_CLINIC_HOUR");
    }

    #[test]
    fn bad_module_settings_are_refused_with_their_place_named() {
        let err = with_file("[modules.clinic]\nhour = 24\n", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "modules.clinic.hour: 24 is not from 0 to 23"
        );
        let err = with_file("[modules.clinic]\nhours = 2\n", &[]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("modules.clinic.hours: the clinic module has no such setting"),
            "{err}"
        );
        let err = with_file("[modules.clinik]\nhour = 2\n", &[]).unwrap_err();
        assert!(err.to_string().contains("no module 'clinik'"), "{err}");
        let err = with_file("", &[("HMS_MODULES_CLINIC_HOUR", "late")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("HMS_MODULES_CLINIC_HOUR: 'late' is not a whole number"),
            "{err}"
        );
        let err = with_file("[modules.clinic]\nloud = 1\n", &[]).unwrap_err();
        assert!(err.to_string().contains("is not true or false"), "{err}");
    }
}
