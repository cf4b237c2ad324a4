//! Printing a patient card and a file label at reception: A4, A5 or an 80 mm receipt printer,
//! the number large and as a barcode, every print recorded in the audit trail.

use hms_testkit::domain::*;
use hms_testkit::{each_backend, TestApp};

/// The `detail` of the newest audit row with this action.
async fn last_detail(app: &TestApp, action: &str) -> String {
    use sqlx::Row;
    sqlx::query("SELECT detail FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT 1")
        .bind(action)
        .fetch_one(app.db().read())
        .await
        .expect("an audit row")
        .get(0)
}

each_backend! {
    async fn a_receptionist_prints_a_card_and_a_file_label_on_every_paper(app) {
        app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        let id = register(&desk, &amina()).await;
        let number = patient_number(&desk, id).await;
        assert!(number.starts_with("P-"), "{number}");

        let chart = desk.get(&format!("/patients/{id}")).await;
        for what in ["card", "label"] {
            for layout in ["a4", "a5", "thermal"] {
                let url = format!("/patients/{id}/{what}?layout={layout}");
                assert!(chart.body.contains(&format!("href=\"{url}\"")), "the chart links to {url}");
                let page = desk.get(&url).await;
                assert_eq!(page.status, 200, "{url}: {}", page.body);
                let body = &page.body;
                assert!(body.starts_with("<!doctype html>"), "{url}: a page of its own");
                assert!(!body.contains("class=\"sidemenu\""), "{url}: no app menu on a print page");
                assert!(body.contains(&format!("paper-{layout} doc-{what}")), "{url}: the paper's styles");
                assert!(body.contains("/static/print.css?v="), "{url}: the versioned print stylesheet");
                assert!(body.contains("data-print"), "{url}: a Print button");
                assert!(!body.contains("<script>") && !body.contains("style=\""), "{url}: nothing inline (CSP)");
                assert!(body.contains(&format!("<p class=\"sheet-number\">{number}</p>")), "{url}: the number in large text");
                assert!(body.contains("<svg "), "{url}: the barcode");
                assert!(body.contains(&format!("role=\"img\" aria-label=\"Barcode of patient number {number}\"")), "{url}");
                assert!(body.contains("Amina Wanjiru Kamau") && body.contains("Female") && body.contains("31 May 1990"), "{url}");
                assert!(body.contains("Mwangaza Health Centre"), "{url}: the facility name");
                assert!(!body.contains("0712"), "{url}: no phone number on paper that leaves the desk");
            }
        }
        // The label's barcode: start, 10 characters, check and stop in 165 modules.
        assert!(desk.get(&format!("/patients/{id}/label")).await.body.contains("viewBox=\"0 0 165 50\""));
        // Only the chosen paper is marked as the current one.
        let a5 = desk.get(&format!("/patients/{id}/card?layout=a5")).await;
        assert_eq!(a5.body.matches("aria-current=\"page\"").count(), 1);
        assert!(a5.body.contains(&format!("href=\"/patients/{id}/card?layout=a5\" aria-current=\"page\"")));
        // No layout: an A4 page. An unknown one is refused.
        let plain = desk.get(&format!("/patients/{id}/card")).await;
        assert_eq!(plain.status, 200);
        assert!(plain.body.contains("paper-a4 doc-card"));
        assert_eq!(desk.get(&format!("/patients/{id}/card?layout=a3")).await.status, 400);

        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("patient.print").await, 2 * 3 + 3, "every print page is recorded");
        let detail = last_detail(&app, "patient.print").await;
        assert!(detail.contains("\"what\":\"card\"") && detail.contains("\"layout\":\"a4\""), "{detail}");
        assert!(!detail.contains("Amina"), "no patient name in the audit detail: {detail}");
        use sqlx::Row;
        let patient_id: i64 = sqlx::query("SELECT patient_id FROM audit_log WHERE action = 'patient.print' ORDER BY id DESC LIMIT 1")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(patient_id, id, "the row names the patient for the access report");
    }

    async fn the_print_pages_speak_kiswahili(app) {
        let admin = app.setup_admin().await;
        let id = register(&admin, &amina()).await;
        admin.post_form("/language", &[("lang", "sw"), ("next", "/")]).await;
        let label = admin.get(&format!("/patients/{id}/label?layout=thermal")).await;
        assert_eq!(label.status, 200);
        assert!(label.body.contains("<html lang=\"sw\">"), "Kiswahili page");
        assert!(label.body.contains("Lebo ya faili") && label.body.contains("Chapisha") && label.body.contains("Mwanamke"));
        assert!(label.body.contains("aria-label=\"Msimbopau wa nambari ya mgonjwa P-"));
    }

    async fn printing_needs_the_view_permission_and_an_existing_patient(app) {
        let admin = app.setup_admin().await;
        let id = register(&admin, &amina()).await;
        admin.get("/admin/roles/new").await;
        let r = admin.post_form("/admin/roles/new", &[("name", "porter"), ("title", "Porter"), ("description", "Moves patients between wards")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        app.add_user("porter1", &["porter"]).await;
        let porter = app.login("porter1").await;
        for url in [format!("/patients/{id}/card?layout=a4"), format!("/patients/{id}/label?layout=thermal")] {
            let r = porter.get(&url).await;
            assert_eq!(r.status, 403, "{url}");
            assert!(!r.body.contains("Amina"), "{url}: nothing of the patient");
        }
        let anonymous = app.client();
        let r = anonymous.get(&format!("/patients/{id}/card")).await;
        assert_eq!(r.status, 303, "signed out: to the sign-in page");
        assert!(r.location().unwrap_or("").starts_with("/login"));

        assert_eq!(admin.get("/patients/999999/card?layout=a4").await.status, 404);
        assert_eq!(admin.get("/patients/999999/label").await.status, 404);
        assert_eq!(admin.get("/patients/abc/label").await.status, 400, "not a number");
        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("patient.print").await, 0, "refused prints are not recorded as prints");
    }

    async fn a_merged_record_prints_the_survivor(app) {
        let admin = app.setup_admin().await;
        let survivor = register(&admin, &amina()).await;
        let duplicate = register(&admin, &[
            ("first_name", "Amina"), ("last_name", "Kamau"), ("sex", "female"),
            ("date_of_birth", "1990-05-31"), ("id_type", "none"), ("register_anyway", "1"),
        ]).await;
        // Merged as the merge screen leaves it: the duplicate points at the survivor.
        let mut tx = app.db().begin().await.expect("begin");
        sqlx::query("UPDATE patients SET merged_into = $1 WHERE id = $2")
            .bind(survivor).bind(duplicate)
            .execute(&mut *tx).await.expect("mark merged");
        tx.commit().await.expect("commit");
        let r = admin.get(&format!("/patients/{duplicate}/label?layout=a5")).await;
        assert_eq!(r.status, 303);
        assert_eq!(r.location(), Some(format!("/patients/{survivor}/label?layout=a5").as_str()));
        let r = admin.get(&format!("/patients/{duplicate}/card")).await;
        assert_eq!(r.location(), Some(format!("/patients/{survivor}/card?layout=a4").as_str()));
        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("patient.print").await, 0, "a redirect prints nothing");
    }

    async fn names_and_allergies_are_escaped_on_paper(app) {
        let admin = app.setup_admin().await;
        let id = register(&admin, &[
            ("first_name", "Grace"), ("middle_name", "O'Neil"), ("last_name", "Achieng"),
            ("sex", "female"), ("age_years", "30"), ("id_type", "none"),
            ("allergies", "<script>alert(1)</script> penicillin & \"sulfa\""),
        ]).await;
        // Names may not carry markup at all.
        let refused = admin.post_form("/patients", &[
            ("first_name", "<script>"), ("last_name", "Achieng"), ("sex", "female"),
            ("age_years", "30"), ("id_type", "none"), ("register_anyway", "1"),
        ]).await;
        assert_eq!(refused.status, 422);
        for what in ["card", "label"] {
            for layout in ["a4", "thermal"] {
                let page = admin.get(&format!("/patients/{id}/{what}?layout={layout}")).await;
                assert_eq!(page.status, 200);
                assert!(!page.body.contains("<script>alert"), "{what} {layout}");
                assert!(!page.body.contains("O'Neil"), "{what} {layout}: the apostrophe is escaped");
                assert!(page.body.contains("Grace O&#x27;Neil Achieng") || page.body.contains("Grace O&#39;Neil Achieng"), "{what} {layout}");
            }
        }
        let label = admin.get(&format!("/patients/{id}/label?layout=a4")).await;
        assert!(
            label.body.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt; penicillin &amp; &quot;sulfa&quot;")
                || label.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; penicillin &amp; &quot;sulfa&quot;"),
            "the allergy warning on the file label, escaped: {}",
            label.body
        );
    }
}
