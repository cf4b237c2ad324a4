//! Reports and cards in a real browser: the pharmacist's dashboard cards load with their items,
//! the consumption report of a known October is chosen from the reports menu and fits the
//! window, and the administrator sees the ledger check's card; no console errors on the way.

use hms_testkit::browser::*;
use hms_testkit::{Backend, TestApp};
use thirtyfour::prelude::*;

use crate::report_month::october;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pharmacist_reads_the_cards_and_chooses_last_octobers_consumption() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    app.setup_admin().await;
    app.add_user("dawa", &["pharmacist"]).await;
    let o = october(&app).await;
    let store = o.store;
    in_browser(
        &tools,
        &app,
        "pharmacy-reports",
        move |driver, base, shots| async move {
            driver.goto(format!("{base}/login")).await?;
            sign_in(&driver, "dawa", hms_testkit::PASSWORD).await?;
            wait_for_path(&driver, "/").await?;
            let expired = wait_for_card(&driver, "pharmacy-expired", |t| t.contains("ORS")).await?;
            assert!(expired.contains("Write off expired stock"), "{expired}");
            wait_for_card(&driver, "pharmacy-waiting", |t| {
                t.contains("No prescriptions are waiting")
            })
            .await?;
            assert_clean_console(&driver, "dashboard").await?;

            click_menu_item(&driver, "Pharmacy reports").await?;
            wait_for_path(&driver, "/pharmacy/reports").await?;
            driver
                .find(By::LinkText("Monthly consumption (F-CDRR style)"))
                .await?
                .click()
                .await?;
            wait_for_path(&driver, "/pharmacy/reports/consumption").await?;
            select_value(&driver, "r-store", &store.to_string()).await?;
            driver
                .execute(
                    "document.getElementById('r-month').value = '2026-10'",
                    vec![],
                )
                .await?;
            submit(&driver).await?;
            wait_for_text(&driver, "table.data-table", |t| t.contains("Paracetamol")).await?;
            let text = page_text(&driver).await?;
            assert!(
                text.contains("October 2026") && text.contains("116"),
                "{text}"
            );
            screenshot_fits(&driver, &shots, "pharmacy-consumption.png").await?;
            assert_clean_console(&driver, "consumption report").await?;
            sign_out(&driver).await?;

            sign_in(&driver, "admin", hms_testkit::PASSWORD).await?;
            wait_for_path(&driver, "/").await?;
            // The server checks the ledger by itself from 02:00 (Nairobi) on.
            wait_for_card(&driver, "pharmacy-ledger", |t| {
                t.contains("The books agree") || t.contains("not been checked")
            })
            .await?;
            assert_clean_console(&driver, "administrator's dashboard").await?;
            Ok(())
        },
    )
    .await;
}
