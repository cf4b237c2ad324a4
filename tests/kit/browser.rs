//! The browser harness: headless Chromium driven by a chromedriver of its own, against the real
//! server on 127.0.0.1, with helpers for what a person does (fill a field, click, sign in) and
//! checks every walk makes (clean console, page fits the window). Without `chromium` and
//! `chromedriver` a test is skipped, unless `HMS_REQUIRE_BROWSER=1` (then it fails);
//! `HMS_CHROMIUM` and `HMS_CHROMEDRIVER` point at other binaries. Screenshots land in
//! `target/browser/`.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use thirtyfour::components::SelectElement;
use thirtyfour::prelude::*;
use thirtyfour::{BrowserLogEntry, ChromeCapabilities, LoggingPrefsLogLevel};

use crate::TestApp;

/// The side menu's text.
pub async fn menu_text(driver: &WebDriver) -> WebDriverResult<String> {
    driver.find(By::Css("nav.sidemenu")).await?.text().await
}

/// Serves `app` over TCP, opens headless Chromium through a chromedriver of its own and runs
/// `walk` with the browser, the base URL and the screenshot directory. The browser is closed
/// and the server stopped afterwards, also when the walk panics. `label` names the
/// chromedriver log (`target/browser/chromedriver-LABEL.log`).
pub async fn in_browser<F, Fut>(tools: &BrowserTools, app: &TestApp, label: &str, walk: F)
where
    F: FnOnce(WebDriver, String, PathBuf) -> Fut,
    Fut: Future<Output = WebDriverResult<()>>,
{
    let shots = screenshot_dir();
    let (base_url, stop_server) = app.serve().await;

    let profile = TempDir::new(&format!("hms-chromium-profile-{label}"));
    let log = shots.join(format!("chromedriver-{label}.log"));
    let chromedriver = ChromeDriver::start(&tools.chromedriver, &log);
    let driver = WebDriver::new(
        chromedriver.url(),
        chrome_capabilities(&tools.chromium, profile.path()),
    )
    .await
    .expect("chromedriver opens a Chromium session");

    // `run_and_quit` closes the browser even when an assertion in the walk panics.
    let outcome = driver
        .run_and_quit(|driver| walk(driver, base_url, shots))
        .await;
    if let Err(e) = outcome {
        panic!("browser walk-through failed: {e}");
    }

    let _ = stop_server.send(());
    drop(chromedriver);
    drop(profile);
}

pub async fn assert_heading_contains(driver: &WebDriver, expected: &str) -> WebDriverResult<()> {
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

/// Signs in through the form of the sign-in page the browser shows.
pub async fn sign_in(driver: &WebDriver, username: &str, password: &str) -> WebDriverResult<()> {
    fill(driver, "username", username).await?;
    fill(driver, "password", password).await?;
    submit(driver).await
}

/// Signs out from the top bar and checks the sign-in page confirms it.
pub async fn sign_out(driver: &WebDriver) -> WebDriverResult<()> {
    click(driver, "form[action='/logout'] button[type=submit]").await?;
    wait_for_path(driver, "/login").await?;
    let text = page_text(driver).await?;
    assert!(
        text.contains("You have signed out."),
        "the sign-in page confirms the sign-out; it shows:\n{text}"
    );
    Ok(())
}

/// Follows the side menu's link called `label`.
pub async fn click_menu_item(driver: &WebDriver, label: &str) -> WebDriverResult<()> {
    driver
        .find(By::Css("nav[aria-label='Main menu']"))
        .await?
        .find(By::LinkText(label))
        .await?
        .click()
        .await
}

/// Waits until the body of dashboard card `id` shows text that satisfies `loaded`; returns it.
pub async fn wait_for_card(
    driver: &WebDriver,
    id: &str,
    loaded: impl Fn(&str) -> bool,
) -> WebDriverResult<String> {
    let css = format!("section[aria-labelledby='card-{id}'] .dash-card-body");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = driver.find(By::Css(css.as_str())).await?.text().await?;
        if loaded(&text) {
            return Ok(text);
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard card {id} did not finish loading; it shows:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Types `value` into the (emptied) input with id `id`.
pub async fn fill(driver: &WebDriver, id: &str, value: &str) -> WebDriverResult<()> {
    let input = driver.query(By::Id(id)).first().await?;
    input.clear().await?;
    input.send_keys(value).await?;
    Ok(())
}

pub async fn click(driver: &WebDriver, css: &str) -> WebDriverResult<()> {
    driver.query(By::Css(css)).first().await?.click().await
}

/// Presses the submit button of the page's form (the one in the main area).
pub async fn submit(driver: &WebDriver) -> WebDriverResult<()> {
    click(driver, "main form button[type=submit]").await
}

/// The visible text of the whole page.
pub async fn page_text(driver: &WebDriver) -> WebDriverResult<String> {
    driver.find(By::Tag("body")).await?.text().await
}

/// Waits until the browser shows `path` and the document has finished loading.
pub async fn wait_for_path(driver: &WebDriver, path: &str) -> WebDriverResult<()> {
    wait_until_path(driver, path, |p| p == path).await
}

/// Waits until the browser's path satisfies `wanted` (described as `what`) and the document
/// has finished loading.
pub async fn wait_until_path(
    driver: &WebDriver,
    what: &str,
    wanted: impl Fn(&str) -> bool,
) -> WebDriverResult<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = driver.current_url().await?;
        if wanted(url.path()) {
            let ready = driver.execute("return document.readyState", vec![]).await?;
            if ready.json().as_str() == Some("complete") {
                return Ok(());
            }
        }
        assert!(
            Instant::now() < deadline,
            "expected the browser on {what}, but it stayed on {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Saves the top of the page (what a user sees on arrival) as `dir/name`.
pub async fn screenshot(driver: &WebDriver, dir: &Path, name: &str) -> WebDriverResult<()> {
    driver.execute("window.scrollTo(0, 0)", vec![]).await?;
    let path = dir.join(name);
    driver.screenshot(&path).await?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}

/// Like `screenshot`, and fails when the page is wider than the window (a horizontal
/// scrollbar on a 1366-pixel laptop screen).
pub async fn screenshot_fits(driver: &WebDriver, dir: &Path, name: &str) -> WebDriverResult<()> {
    screenshot(driver, dir, name).await?;
    let widths = driver
        .execute(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
            vec![],
        )
        .await?;
    let widths: Vec<u64> = widths.convert()?;
    assert!(
        widths[0] <= widths[1],
        "{name}: the page is {} pixels wide but the window shows {}",
        widths[0],
        widths[1]
    );
    Ok(())
}

/// Drains the browser console and returns its errors (SEVERE: script errors, failed loads
/// such as a missing favicon or a page answered with an error status) and every Content
/// Security Policy report; everything is printed.
pub async fn console_problems(
    driver: &WebDriver,
    page: &str,
) -> WebDriverResult<Vec<BrowserLogEntry>> {
    // Late requests (favicon) report shortly after the load event.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let entries = driver.browser_log().await?;
    for e in &entries {
        eprintln!("console on {page}: [{}] {}", e.level, e.message);
    }
    Ok(entries
        .into_iter()
        .filter(|e| e.level == "SEVERE" || e.message.contains("Content Security Policy"))
        .collect())
}

pub fn describe(entries: &[BrowserLogEntry]) -> String {
    entries
        .iter()
        .map(|e| format!("  [{}] {}", e.level, e.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Drains the browser console and fails on any error or Content Security Policy report.
pub async fn assert_clean_console(driver: &WebDriver, page: &str) -> WebDriverResult<()> {
    let bad = console_problems(driver, page).await?;
    assert!(
        bad.is_empty(),
        "the browser console on the {page} has {} error(s) or CSP violation(s):\n{}",
        bad.len(),
        describe(&bad)
    );
    Ok(())
}

/// Guards the console checks against passing vacuously: a page that answers 404 must show up
/// as a SEVERE entry, or the browser log is not being captured at all.
pub async fn assert_console_capture_works(
    driver: &WebDriver,
    base_url: &str,
) -> WebDriverResult<()> {
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

pub struct BrowserTools {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

impl BrowserTools {
    /// Finds both binaries; `None` (test skipped) when one is missing, unless
    /// `HMS_REQUIRE_BROWSER=1` makes that a failure.
    pub fn find() -> Option<BrowserTools> {
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
pub fn find_binary(env_var: &str, default: &str, name: &str) -> Result<PathBuf, String> {
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

pub fn chrome_capabilities(chromium: &Path, profile: &Path) -> ChromeCapabilities {
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
pub struct ChromeDriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl ChromeDriver {
    pub fn start(binary: &Path, log: &Path) -> ChromeDriver {
        let port = free_port();
        let log_path = log.to_path_buf();
        let log = std::fs::File::create(log).expect("chromedriver log file");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut driver = ChromeDriver {
            child,
            port,
            log: log_path,
        };
        driver.wait_until_listening(Duration::from_secs(10));
        driver
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_until_listening(&mut self, timeout: Duration) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + timeout;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited early ({status}); see {}",
                    self.log.display()
                );
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
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `<workspace>/target/browser`, created if needed.
pub fn screenshot_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate sits inside the workspace");
    let dir = workspace.join("target").join("browser");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

/// Types a date into a date field as a person in Kenya would: `dd/mm/yyyy`, then checks what
/// the field holds. (A browser's own `<input type=date>` follows the browser's language, so
/// HMS's date fields are text.)
pub async fn type_date(driver: &WebDriver, id: &str, iso: &str) -> WebDriverResult<()> {
    let input = driver.find(By::Id(id)).await?;
    let (y, rest) = iso.split_once('-').expect("YYYY-MM-DD");
    let (m, d) = rest.split_once('-').expect("YYYY-MM-DD");
    let typed = format!("{d}/{m}/{y}");
    input.clear().await?;
    input.send_keys(&typed).await?;
    assert_eq!(
        input.value().await?.as_deref(),
        Some(typed.as_str()),
        "the date typed into {id}"
    );
    Ok(())
}

/// Makes the page area (not the window) `width` x `height` pixels.
pub async fn viewport(driver: &WebDriver, width: i64, height: i64) -> WebDriverResult<()> {
    driver
        .set_window_rect(0, 0, width as u32, height as u32)
        .await?;
    let inner: Vec<i64> = driver
        .execute("return [window.innerWidth, window.innerHeight]", vec![])
        .await?
        .convert()?;
    // The window's frame is the difference; a loaded machine may apply a resize late, so it is
    // measured again until the page area is right.
    let mut inner = inner;
    for _ in 0..20 {
        if inner == [width, height] {
            break;
        }
        let (w, h) = (
            width + (window_size(driver).await?.0 - inner[0]),
            height + (window_size(driver).await?.1 - inner[1]),
        );
        driver.set_window_rect(0, 0, w as u32, h as u32).await?;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        inner = driver
            .execute("return [window.innerWidth, window.innerHeight]", vec![])
            .await?
            .convert()?;
    }
    assert_eq!(inner, [width, height], "the page area");
    Ok(())
}

/// The browser window's outer size.
async fn window_size(driver: &WebDriver) -> WebDriverResult<(i64, i64)> {
    let rect = driver.get_window_rect().await?;
    Ok((rect.width, rect.height))
}

pub async fn select_value(driver: &WebDriver, id: &str, value: &str) -> WebDriverResult<()> {
    let select = driver.find(By::Id(id)).await?;
    SelectElement::new(&select)
        .await?
        .select_by_value(value)
        .await
}

/// Waits until the element at `css` shows text that satisfies `ready`; returns the text.
pub async fn wait_for_text(
    driver: &WebDriver,
    css: &str,
    ready: impl Fn(&str) -> bool,
) -> WebDriverResult<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // HTMX may swap the element out between finding and reading it: read again.
        let text = match driver.find(By::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if ready(&text) {
            return Ok(text);
        }
        assert!(
            Instant::now() < deadline,
            "{css} did not show what was expected; it shows:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Makes the page render as for `media` ("print"), or as usual (""), through chromedriver's
/// DevTools endpoint (thirtyfour's own CDP helper is behind a feature the workspace leaves off).
pub async fn emulate_media(driver: &WebDriver, media: &str) -> WebDriverResult<()> {
    driver
        .handle()
        .cmd(DevTools(
            "Emulation.setEmulatedMedia",
            serde_json::json!({ "media": media }),
        ))
        .await?;
    Ok(())
}

/// A Chrome DevTools Protocol command sent through chromedriver.
#[derive(Debug)]
pub struct DevTools(&'static str, serde_json::Value);

impl thirtyfour::common::command::FormatRequestData for DevTools {
    fn format_request(&self, session_id: &thirtyfour::SessionId) -> thirtyfour::RequestData {
        thirtyfour::RequestData::new(
            poem::http::Method::POST,
            format!("/session/{session_id}/goog/cdp/execute"),
        )
        .add_body(serde_json::json!({ "cmd": self.0, "params": self.1 }))
    }
}
