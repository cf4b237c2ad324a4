//! Every literal `t(key="...")` in the shared templates and in every module's templates, and
//! every literal `t("...")` in the code, has a text in both languages (English and Kiswahili)
//! in the catalogue as merged at start-up (the platform's keys plus each module's
//! `modules/<id>/locales`). A `t(key=variable)` is not seen here; the scanners only find
//! literal keys.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

fn html_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            html_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "html") {
            out.push(path);
        }
    }
}

fn template_files() -> Vec<PathBuf> {
    let root = workspace();
    let mut files = Vec::new();
    html_files(&root.join("templates"), &mut files);
    if let Ok(modules) = std::fs::read_dir(root.join("modules")) {
        for module in modules.flatten() {
            html_files(&module.path().join("templates"), &mut files);
        }
    }
    files.sort();
    files
}

/// The catalogue as the server merges it: the platform's texts and every compiled module's.
fn merged() {
    let registry = hms_core::module::Registry::new(hms_web::compiled_modules(), &[]);
    registry
        .install_translations()
        .expect("no key is defined twice");
}

#[test]
fn every_template_key_is_in_both_catalogues() {
    merged();
    let root = workspace();
    let files = template_files();
    assert!(
        files.iter().any(|f| f.starts_with(root.join("modules"))),
        "module templates are found"
    );
    let en: BTreeSet<String> = hms_core::i18n::keys("en").into_iter().collect();
    let sw: BTreeSet<String> = hms_core::i18n::keys("sw").into_iter().collect();
    let mut used = 0;
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a template is readable");
        for key in hms_core::ui::translation_keys(&text) {
            used += 1;
            let name = file.strip_prefix(&root).unwrap_or(file).display();
            if !en.contains(&key) {
                missing.push(format!("{name}: {key} (en)"));
            }
            if !sw.contains(&key) {
                missing.push(format!("{name}: {key} (sw)"));
            }
        }
    }
    assert!(
        used > 50,
        "templates use t() for their text ({used} keys seen)"
    );
    assert!(
        missing.is_empty(),
        "template keys without a translation:\n{}",
        missing.join("\n")
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Literal keys handed to the lookup in code: `t("a.b")`, `t_in(lang, "a.b")`, and the menu,
/// card and module titles (`label: "a.b"`, `title: "a.b"`).
fn code_keys(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let is_key = |k: &str| {
        k.contains('.')
            && !k.starts_with('.')
            && !k.ends_with('.')
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
    };
    for marker in ["t(\"", "label: \"", "title: \""] {
        for piece in text.split(marker).skip(1) {
            if let Some(key) = piece.split('"').next().filter(|k| is_key(k)) {
                keys.push(key.to_string());
            }
        }
    }
    for piece in text.split("t_in(").skip(1) {
        let args = piece.split(')').next().unwrap_or("");
        if let Some(key) = args.split('"').nth(1).filter(|k| is_key(k)) {
            keys.push(key.to_string());
        }
    }
    keys
}

#[test]
fn every_key_the_code_looks_up_resolves_in_both_languages_after_the_merge() {
    merged();
    let root = workspace();
    let mut files = Vec::new();
    for dir in ["core/src", "web/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    if let Ok(modules) = std::fs::read_dir(root.join("modules")) {
        for module in modules.flatten() {
            rust_files(&module.path().join("src"), &mut files);
        }
    }
    let en: BTreeSet<String> = hms_core::i18n::keys("en").into_iter().collect();
    let sw: BTreeSet<String> = hms_core::i18n::keys("sw").into_iter().collect();
    let mut seen = BTreeSet::new();
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file is readable");
        // Unit tests make up keys of their own.
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        for key in code_keys(text) {
            // Audit actions and settings keys look like keys but are not looked up.
            let section = key.split('.').next().unwrap_or("");
            if !en.iter().any(|k| k.starts_with(&format!("{section}."))) {
                continue;
            }
            let name = file
                .strip_prefix(&root)
                .unwrap_or(file)
                .display()
                .to_string();
            if !en.contains(&key) || !sw.contains(&key) {
                missing.push(format!("{name}: {key}"));
            }
            seen.insert(key);
        }
    }
    for module in ["patients", "appointments", "admin", "audit"] {
        assert!(
            seen.iter().any(|k| k.starts_with(module)),
            "the scan finds {module}'s keys in code ({} keys seen)",
            seen.len()
        );
    }
    assert!(
        missing.is_empty(),
        "keys looked up in code without a text in both languages:\n{}",
        missing.join("\n")
    );
}

/// Every key a module ships is in the merged catalogue in both languages, under its own name,
/// and the platform's catalogue keeps only platform keys.
#[test]
fn module_keys_join_the_catalogue_and_core_keeps_the_platforms() {
    merged();
    let en: BTreeSet<String> = hms_core::i18n::keys("en").into_iter().collect();
    let sw: BTreeSet<String> = hms_core::i18n::keys("sw").into_iter().collect();
    let mut moved = 0;
    for module in hms_web::compiled_modules() {
        let langs = hms_core::i18n::parse_module(module.id(), module.locales()).unwrap();
        assert_eq!(
            langs.len(),
            2,
            "{} ships English and Kiswahili",
            module.id()
        );
        for (lang, texts) in langs {
            for (key, text) in texts {
                moved += 1;
                assert!(en.contains(&key) && sw.contains(&key), "{key}");
                assert_eq!(hms_core::i18n::t_in(lang, &key), text, "{key} ({lang})");
            }
        }
    }
    assert!(moved > 1000, "module texts are found ({moved})");
    let root = workspace();
    for lang in ["en", "sw"] {
        let core = std::fs::read_to_string(root.join(format!("core/locales/{lang}.toml"))).unwrap();
        assert!(
            core.lines().count() < 500,
            "core/locales/{lang}.toml stays small"
        );
        for section in ["[patients", "[appointments", "[settings]", "[outbox]"] {
            assert!(!core.contains(section), "{section} belongs to its module");
        }
    }
    // A module key is looked up like any other.
    assert_ne!(
        hms_core::i18n::t_in("sw", "patients.title"),
        "patients.title",
        "module keys resolve"
    );
}

/// A stand-in department whose texts reuse a key patients already owns.
struct Clashing;

impl hms_core::module::Module for Clashing {
    fn id(&self) -> &'static str {
        "clashing"
    }
    fn title(&self) -> &'static str {
        "clashing.title"
    }
    fn permissions(&self) -> &'static [hms_core::module::Permission] {
        &[]
    }
    fn routes(&self) -> Vec<hms_core::http::RouteSpec> {
        Vec::new()
    }
    fn locales(&self) -> hms_core::i18n::ModuleLocales {
        &[
            ("en", "[patients]\ntitle = \"Mine\"\n"),
            ("sw", "[patients]\ntitle = \"Yangu\"\n"),
        ]
    }
}

#[tokio::test]
async fn a_key_defined_twice_stops_start_up_naming_both_owners() {
    let data_dir = std::env::temp_dir().join(format!("hms-i18n-clash-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let config = hms_core::config::Config {
        data_dir: data_dir.clone(),
        ..Default::default()
    };
    let db = hms_core::db::Db::open(&config.effective_database_url())
        .await
        .unwrap();
    let mut parts = hms_web::parts();
    parts.modules.push(std::sync::Arc::new(Clashing));
    let refused = hms_web::start_with_parts(config, db, parts).await;
    let _ = std::fs::remove_dir_all(&data_dir);
    let Err(e) = refused else {
        panic!("the app started with a key defined twice");
    };
    let message = e.to_string();
    assert!(
        message.contains("'patients.title'")
            && message.contains("clashing")
            && message.contains("patients"),
        "{message}"
    );
    assert_ne!(
        hms_core::i18n::t_in("en", "patients.title"),
        "Mine",
        "the refused texts changed nothing"
    );
}
