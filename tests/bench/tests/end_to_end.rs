//! The benchmark runs end to end on a tiny demo facility: every scenario is driven and none
//! fails. No figures are checked here: timing belongs to benchmarks, not tests.

use std::path::PathBuf;
use std::process::Command;

fn work_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::env::temp_dir().join(format!(
        "hms-bench-test-{tag}-{}-{nanos}",
        std::process::id()
    ))
}

/// Runs the benchmark on 200 patients for a second per scenario (the heavy chart's patient
/// given 30 visits, not 1,000); returns its JSON figures.
fn run(tag: &str, extra: &[&str]) -> serde_json::Value {
    let work = work_dir(tag);
    let json = work.join("figures.json");
    std::fs::create_dir_all(&work).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hms-bench"))
        .args([
            "--patients",
            "200",
            "--days",
            "30",
            "--clients",
            "3",
            "--seconds",
            "1",
            "--warmup",
            "0.2",
            "--heavy-visits",
            "30",
            "--no-cache",
        ])
        .arg("--work")
        .arg(&work)
        .arg("--json")
        .arg(&json)
        .args(extra)
        .env_remove("HMS_DATABASE_URL")
        .env_remove("HMS_CONFIG")
        .output()
        .expect("hms-bench runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "hms-bench failed:\n{printed}");
    let figures = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&work)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "figures.json")
        .collect();
    assert!(leftovers.is_empty(), "the run cleans up: {leftovers:?}");
    let _ = std::fs::remove_dir_all(&work);
    figures
}

fn every_scenario_ran_without_errors(figures: &serde_json::Value) {
    assert_eq!(figures["errors"], 0, "{figures:#}");
    let scenarios = figures["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "healthz",
            "login",
            "login_flood",
            "dashboard",
            "search",
            "search_parts",
            "chart",
            "chart_heavy",
            "register",
            "book",
            "queue",
            "vitals",
            "consult",
            "doctor",
            "dispense",
            "dispense_hot",
            "pharmacy_stock",
            "consumption_report",
            "pay_cash",
            "invoice_pdf",
            "stk_callback"
        ]
    );
    for s in scenarios {
        assert_eq!(s["errors"], 0, "{s:#}");
        assert!(s["requests"].as_u64().unwrap() > 0, "{s:#}");
        assert!(s["vs_healthz"].as_f64().unwrap() > 0.0, "{s:#}");
    }
    // The flood was refused while staff signed in.
    let flood = scenarios
        .iter()
        .find(|s| s["scenario"] == "login_flood")
        .unwrap();
    assert!(
        flood["flood_refused_per_second"].as_f64().unwrap() > 0.0,
        "{flood:#}"
    );
    // Every client raced for one item: the books still add up.
    let hot = scenarios
        .iter()
        .find(|s| s["scenario"] == "dispense_hot")
        .unwrap();
    assert_eq!(hot["ledger_differences"], 0, "{hot:#}");
    assert!(hot["refused"].as_u64().is_some(), "{hot:#}");
    // M-Pesa's repeated callbacks were acknowledged, and no receipt was paid twice.
    let stk = scenarios
        .iter()
        .find(|s| s["scenario"] == "stk_callback")
        .unwrap();
    assert_eq!(stk["double_payments"], 0, "{stk:#}");
    assert!(stk["duplicates"].as_u64().is_some(), "{stk:#}");
    assert!(figures["startup_ms"].as_f64().unwrap() > 0.0);
    assert!(figures["idle_rss_mb"].as_f64().unwrap() > 0.0);
    assert!(figures["peak_rss_mb"].as_f64().unwrap() >= figures["idle_rss_mb"].as_f64().unwrap());
    assert!(figures["database_mb_before"].as_f64().unwrap() > 0.0);
}

#[test]
fn the_benchmark_drives_every_scenario_without_errors_on_sqlite() {
    let figures = run("sqlite", &[]);
    assert_eq!(figures["backend"], "sqlite");
    every_scenario_ran_without_errors(&figures);
}

#[test]
fn the_benchmark_drives_every_scenario_without_errors_on_postgres() {
    let Some(url) = std::env::var("HMS_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        eprintln!("skipped: HMS_TEST_POSTGRES_URL is not set");
        return;
    };
    let figures = run("postgres", &["--database", &url]);
    assert_eq!(figures["backend"], "postgres");
    every_scenario_ran_without_errors(&figures);
}
