//! Every literal `t(key="...")` in the shared templates and in every module's templates has a
//! text in both catalogues (English and Kiswahili). A template using `t(key=variable)` is not
//! seen here; the scanner only finds literal keys.

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

#[test]
fn every_template_key_is_in_both_catalogues() {
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
