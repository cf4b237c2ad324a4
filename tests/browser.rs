//! A real browser walks through the first minutes of HMS: first-run setup, the dashboard,
//! signing out and signing in again. Headless Chromium is driven by chromedriver over
//! WebDriver; the console must stay free of errors and Content Security Policy violations.
//!
//! Needs `chromium` and `chromedriver` (Debian packages). Without them the test prints
//! "skipped" and passes, unless `HMS_REQUIRE_BROWSER=1` (then it fails). `HMS_CHROMIUM` and
//! `HMS_CHROMEDRIVER` point at other binaries. Screenshots land in `target/browser/`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use thirtyfour::prelude::*;
use thirtyfour::{BrowserLogEntry, ChromeCapabilities, LoggingPrefsLogLevel};

const FACILITY: &str = "Mwangaza Health Centre";
const FULL_NAME: &str = "Amina Wanjiku";
const USERNAME: &str = "amina";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_member_sets_up_signs_out_and_signs_in_again_in_a_real_browser() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let shots = screenshot_dir();
    let app = hms_testkit::TestApp::start(hms_testkit::Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    let (base_url, stop_server) = app.serve().await;

    let profile = TempDir::new("hms-chromium-profile");
    let chromedriver = ChromeDriver::start(&tools.chromedriver, &shots.join("chromedriver.log"));
    let driver = WebDriver::new(
        chromedriver.url(),
        chrome_capabilities(&tools.chromium, profile.path()),
    )
    .await
    .expect("chromedriver opens a Chromium session");

    // `run_and_quit` closes the browser even when an assertion in the walk panics.
    let outcome = driver
        .run_and_quit(|driver| async move { walk_through(&driver, &base_url, &shots).await })
        .await;
    if let Err(e) = outcome {
        panic!("browser walk-through failed: {e}");
    }

    let _ = stop_server.send(());
    drop(chromedriver);
    drop(profile);
    drop(app);
}

/// The user's journey; every step checks what the user sees and that the console stayed clean.
async fn walk_through(driver: &WebDriver, base_url: &str, shots: &Path) -> WebDriverResult<()> {
    // A fresh installation sends every visitor to first-run setup.
    driver.goto(format!("{base_url}/")).await?;
    wait_for_path(driver, "/setup").await?;
    assert_heading_contains(driver, "Set up").await?;
    fill(driver, "facility_name", FACILITY).await?;
    fill(driver, "full_name", FULL_NAME).await?;
    fill(driver, "username", USERNAME).await?;
    fill(driver, "password", hms_testkit::PASSWORD).await?;
    fill(driver, "password_confirm", hms_testkit::PASSWORD).await?;
    screenshot(driver, shots, "setup.png").await?;
    assert_clean_console(driver, "setup page").await?;
    click(driver, "main form button[type=submit]").await?;

    // Setup signs the new administrator in and shows the dashboard.
    wait_for_path(driver, "/").await?;
    assert_on_dashboard(driver).await?;
    screenshot(driver, shots, "dashboard.png").await?;
    assert_clean_console(driver, "dashboard after setup").await?;

    // Sign out from the top bar.
    click(driver, "form[action='/logout'] button[type=submit]").await?;
    wait_for_path(driver, "/login").await?;
    let text = page_text(driver).await?;
    assert!(
        text.contains("You have signed out."),
        "the sign-in page confirms the sign-out; it shows:\n{text}"
    );
    assert!(
        !text.contains(FULL_NAME),
        "after signing out the page must not show the user's name; it shows:\n{text}"
    );
    screenshot(driver, shots, "login.png").await?;
    assert_clean_console(driver, "sign-in page after sign-out").await?;

    // Sign in again with the same credentials.
    fill(driver, "username", USERNAME).await?;
    fill(driver, "password", hms_testkit::PASSWORD).await?;
    click(driver, "main form button[type=submit]").await?;
    wait_for_path(driver, "/").await?;
    assert_on_dashboard(driver).await?;
    screenshot(driver, shots, "dashboard-again.png").await?;
    assert_clean_console(driver, "dashboard after signing in again").await?;

    assert_console_capture_works(driver, base_url).await
}

// ---------------------------------------------------------------------------------------------
// Page helpers

async fn assert_on_dashboard(driver: &WebDriver) -> WebDriverResult<()> {
    let h1 = driver
        .query(By::Css("main h1"))
        .first()
        .await?
        .text()
        .await?;
    assert!(
        h1.starts_with("Good ") && h1.contains(FULL_NAME),
        "the dashboard greets the user by name; its heading is {h1:?}"
    );
    let text = page_text(driver).await?;
    assert!(
        text.contains("Administrator"),
        "the dashboard shows the Administrator role; it shows:\n{text}"
    );
    assert!(
        text.contains(FACILITY),
        "the top bar shows the facility name; the page shows:\n{text}"
    );
    Ok(())
}

async fn assert_heading_contains(driver: &WebDriver, expected: &str) -> WebDriverResult<()> {
    let h1 = driver
        .query(By::Css("main h1"))
        .first()
        .await?
        .text()
        .await?;
    assert!(
        h1.contains(expected),
        "page heading {h1:?} should contain {expected:?}"
    );
    Ok(())
}

/// Types `value` into the (emptied) input with id `id`.
async fn fill(driver: &WebDriver, id: &str, value: &str) -> WebDriverResult<()> {
    let input = driver.query(By::Id(id)).first().await?;
    input.clear().await?;
    input.send_keys(value).await?;
    Ok(())
}

async fn click(driver: &WebDriver, css: &str) -> WebDriverResult<()> {
    driver.query(By::Css(css)).first().await?.click().await
}

/// The visible text of the whole page.
async fn page_text(driver: &WebDriver) -> WebDriverResult<String> {
    driver.find(By::Tag("body")).await?.text().await
}

/// Waits until the browser shows `path` and the document has finished loading.
async fn wait_for_path(driver: &WebDriver, path: &str) -> WebDriverResult<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = driver.current_url().await?;
        if url.path() == path {
            let ready = driver.execute("return document.readyState", vec![]).await?;
            if ready.json().as_str() == Some("complete") {
                return Ok(());
            }
        }
        assert!(
            Instant::now() < deadline,
            "expected the browser on {path}, but it stayed on {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Saves the top of the page (what a user sees on arrival) as `dir/name`.
async fn screenshot(driver: &WebDriver, dir: &Path, name: &str) -> WebDriverResult<()> {
    driver.execute("window.scrollTo(0, 0)", vec![]).await?;
    let path = dir.join(name);
    driver.screenshot(&path).await?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}

/// Drains the browser console and fails on errors (SEVERE: script errors, failed loads such as
/// a missing favicon) and on any Content Security Policy report.
async fn assert_clean_console(driver: &WebDriver, page: &str) -> WebDriverResult<()> {
    // Late requests (favicon) report shortly after the load event.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let entries = driver.browser_log().await?;
    for e in &entries {
        eprintln!("console on {page}: [{}] {}", e.level, e.message);
    }
    let bad: Vec<&BrowserLogEntry> = entries
        .iter()
        .filter(|e| e.level == "SEVERE" || e.message.contains("Content Security Policy"))
        .collect();
    assert!(
        bad.is_empty(),
        "the browser console on the {page} has {} error(s) or CSP violation(s):\n{}",
        bad.len(),
        bad.iter()
            .map(|e| format!("  [{}] {}", e.level, e.message))
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}

/// Guards the console checks against passing vacuously: a page that answers 404 must show up
/// as a SEVERE entry, or the browser log is not being captured at all.
async fn assert_console_capture_works(driver: &WebDriver, base_url: &str) -> WebDriverResult<()> {
    driver.goto(format!("{base_url}/no-such-page")).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let entries = driver.browser_log().await?;
    assert!(
        entries
            .iter()
            .any(|e| e.level == "SEVERE" && e.message.contains("404")),
        "a missing page should log a 404 console error; got {entries:?} \
         (is goog:loggingPrefs honoured?)"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Browser and driver processes

struct BrowserTools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

impl BrowserTools {
    /// Finds both binaries; `None` (test skipped) when one is missing, unless
    /// `HMS_REQUIRE_BROWSER=1` makes that a failure.
    fn find() -> Option<BrowserTools> {
        let chromium = find_binary("HMS_CHROMIUM", "/usr/bin/chromium", "chromium");
        let chromedriver = find_binary("HMS_CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver");
        match (chromium, chromedriver) {
            (Ok(chromium), Ok(chromedriver)) => Some(BrowserTools {
                chromium,
                chromedriver,
            }),
            (chromium, chromedriver) => {
                let missing: Vec<String> = [chromium.err(), chromedriver.err()]
                    .into_iter()
                    .flatten()
                    .collect();
                let missing = missing.join("; ");
                if std::env::var("HMS_REQUIRE_BROWSER").as_deref() == Ok("1") {
                    panic!("HMS_REQUIRE_BROWSER=1 but the browser test cannot run: {missing}");
                }
                eprintln!("skipped: browser test needs a browser: {missing}");
                None
            }
        }
    }
}

/// The binary named by `env_var`, else `default` if it exists, else `name` on `PATH`.
/// The error says what was looked for.
fn find_binary(env_var: &str, default: &str, name: &str) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{env_var}={} is not a file", path.display()))
        };
    }
    if Path::new(default).is_file() {
        return Ok(PathBuf::from(default));
    }
    let not_found = || format!("{name} is neither at {default} nor on PATH (set {env_var})");
    let out = Command::new("which")
        .arg(name)
        .output()
        .map_err(|_| not_found())?;
    let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !found.is_empty() {
        Ok(PathBuf::from(found))
    } else {
        Err(not_found())
    }
}

fn chrome_capabilities(chromium: &Path, profile: &Path) -> ChromeCapabilities {
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(&chromium.to_string_lossy())
        .expect("binary capability");
    let profile_arg = format!("--user-data-dir={}", profile.display());
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1366,768",
        // Bootstrap scrolls smoothly unless the user prefers reduced motion; chromedriver would
        // then click where a button is about to be, not where it is.
        "--force-prefers-reduced-motion",
        profile_arg.as_str(),
    ] {
        caps.add_arg(arg).expect("chromium argument");
    }
    caps.set_browser_log_level(LoggingPrefsLogLevel::All)
        .expect("browser log capability");
    caps
}

/// A chromedriver process on a free local port; killed when dropped (also on panic).
struct ChromeDriver {
    child: Child,
    port: u16,
}

impl ChromeDriver {
    fn start(binary: &Path, log: &Path) -> ChromeDriver {
        let port = free_port();
        let log = std::fs::File::create(log).expect("chromedriver log file");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut driver = ChromeDriver { child, port };
        driver.wait_until_listening(Duration::from_secs(10));
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_until_listening(&mut self, timeout: Duration) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + timeout;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited early ({status}); see target/browser/chromedriver.log");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {} within {timeout:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now (the OS picks it; released before use).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `<workspace>/target/browser`, created if needed.
fn screenshot_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate sits inside the workspace");
    let dir = workspace.join("target").join("browser");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}
