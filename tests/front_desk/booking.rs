//! Booking and check-in as reception does them, in a real browser: the free times show whatever
//! order the clinic, day and clinician are chosen in (issue 18, defect 1); a refresh never puts
//! the CSRF token in a URL (7); a day with nothing free is said once, with the clinician's days
//! and the next free day (4); a reason over 200 characters is refused and cancelling asks the
//! reason in the same step (6); check-in from the menu marks today's booking arrived (2); and a
//! teenager is not offered "Elderly" nor "under five" (3). Over HTTP, on both databases: the
//! same rules at the server, and a new install's booking page that says there are no clinics.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use hms_testkit::browser::*;
use hms_testkit::domain::{add_clinic, add_hours, register, register_quick};
use hms_testkit::{each_backend, Backend, Client, TestApp, PASSWORD};
use sqlx::Row;
use thirtyfour::prelude::*;

/// A reason one character too long, and one just long enough.
const LONG: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
const FINE: &str = "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";

/// The receptionist every walk signs in as.
const DESK: &str = "desk";

fn today() -> NaiveDate {
    hms_core::clock::to_local(chrono::Utc::now()).date_naive()
}

fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The first Monday after today.
fn next_monday() -> NaiveDate {
    let t = today();
    t + chrono::Duration::days(7 - i64::from(t.weekday().num_days_from_monday()))
}

fn id_from(location: &str) -> i64 {
    location.rsplit('/').next().unwrap().parse().unwrap()
}

/// An OPD clinic (30-minute slots, open on holidays) where a doctor works Mondays 08:00-12:00.
/// Returns (clinic, doctor).
async fn opd_with_monday_doctor(app: &TestApp, admin: &Client) -> (i64, i64) {
    let doctor = app.add_user("dr.otieno", &["doctor"]).await;
    let opd = add_clinic(
        admin,
        &[
            ("name", "OPD"),
            ("booking", "slots"),
            ("slot_minutes", "30"),
            ("opens_on_holidays", "1"),
        ],
    )
    .await;
    add_hours(admin, opd, doctor, 1, ("08:00", "12:00"), None).await;
    (opd, doctor)
}

/// An MCH clinic day every day of the week (open on holidays) for 10 mothers.
async fn mch_every_day(admin: &Client) -> i64 {
    let mut fields = vec![
        ("name", "MCH"),
        ("booking", "day"),
        ("daily_capacity", "10"),
        ("opens_on_holidays", "1"),
    ];
    for d in ["1", "2", "3", "4", "5", "6", "7"] {
        fields.push(("weekday", d));
    }
    add_clinic(admin, &fields).await
}

/// A 15-year-old girl.
async fn register_teen(c: &Client) -> i64 {
    register(
        c,
        &[
            ("first_name", "Wanjiru"),
            ("last_name", "Mwangi"),
            ("sex", "female"),
            ("age_years", "15"),
            ("id_type", "none"),
            ("phone", "0733111222"),
            ("register_anyway", "1"),
        ],
    )
    .await
}

/// Books `patient` at the clinic day `clinic` today through the form; the appointment id.
async fn book_today(desk: &Client, patient: i64, clinic: i64) -> i64 {
    desk.get(&format!("/appointments/book?patient={patient}"))
        .await;
    let r = desk
        .post_form(
            "/appointments",
            &[
                ("patient", &patient.to_string()),
                ("clinic", &clinic.to_string()),
                ("day", &iso(today())),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "booking refused: {}", r.body);
    id_from(r.location().unwrap())
}

async fn status_of(app: &TestApp, appointment: i64) -> String {
    sqlx::query("SELECT status FROM appointments WHERE id = $1")
        .bind(appointment)
        .fetch_one(app.db().read())
        .await
        .expect("appointment")
        .get(0)
}

async fn rows(app: &TestApp, sql: &'static str) -> i64 {
    app.scalar(sql).await
}

/// Waits until the element `css` exists.
async fn wait_for(driver: &WebDriver, css: &str) -> WebDriverResult<WebElement> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(e) = driver.find(By::Css(css)).await {
            return Ok(e);
        }
        assert!(Instant::now() < deadline, "{css} never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until HTMX has sent what was pending (typing waits 600 ms) and every answer is in.
async fn settle(driver: &WebDriver) -> WebDriverResult<()> {
    tokio::time::sleep(Duration::from_millis(900)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let busy = driver
            .execute(
                "return document.querySelectorAll('.htmx-request').length",
                vec![],
            )
            .await?
            .convert::<u64>()?;
        if busy == 0 {
            return Ok(());
        }
        assert!(Instant::now() < deadline, "an HTMX request never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every URL the page fetched (HTMX requests included) and the address bar.
async fn urls_seen(driver: &WebDriver) -> WebDriverResult<Vec<String>> {
    let mut urls: Vec<String> = driver
        .execute(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; })",
            vec![],
        )
        .await?
        .convert()?;
    urls.push(driver.current_url().await?.to_string());
    Ok(urls)
}

fn assert_no_token_in(urls: &[String], when: &str) {
    for url in urls {
        assert!(
            !url.contains("csrf_token"),
            "{when}: the CSRF token went into a URL: {url}"
        );
    }
}

/// Types a date as a person does, then leaves the field (which fires `change`).
async fn type_day(driver: &WebDriver, day: NaiveDate) -> WebDriverResult<()> {
    type_date(driver, "day", &iso(day)).await?;
    click(driver, "#book-title").await
}

async fn sign_in_desk(driver: &WebDriver, base_url: &str) -> WebDriverResult<()> {
    driver.goto(format!("{base_url}/login")).await?;
    sign_in(driver, DESK, PASSWORD).await?;
    wait_for_path(driver, "/").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reception_books_in_any_order_sees_one_message_and_cancels_in_one_step() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    let admin = app.setup_admin().await;
    let (opd, doctor) = opd_with_monday_doctor(&app, &admin).await;
    app.add_user(DESK, &["receptionist"]).await;
    let desk = app.login(DESK).await;
    let patient = register_quick(&desk, "Achieng", "Odhiambo", "0722000001").await;
    in_browser(
        &tools,
        &app,
        "front-desk-booking",
        move |driver, base_url, shots| async move {
            booking_walk(&driver, &base_url, &shots, patient, opd, doctor).await
        },
    )
    .await;
}

async fn booking_walk(
    driver: &WebDriver,
    base_url: &str,
    shots: &Path,
    patient: i64,
    opd: i64,
    doctor: i64,
) -> WebDriverResult<()> {
    sign_in_desk(driver, base_url).await?;
    driver
        .goto(format!("{base_url}/appointments/book?patient={patient}"))
        .await?;

    // Defect 1: clinic, then the day, then the clinician (whose list arrives after load).
    select_value(driver, "clinic", &opd.to_string()).await?;
    wait_for(driver, "#clinician").await?;
    type_day(driver, next_monday()).await?;
    settle(driver).await?;
    select_value(driver, "clinician", &doctor.to_string()).await?;
    let free = wait_for_text(driver, "#availability", |t| t.contains("08:00")).await?;
    assert!(
        free.contains("11:30"),
        "the doctor's Monday is offered: {free}"
    );
    // Defect 7: the refreshes went out without the token.
    settle(driver).await?;
    let urls = urls_seen(driver).await?;
    assert!(
        urls.iter().any(|u| u.contains("/appointments/book?")),
        "the refreshes are seen: {urls:?}"
    );
    assert_no_token_in(&urls, "refreshing the free times");
    assert_clean_console(driver, "booking's free times").await?;
    screenshot_fits(driver, shots, "front-desk-booking-free-times.png").await?;

    // Defect 4: a Tuesday, when the doctor does not work. Said once, with what would work.
    let tuesday = next_monday() + chrono::Duration::days(1);
    type_day(driver, tuesday).await?;
    let problem = wait_for_text(driver, "#availability", |t| {
        t.contains("No free time that day")
    })
    .await?;
    assert!(
        problem.contains("sees patients here on Monday"),
        "the doctor's days: {problem}"
    );
    let following_monday = hms_core::day::Day::from(next_monday() + chrono::Duration::days(7));
    assert!(
        problem.contains(&format!("Next free day: {}", following_monday.long())),
        "the next free day: {problem}"
    );
    click(driver, "#book-form button.btn-primary").await?;
    wait_for(driver, "#availability-problem.alert-danger").await?;
    let page = page_text(driver).await?;
    assert_eq!(
        page.matches("No free time that day").count(),
        1,
        "the message once after Book:\n{page}"
    );
    screenshot_fits(driver, shots, "front-desk-booking-no-free-time.png").await?;

    // The next free day in one click; then "Show free times" without JavaScript's help posts,
    // so the address bar never holds the token.
    click(driver, "#next-free-day").await?;
    wait_for_text(driver, "#availability", |t| t.contains("08:00")).await?;
    click(driver, "label[for='slot-480']").await?;
    driver.execute("window.hmsOldPage = true", vec![]).await?;
    click(driver, "#book-form .form-actions .btn-outline-secondary").await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while driver
        .execute(
            "return window.hmsOldPage === true || document.readyState !== 'complete'",
            vec![],
        )
        .await?
        .convert::<bool>()?
    {
        assert!(
            Instant::now() < deadline,
            "Show free times did not load a page"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_text(driver, "#availability", |t| t.contains("08:00")).await?;
    assert_no_token_in(&urls_seen(driver).await?, "Show free times");

    // Defect 6: a reason of 250 characters is refused beside the field, nothing is cut.
    let long = "Review of blood pressure and sugar ".repeat(8);
    let long = &long[..250];
    fill(driver, "reason", long).await?;
    click(driver, "#book-form button.btn-primary").await?;
    let said = wait_for_text(driver, "#reason-error", |t| !t.is_empty()).await?;
    assert!(
        said.contains("200 characters") && said.contains("250"),
        "{said}"
    );
    fill(driver, "reason", "Review of blood pressure").await?;
    if driver.find(By::Css("#slot-480:checked")).await.is_err() {
        click(driver, "label[for='slot-480']").await?;
    }
    click(driver, "#book-form button.btn-primary").await?;
    wait_until_path(driver, "the appointment", |p| {
        p.starts_with("/appointments/") && p != "/appointments/book"
    })
    .await?;
    let shown = page_text(driver).await?;
    assert!(shown.contains("Review of blood pressure") && shown.contains("08:00"));

    // Cancelling asks the reason in the same step: no "Cancel this appointment?" first.
    click(driver, "form.cancel-form button[type=submit]").await?;
    let said = wait_for_text(driver, "#cancel-error", |t| !t.is_empty()).await?;
    assert!(said.contains("Say why"), "{said}");
    fill(driver, "cancel_reason", "Patient travelled").await?;
    click(driver, "form.cancel-form button[type=submit]").await?;
    wait_for_text(driver, "main", |t| t.contains("Cancelled")).await?;
    clean_but_for_refusals(driver, "booking").await
}

/// Like `assert_clean_console`, but a form refused with 422 (the answer that carries the
/// messages) is expected.
async fn clean_but_for_refusals(driver: &WebDriver, page: &str) -> WebDriverResult<()> {
    let bad: Vec<_> = console_problems(driver, page)
        .await?
        .into_iter()
        .filter(|e| !e.message.contains("status of 422"))
        .collect();
    assert!(
        bad.is_empty(),
        "the console on the {page}:\n{}",
        describe(&bad)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_in_from_the_menu_marks_todays_booking_and_offers_only_fitting_priorities() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    let admin = app.setup_admin().await;
    let mch = mch_every_day(&admin).await;
    app.add_user(DESK, &["receptionist"]).await;
    let desk = app.login(DESK).await;
    let teen = register_teen(&desk).await;
    book_today(&desk, teen, mch).await;
    in_browser(
        &tools,
        &app,
        "front-desk-checkin",
        move |driver, base_url, shots| async move {
            checkin_walk(&driver, &base_url, &shots, teen).await
        },
    )
    .await;
}

async fn checkin_walk(
    driver: &WebDriver,
    base_url: &str,
    shots: &Path,
    teen: i64,
) -> WebDriverResult<()> {
    sign_in_desk(driver, base_url).await?;
    click_menu_item(driver, "Check in").await?;
    wait_for_path(driver, "/visits/checkin").await?;
    fill(driver, "q", "Wanjiru Mwangi").await?;
    let link = wait_for(
        driver,
        &format!("a[href^='/visits/checkin?patient={teen}']"),
    )
    .await?;
    link.click().await?;
    wait_for(driver, "#priority").await?;

    // Defect 3: a 15-year-old is neither elderly nor under five.
    let offered = driver.find(By::Id("priority")).await?.text().await?;
    assert!(
        !offered.contains("Elderly") && !offered.contains("under five"),
        "age-bound priorities offered to a 15-year-old:\n{offered}"
    );
    assert!(offered.contains("Emergency") && offered.contains("Pregnant"));
    let page = page_text(driver).await?;
    assert!(page.contains("MCH"), "the booking is named:\n{page}");
    screenshot_fits(driver, shots, "front-desk-checkin-booked.png").await?;

    click(driver, "#payer-cash").await?;
    submit(driver).await?;
    wait_until_path(driver, "the slip", |p| p.ends_with("/slip")).await?;

    // Defect 2: the day list says she arrived.
    driver
        .goto(format!("{base_url}/appointments?day={}", iso(today())))
        .await?;
    let list = wait_for_text(driver, "main table", |t| t.contains("Wanjiru")).await?;
    assert!(
        list.contains("Arrived") && !list.contains("Booked"),
        "{list}"
    );
    assert_clean_console(driver, "check-in").await
}

each_backend! {
    async fn check_in_without_naming_the_booking_marks_todays_booking_arrived(app) {
        let admin = app.setup_admin().await;
        let mch = mch_every_day(&admin).await;
        app.add_user(DESK, &["receptionist"]).await;
        let desk = app.login(DESK).await;
        let teen = register_teen(&desk).await;
        let other = register_quick(&desk, "Kagendo", "Koome", "0748300111").await;
        let booked = book_today(&desk, teen, mch).await;
        // As another screen (or an older form) sends it: no appointment named.
        let r = hms_testkit::domain::submit_check_in(&desk, teen, "triage", "").await;
        let visit = hms_testkit::domain::visit_id(&r);
        assert_eq!(status_of(&app, booked).await, "arrived");
        let linked: Option<i64> = sqlx::query("SELECT appointment_id FROM visits WHERE id = $1")
            .bind(visit)
            .fetch_one(app.db().read())
            .await
            .unwrap()
            .get(0);
        assert_eq!(linked, Some(booked), "the visit names the booking");
        // A walk-in without a booking is checked in as before.
        let r = hms_testkit::domain::submit_check_in(&desk, other, "triage", "").await;
        hms_testkit::domain::visit_id(&r);
    }

    async fn priorities_that_contradict_the_age_are_refused(app) {
        let admin = app.setup_admin().await;
        admin.get("/").await;
        app.add_user(DESK, &["receptionist"]).await;
        let desk = app.login(DESK).await;
        let teen = register_teen(&desk).await;
        let form = desk.get(&format!("/visits/checkin?patient={teen}")).await;
        assert!(!form.body.contains("value=\"elderly\"") && !form.body.contains("value=\"under_five\""));
        for priority in ["elderly", "under_five"] {
            let r = hms_testkit::domain::submit_check_in(&desk, teen, "triage", priority).await;
            assert_eq!(r.status, 422, "{priority}: {}", r.body);
            assert!(r.body.contains("does not fit the patient"), "{}", r.body);
        }
        assert_eq!(rows(&app, "SELECT COUNT(*) FROM visits").await, 0);
        let r = hms_testkit::domain::submit_check_in(&desk, teen, "triage", "pregnant").await;
        hms_testkit::domain::visit_id(&r);
    }

    async fn reasons_over_two_hundred_characters_are_refused_not_cut(app) {
        let admin = app.setup_admin().await;
        let mch = mch_every_day(&admin).await;
        app.add_user(DESK, &["receptionist"]).await;
        let desk = app.login(DESK).await;
        let p = register_quick(&desk, "Achieng", "Odhiambo", "0722000001").await;
        let long: &'static str = LONG;
        desk.get(&format!("/appointments/book?patient={p}")).await;
        let (p_s, mch_s, day_s) = (p.to_string(), mch.to_string(), iso(today()));
        let fields = |reason: &'static str| {
            [("patient", p_s.clone()), ("clinic", mch_s.clone()), ("day", day_s.clone()), ("reason", reason.to_string())]
        };
        let send = |f: [(&'static str, String); 4]| {
            let desk = &desk;
            async move {
                let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
                desk.post_form("/appointments", &refs).await
            }
        };
        let r = send(fields(long)).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("this has 201"), "{}", r.body);
        assert_eq!(rows(&app, "SELECT COUNT(*) FROM appointments").await, 0);
        let fine: &'static str = FINE;
        let r = send(fields(fine)).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let id = id_from(r.location().unwrap());
        let stored: String = sqlx::query("SELECT reason FROM appointments WHERE id = $1")
            .bind(id).fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(stored, fine);
        desk.get(&format!("/appointments/{id}")).await;
        let r = desk.post_form(&format!("/appointments/{id}/cancel"), &[("cancel_reason", long)]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("this has 201"), "{}", r.body);
        assert_eq!(status_of(&app, id).await, "booked");
    }

    async fn a_new_install_says_there_are_no_clinics_and_where_to_add_them(app) {
        let admin = app.setup_admin().await;
        let page = admin.get("/appointments/book").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("No clinics are set up yet"), "{}", page.body);
        assert!(page.body.contains("href=\"/schedules\""), "{}", page.body);
        app.add_user(DESK, &["receptionist"]).await;
        let desk = app.login(DESK).await;
        let page = desk.get("/appointments/book").await;
        assert!(page.body.contains("No clinics are set up yet"), "{}", page.body);
        assert!(page.body.contains("Ask an administrator"), "{}", page.body);
        assert!(!page.body.contains("href=\"/schedules\""), "not for those who cannot: {}", page.body);
        mch_every_day(&admin).await;
        let page = desk.get("/appointments/book").await;
        assert!(!page.body.contains("No clinics are set up yet"));
    }

    async fn a_full_or_closed_day_names_the_next_free_day(app) {
        let admin = app.setup_admin().await;
        let (opd, doctor) = opd_with_monday_doctor(&app, &admin).await;
        app.add_user(DESK, &["receptionist"]).await;
        let desk = app.login(DESK).await;
        let p = register_quick(&desk, "Achieng", "Odhiambo", "0722000001").await;
        let monday = next_monday();
        // A day off on the first Monday: the next free day is the Monday after.
        let r = admin.post_form("/schedules/days-off", &[("off_clinician", &doctor.to_string()),
            ("off_day", &monday.format("%d/%m/%Y").to_string()), ("off_reason", "Training")]).await;
        assert_eq!(r.status, 303, "a day off typed dd/mm/yyyy: {}", r.body);
        let page = desk.get(&format!("/appointments/book?patient={p}&clinic={opd}&clinician={doctor}&day={}", iso(monday))).await;
        let next = iso(monday + chrono::Duration::days(7));
        assert!(page.body.contains("The clinician is off that day"), "{}", page.body);
        assert!(page.body.contains(&format!("day={next}")), "{}", page.body);
        assert_eq!(page.body.matches("The clinician is off that day").count(), 1);
    }
}
