//! A real browser walks through HMS as staff use it: first-run setup, the dashboard, signing out
//! and signing in again; and an administrator adding a receptionist, who then chooses her own
//! password and sees only her own menu. Headless Chromium is driven by chromedriver over
//! WebDriver; the console must stay free of errors and Content Security Policy violations.
//! The harness (browser, driver, helpers) is the test kit's `browser` module.

use std::path::Path;
use std::time::{Duration, Instant};

use hms_testkit::browser::*;
use hms_testkit::{Backend, TestApp};
use thirtyfour::components::SelectElement;
use thirtyfour::prelude::*;

/// The facility and administrator that `TestApp::setup_admin` creates (the first test types
/// the same facility and name into the setup screen).
const FACILITY: &str = "Mwangaza Health Centre";
const FULL_NAME: &str = "Amina Wanjiku";
const USERNAME: &str = "amina";
/// The administrator's username from `TestApp::setup_admin`.
const KIT_ADMIN: &str = "admin";

const NEW_USERNAME: &str = "mary.atieno";
const NEW_FULL_NAME: &str = "Mary Atieno";
const TEMP_PASSWORD: &str = "kitale maize harvest";
const NEW_PASSWORD: &str = "mombasa road traffic jam";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_member_sets_up_signs_out_and_signs_in_again_in_a_real_browser() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    in_browser(
        &tools,
        &app,
        "setup",
        |driver, base_url, shots| async move { walk_through(&driver, &base_url, &shots).await },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrator_adds_a_receptionist_who_chooses_her_password_and_sees_only_her_menu() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    app.setup_admin().await;
    in_browser(
        &tools,
        &app,
        "admin",
        |driver, base_url, shots| async move { administer_users(&driver, &base_url, &shots).await },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_permission_appears_on_the_next_page_and_the_dashboard_speaks_kiswahili() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    let admin = app.setup_admin().await;
    app.add_user("desk", &["receptionist"]).await;
    let admin = std::sync::Arc::new(admin);
    in_browser(&tools, &app, "language", move |driver, base_url, shots| {
        let admin = admin.clone();
        async move { grant_then_kiswahili(&driver, &base_url, &shots, &admin).await }
    })
    .await;
}

/// The receptionist is signed in; an administrator grants her role a permission; her next page
/// has the new menu item. Then she switches the language to Kiswahili.
async fn grant_then_kiswahili(
    driver: &WebDriver,
    base_url: &str,
    shots: &Path,
    admin: &hms_testkit::Client,
) -> WebDriverResult<()> {
    driver.goto(format!("{base_url}/login")).await?;
    sign_in(driver, "desk", hms_testkit::PASSWORD).await?;
    wait_for_path(driver, "/").await?;
    let menu = menu_text(driver).await?;
    assert!(
        !menu.contains("Staff accounts"),
        "not yet granted; the menu shows:\n{menu}"
    );

    let r = admin
        .grant_on_screen("receptionist", "admin.users.view")
        .await;
    assert_eq!(r.status, 303, "the administrator saves the permission");

    click_menu_item(driver, "Dashboard").await?;
    wait_for_path(driver, "/").await?;
    let menu = menu_text(driver).await?;
    assert!(
        menu.contains("Staff accounts"),
        "the new item on the next page; the menu shows:\n{menu}"
    );
    assert_clean_console(driver, "dashboard after the grant").await?;
    screenshot(driver, shots, "granted.png").await?;

    click(driver, "form.language-switch button[value='sw']").await?;
    // The page reloads on the same path, so wait for the new page's language, not the path.
    let deadline = Instant::now() + Duration::from_secs(10);
    while driver.find(By::Css("html[lang='sw']")).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the page did not switch to Kiswahili"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_path(driver, "/").await?;
    let text = page_text(driver).await?;
    for key in ["nav.sign_out", "home.signed_in_as", "admin.menu_users"] {
        let sw = hms_core::i18n::t_in("sw", key);
        assert_ne!(sw, hms_core::i18n::t_in("en", key), "{key} is translated");
        assert!(
            text.contains(&sw),
            "the dashboard in Kiswahili shows {sw:?}; it shows:\n{text}"
        );
    }
    assert_clean_console(driver, "dashboard in Kiswahili").await?;
    screenshot(driver, shots, "dashboard-sw.png").await?;
    Ok(())
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
    submit(driver).await?;

    // Setup signs the new administrator in and shows the dashboard.
    wait_for_path(driver, "/").await?;
    assert_on_dashboard(driver, FULL_NAME, "Administrator").await?;
    screenshot(driver, shots, "dashboard.png").await?;
    assert_clean_console(driver, "dashboard after setup").await?;

    // Sign out from the top bar.
    sign_out(driver).await?;
    let text = page_text(driver).await?;
    assert!(
        !text.contains(FULL_NAME),
        "after signing out the page must not show the user's name; it shows:\n{text}"
    );
    screenshot(driver, shots, "login.png").await?;
    assert_clean_console(driver, "sign-in page after sign-out").await?;

    // Sign in again with the same credentials.
    sign_in(driver, USERNAME, hms_testkit::PASSWORD).await?;
    wait_for_path(driver, "/").await?;
    assert_on_dashboard(driver, FULL_NAME, "Administrator").await?;
    screenshot(driver, shots, "dashboard-again.png").await?;
    assert_clean_console(driver, "dashboard after signing in again").await?;

    assert_console_capture_works(driver, base_url).await
}

/// The administrator adds a receptionist through the staff screens; she signs in with the
/// temporary password, must choose her own, and then sees only what reception may use.
async fn administer_users(driver: &WebDriver, base_url: &str, shots: &Path) -> WebDriverResult<()> {
    // The administrator (made by the test kit) signs in.
    driver.goto(format!("{base_url}/login")).await?;
    wait_for_path(driver, "/login").await?;
    sign_in(driver, KIT_ADMIN, hms_testkit::PASSWORD).await?;
    wait_for_path(driver, "/").await?;
    assert_on_dashboard(driver, FULL_NAME, "Administrator").await?;
    assert_clean_console(driver, "administrator's dashboard").await?;

    // Side menu → Staff accounts → Add a staff account.
    click_menu_item(driver, "Staff accounts").await?;
    wait_for_path(driver, "/admin/users").await?;
    assert_heading_contains(driver, "Staff accounts").await?;
    assert_clean_console(driver, "staff accounts list").await?;
    driver
        .find(By::LinkText("Add a staff account"))
        .await?
        .click()
        .await?;
    wait_for_path(driver, "/admin/users/new").await?;
    assert_heading_contains(driver, "Add a staff account").await?;
    fill(driver, "username", NEW_USERNAME).await?;
    fill(driver, "full_name", NEW_FULL_NAME).await?;
    let receptionist = driver.find(By::Id("role-receptionist")).await?;
    receptionist.click().await?;
    assert!(
        receptionist.is_selected().await?,
        "the Receptionist checkbox is ticked"
    );
    let cadre = driver.find(By::Id("cadre")).await?;
    SelectElement::new(&cadre)
        .await?
        .select_by_exact_text("Health records officer")
        .await?;
    fill(driver, "phone", "0722 111 222").await?;
    fill(driver, "password", TEMP_PASSWORD).await?;
    screenshot_fits(driver, shots, "admin-user-new.png").await?;
    assert_clean_console(driver, "add staff account form").await?;
    submit(driver).await?;

    // The new account's page confirms it.
    wait_until_path(driver, "the new account's page", |p| {
        p.strip_prefix("/admin/users/")
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
    })
    .await?;
    assert_heading_contains(driver, NEW_FULL_NAME).await?;
    let text = page_text(driver).await?;
    assert!(
        text.contains(&format!("Account created for {NEW_FULL_NAME}")),
        "the account page confirms the new account; it shows:\n{text}"
    );
    screenshot_fits(driver, shots, "admin-user.png").await?;
    assert_clean_console(driver, "new account's page").await?;

    // Back to the list, which now shows her.
    driver
        .find(By::LinkText("← Staff accounts"))
        .await?
        .click()
        .await?;
    wait_for_path(driver, "/admin/users").await?;
    let list = driver.find(By::Css("#user-results")).await?.text().await?;
    assert!(
        list.contains(NEW_FULL_NAME)
            && list.contains(NEW_USERNAME)
            && list.contains("Receptionist"),
        "the list shows the new receptionist; it shows:\n{list}"
    );
    screenshot_fits(driver, shots, "admin-users.png").await?;
    assert_clean_console(driver, "staff accounts list with the new account").await?;

    // The dashboard's cards load by themselves (htmx, hx-trigger="load").
    click_menu_item(driver, "Dashboard").await?;
    wait_for_path(driver, "/").await?;
    let users_card =
        wait_for_card(driver, "admin-users", |t| t.contains("Active accounts")).await?;
    assert!(
        users_card.contains("Active accounts\n2") || users_card.contains("Active accounts 2"),
        "the Staff accounts card counts the administrator and Mary; it shows:\n{users_card}"
    );
    wait_for_card(driver, "admin-backup", |t| {
        !t.is_empty() && !t.contains("Loading…")
    })
    .await?;
    screenshot_fits(driver, shots, "admin-dashboard.png").await?;
    assert_clean_console(driver, "administrator's dashboard with its cards").await?;

    // Mary signs in with the temporary password and must choose her own first.
    sign_out(driver).await?;
    assert_clean_console(driver, "sign-in page after the administrator signed out").await?;
    sign_in(driver, NEW_USERNAME, TEMP_PASSWORD).await?;
    wait_for_path(driver, "/account/password").await?;
    assert_heading_contains(driver, "Change your password").await?;
    assert_clean_console(driver, "first sign-in: change password").await?;
    fill(driver, "current_password", TEMP_PASSWORD).await?;
    fill(driver, "password", NEW_PASSWORD).await?;
    fill(driver, "password_confirm", NEW_PASSWORD).await?;
    screenshot_fits(driver, shots, "receptionist-password.png").await?;
    submit(driver).await?;
    wait_for_path(driver, "/").await?;
    assert_on_dashboard(driver, NEW_FULL_NAME, "Receptionist").await?;
    let text = page_text(driver).await?;
    assert!(
        text.contains("Your password has been changed."),
        "the dashboard confirms the new password; it shows:\n{text}"
    );

    // Her menu holds only what a receptionist may use.
    let menu = driver
        .find(By::Css("nav[aria-label='Main menu']"))
        .await?
        .text()
        .await?;
    for item in ["Dashboard", "Change password"] {
        assert!(
            menu.contains(item),
            "the receptionist's menu has {item:?}; it shows:\n{menu}"
        );
    }
    assert!(
        !menu.contains("Staff accounts"),
        "the receptionist's menu must not offer Staff accounts; it shows:\n{menu}"
    );
    screenshot_fits(driver, shots, "receptionist.png").await?;
    assert_clean_console(driver, "receptionist's dashboard").await?;

    // Typing the address of the staff screens shows the friendly refusal. The browser logs the
    // 403 answer as a failed load; that one entry is expected, nothing else.
    driver.goto(format!("{base_url}/admin/users")).await?;
    wait_for_path(driver, "/admin/users").await?;
    assert_heading_contains(driver, "Not allowed").await?;
    let text = page_text(driver).await?;
    assert!(
        !text.contains(FULL_NAME) && !text.contains("Add a staff account"),
        "the refusal must not show the staff accounts; it shows:\n{text}"
    );
    screenshot_fits(driver, shots, "receptionist-not-allowed.png").await?;
    let problems = console_problems(driver, "Not allowed page").await?;
    assert!(
        problems.len() == 1 && problems[0].level == "SEVERE" && problems[0].message.contains("403"),
        "the Not allowed page should log exactly its own 403, nothing else; got:\n{}",
        describe(&problems)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Page helpers

async fn assert_on_dashboard(
    driver: &WebDriver,
    full_name: &str,
    role: &str,
) -> WebDriverResult<()> {
    let h1 = driver
        .query(By::Css("main h1"))
        .first()
        .await?
        .text()
        .await?;
    assert!(
        h1.starts_with("Good ") && h1.contains(full_name),
        "the dashboard greets the user by name; its heading is {h1:?}"
    );
    let text = page_text(driver).await?;
    assert!(
        text.contains(role),
        "the dashboard shows the {role} role; it shows:\n{text}"
    );
    assert!(
        text.contains(FACILITY),
        "the top bar shows the facility name; the page shows:\n{text}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Browser and driver processes

// ---------------------------------------------------------------------------------------------
// Reception: registering, the duplicate warning, live search and printing

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receptionist_registers_a_patient_is_warned_of_a_likely_duplicate_and_finds_the_chart() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    app.setup_admin().await;
    app.add_user("desk", &["receptionist"]).await;
    in_browser(
        &tools,
        &app,
        "reception",
        |driver, base_url, shots| async move { reception(&driver, &base_url, &shots).await },
    )
    .await;
}

/// The receptionist registers Wanjiru; registering Baraka with the same phone warns of a
/// likely duplicate (family members share phones, so she registers him anyway); then she finds
/// Wanjiru by typing part of her name, opens the chart and prints her card and file label.
async fn reception(driver: &WebDriver, base_url: &str, shots: &Path) -> WebDriverResult<()> {
    driver.goto(format!("{base_url}/login")).await?;
    sign_in(driver, "desk", hms_testkit::PASSWORD).await?;
    wait_for_path(driver, "/").await?;

    // Register Wanjiru.
    click_menu_item(driver, "Register a patient").await?;
    wait_for_path(driver, "/patients/new").await?;
    assert_heading_contains(driver, "Register a patient").await?;
    fill(driver, "first_name", "Wanjiru").await?;
    fill(driver, "last_name", "Kamau").await?;
    driver.find(By::Id("sex-female")).await?.click().await?;
    type_date(driver, "date_of_birth", "1990-05-31").await?;
    fill(driver, "phone", "0722 456 789").await?;
    select_value(driver, "id_type", "national_id").await?;
    fill(driver, "id_number", "23456789").await?;
    screenshot_fits(driver, shots, "patient-new.png").await?;
    assert_clean_console(driver, "registration form").await?;
    submit(driver).await?;
    let wanjiru = wait_for_chart(driver).await?;
    assert_heading_contains(driver, "Wanjiru Kamau").await?;
    let text = page_text(driver).await?;
    assert!(
        text.contains("Patient registered with number P-"),
        "the chart confirms the registration; it shows:\n{text}"
    );
    let number = driver
        .find(By::Css(".patient-banner .lead strong"))
        .await?
        .text()
        .await?;
    assert!(number.starts_with("P-"), "the patient number: {number:?}");
    screenshot_fits(driver, shots, "patient-chart.png").await?;
    assert_clean_console(driver, "new patient's chart").await?;

    // Baraka shares his mother's phone: the form warns of a likely duplicate.
    click_menu_item(driver, "Register a patient").await?;
    wait_for_path(driver, "/patients/new").await?;
    fill(driver, "first_name", "Baraka").await?;
    fill(driver, "last_name", "Otieno").await?;
    driver.find(By::Id("sex-male")).await?.click().await?;
    type_date(driver, "date_of_birth", "2015-02-14").await?;
    fill(driver, "phone", "0722456789").await?;
    select_value(driver, "id_type", "none").await?;
    submit(driver).await?;
    wait_for_path(driver, "/patients").await?;
    let warning = driver
        .find(By::Css("main .alert-warning"))
        .await?
        .text()
        .await?;
    assert!(
        warning.contains("may be a patient who is already registered")
            && warning.contains("Wanjiru Kamau")
            && warning.contains(&number),
        "the warning names the likely duplicate; it shows:\n{warning}"
    );
    let anyway = driver.find(By::Id("register_anyway")).await?;
    assert!(!anyway.is_selected().await?, "not ticked for her");
    assert_eq!(
        driver
            .find(By::Id("first_name"))
            .await?
            .value()
            .await?
            .as_deref(),
        Some("Baraka"),
        "what she typed is kept"
    );
    screenshot_fits(driver, shots, "patient-duplicate.png").await?;
    // The 409 answer is logged as a failed load; that one entry is expected, nothing else.
    let problems = console_problems(driver, "duplicate warning").await?;
    assert!(
        problems.len() == 1 && problems[0].message.contains("409"),
        "the warning page should log exactly its own 409; got:\n{}",
        describe(&problems)
    );
    anyway.click().await?;
    submit(driver).await?;
    let baraka = wait_for_chart(driver).await?;
    assert_ne!(baraka, wanjiru);
    assert_heading_contains(driver, "Baraka Otieno").await?;
    assert_clean_console(driver, "second patient's chart").await?;

    // Find Wanjiru by part of her name: results arrive as she types (htmx), no Enter.
    click_menu_item(driver, "Find a patient").await?;
    wait_for_path(driver, "/patients").await?;
    driver
        .execute("window.hmsSamePage = true; return true", vec![])
        .await?;
    driver.find(By::Id("q")).await?.send_keys("wanj").await?;
    let results = wait_for_text(driver, "#patient-results", |t| {
        t.contains("Wanjiru Kamau") && !t.contains("Baraka")
    })
    .await?;
    assert!(
        results.contains(&number),
        "the result shows the number:\n{results}"
    );
    let same_page = driver
        .execute("return window.hmsSamePage === true", vec![])
        .await?;
    assert_eq!(
        same_page.json().as_bool(),
        Some(true),
        "the results were swapped into the page, not loaded as a new page"
    );
    assert_eq!(
        driver.current_url().await?.query(),
        Some("q=wanj"),
        "the address keeps the search (Back returns to it)"
    );
    screenshot_fits(driver, shots, "patient-search.png").await?;
    assert_clean_console(driver, "live search").await?;
    driver
        .find(By::Css("#patient-results"))
        .await?
        .find(By::LinkText("Wanjiru Kamau"))
        .await?
        .click()
        .await?;
    assert_eq!(wait_for_chart(driver).await?, wanjiru);
    assert_heading_contains(driver, "Wanjiru Kamau").await?;
    assert_clean_console(driver, "chart opened from the search").await?;
    driver
        .find(By::Id("print-title"))
        .await?
        .scroll_into_view()
        .await?;
    driver
        .screenshot(&shots.join("patient-chart-print.png"))
        .await?;

    // Print her card on A4, then on the receipt printer; and the file label.
    click(
        driver,
        &format!("a[href='/patients/{wanjiru}/card?layout=a4']"),
    )
    .await?;
    wait_for_path(driver, &format!("/patients/{wanjiru}/card")).await?;
    check_print_page(driver, &number, "Patient card").await?;
    screenshot(driver, shots, "patient-card-a4.png").await?;
    assert_clean_console(driver, "patient card, A4").await?;
    driver
        .find(By::LinkText("80 mm receipt printer"))
        .await?
        .click()
        .await?;
    wait_until_path(driver, "the thermal card", |p| p.ends_with("/card")).await?;
    check_print_page(driver, &number, "Patient card").await?;
    screenshot(driver, shots, "patient-card-thermal.png").await?;
    for layout in ["a5", "thermal"] {
        driver
            .goto(format!(
                "{base_url}/patients/{wanjiru}/label?layout={layout}"
            ))
            .await?;
        wait_for_path(driver, &format!("/patients/{wanjiru}/label")).await?;
        check_print_page(driver, &number, "File label").await?;
        screenshot(driver, shots, &format!("patient-label-{layout}.png")).await?;
        assert_clean_console(driver, "file label").await?;
    }
    // As it comes out of the printer: the controls are not printed.
    emulate_media(driver, "print").await?;
    assert!(
        !driver
            .find(By::Css(".print-toolbar"))
            .await?
            .is_displayed()
            .await?,
        "the controls are hidden on paper"
    );
    screenshot(driver, shots, "patient-label-thermal-print.png").await?;
    emulate_media(driver, "").await?;
    driver
        .find(By::LinkText("← Back to the chart"))
        .await?
        .click()
        .await?;
    assert_eq!(wait_for_chart(driver).await?, wanjiru);
    Ok(())
}

/// Waits for a patient's chart (`/patients/ID`); returns the id.
async fn wait_for_chart(driver: &WebDriver) -> WebDriverResult<i64> {
    wait_until_path(driver, "a patient's chart", |p| {
        p.strip_prefix("/patients/")
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
    })
    .await?;
    let url = driver.current_url().await?;
    Ok(url.path()["/patients/".len()..]
        .parse()
        .expect("a chart address"))
}

/// The print page shows the number in large text above a barcode as wide as a scanner needs,
/// and a Print button.
async fn check_print_page(driver: &WebDriver, number: &str, title: &str) -> WebDriverResult<()> {
    assert_heading_contains(driver, title).await?;
    let shown = driver.find(By::Css(".sheet-number")).await?;
    assert_eq!(shown.text().await?, number);
    let size = shown.css_value("font-size").await?;
    let px: f64 = size.trim_end_matches("px").parse().unwrap_or(0.0);
    assert!(px >= 28.0, "the number is large: {size}");
    let barcode = driver
        .find(By::Css(".sheet-barcode svg[role='img']"))
        .await?;
    assert_eq!(
        barcode.attr("aria-label").await?.unwrap_or_default(),
        format!("Barcode of patient number {number}")
    );
    let rect = barcode.rect().await?;
    // At least 0.25 mm (about 1 px at 96 dpi) per module of the 165.
    assert!(
        rect.width >= 165.0 && rect.height >= 40.0,
        "barcode size {rect:?}"
    );
    assert!(
        driver
            .find(By::Css("button[data-print]"))
            .await?
            .is_displayed()
            .await?
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receptionist_books_and_checks_in_a_patient_whom_the_nurse_sees_arrive_and_sends_on() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    let admin = app.setup_admin().await;
    app.add_user("desk", &["receptionist"]).await;
    app.add_user("nurse1", &["nurse"]).await;
    // An MCH clinic that runs every day (holidays too), and a registered mother.
    admin.get("/schedules").await;
    let r = admin
        .post_form(
            "/schedules/clinics",
            &[
                ("name", "MCH"),
                ("booking", "day"),
                ("daily_capacity", "30"),
                ("opens_on_holidays", "1"),
                ("weekday", "1"),
                ("weekday", "2"),
                ("weekday", "3"),
                ("weekday", "4"),
                ("weekday", "5"),
                ("weekday", "6"),
                ("weekday", "7"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let clinic = r
        .location()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    admin.get("/patients/new").await;
    let r = admin
        .post_form(
            "/patients",
            &[
                ("first_name", "Zawadi"),
                ("last_name", "Achieng"),
                ("sex", "female"),
                ("age_years", "24"),
                ("id_type", "none"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let shots = screenshot_dir();
    let (base_url, stop_server) = app.serve().await;
    let chromedriver =
        ChromeDriver::start(&tools.chromedriver, &shots.join("chromedriver-queues.log"));
    let desk_profile = TempDir::new("hms-chromium-profile-desk");
    let nurse_profile = TempDir::new("hms-chromium-profile-nurse");
    let desk = WebDriver::new(
        chromedriver.url(),
        chrome_capabilities(&tools.chromium, desk_profile.path()),
    )
    .await
    .expect("chromedriver opens the receptionist's browser");
    let nurse = WebDriver::new(
        chromedriver.url(),
        chrome_capabilities(&tools.chromium, nurse_profile.path()),
    )
    .await
    .expect("chromedriver opens the nurse's browser");
    let outcome = book_check_in_and_call(&desk, &nurse, &base_url, &clinic, &shots).await;
    let _ = desk.quit().await;
    let _ = nurse.quit().await;
    let _ = stop_server.send(());
    drop(chromedriver);
    if let Err(e) = outcome {
        panic!("browser walk-through failed: {e}");
    }
}

/// The receptionist books today's MCH clinic and checks the mother in; the nurse, with the
/// triage queue open all along, sees her arrive without reloading, calls, serves and sends her
/// on to the consultation room.
async fn book_check_in_and_call(
    desk: &WebDriver,
    nurse: &WebDriver,
    base_url: &str,
    clinic: &str,
    shots: &Path,
) -> WebDriverResult<()> {
    nurse.goto(format!("{base_url}/login")).await?;
    sign_in(nurse, "nurse1", hms_testkit::PASSWORD).await?;
    wait_for_path(nurse, "/").await?;
    nurse.goto(format!("{base_url}/queues/triage")).await?;
    wait_for_path(nurse, "/queues/triage").await?;
    assert!(!page_text(nurse).await?.contains("Zawadi"));
    // Marks this page load: a reload would lose it.
    nurse.execute("window.hmsSamePage = true", vec![]).await?;

    desk.goto(format!("{base_url}/login")).await?;
    sign_in(desk, "desk", hms_testkit::PASSWORD).await?;
    wait_for_path(desk, "/").await?;
    desk.goto(format!("{base_url}/appointments/book")).await?;
    fill(desk, "q", "zawa").await?;
    wait_for_text(desk, "#patient-choices", |t| t.contains("Zawadi Achieng")).await?;
    click(desk, "#patient-choices a").await?;
    wait_until_path(desk, "the booking form", |p| p == "/appointments/book").await?;
    select_value(desk, "clinic", clinic).await?;
    let today = hms_core::clock::to_local(chrono::Utc::now())
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    type_date(desk, "day", &today).await?;
    wait_for_text(desk, "#availability", |t| {
        t.contains("Places left that day: 30")
    })
    .await?;
    screenshot(desk, shots, "queue-1-booking.png").await?;
    click(desk, "#book-form button.btn-primary").await?;
    wait_until_path(desk, "the appointment", |p| {
        p.starts_with("/appointments/") && p != "/appointments/book"
    })
    .await?;
    assert!(page_text(desk).await?.contains("Appointment booked."));
    click(desk, "main a[href^='/visits/checkin?appointment=']").await?;
    wait_until_path(desk, "the check-in form", |p| p == "/visits/checkin").await?;
    let form = page_text(desk).await?;
    assert!(
        form.contains("Zawadi Achieng"),
        "the check-in form shows:\n{form}"
    );
    click(desk, "#payer-mpesa").await?;
    select_value(desk, "point", "triage").await?;
    submit(desk).await?;
    wait_until_path(desk, "the token slip", |p| p.ends_with("/slip")).await?;
    screenshot(desk, shots, "queue-2-slip.png").await?;
    assert_clean_console(desk, "token slip").await?;

    // The nurse's screen shows her within a poll or two, without a reload.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let live = match nurse.find(By::Id("queue-live")).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if live.contains("Zawadi Achieng") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the triage queue did not show the new arrival; it shows:\n{live}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let same = nurse
        .execute("return window.hmsSamePage === true", vec![])
        .await?;
    assert_eq!(
        same.json().as_bool(),
        Some(true),
        "the page was not reloaded"
    );
    screenshot(nurse, shots, "queue-3-arrived.png").await?;

    click(nurse, "form[action='/queues/triage/call'] button").await?;
    // The called patient gets a Serve button once the page is back.
    click(nurse, "button[id^='serve-']").await?;
    wait_for_text(nurse, "main", |t| t.contains("Consultation")).await?;
    click(nurse, "button[id$='-consultation']").await?;
    wait_for_text(nurse, "main", |t| t.contains("sent to Consultation")).await?;
    screenshot(nurse, shots, "queue-4-sent-on.png").await?;
    nurse
        .goto(format!("{base_url}/queues/consultation"))
        .await?;
    wait_for_text(nurse, "#queue-live", |t| t.contains("Zawadi Achieng")).await?;
    assert_clean_console(nurse, "consultation queue").await?;
    Ok(())
}
