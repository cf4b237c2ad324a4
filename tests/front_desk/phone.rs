//! Phones and small tablets: at 390 x 844 the header is one line (the facility's name and a
//! menu button), the menu opens from that button, and a queue row stacks Serve and Left without
//! being seen under the patient's name, on screen. At 1366 x 768 the menu stays open beside the
//! page as before.

use std::path::Path;

use hms_testkit::browser::*;
use hms_testkit::domain::{register_quick, submit_check_in, visit_id};
use hms_testkit::{Backend, TestApp};
use thirtyfour::prelude::*;

/// The element's box on screen: left, top, right, bottom.
async fn rect(driver: &WebDriver, css: &str) -> WebDriverResult<Vec<f64>> {
    driver
        .execute(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect(); \
             return [r.left, r.top, r.right, r.bottom];",
            vec![serde_json::json!(css)],
        )
        .await?
        .convert()
}

/// Whether the menu's Dashboard link can be seen.
async fn menu_shown(driver: &WebDriver) -> WebDriverResult<bool> {
    driver
        .find(By::Css("nav.sidemenu a[href='/']"))
        .await?
        .is_displayed()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_the_header_is_one_line_the_menu_opens_and_queue_actions_are_on_screen() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    app.setup_admin().await;
    app.add_user("desk", &["receptionist"]).await;
    app.add_user("nurse", &["nurse"]).await;
    let desk = app.login("desk").await;
    let first = register_quick(&desk, "Nyokabi", "Wambui-Kariuki", "0712 000 101").await;
    let second = register_quick(&desk, "Chebet", "Kiprono-Langat", "0712 000 102").await;
    visit_id(&submit_check_in(&desk, first, "triage", "").await);
    visit_id(&submit_check_in(&desk, second, "triage", "").await);
    let nurse = app.login("nurse").await;
    nurse.get("/queues/triage").await;
    let r = nurse.post_form("/queues/triage/call", &[]).await;
    assert_eq!(r.status, 303, "the nurse calls Nyokabi: {}", r.body);

    in_browser(
        &tools,
        &app,
        "phone",
        |driver, base_url, shots| async move { phone_walk(&driver, &base_url, &shots).await },
    )
    .await;
}

async fn phone_walk(driver: &WebDriver, base_url: &str, shots: &Path) -> WebDriverResult<()> {
    viewport(driver, 390, 844).await?;
    driver.goto(format!("{base_url}/login")).await?;
    screenshot_fits(driver, shots, "phone-login.png").await?;
    let header = rect(driver, "header.topbar").await?;
    assert!(
        header[3] - header[1] <= 64.0,
        "the sign-in page's header is one line at 390 px: {header:?}"
    );
    sign_in(driver, "nurse", hms_testkit::PASSWORD).await?;
    wait_for_path(driver, "/").await?;

    // One line of header, then the page: no menu in the way.
    let header = rect(driver, "header.topbar").await?;
    assert!(
        header[3] - header[1] <= 64.0,
        "the header is one line at 390 px, {} px high",
        header[3] - header[1]
    );
    let page = rect(driver, "main").await?;
    assert!(
        page[1] <= 64.0,
        "the page starts {} px from the top (header and menu before it)",
        page[1]
    );
    assert!(!menu_shown(driver).await?, "the menu starts closed");
    let sign_out = driver
        .find(By::Css("form[action='/logout'] button"))
        .await?;
    assert!(
        !sign_out.is_displayed().await?,
        "sign-out waits in the menu"
    );
    screenshot_fits(driver, shots, "phone-dashboard.png").await?;

    // The menu button opens the menu, the language switch and sign-out.
    let button = driver.find(By::Id("menu-button")).await?;
    assert_eq!(button.text().await?, "Menu");
    assert_eq!(
        button.attr("aria-expanded").await?.as_deref(),
        Some("false")
    );
    button.click().await?;
    assert_eq!(button.attr("aria-expanded").await?.as_deref(), Some("true"));
    assert!(menu_shown(driver).await?, "the menu opens");
    assert!(
        sign_out.is_displayed().await?,
        "sign-out is in the open menu"
    );
    screenshot_fits(driver, shots, "phone-menu-open.png").await?;
    // Escape closes it again, and the button has the focus.
    driver
        .active_element()
        .await?
        .send_keys(Key::Escape)
        .await?;
    assert!(!menu_shown(driver).await?, "Escape closes the menu");
    assert_eq!(
        button.attr("aria-expanded").await?.as_deref(),
        Some("false")
    );

    button.click().await?;
    click_menu_item(driver, "Queues").await?;
    wait_for_path(driver, "/queues").await?;
    driver.goto(format!("{base_url}/queues/triage")).await?;
    assert!(
        !menu_shown(driver).await?,
        "a new page starts with the menu closed"
    );

    // The called patient's Serve and Left buttons sit under her name, inside the screen.
    let width: f64 = driver
        .execute("return document.documentElement.clientWidth", vec![])
        .await?
        .convert()?;
    let name = rect(driver, "#queue-live a[href^='/patients/']").await?;
    for css in [
        "button[id^='serve-']",
        "#queue-live tbody tr:first-child button[id^='left-']",
        "#queue-live > div.table-responsive:last-of-type button[id^='left-']",
    ] {
        let b = rect(driver, css).await?;
        assert!(
            b[0] >= 0.0 && b[2] <= width,
            "{css} is on screen: {b:?}, screen {width} px wide"
        );
        assert!(
            b[1] > name[3] - 1.0,
            "{css} sits under the name: {b:?} {name:?}"
        );
    }
    // The column headings are hidden when rows stack, so each time says what it counts.
    let queue = driver.find(By::Css("#queue-live")).await?.text().await?;
    assert!(
        queue.contains("Since called: ") && queue.contains("Waiting: "),
        "the times keep their headings on a phone: {queue}"
    );
    screenshot_fits(driver, shots, "phone-queue.png").await?;
    click(driver, "button[id^='serve-']").await?;
    wait_for_text(driver, "#queue-live", |t| t.contains("Complete")).await?;

    // In Kiswahili too.
    driver.find(By::Id("menu-button")).await?.click().await?;
    click(driver, "form.language-switch button[value='sw']").await?;
    wait_for_text(driver, "#menu-button", |t| t == "Menyu").await?;
    screenshot_fits(driver, shots, "phone-queue-sw.png").await?;
    let header = rect(driver, "header.topbar").await?;
    assert!(header[3] - header[1] <= 64.0, "one line in Kiswahili too");

    // A laptop: the menu is beside the page without a button.
    viewport(driver, 1366, 768).await?;
    assert!(menu_shown(driver).await?, "at 1366 px the menu is open");
    assert!(
        !driver
            .find(By::Id("menu-button"))
            .await?
            .is_displayed()
            .await?,
        "no menu button at 1366 px"
    );
    let th = driver.find(By::Css("#queue-live thead th")).await?;
    assert!(th.is_displayed().await?, "the queue is a table at 1366 px");
    let label = driver.find(By::Css("#queue-live .stacked-label")).await?;
    assert!(
        !label.is_displayed().await?,
        "at 1366 px the headings are the table's, not repeated in the cells"
    );
    screenshot_fits(driver, shots, "laptop-queue-sw.png").await?;
    Ok(())
}
