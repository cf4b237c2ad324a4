//! Dispensing in a real browser: a pharmacist calls the next patient at the pharmacy, finds the
//! doctor's prescription of 20 tablets with only 12 on the shelf, dispenses the 12 and leaves
//! 8 pending, and prints the Kiswahili label; `pdftotext` finds the drug, the directions and
//! the patient on it. On a phone the prescription screen fits its width.

use std::path::Path;

use hms_testkit::browser::*;
use hms_testkit::{pdf, Backend, TestApp};
use thirtyfour::prelude::*;

use crate::dispense::{counter, visit_with_orders};
use crate::fixtures::{day, receive};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pharmacist_dispenses_part_of_a_prescription_and_prints_a_kiswahili_label() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    let c = counter(&app).await;
    receive(app.db(), c.store, c.drug, "KB-12", day(2028, 5, 31), 12).await;
    let (_, visit, ids) = visit_with_orders(&app, "BR-0001", &[20]).await;
    let db = app.db().clone();
    let pharmacist = c.pharmacist;
    let order_id = ids[0];
    in_browser(
        &tools,
        &app,
        "pharmacy-dispense",
        move |driver, base_url, shots| async move {
            walk(&driver, &base_url, &shots, visit).await?;
            // The server is still up: what the walk did, and the label it printed.
            let o = hms_core::orders::get(&db, hms_core::ids::OrderId(order_id))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (o.state, o.quantity_done),
                (hms_core::orders::State::InProgress, 12)
            );
            let id: i64 = sqlx::query_scalar("SELECT id FROM dispenses WHERE visit_id = $1")
                .bind(visit)
                .fetch_one(db.read())
                .await
                .unwrap();
            let label = pharmacist
                .get(&format!("/pharmacy/dispenses/{id}/labels.pdf?size=label"))
                .await;
            assert_eq!(label.status, 200);
            let text = pdf::text(&label.bytes)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            assert!(text.contains("Paracetamol 500 mg tablet × 12"), "{text}");
            assert!(
                text.contains("Meza kidonge 1 mara tatu kwa siku kwa siku 5"),
                "{text}"
            );
            assert!(
                text.contains("Wanjiru Kamau") && text.contains("BR-0001"),
                "{text}"
            );
            assert!(text.contains("Weka mbali na watoto"), "{text}");
            Ok(())
        },
    )
    .await;
}

async fn walk(driver: &WebDriver, base: &str, shots: &Path, visit: i64) -> WebDriverResult<()> {
    driver.goto(format!("{base}/login")).await?;
    sign_in(driver, "pharm", hms_testkit::PASSWORD).await?;
    wait_for_path(driver, "/").await?;
    console_problems(driver, "dashboard").await?;
    click_menu_item(driver, "Dispense").await?;
    wait_for_path(driver, "/pharmacy").await?;
    assert!(page_text(driver).await?.contains("Wanjiru Kamau"));
    screenshot(driver, shots, "pharmacy-queue").await?;

    click(driver, "#call-next").await?;
    let page = format!("/pharmacy/visits/{visit}");
    wait_for_path(driver, &page).await?;
    let text = page_text(driver).await?;
    assert!(
        text.contains("Paracetamol 500 mg: 1 tablet TDS x 5 days (20)"),
        "{text}"
    );
    assert!(text.contains("KB-12 × 12"), "{text}");
    select_value(driver, "label-language", "sw").await?;
    screenshot(driver, shots, "pharmacy-prescription").await?;
    click(driver, "#prepare").await?;

    let offer = wait_for_text(driver, "#short", |t| t.contains("only 12 left")).await?;
    assert!(
        offer.contains("dispense 12 now and leave 8 pending?"),
        "{offer}"
    );
    screenshot(driver, shots, "pharmacy-short").await?;
    click(driver, "#dispense-partial").await?;
    let state = wait_for_text(driver, "#dispense-state", |t| t.contains("Issued")).await?;
    assert_eq!(state, "Issued");
    assert!(page_text(driver).await?.contains("KB-12 × 12"));
    let href = driver
        .find(By::Id("labels"))
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    assert!(href.ends_with("labels.pdf?size=label"), "{href}");
    screenshot(driver, shots, "pharmacy-dispensed").await?;
    // The short stock answered 409, which the console reports as a failed load; nothing else.
    let bad = console_problems(driver, "dispense").await?;
    assert!(
        bad.iter().all(|e| e.message.contains("status of 409")),
        "{}",
        describe(&bad)
    );

    // Back on the prescription: 8 still to give.
    driver.goto(format!("{base}{page}")).await?;
    wait_for_path(driver, &page).await?;
    assert!(page_text(driver).await?.contains("8 / 20"));
    viewport(driver, 390, 844).await?;
    driver.goto(format!("{base}{page}")).await?;
    wait_for_path(driver, &page).await?;
    screenshot_fits(driver, shots, "pharmacy-prescription-phone").await?;
    Ok(())
}
