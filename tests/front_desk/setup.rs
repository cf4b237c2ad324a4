//! A one-person dispensary: at setup the administrator may say she also does reception and
//! clinical work (off by default), and then checks patients in and calls the queue without
//! granting herself anything. The roles-and-permissions screen says what each save changed
//! ("Nurse: + queue.checkin").

use hms_testkit::domain::{register_quick, submit_check_in, visit_id};
use hms_testkit::{each_backend, Client, TestApp, PASSWORD};
use sqlx::Row;

/// Runs first-run setup through the form, with or without the "reception and clinical work"
/// box; returns the administrator's signed-in client.
async fn set_up(app: &TestApp, front_line: bool) -> Client {
    let c = app.client();
    let page = c.get("/setup").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let mut fields = vec![
        ("facility_name", "Kamukunji Dispensary"),
        ("full_name", "Wanjiru Njeri"),
        ("username", "wanjiru"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    if front_line {
        fields.push(("front_line", "1"));
    }
    let r = c.post_form("/setup", &fields).await;
    assert_eq!(r.status, 303, "setup answers with a redirect: {}", r.body);
    c
}

/// The first account's role names, in the order roles were made.
async fn roles_of_first_user(app: &TestApp) -> Vec<String> {
    sqlx::query(
        "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         JOIN users u ON u.id = ur.user_id WHERE u.username = 'wanjiru' AND ur.voided_at IS NULL \
         ORDER BY r.id",
    )
    .fetch_all(app.db().read())
    .await
    .expect("roles")
    .into_iter()
    .map(|r| r.get(0))
    .collect()
}

/// The `<input>` tag of the setup form's "reception and clinical work" box.
fn front_line_box(html: &str) -> &str {
    let at = html
        .find("name=\"front_line\"")
        .unwrap_or_else(|| panic!("the setup form has the box; it shows:\n{html}"));
    let start = html[..at].rfind('<').expect("tag start");
    let end = at + html[at..].find('>').expect("tag end");
    &html[start..=end]
}

/// The values of the ticked boxes of the roles-and-permissions screen.
fn ticked(html: &str) -> Vec<String> {
    let marker = "name=\"grant\" value=\"";
    html.match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &html[i + marker.len()..];
            let value = &rest[..rest.find('"')?];
            let tag = &rest[..rest.find('>')?];
            tag.contains(" checked").then(|| value.into())
        })
        .collect()
}

/// The values of every box of the roles-and-permissions screen, ticked or not.
fn every_box(html: &str) -> Vec<String> {
    let marker = "name=\"grant\" value=\"";
    let mut all: Vec<String> = html
        .match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &html[i + marker.len()..];
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Saves the matrix with exactly `grants` ticked; returns the screen shown after the save.
async fn save_matrix(c: &Client, grants: &[String]) -> String {
    let mut fields: Vec<(&str, &str)> = grants.iter().map(|g| ("grant", g.as_str())).collect();
    fields.push(("matrix", "1"));
    let r = c.post_form("/admin/roles", &fields).await;
    assert_eq!(r.status, 303, "the matrix saves: {}", r.body);
    let page = c.get("/admin/roles").await;
    assert_eq!(page.status, 200);
    page.body
}

each_backend! {
    async fn by_default_the_first_account_is_an_administrator_only(app) {
        let c = app.client();
        let page = c.get("/setup").await;
        let tag = front_line_box(&page.body);
        assert!(!tag.contains("checked"), "the box starts unticked: {tag}");
        assert!(page.body.contains("I also do reception and clinical work here"));

        // A mistake elsewhere keeps the box as it was ticked.
        let r = c
            .post_form(
                "/setup",
                &[
                    ("facility_name", "Kamukunji Dispensary"),
                    ("full_name", "Wanjiru Njeri"),
                    ("username", "wanjiru"),
                    ("password", PASSWORD),
                    ("password_confirm", "something else entirely"),
                    ("front_line", "1"),
                ],
            )
            .await;
        assert_eq!(r.status, 422);
        assert!(front_line_box(&r.body).contains("checked"), "the box stays ticked");
        assert_eq!(app.count("users").await, 0, "nothing is created on a mistake");

        let admin = set_up(&app, false).await;
        assert_eq!(roles_of_first_user(&app).await, ["admin"]);
        assert_eq!(admin.get("/visits/checkin").await.status, 403);
        assert_eq!(admin.get("/queues").await.status, 403);
    }

    async fn a_one_person_dispensary_registers_checks_in_and_calls_without_granting_anything(app) {
        let admin = set_up(&app, true).await;
        assert_eq!(
            roles_of_first_user(&app).await,
            ["admin", "receptionist", "doctor", "nurse"]
        );
        let home = admin.get("/").await;
        for item in ["Check in", "Queues", "Register a patient", "Staff accounts"] {
            assert!(home.body.contains(item), "the menu offers {item:?}:\n{}", home.body);
        }
        assert_eq!(admin.get("/queues").await.status, 200);

        let patient = register_quick(&admin, "Akinyi", "Odhiambo", "0712 345 678").await;
        let visit = visit_id(&submit_check_in(&admin, patient, "triage", "").await);
        assert!(visit > 0);
        admin.get("/queues/triage").await;
        let r = admin.post_form("/queues/triage/call", &[]).await;
        assert_eq!(r.status, 303, "she calls her own queue: {}", r.body);
        assert!(app.audit_count("setup.complete").await == 1);
    }

    async fn the_permission_matrix_says_what_each_save_changed(app) {
        let admin = set_up(&app, false).await;
        let before = ticked(&admin.get("/admin/roles").await.body);
        assert!(before.iter().any(|g| g == "receptionist|patients.edit"));

        // Give nurses check-in's neighbour and merging; take editing from reception.
        let mut grants: Vec<String> = before
            .iter()
            .filter(|g| *g != "receptionist|patients.edit")
            .cloned()
            .collect();
        grants.push("nurse|patients.merge".into());
        grants.push("nurse|appointments.book".into());
        let page = save_matrix(&admin, &grants).await;
        assert!(page.contains("Permissions saved."), "{page}");
        assert!(
            page.contains("Nurse: + appointments.book, + patients.merge")
                || page.contains("Nurse: + patients.merge, + appointments.book"),
            "the save says what nurses gained:\n{page}"
        );
        assert!(
            page.contains("Receptionist: \u{2212} patients.edit"),
            "the save says what reception lost:\n{page}"
        );
        assert!(!page.contains("Doctor: "), "roles left as they were are not listed");

        // The message is shown once, not on the next visit.
        let again = admin.get("/admin/roles").await;
        assert!(!again.body.contains("Nurse: +"));

        // Saving with nothing changed says so and lists nothing.
        let page = save_matrix(&admin, &ticked(&again.body)).await;
        assert!(page.contains("Nothing was changed."), "{page}");
        assert!(!page.contains("Nurse: +"));

        // Many changes at once: named up to a limit, the rest counted (the message travels in
        // a cookie).
        let all = every_box(&again.body);
        let already = ticked(&again.body);
        assert!(all.len() - already.len() > 30, "enough boxes to pass the limit");
        let page = save_matrix(&admin, &all).await;
        assert!(page.contains("Permissions saved."), "{page}");
        let more = all.len() - already.len() - 30;
        assert!(
            page.contains(&format!("and {more} more changes")),
            "the changes past the limit are counted:\n{page}"
        );
    }
}
