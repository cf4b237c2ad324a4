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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The `{name}` placeholders in a catalogue value.
    fn placeholders(text: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            rest = &rest[start + 1..];
            match rest.find('}') {
                Some(end) => {
                    let name = &rest[..end];
                    if !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        out.insert(format!("{{{name}}}"));
                    }
                    rest = &rest[end + 1..];
                }
                None => break,
            }
        }
        out
    }

    #[test]
    fn i18n_catalogues_have_the_same_keys() {
        let en: BTreeSet<String> = keys("en").into_iter().collect();
        let sw: BTreeSet<String> = keys("sw").into_iter().collect();
        assert!(en.len() > 100, "the English catalogue parses");
        let missing_in_sw: Vec<_> = en.difference(&sw).collect();
        let missing_in_en: Vec<_> = sw.difference(&en).collect();
        if !missing_in_sw.is_empty() {
            println!("keys in en.toml but not in sw.toml: {missing_in_sw:#?}");
        }
        if !missing_in_en.is_empty() {
            println!("keys in sw.toml but not in en.toml: {missing_in_en:#?}");
        }
        assert!(
            missing_in_sw.is_empty() && missing_in_en.is_empty(),
            "catalogues differ: missing in sw {missing_in_sw:?}; missing in en {missing_in_en:?}"
        );
    }

    #[test]
    fn i18n_placeholders_are_kept() {
        let mut bad = Vec::new();
        for key in keys("en") {
            let Some(sw) = catalogue("sw").get(&key) else {
                continue; // the parity test reports it
            };
            let en = &catalogue("en")[&key];
            let (want, got) = (placeholders(en), placeholders(sw));
            if want != got {
                bad.push(format!("{key}: en {want:?}, sw {got:?}"));
            }
        }
        assert!(bad.is_empty(), "placeholders differ:\n{}", bad.join("\n"));
    }

    #[test]
    fn i18n_no_empty_values() {
        for lang in ["en", "sw"] {
            let empty: Vec<_> = catalogue(lang)
                .iter()
                .filter(|(_, v)| v.trim().is_empty())
                .map(|(k, _)| k)
                .collect();
            assert!(empty.is_empty(), "{lang}: empty values for {empty:?}");
        }
    }

    #[test]
    fn i18n_swahili_is_used() {
        assert_ne!(t_in("sw", "login.title"), t_in("en", "login.title"));
        assert_eq!(t_in("sw", "login.title"), "Ingia");
        // An unknown language falls back to English.
        assert_eq!(t_in("xx", "login.title"), t_in("en", "login.title"));
    }

    #[test]
    fn i18n_placeholder_scanner() {
        let got = placeholders("Wait {seconds} s; {days} days, {not a name} {}");
        let want: BTreeSet<String> = ["{seconds}", "{days}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got, want);
    }
}
