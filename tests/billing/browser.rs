//! The cashier in a real browser: a cash patient with a lab charge waits at the laboratory; an
//! accountant signs in, opens a shift with a float from the desk's "no open shift" box, finds
//! the patient waiting to pay, takes more cash than is due and is told the change, the receipt
//! is listed and the laboratory may start. Then the shift closes on a blind count that matches
//! the float and the takings. The desk and the bill are photographed at 1366 and 390 px.

use std::path::Path;

use hms_core::charges::{self, Clearance};
use hms_core::money::Money;
use hms_testkit::browser::*;
use hms_testkit::{Backend, TestApp};
use thirtyfour::prelude::*;

use crate::{publish, visit_with_charge};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cashier_opens_a_shift_takes_cash_with_change_and_closes_on_a_matching_count() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    publish(app.db()).await;
    let (_, visit, source_ref) = visit_with_charge(app.db(), "BR-2001", "cash", 1).await;
    let core = app.app.clone();
    let gate = move || {
        let core = core.clone();
        let source_ref = source_ref.clone();
        async move {
            charges::clearance(&core.modules, &core.db, "order", &source_ref)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        gate().await,
        Clearance::Awaiting(Money::from_shillings(850)),
        "the laboratory waits for payment"
    );
    app.add_user("cashier", &["accountant"]).await;
    in_browser(
        &tools,
        &app,
        "billing-cashier",
        move |driver, base_url, _| async move {
            let shots = std::env::temp_dir().join("hms-billing-browser");
            std::fs::create_dir_all(&shots).expect("screenshot directory");
            take_payment(&driver, &base_url, &shots, visit).await?;
            assert_eq!(
                gate().await,
                Clearance::Cleared,
                "paid: the laboratory may start"
            );
            close_shift(&driver, &base_url).await
        },
    )
    .await;
}

async fn take_payment(
    driver: &WebDriver,
    base: &str,
    shots: &Path,
    visit: i64,
) -> WebDriverResult<()> {
    driver.goto(format!("{base}/login")).await?;
    sign_in(driver, "cashier", hms_testkit::PASSWORD).await?;
    wait_for_path(driver, "/").await?;
    click_menu_item(driver, "Cashier").await?;
    wait_for_path(driver, "/billing").await?;
    let no_shift = driver.find(By::Id("no-shift")).await?.text().await?;
    assert!(no_shift.contains("You have no open shift"), "{no_shift}");
    screenshot_fits(driver, shots, "desk-no-shift.png").await?;

    fill(driver, "float", "1000").await?;
    click(driver, "#open-shift").await?;
    wait_for_path(driver, "/billing").await?;
    let open = driver.find(By::Id("shift-open")).await?.text().await?;
    assert!(open.contains("Your shift is open since"), "{open}");
    assert!(
        driver.find_all(By::Id("no-shift")).await?.is_empty(),
        "the box is gone"
    );
    let waiting = driver.find(By::Id("waiting")).await?.text().await?;
    assert!(
        waiting.contains("BR-2001")
            && waiting.contains("Wanjiru Kamau")
            && waiting.contains("KES 850.00"),
        "{waiting}"
    );
    assert_clean_console(driver, "cashier desk").await?;
    screenshot_fits(driver, shots, "desk.png").await?;

    driver
        .find(By::Id("waiting"))
        .await?
        .find(By::LinkText("Open bill"))
        .await?
        .click()
        .await?;
    let bill = format!("/billing/visits/{visit}");
    wait_for_path(driver, &bill).await?;
    assert_heading_contains(driver, "Wanjiru Kamau").await?;
    let due = driver.find(By::Id("due")).await?.text().await?;
    assert!(due.contains("KES 850.00"), "{due}");
    let unbilled = driver.find(By::Id("unbilled")).await?.text().await?;
    assert!(unbilled.contains("Full blood count"), "{unbilled}");
    screenshot_fits(driver, shots, "bill.png").await?;

    // The same two screens on a phone, then back to the laptop to pay.
    viewport(driver, 390, 844).await?;
    driver.goto(format!("{base}/billing")).await?;
    wait_for_path(driver, "/billing").await?;
    screenshot_fits(driver, shots, "desk-phone.png").await?;
    driver.goto(format!("{base}{bill}")).await?;
    wait_for_path(driver, &bill).await?;
    screenshot_fits(driver, shots, "bill-phone.png").await?;
    viewport(driver, 1366, 768).await?;

    click(driver, "#method-cash").await?;
    fill(driver, "pay-amount", "1000").await?;
    click(driver, "#pay-form #take-payment").await?;
    let change = wait_for_text(driver, "main .alert-success", |t| t.contains("change")).await?;
    assert_eq!(change, "Payment taken. Give the patient KES 150.00 change.");
    wait_for_path(driver, &bill).await?;
    let receipts = driver.find(By::Id("visit-receipts")).await?;
    let listed = receipts.text().await?;
    assert!(
        listed.contains("RCT-") && listed.contains("KES 850.00"),
        "{listed}"
    );
    let href = receipts
        .find(By::LinkText("Print receipt"))
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    assert!(
        href.starts_with("/billing/receipts/") && href.ends_with(".pdf"),
        "{href}"
    );
    let due = driver.find(By::Id("due")).await?.text().await?;
    assert!(due.contains("KES 0.00"), "{due}");
    assert!(
        driver.find_all(By::Id("pay-form")).await?.is_empty(),
        "nothing left to pay"
    );
    assert_clean_console(driver, "bill").await?;
    screenshot_fits(driver, shots, "bill-paid.png").await
}

async fn close_shift(driver: &WebDriver, base: &str) -> WebDriverResult<()> {
    driver.goto(format!("{base}/billing/shifts")).await?;
    wait_for_path(driver, "/billing/shifts").await?;
    let text = page_text(driver).await?;
    assert!(!text.contains("1,850"), "the count is blind: {text}");
    // 1,000 float + 850 taken = 1,850.
    for (note, count) in [
        ("1000", "1"),
        ("500", "1"),
        ("200", "1"),
        ("100", "1"),
        ("50", "1"),
    ] {
        fill(driver, &format!("count-{note}"), count).await?;
    }
    click(driver, "#close-shift").await?;
    wait_for_path(driver, "/billing/shifts").await?;
    let text = page_text(driver).await?;
    assert!(text.contains("Shift closed."), "{text}");
    assert!(
        driver.find_all(By::Id("close-shift")).await?.is_empty(),
        "no open shift to close"
    );
    let row = driver
        .find(By::Css("#shift-list tbody tr"))
        .await?
        .text()
        .await?;
    assert!(
        row.contains("Closed, waiting for approval")
            && row.contains("KES 0.00")
            && row.contains("Z-report"),
        "{row}"
    );
    assert_clean_console(driver, "shifts").await
}
