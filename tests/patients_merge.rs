//! Merging two records of the same person, as an administrator does it: find the other record
//! from the chart, compare both, give the reason, merge; both numbers then lead to the record
//! kept, the merge is in the audit trail of both patients, and it can be undone exactly.

use hms_core::http::Access;
use hms_testkit::domain::*;
use hms_testkit::{each_backend, Client, TestApp, TestResponse};
use sqlx::Row;

/// Amina as first registered: national ID and her Safaricom number.
async fn amina(c: &Client) -> i64 {
    register(
        c,
        &[
            ("first_name", "Amina"),
            ("middle_name", "Wanjiru"),
            ("last_name", "Kamau"),
            ("sex", "female"),
            ("date_of_birth", "1990-05-31"),
            ("phone", "0712 345 678"),
            ("id_type", "national_id"),
            ("id_number", "12345678"),
        ],
    )
    .await
}

/// Amina registered again on another day, with her passport and her other phone.
async fn amina_again(c: &Client) -> i64 {
    register(
        c,
        &[
            ("first_name", "Amina"),
            ("last_name", "Kamau"),
            ("sex", "female"),
            ("date_of_birth", "1990-05-31"),
            ("phone", "0733 222 111"),
            ("id_type", "passport"),
            ("id_number", "AK1234567"),
            ("register_anyway", "1"),
        ],
    )
    .await
}

async fn otieno(c: &Client) -> i64 {
    register(
        c,
        &[
            ("first_name", "Kamande"),
            ("last_name", "Otieno"),
            ("sex", "male"),
            ("age_years", "40"),
            ("id_type", "none"),
        ],
    )
    .await
}

async fn number(app: &TestApp, id: i64) -> String {
    sqlx::query("SELECT number FROM patients WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

async fn merged_into(app: &TestApp, id: i64) -> Option<i64> {
    sqlx::query("SELECT merged_into FROM patients WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

/// Everything stored on a patient row and its identifiers and name tokens, as text, to compare.
async fn snapshot(app: &TestApp, id: i64) -> Vec<String> {
    let r = sqlx::query(
        "SELECT number, first_name, middle_name, last_name, sex, date_of_birth, dob_estimated, \
         phone, is_active, merged_into, created_at, updated_at FROM patients WHERE id = $1",
    )
    .bind(id)
    .fetch_one(app.db().read())
    .await
    .unwrap();
    let mut out = vec![
        r.get::<String, _>(0),
        r.get::<String, _>(1),
        format!("{:?}", r.get::<Option<String>, _>(2)),
        r.get::<String, _>(3),
        r.get::<String, _>(4),
        r.get::<String, _>(5),
        r.get::<i64, _>(6).to_string(),
        format!("{:?}", r.get::<Option<String>, _>(7)),
        r.get::<i64, _>(8).to_string(),
        format!("{:?}", r.get::<Option<i64>, _>(9)),
        r.get::<String, _>(10),
        r.get::<String, _>(11),
    ];
    for i in sqlx::query(
        "SELECT id_type, value FROM patient_identifiers WHERE patient_id = $1 AND voided_at IS NULL ORDER BY id",
    )
    .bind(id)
    .fetch_all(app.db().read())
    .await
    .unwrap()
    {
        out.push(format!(
            "{}={}",
            i.get::<String, _>(0),
            i.get::<String, _>(1)
        ));
    }
    for t in
        sqlx::query("SELECT token FROM patient_name_tokens WHERE patient_id = $1 ORDER BY token")
            .bind(id)
            .fetch_all(app.db().read())
            .await
            .unwrap()
    {
        out.push(t.get::<String, _>(0));
    }
    out
}

async fn merges_count(app: &TestApp) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM patient_merges")
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

/// Merges `merged` into `survivor` through the screens; returns the answer to the POST.
async fn merge(c: &Client, survivor: i64, merged: i64, reason: &str) -> TestResponse {
    let page = c.get(&format!("/patients/{survivor}/merge/{merged}")).await;
    assert_eq!(page.status, 200, "comparison page: {}", page.body);
    c.post_form(
        &format!("/patients/{survivor}/merge/{merged}"),
        &[("reason", reason)],
    )
    .await
}

async fn merge_id(app: &TestApp, merged: i64) -> i64 {
    sqlx::query("SELECT id FROM patient_merges WHERE merged_id = $1 ORDER BY id DESC LIMIT 1")
        .bind(merged)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

/// Whether a search answered with a link to this patient's chart.
fn lists(page: &TestResponse, id: i64) -> bool {
    page.body.contains(&format!("href=\"/patients/{id}\""))
}

/// Every merge route exists and needs `patients.merge` (checked on the specs themselves).
#[tokio::test]
async fn every_merge_route_needs_the_merge_permission() {
    let app = TestApp::start(hms_testkit::Backend::Sqlite).await.unwrap();
    let specs: Vec<_> = hms_web::routes(&app.app)
        .into_iter()
        .filter(|s| s.path.contains("/merge"))
        .collect();
    let mut paths: Vec<String> = specs
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "GET /patients/:id/merge",
            "GET /patients/:id/merge/:other",
            "GET /patients/:id/merges/:merge/undo",
            "POST /patients/:id/merge/:other",
            "POST /patients/:id/merges/:merge/undo",
        ]
    );
    for s in &specs {
        assert_eq!(s.access, Access::Permission("patients.merge"), "{}", s.path);
    }
}

each_backend! {
    async fn an_admin_merges_two_records_and_the_merged_chart_opens_the_survivor(app) {
        let admin = app.setup_admin().await;
        let kept = amina(&admin).await;
        let dup = amina_again(&admin).await;
        let (kept_no, dup_no) = (number(&app, kept).await, number(&app, dup).await);

        let chart = admin.get(&format!("/patients/{kept}")).await;
        assert!(chart.body.contains(&format!("href=\"/patients/{kept}/merge\"")), "the chart offers a merge");
        assert!(chart.body.contains("Merge with another record of this person"));

        let pick = admin.get(&format!("/patients/{kept}/merge?q={dup_no}")).await;
        assert_eq!(pick.status, 200);
        assert!(pick.body.contains(&format!("/patients/{kept}/merge/{dup}\"")), "the other record is offered");
        let by_name = admin.get(&format!("/patients/{kept}/merge?q=amina+kam")).await;
        assert!(by_name.body.contains(&format!("/patients/{kept}/merge/{dup}\"")));
        assert!(!by_name.body.contains(&format!("/patients/{kept}/merge/{kept}\"")), "not the record itself");
        let live = admin.get_htmx(&format!("/patients/{kept}/merge?q=amina")).await;
        assert!(live.body.contains("id=\"merge-results\"") && !live.body.contains("<html"));

        let compare = admin.get(&format!("/patients/{kept}/merge/{dup}")).await;
        assert_eq!(compare.status, 200);
        for shown in [kept_no.as_str(), dup_no.as_str(), "Amina Wanjiru Kamau", "Amina Kamau", "31 May 1990",
                      "0712 345 678", "0733 222 111", "12345678", "AK1234567", "Record kept", "Record merged into it",
                      "Reason for the merge"] {
            assert!(compare.body.contains(shown), "comparison shows {shown}");
        }
        assert!(compare.body.contains(&format!("href=\"/patients/{dup}/merge/{kept}\"")), "the two can be swapped");

        let r = admin.post_form(&format!("/patients/{kept}/merge/{dup}"),
            &[("reason", "Registered twice at reception; same passport photo")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location(), Some(format!("/patients/{kept}").as_str()));
        assert_eq!(merged_into(&app, dup).await, Some(kept));
        assert_eq!(merged_into(&app, kept).await, None);

        let old = admin.get(&format!("/patients/{dup}")).await;
        assert_eq!(old.status, 303, "the merged record's chart leads to the survivor");
        assert_eq!(old.location(), Some(format!("/patients/{kept}").as_str()));

        let chart = admin.get(&format!("/patients/{kept}")).await;
        assert!(chart.body.contains(&format!("Record {dup_no} was merged into {kept_no}.")), "flash");
        assert!(chart.body.contains("Records merged into this one"));
        assert!(chart.body.contains(&dup_no) && chart.body.contains("Registered twice at reception"));
        let m = merge_id(&app, dup).await;
        assert!(chart.body.contains(&format!("/patients/{kept}/merges/{m}/undo\"")), "Undo is offered");

        // The merge is in the audit trail of both patients, with both numbers.
        let rows = sqlx::query("SELECT patient_id, detail, user_id FROM audit_log WHERE action = 'patient.merge' ORDER BY patient_id")
            .fetch_all(app.db().read()).await.unwrap();
        assert_eq!(rows.len(), 2, "one row for each patient");
        let mut patients: Vec<i64> = rows.iter().map(|r| r.get::<i64, _>(0)).collect();
        patients.sort();
        let mut expected = vec![kept, dup];
        expected.sort();
        assert_eq!(patients, expected);
        for r in &rows {
            let detail: String = r.get(1);
            assert!(detail.contains(&kept_no) && detail.contains(&dup_no), "{detail}");
            assert!(r.get::<Option<i64>, _>(2).is_some(), "who merged");
        }
    }

    async fn both_numbers_phones_and_documents_find_the_survivor(app) {
        let admin = app.setup_admin().await;
        let kept = amina(&admin).await;
        let dup = amina_again(&admin).await;
        let other = otieno(&admin).await;
        let (kept_no, dup_no) = (number(&app, kept).await, number(&app, dup).await);
        assert_eq!(merge(&admin, kept, dup, "Same person").await.status, 303);

        for q in [kept_no.as_str(), dup_no.as_str(), "0712345678", "0733222111", "0733 222 111",
                  "12345678", "AK1234567", "ak1234567", "amina", "kam amina"] {
            let found = admin.get(&format!("/patients?q={}", q.replace(' ', "+"))).await;
            assert_eq!(found.status, 200);
            assert!(lists(&found, kept), "{q} finds the survivor");
            assert!(!lists(&found, dup), "{q} never lists the merged record");
            assert_eq!(found.body.matches(&format!("href=\"/patients/{kept}\"")).count(), 1,
                       "{q}: the survivor once (its name links to the chart)");
        }
        let both = admin.get("/patients?q=kam").await;
        assert!(lists(&both, kept) && lists(&both, other));
    }

    async fn other_departments_read_the_survivor_and_its_absorbed_records_through_the_patients_api(app) {
        use hms_core::ids::PatientId;
        use hms_patients::api;
        let admin = app.setup_admin().await;
        let kept = amina(&admin).await;
        let dup = amina_again(&admin).await;
        let other = otieno(&admin).await;
        let dup_no = number(&app, dup).await;
        assert_eq!(merge(&admin, kept, dup, "Same person").await.status, 303);
        let db = app.db();

        // The merged record's number leads to the survivor, which names what it absorbed.
        let card = api::card_by_number(db, &format!(" {dup_no} ")).await.unwrap().expect("found");
        assert_eq!(card.id, PatientId(kept));
        assert_eq!(card.merged_ids, vec![PatientId(dup)]);
        assert_eq!((card.full_name.as_str(), card.sex_label.as_str()), ("Amina Wanjiru Kamau", "Female"));
        assert!(card.age_text.ends_with(" y") && !card.age_text.starts_with('~'), "{}", card.age_text);
        assert!(api::card_by_number(db, "P-00-99999").await.unwrap().is_none());

        // The absorbed record itself says where it went; a list reads many ids in batches.
        let absorbed = api::card(db, PatientId(dup)).await.unwrap().expect("kept as a record");
        assert_eq!(absorbed.merged_into, Some(PatientId(kept)));
        // More ids than one statement takes (64), known ones among unknown ones and repeated.
        let mut ids: Vec<PatientId> = (0..100).map(|i| PatientId(1_000_000 + i)).collect();
        ids.extend([kept, dup, other, kept, other].map(PatientId));
        let cards = api::cards(db, &ids).await.unwrap();
        let got: Vec<PatientId> = cards.iter().map(|c| c.id).collect();
        let mut want = vec![PatientId(kept), PatientId(dup), PatientId(other)];
        want.sort();
        assert_eq!(got, want, "each known id once, unknown ids left out");
        let survivor = cards.iter().find(|c| c.id == PatientId(kept)).unwrap();
        assert_eq!(survivor.merged_ids, vec![PatientId(dup)]);
    }

    async fn undo_restores_both_records_exactly(app) {
        let admin = app.setup_admin().await;
        let kept = amina(&admin).await;
        let dup = amina_again(&admin).await;
        let dup_no = number(&app, dup).await;
        let (before_kept, before_dup) = (snapshot(&app, kept).await, snapshot(&app, dup).await);
        assert_eq!(merge(&admin, kept, dup, "Same national ID card seen").await.status, 303);
        assert_ne!(snapshot(&app, dup).await, before_dup);
        let m = merge_id(&app, dup).await;

        let confirm = admin.get(&format!("/patients/{kept}/merges/{m}/undo")).await;
        assert_eq!(confirm.status, 200, "{}", confirm.body);
        assert!(confirm.body.contains("Undo a merge") && confirm.body.contains(&dup_no));
        assert!(confirm.body.contains("Same national ID card seen"));
        let r = admin.post_form(&format!("/patients/{kept}/merges/{m}/undo"), &[]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location(), Some(format!("/patients/{dup}").as_str()), "the separated record opens");

        assert_eq!(snapshot(&app, kept).await, before_kept, "the survivor is as it was");
        assert_eq!(snapshot(&app, dup).await, before_dup, "the merged record is as it was");
        let chart = admin.get(&format!("/patients/{dup}")).await;
        assert_eq!(chart.status, 200, "the record has its own chart again");
        assert!(chart.body.contains("Merge undone"), "flash");
        let kept_chart = admin.get(&format!("/patients/{kept}")).await;
        assert!(!kept_chart.body.contains("Records merged into this one"));
        let found = admin.get(&format!("/patients?q={dup_no}")).await;
        assert!(lists(&found, dup) && !lists(&found, kept), "its number finds it again");

        let row = sqlx::query("SELECT undone_at, undone_by FROM patient_merges WHERE id = $1")
            .bind(m).fetch_one(app.db().read()).await.unwrap();
        assert!(row.get::<Option<String>, _>(0).is_some());
        assert!(row.get::<Option<i64>, _>(1).is_some());
        assert_eq!(app.audit_count("patient.merge_undo").await, 2, "one row for each patient");
        let detail: String = sqlx::query("SELECT detail FROM audit_log WHERE action = 'patient.merge_undo' AND patient_id = $1")
            .bind(dup).fetch_one(app.db().read()).await.unwrap().get(0);
        assert!(detail.contains(&dup_no), "{detail}");

        // Undone once only; the page of an undone merge is gone.
        let again = admin.post_form(&format!("/patients/{kept}/merges/{m}/undo"), &[]).await;
        assert_eq!(again.status, 422);
        assert!(again.body.contains("already been undone"));
        assert_eq!(admin.get(&format!("/patients/{kept}/merges/{m}/undo")).await.status, 404);
        assert_eq!(app.audit_count("patient.merge_undo").await, 2);
        assert_eq!(admin.post_form(&format!("/patients/{kept}/merges/999999/undo"), &[]).await.status, 404);

        // The two can be merged again later.
        assert_eq!(merge(&admin, kept, dup, "Checked again with the patient").await.status, 303);
        assert_eq!(merged_into(&app, dup).await, Some(kept));
    }

    async fn a_receptionist_gets_403_on_every_merge_route_and_changes_nothing(app) {
        let admin = app.setup_admin().await;
        let kept = amina(&admin).await;
        let dup = amina_again(&admin).await;
        let other = otieno(&admin).await;
        assert_eq!(merge(&admin, kept, dup, "Same person").await.status, 303);
        let m = merge_id(&app, dup).await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;

        let chart = desk.get(&format!("/patients/{kept}")).await;
        assert_eq!(chart.status, 200);
        assert!(!chart.body.contains(&format!("/patients/{kept}/merge")), "no merge link without the permission");
        assert!(!chart.body.contains("/undo\""), "no Undo without the permission");

        for path in [format!("/patients/{kept}/merge"), format!("/patients/{kept}/merge?q=amina"),
                     format!("/patients/{kept}/merge/{other}"), format!("/patients/{kept}/merges/{m}/undo")] {
            assert_eq!(desk.get(&path).await.status, 403, "GET {path}");
        }
        let r = desk.post_form(&format!("/patients/{kept}/merge/{other}"), &[("reason", "test")]).await;
        assert_eq!(r.status, 403);
        let r = desk.post_form(&format!("/patients/{kept}/merges/{m}/undo"), &[]).await;
        assert_eq!(r.status, 403);
        assert_eq!(merged_into(&app, other).await, None);
        assert_eq!(merged_into(&app, dup).await, Some(kept), "the merge stands");
        assert_eq!(merges_count(&app).await, 1);
        assert_eq!(app.audit_count("patient.merge").await, 2);
        assert_eq!(app.audit_count("patient.merge_undo").await, 0);
    }

    async fn merging_into_itself_into_a_merged_record_or_into_a_chain_is_refused(app) {
        let admin = app.setup_admin().await;
        let kept = amina(&admin).await;
        let dup = amina_again(&admin).await;
        let other = otieno(&admin).await;
        let dup_no = number(&app, dup).await;
        let kept_no = number(&app, kept).await;

        let itself = admin.get(&format!("/patients/{kept}/merge/{kept}")).await;
        assert_eq!(itself.status, 422);
        assert!(itself.body.contains("cannot be merged with itself"));
        assert!(!itself.body.contains("name=\"reason\""), "no way to go ahead");
        let r = admin.post_form(&format!("/patients/{kept}/merge/{kept}"), &[("reason", "oops")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("cannot be merged with itself"));
        assert_eq!(merged_into(&app, kept).await, None);

        let no_reason = admin.post_form(&format!("/patients/{kept}/merge/{dup}"), &[("reason", "  ")]).await;
        assert_eq!(no_reason.status, 422);
        assert!(no_reason.body.contains("Give the reason for the merge"));
        let long = "x".repeat(501);
        let too_long = admin.post_form(&format!("/patients/{kept}/merge/{dup}"), &[("reason", long.as_str())]).await;
        assert_eq!(too_long.status, 422);
        assert!(too_long.body.contains("500 characters"));
        assert_eq!(merges_count(&app).await, 0);
        assert_eq!(merged_into(&app, dup).await, None);

        assert_eq!(merge(&admin, kept, dup, "Same person").await.status, 303);
        let before = (snapshot(&app, kept).await, snapshot(&app, dup).await, snapshot(&app, other).await);

        // The merged record can be neither kept nor merged again.
        let r = admin.post_form(&format!("/patients/{other}/merge/{dup}"), &[("reason", "again")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains(&format!("Record {dup_no} has already been merged")), "{}", r.body);
        let r = admin.post_form(&format!("/patients/{dup}/merge/{other}"), &[("reason", "into merged")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains(&format!("Record {dup_no} has itself been merged")));
        let page = admin.get(&format!("/patients/{dup}/merge/{other}")).await;
        assert_eq!(page.status, 422);
        // A survivor cannot be merged away (that would make a chain); keeping it works.
        let r = admin.post_form(&format!("/patients/{other}/merge/{kept}"), &[("reason", "chain")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains(&format!("Other records are merged into {kept_no}")));
        assert!(r.body.contains(&format!("href=\"/patients/{kept}/merge/{other}\"")), "swapping is offered");
        // The merged record's merge page leads to the survivor's.
        let pick = admin.get(&format!("/patients/{dup}/merge")).await;
        assert_eq!(pick.status, 303);
        assert_eq!(pick.location(), Some(format!("/patients/{kept}/merge").as_str()));
        assert_eq!(admin.get(&format!("/patients/{kept}/merge/999999")).await.status, 404);
        assert_eq!(admin.post_form(&format!("/patients/999999/merge/{kept}"), &[("reason", "x")]).await.status, 404);

        assert_eq!(before, (snapshot(&app, kept).await, snapshot(&app, dup).await, snapshot(&app, other).await),
                   "nothing changed");
        assert_eq!(merges_count(&app).await, 1);
        assert_eq!(app.audit_count("patient.merge").await, 2);
    }

    async fn concurrent_merges_never_make_a_chain_or_a_cycle(app) {
        let admin = app.setup_admin().await;
        let x = amina(&admin).await;
        let y = amina_again(&admin).await;
        let z = otieno(&admin).await;
        let pairs = [(x, y), (y, z), (z, x), (y, x), (x, z), (z, y)];
        let mut tasks = Vec::new();
        for (survivor, merged) in pairs {
            let c = app.login("admin").await;
            c.get("/patients").await;
            tasks.push(tokio::spawn(async move {
                c.post_form(&format!("/patients/{survivor}/merge/{merged}"), &[("reason", "race")]).await.status
            }));
        }
        let mut merged_ok = 0;
        for t in tasks {
            let status = t.await.unwrap();
            assert!(status == 303 || status == 422, "refused cleanly, never an error: {status}");
            merged_ok += i64::from(status == 303);
        }
        assert!(merged_ok >= 1);
        let mut pointed = 0;
        for id in [x, y, z] {
            if let Some(survivor) = merged_into(&app, id).await {
                pointed += 1;
                assert_eq!(merged_into(&app, survivor).await, None, "{id} -> {survivor} is one step");
            }
        }
        assert_eq!(pointed, merged_ok, "one pointer per merge that went through");
        let active: i64 = sqlx::query("SELECT COUNT(*) FROM patient_merges WHERE undone_at IS NULL")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(active, merged_ok);
        assert_eq!(app.audit_count("patient.merge").await, 2 * merged_ok);
    }

    async fn merging_or_undoing_without_the_csrf_token_is_refused(app) {
        let admin = app.setup_admin().await;
        let kept = amina(&admin).await;
        let dup = amina_again(&admin).await;
        admin.get(&format!("/patients/{kept}/merge/{dup}")).await;
        let r = admin.post_form_raw(&format!("/patients/{kept}/merge/{dup}"), &[("reason", "Same person")]).await;
        assert_eq!(r.status, 403);
        let r = admin.post_form_raw(&format!("/patients/{kept}/merge/{dup}"),
            &[("csrf_token", "forged"), ("reason", "Same person")]).await;
        assert_eq!(r.status, 403);
        assert_eq!(merged_into(&app, dup).await, None);
        assert_eq!(merges_count(&app).await, 0);

        assert_eq!(merge(&admin, kept, dup, "Same person").await.status, 303);
        let m = merge_id(&app, dup).await;
        let r = admin.post_form_raw(&format!("/patients/{kept}/merges/{m}/undo"), &[]).await;
        assert_eq!(r.status, 403);
        assert_eq!(merged_into(&app, dup).await, Some(kept), "still merged");
        assert_eq!(app.audit_count("patient.merge_undo").await, 0);
    }

    async fn names_and_reasons_are_shown_escaped_on_the_merge_screens(app) {
        let admin = app.setup_admin().await;
        let kept = amina(&admin).await;
        let dup = amina_again(&admin).await;
        // Names from an older system or an import may hold anything.
        let mut tx = app.db().begin().await.unwrap();
        sqlx::query("UPDATE patients SET first_name = $1 WHERE id = $2")
            .bind("<script>alert('name')</script>")
            .bind(dup)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let escaped_name = "&lt;script&gt;alert(";
        let dup_no = number(&app, dup).await;
        let pick = admin.get(&format!("/patients/{kept}/merge?q={dup_no}")).await;
        assert!(!pick.body.contains("<script>alert('name')") && pick.body.contains(escaped_name));
        let compare = admin.get(&format!("/patients/{kept}/merge/{dup}")).await;
        assert!(!compare.body.contains("<script>alert('name')") && compare.body.contains(escaped_name));

        let payload = "<img src=x onerror=alert(1)> same person";
        let refused = admin.post_form(&format!("/patients/{kept}/merge/{dup}"),
            &[("reason", format!("{payload}{}", "x".repeat(500)).as_str())]).await;
        assert_eq!(refused.status, 422);
        assert!(!refused.body.contains("<img src=x") && refused.body.contains("&lt;img src=x onerror=alert(1)&gt;"),
                "what was typed comes back escaped");

        assert_eq!(merge(&admin, kept, dup, payload).await.status, 303);
        let chart = admin.get(&format!("/patients/{kept}")).await;
        assert!(!chart.body.contains("<img src=x") && chart.body.contains("&lt;img src=x onerror=alert(1)&gt; same person"));
        assert!(!chart.body.contains("<script>alert('name')"));
        let m = merge_id(&app, dup).await;
        let undo = admin.get(&format!("/patients/{kept}/merges/{m}/undo")).await;
        assert_eq!(undo.status, 200);
        assert!(!undo.body.contains("<img src=x") && undo.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!undo.body.contains("<script>alert('name')") && undo.body.contains(escaped_name));
    }
}
