//! Translation lookup. Every user-facing string in templates goes through `t(key="...")`, and
//! every message made in code through `t("...")`. The language is the request's: the user's
//! choice, else the language switch cookie, else the facility's default, else English. It is
//! carried in a task-local for the request, so handlers and templates need not pass it along.

use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;

const EN: &str = include_str!("../locales/en.toml");
const SW: &str = include_str!("../locales/sw.toml");

/// The languages HMS speaks: code and name (in that language).
pub const LANGUAGES: &[(&str, &str)] = &[("en", "English"), ("sw", "Kiswahili")];

tokio::task_local! {
    static LANGUAGE: &'static str;
}

fn catalogue(lang: &str) -> &'static HashMap<String, String> {
    static EN_CAT: OnceLock<HashMap<String, String>> = OnceLock::new();
    static SW_CAT: OnceLock<HashMap<String, String>> = OnceLock::new();
    match lang {
        "sw" => SW_CAT.get_or_init(|| parse(SW)),
        _ => EN_CAT.get_or_init(|| parse(EN)),
    }
}

fn parse(text: &str) -> HashMap<String, String> {
    let table: toml::Table = toml::from_str(text).expect("a catalogue is valid TOML");
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

/// A supported language code, as a static string.
pub fn resolve(code: &str) -> Option<&'static str> {
    LANGUAGES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code.trim()))
        .map(|(c, _)| *c)
}

/// The language of the current request (English outside a request).
pub fn current() -> &'static str {
    LANGUAGE.try_with(|l| *l).unwrap_or("en")
}

/// Runs `fut` with `lang` as the request's language.
pub async fn scope<F: Future>(lang: &'static str, fut: F) -> F::Output {
    LANGUAGE.scope(lang, fut).await
}

/// The text for `key` in the request's language (English when the key is missing there); a key
/// missing everywhere shows as the key itself (and a test catches it).
pub fn t(key: &str) -> String {
    t_in(current(), key)
}

pub fn t_in(lang: &str, key: &str) -> String {
    if let Some(s) = catalogue(lang).get(key) {
        return s.clone();
    }
    match catalogue("en").get(key) {
        Some(s) => s.clone(),
        None => {
            tracing::warn!(key, "missing translation");
            key.to_string()
        }
    }
}

pub fn has(key: &str) -> bool {
    catalogue("en").contains_key(key)
}

/// Every key of a language's catalogue (for the parity test).
pub fn keys(lang: &str) -> Vec<String> {
    let mut keys: Vec<String> = catalogue(lang).keys().cloned().collect();
    keys.sort();
    keys
}
