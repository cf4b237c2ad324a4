//! Orders in a real browser: a doctor searches the stand-in department's catalogue as they
//! type (HTMX swaps the matches into the form), adds a test and a free-text drug, and places
//! both; on a phone the screen fits its width.

use std::path::Path;

use hms_testkit::browser::*;
use hms_testkit::{standin, Backend, TestApp};
use thirtyfour::prelude::*;

use super::{open_note_for_browser, Room};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctor_finds_a_test_as_they_type_adds_a_drug_and_places_both() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start_with_modules(Backend::Sqlite, vec![standin::module()])
        .await
        .expect("SQLite test app starts");
    let Room { note, visit, .. } = open_note_for_browser(&app).await;
    let db = app.db().clone();
    in_browser(
        &tools,
        &app,
        "orders",
        move |driver, base_url, shots| async move {
            walk(&driver, &base_url, &shots, note).await?;
            // Both lines reached core orders, once each.
            let placed = hms_core::orders::for_visit(&db, hms_core::ids::VisitId(visit))
                .await
                .expect("the visit's orders");
            let mut kinds: Vec<_> = placed.iter().map(|o| o.kind.clone()).collect();
            kinds.sort();
            assert_eq!(kinds, ["drug", standin::KIND]);
            Ok(())
        },
    )
    .await;
}

async fn walk(driver: &WebDriver, base: &str, shots: &Path, note: i64) -> WebDriverResult<()> {
    driver.goto(format!("{base}/login")).await?;
    sign_in(driver, "dr.wekesa", hms_testkit::PASSWORD).await?;
    wait_for_path(driver, "/").await?;
    // The dashboard's cards belong to other parts of the module: only this screen's console
    // is checked.
    console_problems(driver, "dashboard").await?;
    let path = format!("/consultations/{note}/orders");
    driver.goto(format!("{base}{path}")).await?;
    wait_for_path(driver, &path).await?;
    assert!(page_text(driver).await?.contains("The basket is empty"));

    // The test, found as it is typed.
    select_value(driver, "order-search-kind", standin::KIND).await?;
    fill(driver, "order-q", "gluc").await?;
    wait_for_text(driver, "#order-results", |t| t.contains("Blood glucose")).await?;
    click(driver, "#order-code-1").await?;
    fill(driver, "order-quantity", "1").await?;
    click(driver, "#order-add").await?;
    wait_for_text(driver, "#orders", |t| t.contains("Place orders (1)")).await?;

    // A drug the pharmacy's catalogue (empty here) does not list: the screen says to type it.
    select_value(driver, "order-search-kind", "drug").await?;
    fill(driver, "order-q", "parac").await?;
    wait_for_text(driver, "#order-results", |t| {
        t.contains("Nothing in the catalogue matches")
    })
    .await?;
    fill(driver, "order-free_text", "Paracetamol 500 mg").await?;
    fill(driver, "order-quantity", "1.5").await?;
    fill(driver, "order-dose", "1").await?;
    fill(driver, "order-dose_unit", "tablet").await?;
    select_value(driver, "order-route", "oral").await?;
    select_value(driver, "order-frequency", "TDS").await?;
    fill(driver, "order-duration_days", "5").await?;
    click(driver, "#order-add").await?;
    // A fraction is refused beside the field, and what was typed stays.
    wait_for_text(driver, "#order-quantity-error", |t| {
        t.contains("not a fraction")
    })
    .await?;
    fill(driver, "order-quantity", "15").await?;
    click(driver, "#order-add").await?;
    wait_for_text(driver, "#orders", |t| t.contains("Place orders (2)")).await?;
    screenshot(driver, shots, "orders-basket").await?;

    click(driver, "#order-place").await?;
    let after = wait_for_text(driver, "#orders", |t| t.contains("The basket is empty")).await?;
    assert!(after.contains("Paracetamol 500 mg: 1 tablet TDS") && after.contains("Blood glucose"));
    assert!(page_text(driver).await?.contains("Orders placed: 2"));
    // The refused line answered 422, which the console reports as a failed load; nothing else.
    let bad = console_problems(driver, "orders screen").await?;
    assert!(
        bad.iter().all(|e| e.message.contains("status of 422")),
        "{}",
        describe(&bad)
    );

    viewport(driver, 390, 844).await?;
    driver.goto(format!("{base}{path}")).await?;
    wait_for_path(driver, &path).await?;
    screenshot_fits(driver, shots, "orders-phone").await?;
    Ok(())
}
