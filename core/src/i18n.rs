//! Translation lookup. Every user-facing string in templates goes through `t(key="...")`, and
//! every message made in code through `t("...")`. The language is the request's: the user's
//! choice, else the language switch cookie, else the facility's default, else English. It is
//! carried in a task-local for the request, so handlers and templates need not pass it along.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{OnceLock, RwLock};

const EN: &str = include_str!("../locales/en.toml");
const SW: &str = include_str!("../locales/sw.toml");

/// The languages HMS speaks: code and name (in that language).
pub const LANGUAGES: &[(&str, &str)] = &[("en", "English"), ("sw", "Kiswahili")];

tokio::task_local! {
    static LANGUAGE: &'static str;
}

/// One language's texts: the platform's, then every installed module's.
type Texts = HashMap<String, String>;

/// The merged catalogue. Written at start-up (and again when a test starts another app with
/// other modules), read by every `t()`.
struct Catalogue {
    en: Texts,
    sw: Texts,
    /// Each module key and the module that brought it, to name both sides of a clash.
    owners: HashMap<String, &'static str>,
}

fn store() -> &'static RwLock<Catalogue> {
    static STORE: OnceLock<RwLock<Catalogue>> = OnceLock::new();
    STORE.get_or_init(|| {
        RwLock::new(Catalogue {
            en: parse(EN),
            sw: parse(SW),
            owners: HashMap::new(),
        })
    })
}

fn read() -> std::sync::RwLockReadGuard<'static, Catalogue> {
    store().read().unwrap_or_else(|e| e.into_inner())
}

fn lookup(lang: &str, key: &str) -> Option<String> {
    let cat = read();
    let texts = if lang == "sw" { &cat.sw } else { &cat.en };
    texts.get(key).cloned()
}

/// Why a module's texts cannot join the catalogue: start-up stops with this.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("translations of module '{module}' ({lang}) are not valid TOML: {message}")]
    Invalid {
        module: &'static str,
        lang: String,
        message: String,
    },
    #[error(
        "translation key '{key}' of module '{module}' is already defined by {by}; \
         every key has one owner"
    )]
    Duplicate {
        key: String,
        module: &'static str,
        by: String,
    },
    #[error("module '{module}' has translations in '{lang}', a language HMS does not speak")]
    Language { module: &'static str, lang: String },
}

/// A module's texts: (language code, TOML text) for each language it ships.
pub type ModuleLocales = &'static [(&'static str, &'static str)];

/// The flattened keys of a module's catalogues, checked: valid TOML, known languages.
pub fn parse_module(
    module: &'static str,
    locales: ModuleLocales,
) -> Result<Vec<(&'static str, Texts)>, CatalogueError> {
    locales
        .iter()
        .map(|(lang, text)| {
            let code = resolve(lang).ok_or_else(|| CatalogueError::Language {
                module,
                lang: lang.to_string(),
            })?;
            let table: toml::Table = toml::from_str(text).map_err(|e| CatalogueError::Invalid {
                module,
                lang: code.to_string(),
                message: e.message().to_string(),
            })?;
            let mut out = HashMap::new();
            flatten("", &table, &mut out);
            Ok((code, out))
        })
        .collect()
}

/// The module already owning one of `texts`' keys, or the platform.
fn clash(
    cat: &Catalogue,
    core: &Texts,
    batch: &HashMap<String, &'static str>,
    module: &'static str,
    key: &str,
) -> Option<String> {
    if core.contains_key(key) {
        return Some("the platform (core/locales)".into());
    }
    batch
        .get(key)
        .or_else(|| cat.owners.get(key))
        .filter(|m| **m != module)
        .map(|m| format!("module '{m}'"))
}

/// Merges the texts of `modules` (id and locales) into the catalogue. A key defined by the
/// platform, by two modules, or by a module and another already installed refuses the whole
/// set and changes nothing. Installing a module again (another app in the same process) only
/// writes its own keys again.
pub fn install(modules: &[(&'static str, ModuleLocales)]) -> Result<(), CatalogueError> {
    let mut parsed = Vec::new();
    for (module, locales) in modules {
        parsed.push((*module, parse_module(module, locales)?));
    }
    let core = {
        let mut all = parse(EN);
        all.extend(parse(SW));
        all
    };
    let mut cat = store().write().unwrap_or_else(|e| e.into_inner());
    let mut owners: HashMap<String, &'static str> = HashMap::new();
    for (module, langs) in &parsed {
        for (_, texts) in langs {
            for key in texts.keys() {
                if let Some(by) = clash(&cat, &core, &owners, module, key) {
                    return Err(CatalogueError::Duplicate {
                        key: key.clone(),
                        module,
                        by,
                    });
                }
                owners.insert(key.clone(), module);
            }
        }
    }
    for (_, langs) in parsed {
        for (lang, texts) in langs {
            let target = if lang == "sw" {
                &mut cat.sw
            } else {
                &mut cat.en
            };
            target.extend(texts);
        }
    }
    cat.owners.extend(owners);
    Ok(())
}

/// Checks one module's catalogues against each other: a catalogue for every language, the
/// same keys in each, no empty text, the same `{placeholders}`. Each module's test calls this.
pub fn check_module(module: &'static str, locales: ModuleLocales) -> Result<(), String> {
    let parsed = parse_module(module, locales).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    for (code, _) in LANGUAGES {
        if !parsed.iter().any(|(l, _)| l == code) {
            problems.push(format!("no catalogue for '{code}'"));
        }
    }
    for (lang, texts) in &parsed {
        for (key, value) in texts {
            if value.trim().is_empty() {
                problems.push(format!("{lang}: '{key}' is empty"));
            }
            for (other, theirs) in &parsed {
                match theirs.get(key) {
                    None => problems.push(format!("'{key}' is in {lang} but not in {other}")),
                    Some(t) if placeholders(t) != placeholders(value) => problems.push(format!(
                        "'{key}': placeholders differ between {lang} and {other}"
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("module '{module}': {}", problems.join("; ")))
    }
}

/// The `{name}` placeholders in a catalogue value.
pub fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        rest = &rest[start + 1..];
        match rest.find('}') {
            Some(end) => {
                let name = &rest[..end];
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    out.insert(format!("{{{name}}}"));
                }
                rest = &rest[end + 1..];
            }
            None => break,
        }
    }
    out
}

fn parse(text: &str) -> Texts {
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
    if let Some(s) = lookup(lang, key) {
        return s;
    }
    match lookup("en", key) {
        Some(s) => s,
        None => {
            tracing::warn!(key, "missing translation");
            key.to_string()
        }
    }
}

pub fn has(key: &str) -> bool {
    read().en.contains_key(key)
}

/// Every key of a language's catalogue as merged so far (for the parity tests).
pub fn keys(lang: &str) -> Vec<String> {
    let cat = read();
    let texts = if lang == "sw" { &cat.sw } else { &cat.en };
    let mut keys: Vec<String> = texts.keys().cloned().collect();
    keys.sort();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn i18n_catalogues_have_the_same_keys() {
        let en: BTreeSet<String> = keys("en").into_iter().collect();
        let sw: BTreeSet<String> = keys("sw").into_iter().collect();
        assert!(en.len() > 50, "the platform catalogue parses");
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
            let Some(sw) = lookup("sw", &key) else {
                continue; // the parity test reports it
            };
            let en = lookup("en", &key).unwrap_or_default();
            let (want, got) = (placeholders(&en), placeholders(&sw));
            if want != got {
                bad.push(format!("{key}: en {want:?}, sw {got:?}"));
            }
        }
        assert!(bad.is_empty(), "placeholders differ:\n{}", bad.join("\n"));
    }

    #[test]
    fn i18n_no_empty_values() {
        for lang in ["en", "sw"] {
            let cat = read();
            let texts = if lang == "sw" { &cat.sw } else { &cat.en };
            let empty: Vec<_> = texts
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

    #[test]
    fn i18n_a_key_defined_twice_is_refused() {
        const A: ModuleLocales = &[
            ("en", "[twice_a]\ntitle = \"A\""),
            ("sw", "[twice_a]\ntitle = \"A sw\""),
        ];
        const B: ModuleLocales = &[
            ("en", "[twice_a]\ntitle = \"B\""),
            ("sw", "[twice_a]\ntitle = \"B sw\""),
        ];
        const CORE: ModuleLocales = &[("en", "[login]\ntitle = \"Mine\""), ("sw", "")];
        let err = install(&[("twice_a", A), ("twice_b", B)]).unwrap_err();
        assert!(
            err.to_string().contains("'twice_a.title'") && err.to_string().contains("twice_a"),
            "{err}"
        );
        assert!(!has("twice_a.title"), "a refused set changes nothing");
        install(&[("twice_a", A)]).unwrap();
        install(&[("twice_a", A)]).expect("the same module again is no clash");
        assert_eq!(t_in("sw", "twice_a.title"), "A sw");
        let err = install(&[("twice_b", B)]).unwrap_err();
        assert!(err.to_string().contains("module 'twice_a'"), "{err}");
        let err = install(&[("mine", CORE)]).unwrap_err();
        assert!(err.to_string().contains("the platform"), "{err}");
        assert_eq!(t_in("en", "login.title"), "Sign in");
    }

    #[test]
    fn i18n_module_parity_is_checked() {
        const GOOD: ModuleLocales = &[
            ("en", "[p]\na = \"Wait {n} s\""),
            ("sw", "[p]\na = \"Subiri sekunde {n}\""),
        ];
        check_module("p", GOOD).unwrap();
        const BAD: ModuleLocales = &[
            ("en", "[p]\na = \"Wait {n} s\"\nb = \"B\""),
            ("sw", "[p]\na = \"Subiri\"\nc = \" \""),
        ];
        let err = check_module("p", BAD).unwrap_err();
        for part in [
            "'p.b' is in en but not in sw",
            "sw: 'p.c' is empty",
            "placeholders differ",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
    }
}
