//! Patients, as reception works with them: registering with Kenyan identifiers, duplicate
//! checks, finding a patient by any part of the name, phone or number, and the chart.

use hms_testkit::domain::*;
use hms_testkit::each_backend;

each_backend! {
    async fn a_receptionist_registers_a_patient_and_opens_the_chart(app) {
        app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        let r = submit_registration(&desk, &amina()).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let location = r.location().unwrap().to_string();
        assert!(location.starts_with("/patients/") && !location.contains('?'), "{location}");
        let chart = desk.get(&location).await;
        assert_eq!(chart.status, 200);
        assert!(chart.body.contains("Amina Wanjiru Kamau"));
        assert!(chart.body.contains("Patient registered with number P-"), "flash with the number");
        assert!(chart.body.contains("0712 345 678") && chart.body.contains("12345678"));
        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("patient.register").await, 1);
        assert_eq!(app.audit_count("patient.view").await, 1, "every chart view is recorded");
    }

    async fn bad_details_are_explained_beside_each_field_and_nothing_is_saved(app) {
        let admin = app.setup_admin().await;
        let r = submit_registration(&admin, &[
            ("first_name", ""), ("last_name", "K4mau!"), ("sex", "x"), ("date_of_birth", "2999-01-01"),
            ("phone", "0812 000 000"), ("id_type", "national_id"), ("id_number", "12ab"),
        ]).await;
        assert_eq!(r.status, 422);
        for message in ["Enter the name", "Names may use", "Choose female or male", "cannot be in the future",
                        "Kenyan mobile", "National ID must be"] {
            assert!(r.body.contains(message), "{message}");
        }
        assert!(r.body.contains("value=\"K4mau!\""), "what was typed is kept");
        let none = submit_registration(&admin, &[("first_name", "Baby"), ("last_name", "Otieno"), ("sex", "male"), ("id_type", "none")]).await;
        assert_eq!(none.status, 422);
        assert!(none.body.contains("estimated age"));
        let est = submit_registration(&admin, &[("first_name", "Baby"), ("last_name", "Otieno"), ("sex", "male"), ("age_months", "3"), ("id_type", "none")]).await;
        assert_eq!(est.status, 303, "an estimated age is enough");
        let chart = admin.get(est.location().unwrap()).await;
        assert!(chart.body.contains("estimated"));
    }

    async fn the_same_document_blocks_and_a_likely_match_needs_confirmation(app) {
        let admin = app.setup_admin().await;
        assert_eq!(submit_registration(&admin, &amina()).await.status, 303);
        let mut same_id = amina();
        same_id[0] = ("first_name", "Other");
        same_id[5] = ("phone", "");
        let blocked = submit_registration(&admin, &same_id).await;
        assert_eq!(blocked.status, 409);
        assert!(blocked.body.contains("already registered to another patient"));
        assert!(!blocked.body.contains("register anyway"), "no way around a taken document");

        let twin = vec![
            ("first_name", "Amina"), ("last_name", "Kamau"), ("sex", "female"),
            ("date_of_birth", "1990-05-31"), ("id_type", "none"),
        ];
        let warned = submit_registration(&admin, &twin).await;
        assert_eq!(warned.status, 409);
        assert!(warned.body.contains("may be a patient who is already registered"));
        let mut anyway = twin.clone();
        anyway.push(("register_anyway", "1"));
        assert_eq!(admin.post_form("/patients", &anyway).await.status, 303);
        let phone_twin = submit_registration(&admin, &[
            ("first_name", "Zawadi"), ("last_name", "Achieng"), ("sex", "female"), ("age_years", "30"),
            ("phone", "+254712345678"), ("id_type", "none"),
        ]).await;
        assert_eq!(phone_twin.status, 409, "the same phone, written another way");
    }

    async fn patients_are_found_by_any_part_of_their_names_their_phone_or_number(app) {
        let admin = app.setup_admin().await;
        let r = submit_registration(&admin, &amina()).await;
        let id = chart_id(&r);
        submit_registration(&admin, &[("first_name", "Kamande"), ("last_name", "Otieno"), ("sex", "male"), ("age_years", "40"), ("id_type", "none")]).await;
        let number = admin.get(&format!("/patients/{id}")).await.body
            .split("<strong>").nth(1).unwrap().split('<').next().unwrap().to_string();
        for q in ["wanj kam", "KAMAU amina", "ami", "0712345678", "712 345 678", "254712345678", "12345678", number.as_str()] {
            let found = admin.get(&format!("/patients?q={}", q.replace(' ', "+"))).await;
            assert!(found.body.contains(&format!("/patients/{id}\"")), "{q} finds Amina");
        }
        let both = admin.get("/patients?q=kam").await;
        assert!(both.body.contains("Otieno") && both.body.contains("Amina"), "a prefix of several names");
        // Nine names are stored in more than one statement; each of them is found.
        let long = chart_id(&submit_registration(&admin, &[
            ("first_name", "Mary Anne Njeri"), ("middle_name", "Wairimu Wambui"),
            ("last_name", "Kamau-Njoroge Ole Sankale"), ("sex", "female"), ("age_years", "30"),
            ("id_type", "none"),
        ]).await);
        for q in ["sankale mary", "ole wairimu", "njor anne", "sank"] {
            let found = admin.get(&format!("/patients?q={}", q.replace(' ', "+"))).await;
            assert!(found.body.contains(&format!("/patients/{long}\"")), "{q} finds Mary Anne");
        }
        let neither = admin.get("/patients?q=wanj+otieno").await;
        assert!(neither.body.contains("No patient matches"), "every typed word must match");
        let live = admin.get_htmx("/patients?q=wanj").await;
        assert!(live.body.contains("id=\"patient-results\"") && !live.body.contains("<html"));
        assert!(live.body.contains("0712 *** 678"), "phones partly masked in lists");
        app.app.audit_reads.flush().await;
        let detail: String = sqlx::query("SELECT detail FROM audit_log WHERE action = 'patient.search' ORDER BY id DESC LIMIT 1")
            .fetch_one(app.db().read()).await.map(|r| sqlx::Row::get(&r, 0)).unwrap();
        assert!(!detail.contains("wanj"), "searches are recorded without the typed text");
    }

    async fn concurrent_registrations_get_distinct_numbers(app) {
        app.setup_admin().await;
        let mut tasks = Vec::new();
        for n in 0..12 {
            let c = app.login("admin").await;
            tasks.push(tokio::spawn(async move {
                let last = format!("Mutua{}", ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"][n]);
                let fields = [("first_name", "Test"), ("last_name", last.as_str()), ("sex", "male"), ("age_years", "30"), ("id_type", "none"), ("register_anyway", "1")];
                c.get("/patients/new").await;
                c.post_form("/patients", &fields).await.status
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 303);
        }
        let distinct: i64 = sqlx::query("SELECT COUNT(DISTINCT number) FROM patients")
            .fetch_one(app.db().read()).await.map(|r| sqlx::Row::get(&r, 0)).unwrap();
        assert_eq!(distinct, 12);
    }

    async fn free_text_is_always_shown_escaped(app) {
        let admin = app.setup_admin().await;
        let r = submit_registration(&admin, &[
            ("first_name", "Amina"), ("last_name", "Kamau"), ("sex", "female"), ("age_years", "30"),
            ("id_type", "none"), ("allergies", "<script>alert(1)</script> penicillin"),
        ]).await;
        let chart = admin.get(r.location().unwrap()).await;
        assert!(!chart.body.contains("<script>alert(1)"));
        assert!(chart.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; penicillin"));
    }

    async fn each_role_gets_what_the_defaults_say(app) {
        let admin = app.setup_admin().await;
        let r = submit_registration(&admin, &amina()).await;
        let chart = r.location().unwrap().to_string();
        app.add_user("nurse1", &["nurse"]).await;
        let nurse = app.login("nurse1").await;
        assert_eq!(nurse.get(&chart).await.status, 200);
        assert_eq!(nurse.get("/patients/new").await.status, 403, "nurses do not register");
        app.add_user("acc", &["accountant"]).await;
        assert_eq!(app.login("acc").await.get("/patients?q=ami").await.status, 200);
    }
}
