//! The one patient picker (defect 5), patient search by part of a phone with the count of
//! matches and the closest first, the next steps from each result and the chart, and the audit
//! trail filtered by patient number (defect 8).
//!
//! The browser walk follows a receptionist who also administers: two Kagendo Koomes, both
//! women of 30, must differ on every screen that picks a patient; each result offers Check in
//! and Book; the audit trail takes the number from the card, not a row id.

use std::path::Path;

use hms_testkit::browser::*;
use hms_testkit::domain::{patient_number, register};
use hms_testkit::{each_backend, Backend, Client, TestApp};
use thirtyfour::prelude::*;

/// A 30-year-old woman called Kagendo Koome, with her phone, county and ward ("" for none).
async fn kagendo(c: &Client, phone: &str, county: &str, ward: &str) -> i64 {
    register(
        c,
        &[
            ("first_name", "Kagendo"),
            ("last_name", "Koome"),
            ("sex", "female"),
            ("age_years", "30"),
            ("id_type", "none"),
            ("phone", phone),
            ("county_code", county),
            ("ward", ward),
            ("register_anyway", "1"),
        ],
    )
    .await
}

/// Someone else, `age` years old, with `phone`.
async fn person(c: &Client, first: &str, last: &str, phone: &str) -> i64 {
    register(
        c,
        &[
            ("first_name", first),
            ("last_name", last),
            ("sex", "male"),
            ("age_years", "41"),
            ("id_type", "none"),
            ("phone", phone),
            ("register_anyway", "1"),
        ],
    )
    .await
}

/// The text of each row of the picker inside `css`.
async fn rows(driver: &WebDriver, css: &str) -> WebDriverResult<Vec<String>> {
    let mut out = Vec::new();
    for row in driver
        .find_all(By::Css(format!("{css} ul.picker li.picker-row").as_str()))
        .await?
    {
        out.push(row.text().await?);
    }
    Ok(out)
}

/// Types `q` into the search box and waits for the picker in `css` to list `n` rows.
async fn search(driver: &WebDriver, css: &str, q: &str, n: usize) -> WebDriverResult<Vec<String>> {
    fill(driver, "q", q).await?;
    wait_for_text(driver, css, |t| t.contains("Koome") || t.contains("No ")).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // HTMX may swap the list out while it is read: read again.
        let found = rows(driver, css).await.unwrap_or_default();
        if found.len() == n {
            return Ok(found);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css} should list {n} patients for {q:?}; it lists {found:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Both namesakes' rows show what tells them apart, and differ.
fn tell_apart(screen: &str, found: &[String], numbers: &[String]) {
    assert_eq!(found.len(), 2, "{screen}: {found:#?}");
    assert_ne!(found[0], found[1], "{screen}: two identical rows");
    for (phone, place) in [
        ("0748 *** 111", "Kianjai, Meru"),
        ("0722 *** 222", "Tharaka Nithi"),
    ] {
        let hit = found.iter().find(|r| r.contains(phone)).unwrap_or_else(|| {
            panic!("{screen}: no row shows the masked phone {phone}: {found:#?}")
        });
        assert!(
            hit.contains(place),
            "{screen}: the row of {phone} shows where she lives ({place}): {hit}"
        );
        assert!(
            hit.contains("Female") && hit.contains("30 y"),
            "{screen}: {hit}"
        );
    }
    for n in numbers {
        assert!(
            found.iter().any(|r| r.contains(n.as_str())),
            "{screen}: the number {n} is shown: {found:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defects_5_and_8_namesakes_differ_on_every_picker_results_lead_on_and_the_audit_takes_numbers(
) {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    app.setup_admin().await;
    app.add_user("desk", &["receptionist", "admin"]).await;
    let desk = app.login("desk").await;
    let first = kagendo(&desk, "0748 300 111", "012", "Kianjai").await;
    let second = kagendo(&desk, "0722 555 222", "013", "").await;
    person(&desk, "Baraka", "Mutua", "0748 300 999").await;
    // Booking offers its patient search once a clinic exists.
    let clinic = desk
        .post_form(
            "/schedules/clinics",
            &[
                ("name", "OPD"),
                ("booking", "slots"),
                ("slot_minutes", "20"),
            ],
        )
        .await;
    assert_eq!(clinic.status, 303, "{}", clinic.body);
    let numbers = vec![
        patient_number(&desk, first).await,
        patient_number(&desk, second).await,
    ];
    in_browser(
        &tools,
        &app,
        "picker",
        move |driver, base_url, shots| async move {
            walk(&driver, &base_url, &shots, first, second, &numbers).await
        },
    )
    .await;
}

async fn walk(
    driver: &WebDriver,
    base: &str,
    shots: &Path,
    first: i64,
    second: i64,
    numbers: &[String],
) -> WebDriverResult<()> {
    driver.goto(format!("{base}/login")).await?;
    sign_in(driver, "desk", hms_testkit::PASSWORD).await?;
    wait_for_path(driver, "/").await?;

    // Defect 5: the same picker, telling them apart, on the four screens that pick a patient.
    driver.goto(format!("{base}/patients")).await?;
    let found = search(driver, "#patient-results", "kagendo koome", 2).await?;
    tell_apart("find", &found, numbers);
    let count = driver
        .find(By::Css("#patient-results .picker-count"))
        .await?
        .text()
        .await?;
    assert_eq!(count, "2 patients match.");
    // Next steps from each result: Check in and Book, for this patient.
    for id in [first, second] {
        let check_in = driver
            .find(By::Id(format!("check-in-{id}").as_str()))
            .await?;
        assert_eq!(
            check_in.attr("href").await?.as_deref(),
            Some(format!("/visits/checkin?patient={id}").as_str())
        );
        let book = driver.find(By::Id(format!("book-{id}").as_str())).await?;
        assert_eq!(
            book.attr("href").await?.as_deref(),
            Some(format!("/appointments/book?patient={id}").as_str())
        );
    }
    screenshot(driver, shots, "picker-1-find.png").await?;

    driver.goto(format!("{base}/visits/checkin")).await?;
    let found = search(driver, "#checkin-results", "kagendo", 2).await?;
    tell_apart("check-in", &found, numbers);
    // Choosing checks in; the other next step (Book) is beside it.
    let choose = driver
        .find(By::Id(format!("choose-{second}").as_str()))
        .await?;
    assert_eq!(
        choose.attr("href").await?.as_deref(),
        Some(format!("/visits/checkin?patient={second}").as_str())
    );
    driver
        .find(By::Id(format!("book-{second}").as_str()))
        .await?;
    screenshot(driver, shots, "picker-2-checkin.png").await?;

    driver.goto(format!("{base}/appointments/book")).await?;
    let found = search(driver, "#patient-choices", "koome kagendo", 2).await?;
    tell_apart("booking", &found, numbers);

    driver
        .goto(format!("{base}/patients/{first}/merge"))
        .await?;
    let found = search(driver, "#merge-results", "kagendo", 1).await?;
    assert!(
        found[0].contains(numbers[1].as_str())
            && found[0].contains("0722 *** 222")
            && found[0].contains("Tharaka Nithi"),
        "merge: {found:#?}"
    );
    let compare = driver
        .find(By::Id(format!("choose-{second}").as_str()))
        .await?;
    assert_eq!(
        compare.attr("href").await?.as_deref(),
        Some(format!("/patients/{first}/merge/{second}").as_str())
    );

    // Part of a phone finds, with the count.
    driver.goto(format!("{base}/patients")).await?;
    fill(driver, "q", "0748300").await?;
    let text = wait_for_text(driver, "#patient-results", |t| {
        t.contains("2 patients match.")
    })
    .await?;
    assert!(
        text.contains("Baraka Mutua") && text.contains("Kagendo Koome"),
        "{text}"
    );
    assert!(!text.contains("0722 *** 222"), "{text}");

    // From a result to the check-in form: one click, no second search.
    driver.goto(format!("{base}/patients?q=kagendo")).await?;
    click(driver, &format!("#check-in-{first}")).await?;
    wait_until_path(driver, "the check-in form", |p| p == "/visits/checkin").await?;
    let form = page_text(driver).await?;
    assert!(
        form.contains(numbers[0].as_str()),
        "the check-in form is hers:\n{form}"
    );
    // And from the chart.
    driver.goto(format!("{base}/patients/{second}")).await?;
    let book = driver.find(By::Id("action-book")).await?;
    assert_eq!(
        book.attr("href").await?.as_deref(),
        Some(format!("/appointments/book?patient={second}").as_str())
    );
    driver.find(By::Id("action-check-in")).await?;

    assert_clean_console(driver, "pickers and the chart").await?;

    // Defect 8: the audit trail filter and the access report take the patient number.
    driver.goto(format!("{base}/audit")).await?;
    fill(driver, "f-patient", &numbers[0]).await?;
    click(
        driver,
        "form[action='/audit']:not(.report-search) button[type=submit]",
    )
    .await?;
    wait_until_path(driver, "the filtered trail", |p| p == "/audit").await?;
    let trail = page_text(driver).await?;
    assert!(!trail.contains("whole number"), "{trail}");
    assert!(
        trail.contains("patient.register") && trail.contains(numbers[0].as_str()),
        "{trail}"
    );
    assert!(
        !trail.contains(numbers[1].as_str()),
        "only her entries:\n{trail}"
    );
    fill(driver, "f-patient", "P-99-99999").await?;
    click(
        driver,
        "form[action='/audit']:not(.report-search) button[type=submit]",
    )
    .await?;
    let message = wait_for_text(driver, "#f-patient-error", |t| !t.is_empty()).await?;
    assert_eq!(
        message,
        "No patient has the number P-99-99999. Check it on the card or the chart."
    );
    fill(driver, "report-number", "P-99-99999").await?;
    click(driver, "form.report-search button[type=submit]").await?;
    let message = wait_for_text(driver, "#report-number-error", |t| !t.is_empty()).await?;
    assert!(message.contains("P-99-99999"), "{message}");
    // The two refusals answer 422 and 404 (logged as failed loads); nothing else may be.
    let problems = console_problems(driver, "refused numbers").await?;
    assert!(
        problems
            .iter()
            .all(|e| e.message.contains("status of 422") || e.message.contains("status of 404")),
        "{}",
        describe(&problems)
    );
    fill(driver, "report-number", &numbers[1]).await?;
    click(driver, "form.report-search button[type=submit]").await?;
    wait_until_path(driver, "the access report", |p| {
        p.starts_with("/audit/patients/")
    })
    .await?;
    screenshot(driver, shots, "picker-3-report.png").await?;
    assert_clean_console(driver, "access report").await?;

    // At a phone's width, and in Kiswahili: the rows stack, the page stays inside the window.
    viewport(driver, 390, 844).await?;
    driver.goto(format!("{base}/patients?q=kagendo")).await?;
    wait_for_text(driver, "#patient-results", |t| {
        t.contains("2 patients match.")
    })
    .await?;
    screenshot_fits(driver, shots, "picker-4-find-390.png").await?;
    // The language buttons are in the header at a laptop's width (behind the menu on a phone).
    viewport(driver, 1366, 768).await?;
    click(driver, "form.language-switch button[value='sw']").await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while driver.find(By::Css("html[lang='sw']")).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the page did not switch to Kiswahili"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    viewport(driver, 390, 844).await?;
    driver.goto(format!("{base}/patients?q=kagendo")).await?;
    let text = wait_for_text(driver, "#patient-results", |t| {
        t.contains("Wagonjwa 2 wanalingana.")
    })
    .await?;
    assert!(
        text.contains("Mwanamke") && text.contains("Kianjai, Meru"),
        "{text}"
    );
    screenshot_fits(driver, shots, "picker-5-find-390-sw.png").await?;
    // Below the menu on a phone: the results themselves.
    let results = driver.find(By::Id("patient-results")).await?;
    results.scroll_into_view().await?;
    results
        .screenshot(&shots.join("picker-5-results-390-sw.png"))
        .await?;
    viewport(driver, 1366, 768).await?;
    driver
        .goto(format!("{base}/visits/checkin?q=kagendo"))
        .await?;
    wait_for_text(driver, "#checkin-results", |t| {
        t.contains("Wagonjwa 2 wanalingana.")
    })
    .await?;
    screenshot_fits(driver, shots, "picker-6-checkin-sw.png").await?;
    assert_clean_console(driver, "pickers in Kiswahili").await?;
    Ok(())
}

each_backend! {
    async fn part_of_a_phone_finds_and_the_closest_come_first_with_the_count(app) {
        app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        let c = app.login("desk").await;
        // Registered first, so that index order (by record) would list them first.
        let johnson = person(&c, "Johnson", "Kamau", "0733 100 200").await;
        let john = person(&c, "John", "Kamau", "0748 300 123").await;
        let other = person(&c, "Mary", "Wambui", "0748 300 456").await;
        person(&c, "Peter", "Otieno", "0710 999 888").await;

        // "john kamau": both whole names before a name that only starts with "john".
        let page = c.get_htmx("/patients?q=john+kamau").await;
        let (at_john, at_johnson) = (
            page.body.find(&format!("id=\"check-in-{john}\"")),
            page.body.find(&format!("id=\"check-in-{johnson}\"")),
        );
        assert!(at_john.is_some() && at_johnson.is_some(), "{}", page.body);
        assert!(at_john < at_johnson, "John Kamau before Johnson Kamau:\n{}", page.body);
        assert!(page.body.contains("2 patients match."), "{}", page.body);

        // The start of a phone, in the forms people say it.
        for typed in ["0748300", "0748 300", "748300", "+254748300"] {
            let page = c.get_htmx(&format!("/patients?q={}", typed.replace('+', "%2B").replace(' ', "+"))).await;
            assert!(page.body.contains(&format!("id=\"check-in-{john}\"")) && page.body.contains(&format!("id=\"check-in-{other}\"")), "{typed}: {}", page.body);
            assert!(!page.body.contains(&format!("id=\"check-in-{johnson}\"")), "{typed}");
            assert!(page.body.contains("2 patients match."), "{typed}: {}", page.body);
        }

        // An exact number comes first, and alone.
        let number = patient_number(&c, other).await;
        let page = c.get_htmx(&format!("/patients?q={number}")).await;
        assert!(page.body.contains("One patient matches."), "{}", page.body);

        // More than a page: the count is of all of them, the next page has none.
        for n in 0..26 {
            person(&c, "Wanjiru", &format!("Kariuki{}", "abcdefghijklmnopqrstuvwxyz".chars().nth(n).unwrap()), "").await;
        }
        let first_page = c.get_htmx("/patients?q=wanj").await;
        assert!(first_page.body.contains("26 patients match."), "{}", first_page.body);
        let next = first_page.body.split("href=\"/patients?q=wanj&amp;after=").nth(1).expect("a next page link");
        let after = next.split('"').next().unwrap();
        let second = c.get_htmx(&format!("/patients?q=wanj&after={after}")).await;
        assert_eq!(second.body.matches("class=\"picker-row\"").count(), 1, "{}", second.body);
        assert!(!second.body.contains("match."), "no count on later pages");

        // Nothing typed: the newest, no count; nothing found: said so.
        assert!(!c.get_htmx("/patients").await.body.contains("match."));
        let none = c.get_htmx("/patients?q=zzzz").await;
        assert!(none.body.contains("No patient matches"), "{}", none.body);
    }

    async fn the_audit_filter_and_the_access_report_speak_patient_numbers(app) {
        let admin = app.setup_admin().await;
        let id = hms_testkit::domain::register_quick(&admin, "Kagendo", "Koome", "0748 300 111").await;
        let number = patient_number(&admin, id).await;

        let trail = admin.get(&format!("/audit?patient={number}")).await;
        assert_eq!(trail.status, 200, "{}", trail.body);
        assert!(trail.body.contains("patient.register"), "her registration is there");
        assert!(trail.body.contains(&format!("href=\"/audit?patient={number}\"")), "rows name the patient by number");
        let lower = admin.get(&format!("/audit?patient={}", number.to_lowercase())).await;
        assert_eq!(lower.status, 200);

        // A row id is not a patient number, and an unknown number is said to be unknown.
        let by_id = admin.get(&format!("/audit?patient={id}")).await;
        assert_eq!(by_id.status, 422);
        assert!(by_id.body.contains(&format!("No patient has the number {id}.")), "{}", by_id.body);
        let bad = admin.get("/audit?patient=Koome").await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("A patient number looks like P-26-00042"), "{}", bad.body);
        assert!(!bad.body.contains("whole number"));
        assert_eq!(admin.get("/audit/export.csv?patient=P-99-99999").await.status, 400);

        let report = admin.get("/audit/patients?number=P-99-99999").await;
        assert_eq!(report.status, 404);
        assert!(report.body.contains("No patient has the number P-99-99999."), "{}", report.body);
        assert!(report.body.contains("id=\"report-number-error\""), "the message is beside the box");
        let found = admin.get(&format!("/audit/patients?number={}", number.to_lowercase())).await;
        assert_eq!(found.location(), Some(format!("/audit/patients/{number}").as_str()));
    }
}
