//! Translation lookup. Every user-facing string in templates goes through `t(key="...")`.
//! English is the catalogue today; Swahili is added as a second catalogue with the same keys.

use std::collections::HashMap;
use std::sync::OnceLock;

const EN: &str = include_str!("../locales/en.toml");

fn catalogue() -> &'static HashMap<String, String> {
    static CATALOGUE: OnceLock<HashMap<String, String>> = OnceLock::new();
    CATALOGUE.get_or_init(|| parse(EN))
}

fn parse(text: &str) -> HashMap<String, String> {
    let table: toml::Table = toml::from_str(text).expect("the English catalogue is valid TOML");
    let mut out = HashMap::new();
    flatten("", &table, &mut out);
    out
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Table(t) => flatten(&key, t, out),
            _ => {}
        }
    }
}

/// The text for `key`; a missing key shows as the key itself (and a test catches it).
pub fn t(key: &str) -> String {
    match catalogue().get(key) {
        Some(s) => s.clone(),
        None => {
            tracing::warn!(key, "missing translation");
            key.to_string()
        }
    }
}

pub fn has(key: &str) -> bool {
    catalogue().contains_key(key)
}
