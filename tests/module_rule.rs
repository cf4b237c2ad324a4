//! The rule between departments: a module crate depends on `hms-core`, and on another module
//! crate only when it lists that module in `requires()`, and then uses nothing of it but its
//! `api` module. Read from `cargo metadata` (the dependencies) and from every module's sources
//! (the paths), so a department cannot reach into another's routes, SQL or screens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A module crate as the rule sees it.
struct Crate {
    /// The module id (`patients` for `hms-patients`).
    id: String,
    dir: PathBuf,
    /// Names of the workspace crates it depends on (any kind: normal, dev, build).
    local_deps: Vec<String>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

/// The module crates (packages under `modules/`) and their workspace dependencies.
fn module_crates(metadata: &serde_json::Value, root: &Path) -> Vec<Crate> {
    let modules_dir = root.join("modules");
    let mut out = Vec::new();
    for p in metadata["packages"].as_array().expect("packages") {
        let manifest = PathBuf::from(p["manifest_path"].as_str().expect("manifest_path"));
        if !manifest.starts_with(&modules_dir) {
            continue;
        }
        let name = p["name"].as_str().expect("name");
        let id = name
            .strip_prefix("hms-")
            .unwrap_or_else(|| panic!("module crate {name} must be named hms-<id>"))
            .to_string();
        let local_deps = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["path"].is_string())
            .map(|d| d["name"].as_str().expect("dependency name").to_string())
            .collect();
        out.push(Crate {
            id,
            dir: manifest.parent().expect("crate dir").to_path_buf(),
            local_deps,
        });
    }
    out
}

/// Every `.rs` file under `dir`, as (path, text).
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let path = e.expect("dir entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    todo.push(path);
                }
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                out.push((path, text));
            }
        }
    }
    out.sort();
    out
}

/// The uses of another workspace crate in one source text that the rule refuses: any path into
/// `hms_<other>` except `hms_<other>::api::...` (or `::api;`, `::api as ...`, `::api::{...}`),
/// for every other crate of the workspace (`crates`, with underscores) than `own` and core.
fn bad_paths(text: &str, own: &str, crates: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for other in crates {
            if other == own || other == "hms_core" {
                continue;
            }
            for (at, _) in line.match_indices(other.as_str()) {
                // A longer name that starts the same (hms_patients_x) is another crate.
                let before = line[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &line[at + other.len()..];
                if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let allowed = rest.strip_prefix("::api").is_some_and(|r| {
                    r.starts_with("::")
                        || r.starts_with(';')
                        || r.starts_with(" as ")
                        || r.starts_with([',', '}', ')'])
                });
                if !allowed {
                    out.push(format!("line {}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    out
}

/// Every breach of the rule, in words.
fn violations(
    crates: &[Crate],
    requires: &BTreeMap<String, Vec<String>>,
    workspace_crates: &[String],
    read: impl Fn(&Path) -> Vec<(PathBuf, String)>,
) -> Vec<String> {
    let module_ids: Vec<&str> = crates.iter().map(|c| c.id.as_str()).collect();
    let mut out = Vec::new();
    for c in crates {
        let Some(required) = requires.get(&c.id) else {
            out.push(format!("hms-{}: not in the module registry", c.id));
            continue;
        };
        for dep in &c.local_deps {
            if dep == "hms-core" {
                continue;
            }
            let other = dep.strip_prefix("hms-").unwrap_or(dep);
            if !module_ids.contains(&other) {
                out.push(format!(
                    "hms-{}: depends on {dep}, which is not a module",
                    c.id
                ));
            } else if !required.iter().any(|r| r == other) {
                out.push(format!(
                    "hms-{}: depends on {dep} without listing \"{other}\" in requires()",
                    c.id
                ));
            }
        }
        let own = format!("hms_{}", c.id.replace('-', "_"));
        for (path, text) in read(&c.dir) {
            for bad in bad_paths(&text, &own, workspace_crates) {
                out.push(format!(
                    "{}: {bad} (other modules are used only through their api)",
                    path.display()
                ));
            }
        }
    }
    out
}

#[test]
fn modules_depend_on_core_and_on_required_modules_through_their_api_only() {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let crates = module_crates(&metadata, &root);
    let ids: Vec<&str> = crates.iter().map(|c| c.id.as_str()).collect();
    assert!(
        ids.contains(&"patients") && ids.contains(&"appointments"),
        "module crates found: {ids:?}"
    );
    let requires: BTreeMap<String, Vec<String>> = hms_web::compiled_modules()
        .iter()
        .map(|m| {
            let needs = m.requires().iter().map(|r| r.to_string()).collect();
            (m.id().to_string(), needs)
        })
        .collect();
    let workspace_crates: Vec<String> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["name"].as_str().expect("name").replace('-', "_"))
        .collect();
    let found = violations(&crates, &requires, &workspace_crates, sources);
    assert!(
        found.is_empty(),
        "the module rule is broken:\n{}",
        found.join("\n")
    );
    // Appointments builds on patients, through its api.
    let appointments = crates.iter().find(|c| c.id == "appointments").unwrap();
    assert!(appointments.local_deps.iter().any(|d| d == "hms-patients"));
}

/// The checker itself: each kind of breach is found, and what the rule allows passes.
#[test]
fn the_rule_refuses_undeclared_dependencies_and_paths_outside_api() {
    let crates = vec![
        Crate {
            id: "patients".into(),
            dir: PathBuf::from("patients"),
            local_deps: vec!["hms-core".into()],
        },
        Crate {
            id: "appointments".into(),
            dir: PathBuf::from("appointments"),
            local_deps: vec!["hms-core".into(), "hms-patients".into()],
        },
        Crate {
            id: "audit".into(),
            dir: PathBuf::from("audit"),
            local_deps: vec!["hms-core".into(), "hms-patients".into(), "hms-web".into()],
        },
    ];
    let requires: BTreeMap<String, Vec<String>> = [
        ("patients", vec![]),
        ("appointments", vec!["patients".to_string()]),
        ("audit", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let workspace: Vec<String> = [
        "hms_core",
        "hms_web",
        "hms_patients",
        "hms_appointments",
        "hms_audit",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let read = |dir: &Path| -> Vec<(PathBuf, String)> {
        let text = match dir.to_str() {
            Some("appointments") => {
                "use hms_patients::api::{self as patients, PatientCard};\n\
                 use hms_patients::api;\n\
                 let x = hms_patients::search::search(db);\n\
                 hms_patients::record_visit(tx);\n\
                 use hms_patients::{api, demo};\n\
                 use hms_core::db::Db; use hms_patients_extra::x;"
            }
            Some("audit") => "fn f() { hms_web::compiled_modules(); }",
            _ => "use hms_core::ids::PatientId;",
        };
        vec![(dir.join("src/lib.rs"), text.to_string())]
    };
    let found = violations(&crates, &requires, &workspace, read);
    let has = |what: &str| found.iter().any(|f| f.contains(what));
    assert!(
        has("hms-audit: depends on hms-patients without listing"),
        "{found:#?}"
    );
    assert!(
        has("hms-audit: depends on hms-web, which is not a module"),
        "{found:#?}"
    );
    assert!(has("line 3: let x = hms_patients::search"), "{found:#?}");
    assert!(has("line 4: hms_patients::record_visit"), "{found:#?}");
    assert!(has("line 5: use hms_patients::{api, demo}"), "{found:#?}");
    assert!(has("hms_web::compiled_modules"), "{found:#?}");
    assert_eq!(found.len(), 6, "nothing else is refused: {found:#?}");

    // With audit declaring patients and without the web dependency, audit passes.
    let mut crates = crates;
    crates[2].local_deps = vec!["hms-core".into(), "hms-patients".into()];
    let mut requires = requires;
    requires.insert("audit".into(), vec!["patients".into()]);
    let read_ok = |dir: &Path| {
        vec![(
            dir.join("src/lib.rs"),
            "use hms_patients::api::card_by_number;".to_string(),
        )]
    };
    assert!(violations(&crates, &requires, &workspace, read_ok).is_empty());
}
