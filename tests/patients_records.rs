//! Keeping a patient's record right: the full registration form, correcting details (guarded
//! against two desks saving at once, audited with before and after), marking a record inactive,
//! further identifiers, the live-search fragment, and the chart timeline other modules feed.

use std::sync::Arc;

use hms_core::db::Db;
use hms_core::http::RouteSpec;
use hms_core::module::{Module, Permission, TimelineEntry, TimelineFuture};
use hms_testkit::domain::*;
use hms_testkit::{each_backend, Backend, TestApp, TestResponse};
use sqlx::Row;

fn wanjiru<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("first_name", "Grace"),
        ("middle_name", "Wanjiru"),
        ("last_name", "Mwangi"),
        ("sex", "female"),
        ("date_of_birth", "1985-02-14"),
        ("phone", "+254 722 111 222"),
        ("email", "grace@example.co.ke"),
        ("consent_contact", "1"),
        ("id_type", "national_id"),
        ("id_number", "23456789"),
        ("sha_number", "CR1569230130821"),
        ("nupi", "KE12AB"),
        ("county_code", "022"),
        ("sub_county", "Githunguri"),
        ("ward", "Komothai"),
        ("kin_name", "Peter Mwangi"),
        ("kin_relationship", "spouse"),
        ("kin_phone", "0733 444 555"),
        ("allergies", "Sulfa drugs"),
        ("blood_group", "O+"),
    ]
}

/// The hidden `version` of the edit form.
fn version_of(edit: &TestResponse) -> String {
    let at = edit
        .body
        .find("name=\"version\" value=\"")
        .expect("version field")
        + 22;
    edit.body[at..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn last_detail(app: &TestApp, action: &str) -> serde_json::Value {
    let row =
        sqlx::query("SELECT detail FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT 1")
            .bind(action)
            .fetch_one(app.db().read())
            .await
            .expect("an audit row");
    serde_json::from_str(&row.get::<String, _>(0)).expect("json detail")
}

each_backend! {
    async fn every_field_of_the_form_is_kept_and_shown_on_the_chart(app) {
        app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        let r = submit_registration(&desk, &wanjiru()).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let chart = desk.get(r.location().unwrap()).await;
        for shown in ["Grace Wanjiru Mwangi", "0722 111 222", "grace@example.co.ke", "Kiambu, Githunguri, Komothai",
                      "Peter Mwangi (Spouse) · 0733 444 555", "Sulfa drugs", "O+", "CR1569230130821", "KE12AB",
                      "SHA member number", "Agreed"] {
            assert!(chart.body.contains(shown), "chart shows {shown}");
        }
        let stored = sqlx::query("SELECT phone, kin_phone, consent_contact, consent_at FROM patients")
            .fetch_one(app.db().read()).await.unwrap();
        assert_eq!(stored.get::<String, _>(0), "+254722111222");
        assert_eq!(stored.get::<String, _>(1), "+254733444555");
        assert_eq!(stored.get::<i64, _>(2), 1);
        assert!(stored.get::<Option<String>, _>(3).is_some(), "the date of consent is kept");

        // The SHA number is an identifier like the others: a second patient cannot reuse it.
        let mut other = wanjiru();
        other.retain(|(k, _)| !matches!(*k, "id_number" | "phone"));
        other.push(("id_number", "99887766"));
        other.push(("register_anyway", "1"));
        let r = submit_registration(&desk, &other).await;
        assert_eq!(r.status, 409);
        assert!(r.body.contains("already registered"));
        assert_eq!(app.count("patients").await, 1);
    }

    async fn a_receptionist_corrects_details_and_the_audit_keeps_before_and_after(app) {
        app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        let id = chart_id(&submit_registration(&desk, &wanjiru()).await);
        let edit = desk.get(&format!("/patients/{id}/edit")).await;
        assert_eq!(edit.status, 200);
        assert!(edit.body.contains("value=\"Githunguri\""), "the form starts from the record");
        let version = version_of(&edit);
        let mut fields = wanjiru();
        fields.retain(|(k, _)| !matches!(*k, "last_name" | "phone" | "sha_number"));
        fields.extend([("last_name", "Njeri"), ("phone", "0711 000 999"), ("version", version.as_str())]);
        let r = desk.post_form(&format!("/patients/{id}"), &fields).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let chart = desk.get(&format!("/patients/{id}")).await;
        assert!(chart.body.contains("Grace Wanjiru Njeri") && chart.body.contains("0711 000 999"));
        assert!(!chart.body.contains("CR1569230130821"), "an emptied SHA number is removed");

        let detail = last_detail(&app, "patient.edit").await;
        assert_eq!(detail["before"]["last_name"], "Mwangi");
        assert_eq!(detail["after"]["last_name"], "Njeri");
        assert_eq!(detail["before"]["phone"], "+254722111222");
        assert_eq!(detail["after"]["phone"], "+254711000999");

        // The search index follows the new name.
        let found = desk.get("/patients?q=njeri").await;
        assert!(found.body.contains(&format!("/patients/{id}")));
        let old = desk.get("/patients?q=mwangi").await;
        assert!(!old.body.contains(&format!("/patients/{id}\"")), "the old name no longer finds her");
        // So do the word pairs that answer two-word searches, in either order.
        for q in ["grace njeri", "njer wanj", "wanjiru njeri grace"] {
            let found = desk.get(&format!("/patients?q={}", q.replace(' ', "+"))).await;
            assert!(found.body.contains(&format!("/patients/{id}\"")), "'{q}' finds her");
        }
        for q in ["grace mwangi", "mwan wanj"] {
            let old = desk.get(&format!("/patients?q={}", q.replace(' ', "+"))).await;
            assert!(!old.body.contains(&format!("/patients/{id}\"")), "'{q}' no longer finds her");
        }
        let pairs: i64 = sqlx::query("SELECT COUNT(*) FROM patient_name_pairs WHERE patient_id = $1")
            .bind(id).fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(pairs, 6, "three names make six ordered pairs, the old ones gone");

        // A second save from the same (now old) form is refused: someone changed the record.
        let r = desk.post_form(&format!("/patients/{id}"), &fields).await;
        assert_eq!(r.status, 409);
        assert!(r.body.contains("Someone else changed this record"));
        assert_eq!(app.audit_count("patient.edit").await, 1);
    }

    async fn bad_corrections_are_explained_and_change_nothing(app) {
        let admin = app.setup_admin().await;
        let id = chart_id(&submit_registration(&admin, &wanjiru()).await);
        let version = version_of(&admin.get(&format!("/patients/{id}/edit")).await);
        let r = admin.post_form(&format!("/patients/{id}"), &[
            ("first_name", "Grace"), ("last_name", "Mwangi"), ("sex", "female"), ("date_of_birth", "2999-01-01"),
            ("phone", "12345"), ("email", "nope"), ("blood_group", "Z"), ("version", version.as_str()),
        ]).await;
        assert_eq!(r.status, 422);
        for message in ["cannot be in the future", "Phone must look like", "name@example.com", "Choose one from the list"] {
            assert!(r.body.contains(message), "{message}");
        }
        assert_eq!(app.audit_count("patient.edit").await, 0);
        let phone: String = sqlx::query("SELECT phone FROM patients WHERE id = $1").bind(id)
            .fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(phone, "+254722111222");
    }

    async fn a_record_is_made_inactive_with_a_reason_and_never_deleted(app) {
        let admin = app.setup_admin().await;
        let id = chart_id(&submit_registration(&admin, &wanjiru()).await);
        let form = admin.get(&format!("/patients/{id}/deactivate")).await;
        assert_eq!(form.status, 200);
        let r = admin.post_form(&format!("/patients/{id}/deactivate"), &[("reason", ""), ("on", "2999-01-01")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("Choose one from the list") && r.body.contains("cannot be in the future"));
        let r = admin.post_form(&format!("/patients/{id}/deactivate"), &[("reason", "died"), ("on", "2026-11-20")]).await;
        assert_eq!(r.status, 303);
        let chart = admin.get(&format!("/patients/{id}")).await;
        assert!(chart.body.contains("Inactive since 20 Nov 2026") && chart.body.contains("died"));
        let detail = last_detail(&app, "patient.deactivate").await;
        assert_eq!(detail["after"]["reason"], "died");
        assert_eq!(detail["before"]["active"], true);
        // Still found by search, and can be made active again.
        assert!(admin.get("/patients?q=grace").await.body.contains(&format!("/patients/{id}")));
        let r = admin.post_form(&format!("/patients/{id}/reactivate"), &[]).await;
        assert_eq!(r.status, 303);
        assert!(!admin.get(&format!("/patients/{id}")).await.body.contains("Inactive since"));
        assert_eq!(app.audit_count("patient.reactivate").await, 1);
        assert_eq!(app.count("patients").await, 1);
    }

    async fn further_numbers_are_added_and_removed_on_the_chart(app) {
        let admin = app.setup_admin().await;
        let id = chart_id(&submit_registration(&admin, &wanjiru()).await);
        let r = admin.post_form(&format!("/patients/{id}/identifiers"), &[("id_type", "file_number"), ("value", "opd/1234/2019")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let chart = admin.get(&format!("/patients/{id}")).await;
        assert!(chart.body.contains("OPD/1234/2019") && chart.body.contains("Old file number"));
        // The old file number finds the patient.
        assert!(admin.get("/patients?q=OPD/1234/2019").await.body.contains(&format!("/patients/{id}")));

        // Another patient cannot take the same number; a bad number is explained.
        let mut other = wanjiru();
        other.retain(|(k, _)| !matches!(*k, "id_number" | "sha_number" | "nupi" | "phone"));
        other.extend([("id_number", "11112222"), ("register_anyway", "1")]);
        let second = chart_id(&submit_registration(&admin, &other).await);
        let r = admin.post_form(&format!("/patients/{second}/identifiers"), &[("id_type", "file_number"), ("value", "OPD/1234/2019")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("already registered to another patient"));
        let r = admin.post_form(&format!("/patients/{second}/identifiers"), &[("id_type", "nupi"), ("value", "<b>")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("at most 14 characters") && !r.body.contains("value=\"<b>\""));

        // Removing asks first, then removes and audits what the number was.
        let confirm = admin.get(&format!("/patients/{id}/identifiers/remove?type=file_number")).await;
        assert_eq!(confirm.status, 200);
        assert!(confirm.body.contains("OPD/1234/2019"));
        let r = admin.post_form(&format!("/patients/{id}/identifiers/remove"), &[("id_type", "file_number")]).await;
        assert_eq!(r.status, 303);
        assert!(!admin.get(&format!("/patients/{id}")).await.body.contains("OPD/1234/2019"));
        assert_eq!(last_detail(&app, "patient.identifier_remove").await["before"]["value"], "OPD/1234/2019");
    }

    async fn only_reception_and_administrators_change_records(app) {
        let admin = app.setup_admin().await;
        let id = chart_id(&submit_registration(&admin, &wanjiru()).await);
        app.add_user("nurse1", &["nurse"]).await;
        let nurse = app.login("nurse1").await;
        assert_eq!(nurse.get(&format!("/patients/{id}")).await.status, 200);
        assert!(!nurse.get(&format!("/patients/{id}")).await.body.contains("/edit\""), "no edit button");
        for path in ["edit", "deactivate", "identifiers/remove?type=national_id"] {
            assert_eq!(nurse.get(&format!("/patients/{id}/{path}")).await.status, 403, "{path}");
        }
        for path in ["", "/deactivate", "/reactivate", "/identifiers", "/identifiers/remove"] {
            assert_eq!(nurse.post_form(&format!("/patients/{id}{path}"), &[("reason", "died")]).await.status, 403, "{path}");
        }
        // Without the form's CSRF token nothing is changed, even for an administrator.
        let r = admin.post_form_raw(&format!("/patients/{id}/deactivate"), &[("reason", "died"), ("on", "2026-11-20")]).await;
        assert_eq!(r.status, 403);
        assert_eq!(app.audit_count("patient.deactivate").await, 0);
    }

    async fn live_search_answers_with_only_the_results(app) {
        let admin = app.setup_admin().await;
        submit_registration(&admin, &wanjiru()).await;
        let r = admin.get_htmx("/patients?q=wanj").await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains("id=\"patient-results\"") && r.body.contains("Grace Wanjiru Mwangi"));
        assert!(!r.body.contains("<form") && !r.body.contains("<nav"), "no page around the results");
        let page = admin.get("/patients?q=wanj").await;
        assert!(page.body.contains("<form") && page.body.contains("Grace Wanjiru Mwangi"));
    }

    async fn free_text_in_every_new_field_is_shown_escaped(app) {
        let admin = app.setup_admin().await;
        let x = "<img src=x onerror=alert(1)>";
        let mut fields = wanjiru();
        fields.retain(|(k, _)| !matches!(*k, "ward" | "sub_county" | "allergies"));
        fields.extend([("ward", x), ("sub_county", "<b>bold</b>"), ("allergies", x)]);
        let r = submit_registration(&admin, &fields).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let id = chart_id(&r);
        for page in [format!("/patients/{id}"), format!("/patients/{id}/edit")] {
            let body = admin.get(&page).await.body;
            assert!(!body.contains("<img src=x") && !body.contains("<b>bold"), "{page}");
            assert!(body.contains("&lt;img src=x onerror=alert(1)&gt;"), "{page}");
        }
    }
}

/// A stand-in for a later module (visits) that writes to the chart timeline.
struct Visits;

const VISITS_VIEW: &str = "visits.view";

impl Module for Visits {
    fn id(&self) -> &'static str {
        "visits"
    }
    fn title(&self) -> &'static str {
        "visits"
    }
    fn permissions(&self) -> &'static [Permission] {
        &[Permission {
            code: VISITS_VIEW,
            description: "See visits",
            administrative: false,
        }]
    }
    fn default_grants(&self) -> &'static [(&'static str, &'static str)] {
        &[("admin", VISITS_VIEW)]
    }
    fn routes(&self) -> Vec<RouteSpec> {
        Vec::new()
    }
    fn chart_timeline<'a>(
        &'a self,
        _db: &'a Db,
        patients: &'a [i64],
        _limit: i64,
    ) -> TimelineFuture<'a> {
        let patient = patients[0];
        Box::pin(async move {
            Ok(vec![
                TimelineEntry {
                    at: "2026-03-01T07:30:00Z".into(),
                    kind: "patients.timeline",
                    title: format!("Older visit of patient {patient} <i>"),
                    detail: Some("OPD".into()),
                    href: None,
                    permission: VISITS_VIEW,
                },
                TimelineEntry {
                    at: "2026-05-01T07:30:00Z".into(),
                    kind: "patients.timeline",
                    title: "Newer visit".into(),
                    detail: None,
                    href: Some("/visits/2".into()),
                    permission: VISITS_VIEW,
                },
            ])
        })
    }
}

async fn chart_timeline_shows_what_other_modules_contribute(backend: Backend) {
    let Some(app) =
        TestApp::start_custom(backend, |_| {}, |p| p.modules.push(Arc::new(Visits))).await
    else {
        return;
    };
    let admin = app.setup_admin().await;
    let id = chart_id(&submit_registration(&admin, &wanjiru()).await);
    let chart = admin.get(&format!("/patients/{id}")).await;
    let newer = chart.body.find("Newer visit").expect("the newer entry");
    let older = chart
        .body
        .find(&format!("Older visit of patient {id} &lt;i&gt;"))
        .expect("escaped older entry");
    assert!(newer < older, "newest first");
    assert!(
        chart.body.contains("01 Mar 2026, 10:30"),
        "shown in Nairobi time"
    );
    assert!(!chart.body.contains("No visits yet"));

    // Entries need their permission: a receptionist without visits.view sees the empty state.
    app.add_user("desk", &["receptionist"]).await;
    let desk = app.login("desk").await;
    let chart = desk.get(&format!("/patients/{id}")).await;
    assert!(!chart.body.contains("Newer visit") && chart.body.contains("No visits yet"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_timeline_from_other_modules_sqlite() {
    chart_timeline_shows_what_other_modules_contribute(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_timeline_from_other_modules_postgres() {
    chart_timeline_shows_what_other_modules_contribute(Backend::Postgres).await;
}
