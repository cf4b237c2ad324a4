//! In a real browser: a nurse sees the patient waiting on her dashboard, opens the triage
//! queue from the menu, types a temperature without its point (refused, with the value it
//! likely was), corrects it and sends the patient on to the consultation room.

use hms_testkit::browser::*;
use hms_testkit::domain::{register_quick, submit_check_in, visit_id};
use hms_testkit::{Backend, TestApp, PASSWORD};
use thirtyfour::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nurse_records_vital_signs_a_typo_refused_and_sends_the_patient_on() {
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
    let patient = register_quick(&desk, "Achieng", "Odhiambo", "0722000001").await;
    let visit = visit_id(&submit_check_in(&desk, patient, "triage", "").await);
    let db = app.db().clone();
    in_browser(
        &tools,
        &app,
        "consultations-triage",
        move |driver, base_url, shots| async move {
            driver.goto(format!("{base_url}/login")).await?;
            sign_in(&driver, "nurse", PASSWORD).await?;
            wait_for_path(&driver, "/").await?;
            let card = wait_for_card(&driver, "triage-waiting", |t| t.contains("waiting")).await?;
            assert!(card.contains('1'), "one patient waits: {card}");
            click_menu_item(&driver, "Triage").await?;
            wait_for_path(&driver, "/triage").await?;
            click(&driver, &format!("#take-{visit}")).await?;
            wait_for_path(&driver, &format!("/triage/{visit}")).await?;
            fill(&driver, "temperature", "375").await?;
            fill(&driver, "pulse", "84").await?;
            fill(&driver, "systolic", "118").await?;
            fill(&driver, "diastolic", "76").await?;
            click(&driver, "#save-vitals").await?;
            let refused = wait_for_text(&driver, "#temperature-error", |t| !t.is_empty()).await?;
            assert!(
                refused.contains("did you mean 37.5"),
                "the slip is refused with the likely value: {refused}"
            );
            let kept = driver.find(By::Id("pulse")).await?.prop("value").await?;
            assert_eq!(kept.as_deref(), Some("84"), "what was typed stays");
            // The refusal answered 422, which the console reports; nothing else may show there.
            let problems = console_problems(&driver, "triage form").await?;
            assert!(
                problems.iter().all(|e| e.message.contains("422")),
                "{}",
                describe(&problems)
            );
            screenshot_fits(&driver, &shots, "triage-refused").await?;
            fill(&driver, "temperature", "37.5").await?;
            click(&driver, "#save-vitals").await?;
            let said = wait_for_text(&driver, "main .alert", |t| t.contains("sent to")).await?;
            assert!(said.contains("Consultation"), "{said}");
            let text = page_text(&driver).await?;
            assert!(text.contains("Nobody is waiting for triage."), "{text}");
            assert_clean_console(&driver, "triage").await?;
            let stored: i64 = sqlx::Row::get(
                &sqlx::query("SELECT temperature_dc FROM vital_signs WHERE visit_id = $1")
                    .bind(visit)
                    .fetch_one(db.read())
                    .await
                    .expect("the set is stored"),
                0,
            );
            assert_eq!(stored, 375, "stored in tenths of a degree");
            Ok(())
        },
    )
    .await;
}
