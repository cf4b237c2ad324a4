//! The access report a patient may ask for under the Data Protection Act, opened by patient
//! number: the name and number, every read of the record and of every record merged into it,
//! actions in words in the reader's language, who with their role, when and from where; on
//! screen and as a PDF that continues over pages.

use hms_core::audit::{self, Actor, Event};
use hms_testkit::{each_backend, pdf, Client, TestApp};

async fn register(c: &Client, first: &str, last: &str, id_number: &str) -> i64 {
    c.get("/patients/new").await;
    let fields = [
        ("first_name", first),
        ("last_name", last),
        ("sex", "female"),
        ("date_of_birth", "1988-02-14"),
        ("id_type", "national_id"),
        ("id_number", id_number),
        // The second record of the same person is registered on purpose (to merge it).
        ("register_anyway", "1"),
    ];
    let r = c.post_form("/patients", &fields).await;
    assert_eq!(r.status, 303, "registration: {}", r.body);
    r.location()
        .unwrap()
        .trim_start_matches("/patients/")
        .parse()
        .unwrap()
}

async fn number_of(c: &Client, id: i64) -> String {
    let chart = c.get(&format!("/patients/{id}")).await;
    chart
        .body
        .split("<strong>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_string()
}

/// Two records of one person, each opened by a doctor (the second also printed), then merged.
async fn merged_pair(app: &TestApp) -> (Client, (i64, i64), String, String) {
    let admin = app.setup_admin().await;
    app.add_user("dr.otieno", &["doctor"]).await;
    let kept = register(&admin, "Mũthoni", "Wanjirũ", "12345678").await;
    let dup = register(&admin, "Muthoni", "Wanjiru", "87654321").await;
    let (kept_no, dup_no) = (number_of(&admin, kept).await, number_of(&admin, dup).await);
    let doctor = app.login("dr.otieno").await;
    assert_eq!(doctor.get(&format!("/patients/{kept}")).await.status, 200);
    assert_eq!(doctor.get(&format!("/patients/{dup}")).await.status, 200);
    assert_eq!(
        doctor
            .get(&format!("/patients/{dup}/card.pdf"))
            .await
            .status,
        200
    );
    admin.get(&format!("/patients/{kept}/merge/{dup}")).await;
    let m = admin
        .post_form(
            &format!("/patients/{kept}/merge/{dup}"),
            &[("reason", "Registered twice")],
        )
        .await;
    assert_eq!(m.status, 303, "{}", m.body);
    app.app.audit_reads.flush().await;
    (admin, (kept, dup), kept_no, dup_no)
}

/// How many chart openings the trail holds for these records.
async fn views_of(app: &TestApp, ids: (i64, i64)) -> usize {
    use sqlx::Row;
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'patient.view' AND patient_id IN ($1, $2)",
    )
    .bind(ids.0)
    .bind(ids.1)
    .fetch_one(app.db().read())
    .await
    .unwrap()
    .get(0);
    n as usize
}

/// Entries of the report page made by the doctor, in words.
fn doctor_rows(body: &str) -> Vec<String> {
    body.split("<tr>")
        .filter(|r| r.contains("dr.otieno"))
        .map(|r| r.to_string())
        .collect()
}

each_backend! {
    async fn after_a_merge_the_report_by_number_lists_reads_of_both_records(app) {
        let (admin, ids, kept_no, dup_no) = merged_pair(&app).await;
        let chart = admin.get(&format!("/patients/{}", ids.0)).await;
        assert!(chart.body.contains(&format!("href=\"/audit/patients/{kept_no}\"")), "the chart links the report by number");
        app.app.audit_reads.flush().await;
        let page = admin.get(&format!("/audit/patients/{kept_no}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Mũthoni Wanjirũ") && page.body.contains(&kept_no), "name and number");
        let rows = doctor_rows(&page.body);
        let opened: Vec<_> = rows.iter().filter(|r| r.contains("opened the chart")).collect();
        assert_eq!(opened.len(), 2, "the reads of both records: {rows:?}");
        assert_eq!(opened.iter().filter(|r| r.contains("merged record")).count(), 1, "the absorbed record's read is marked");
        assert!(rows.iter().any(|r| r.contains("printed the card") && r.contains("merged record")));
        assert!(rows.iter().all(|r| r.contains("Doctor")), "who, with their role");
        assert!(!page.body.contains("<td>patient.view"), "no action codes");
        assert!(page.body.contains(&format!("href=\"/audit/patients/{kept_no}/report.pdf\"")));

        // The absorbed record's number, or the number in small letters, opens the survivor's report.
        let old = admin.get(&format!("/audit/patients/{dup_no}")).await;
        assert_eq!(old.status, 303);
        assert_eq!(old.location(), Some(format!("/audit/patients/{kept_no}").as_str()));
        let lower = admin.get(&format!("/audit/patients/{}", kept_no.to_lowercase())).await;
        assert_eq!(lower.location(), Some(format!("/audit/patients/{kept_no}").as_str()));
        assert_eq!(admin.get("/audit/patients/P-99-99999").await.status, 404);

        // The PDF: the same entries, in words, with the name as typed.
        let file = admin.get(&format!("/audit/patients/{kept_no}/report.pdf")).await;
        assert_eq!(file.status, 200);
        assert_eq!(file.header("content-type"), Some("application/pdf"));
        assert_eq!(file.header("cache-control"), Some("no-store"));
        let text = pdf::text(&file.bytes);
        assert!(text.contains("Mũthoni Wanjirũ") && text.contains(&kept_no), "{text}");
        let views = views_of(&app, ids).await;
        assert!(views >= 2);
        assert_eq!(text.matches("opened the chart").count(), views, "every opening of either record: {text}");
        assert!(text.contains("printed the card") && text.contains("Doctor") && text.contains("Page 1 of 1"), "{text}");
        assert_eq!(admin.get("/audit/patients/P-99-99999/report.pdf").await.status, 404);

        // Each report is itself in the trail, and shows in the next one.
        app.app.audit_reads.flush().await;
        assert!(app.audit_count("audit.patient_report").await >= 3);
        let again = admin.get(&format!("/audit/patients/{kept_no}")).await;
        assert!(again.body.contains("produced this access report"));
    }

    async fn the_report_speaks_kiswahili_and_opens_from_the_search_box(app) {
        let (admin, _kept, kept_no, _dup_no) = merged_pair(&app).await;
        let log = admin.get("/audit").await;
        assert!(log.body.contains("action=\"/audit/patients\"") && log.body.contains("name=\"number\""), "the search box");
        let found = admin.get(&format!("/audit/patients?number=+{}+", kept_no.to_lowercase())).await;
        assert_eq!(found.status, 303);
        assert_eq!(found.location(), Some(format!("/audit/patients/{kept_no}").as_str()));
        assert_eq!(admin.get("/audit/patients?number=P-99-99999").await.status, 404);
        let refused = admin.get("/audit/patients?number=%3Cscript%3E").await;
        assert_eq!(refused.status, 422, "refused beside the box");
        assert!(refused.body.contains("A patient number looks like P-26-00042.") && !refused.body.contains("<script>"));

        admin.post_form("/language", &[("lang", "sw"), ("next", "/")]).await;
        let page = admin.get(&format!("/audit/patients/{kept_no}")).await;
        assert!(page.body.contains("Ripoti ya ufikiaji") && page.body.contains("alifungua faili"), "{}", page.body);
        let text = pdf::text(&admin.get(&format!("/audit/patients/{kept_no}/report.pdf")).await.bytes);
        assert!(text.contains("alifungua faili") && text.contains("Ukurasa 1 wa 1"), "{text}");

        app.add_user("nurse.wambui", &["nurse"]).await;
        let nurse = app.login("nurse.wambui").await;
        for url in [format!("/audit/patients/{kept_no}"), format!("/audit/patients/{kept_no}/report.pdf"),
                    format!("/audit/patients?number={kept_no}")] {
            assert_eq!(nurse.get(&url).await.status, 403, "{url}");
        }
    }

    async fn a_long_report_continues_over_pages_with_its_header_repeated(app) {
        let admin = app.setup_admin().await;
        let doctor = app.add_user("dr.otieno", &["doctor"]).await;
        let id = register(&admin, "Kĩmani", "Njoroge", "12345678").await;
        let number = number_of(&admin, id).await;
        let mut tx = app.db().begin().await.unwrap();
        let actor = Actor { user_id: Some(doctor), client_addr: Some("10.1.1.7".into()), request_id: None };
        for _ in 0..70 {
            audit::record(&mut tx, &actor, Event::new("patient.view", "patient", Some(id)).patient(id)).await.unwrap();
        }
        tx.commit().await.unwrap();
        let file = admin.get(&format!("/audit/patients/{number}/report.pdf")).await;
        let pages = pdf::pages(&file.bytes);
        assert!(pages >= 2, "{pages}");
        let text = pdf::text(&file.bytes);
        assert!(text.contains(&format!("Page 2 of {pages}")) && text.contains(&format!("Page {pages} of {pages}")));
        for (n, page) in text.split('\u{c}').filter(|p| !p.trim().is_empty()).enumerate() {
            assert!(page.contains("When") && page.contains("Who") && page.contains("Computer"), "page {}: the header", n + 1);
        }
        assert!(text.matches("opened the chart").count() >= 70);
        assert!(text.matches("10.1.1.7").count() >= 70, "from where");
    }
}
