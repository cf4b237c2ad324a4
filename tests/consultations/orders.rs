//! Consultations tests: orders. A doctor fills the basket of a draft note (the test kit's
//! stand-in department's catalogue, or free text), and nothing reaches a department until
//! *Place orders* writes the whole basket in one transaction; a drug matching a recorded allergy
//! needs a reason that stays on the order; bad quantities, unknown codes, closed visits and
//! another patient's visit are refused with nothing saved; a placed order can be cancelled until
//! the department starts it (of the two at once, one wins); procedures done in the room post
//! their charges. Every scenario on SQLite and PostgreSQL.

use hms_appointments::api as appointments;
use hms_core::audit::Actor;
use hms_core::ids::VisitId;
use hms_core::orders::{self, State};
use hms_testkit::domain::{register_quick, submit_check_in, visit_id};
use hms_testkit::{standin, Backend, Client, TestApp, TestResponse};
use sqlx::Row;

#[path = "orders_browser.rs"]
mod browser;

/// Runs a scenario on SQLite and on PostgreSQL with the stand-in department enabled beside the
/// compiled modules (it fills `standin_test` orders; nothing fills `lab`, and the pharmacy, which
/// fills `drug`, has an empty catalogue).
macro_rules! each_backend_with_filler {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = TestApp::start_with_modules(Backend::Sqlite, vec![standin::module()])
                    .await
                    .expect("SQLite test app starts");
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($app) =
                    TestApp::start_with_modules(Backend::Postgres, vec![standin::module()]).await
                else {
                    return;
                };
                $body
            }
        }
    )*};
}

/// A doctor with a draft note open for a checked-in patient.
pub(super) struct Room {
    /// The administrator (who may also fill stand-in orders).
    admin: Client,
    desk: Client,
    doctor: Client,
    patient: i64,
    pub(super) visit: i64,
    pub(super) note: i64,
}

/// Opens a draft note for a visit directly in the database (the workspace's *Take next* does
/// this on the screens).
async fn open_note(app: &TestApp, patient: i64, visit: i64, clinician: i64) -> i64 {
    let now = hms_core::clock::now_rfc3339();
    let mut tx = app.db().begin().await.unwrap();
    let id: i64 = sqlx::query(
        "INSERT INTO encounters (patient_id, visit_id, visit_day, clinician_id, state, version, \
         started_at, updated_at) SELECT $1, id, day, $3, 'draft', 1, $4, $4 FROM visits \
         WHERE id = $2 RETURNING id",
    )
    .bind(patient)
    .bind(visit)
    .bind(clinician)
    .bind(&now)
    .fetch_one(&mut *tx)
    .await
    .expect("note opened")
    .get(0);
    tx.commit().await.unwrap();
    id
}

/// The room for the browser walk (the doctor signs in there as `dr.wekesa`).
pub(super) async fn open_note_for_browser(app: &TestApp) -> Room {
    room(app).await
}

async fn room(app: &TestApp) -> Room {
    let admin = app.setup_admin().await;
    app.add_user("desk", &["receptionist"]).await;
    let desk = app.login("desk").await;
    let doctor_id = app.add_user("dr.wekesa", &["doctor"]).await;
    let doctor = app.login("dr.wekesa").await;
    let patient = register_quick(&desk, "Achieng", "Otieno", "0722000111").await;
    let visit = visit_id(&submit_check_in(&desk, patient, "consultation", "").await);
    let note = open_note(app, patient, visit, doctor_id).await;
    Room {
        admin,
        desk,
        doctor,
        patient,
        visit,
        note,
    }
}

impl Room {
    fn orders_path(&self) -> String {
        format!("/consultations/{}/orders", self.note)
    }

    /// Opens the orders screen (for its form token), then adds a line.
    async fn add(&self, fields: &[(&str, &str)]) -> TestResponse {
        let page = self.doctor.get(&self.orders_path()).await;
        assert_eq!(page.status, 200, "{}", page.body);
        self.doctor.post_form(&self.orders_path(), fields).await
    }

    async fn place(&self) -> TestResponse {
        self.doctor.get(&self.orders_path()).await;
        self.doctor
            .post_form(&format!("{}/place", self.orders_path()), &[])
            .await
    }
}

async fn basket_size(app: &TestApp, note: i64) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM encounter_basket WHERE encounter_id = $1")
        .bind(note)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

async fn orders_of_visit(app: &TestApp, visit: i64) -> Vec<orders::Order> {
    orders::for_visit(app.db(), VisitId(visit)).await.unwrap()
}

const PARACETAMOL: &[(&str, &str)] = &[
    ("kind", "drug"),
    ("free_text", "Paracetamol 500 mg"),
    ("quantity", "15"),
    ("priority", "routine"),
    ("dose", "1"),
    ("dose_unit", "tablet"),
    ("route", "oral"),
    ("frequency", "TDS"),
    ("duration_days", "5"),
    ("instructions", "After food"),
];

each_backend_with_filler! {
    async fn orders_wait_in_the_basket_and_reach_the_stand_in_filler_only_when_placed(app) {
        let r = room(&app).await;
        // The catalogue search answers from the filler through the registry.
        let found = r
            .doctor
            .get_htmx(&format!("{}?kind={}&q=gluc", r.orders_path(), standin::KIND))
            .await;
        assert_eq!(found.status, 200);
        assert!(found.body.contains("Blood glucose"), "{}", found.body);
        assert!(found.body.contains("value=\"glucose\""), "{}", found.body);
        assert!(!found.body.contains("<html"), "a search answers with its fragment only");
        // Nothing fills lab orders here: the screen says to type them.
        let lab = r.doctor.get(&format!("{}?kind=lab&q=malaria", r.orders_path())).await;
        assert!(lab.body.contains("No department fills these orders"), "{}", lab.body);

        let added = r
            .add(&[("kind", standin::KIND), ("code", "glucose"), ("quantity", "1"), ("priority", "urgent")])
            .await;
        assert_eq!(added.status, 303, "{}", added.body);
        assert_eq!(r.add(&[("kind", "lab"), ("free_text", "Malaria RDT"), ("quantity", "1")]).await.status, 303);
        assert_eq!(r.add(PARACETAMOL).await.status, 303);
        assert_eq!(basket_size(&app, r.note).await, 3);

        // In the basket, no department sees anything yet.
        assert!(orders_of_visit(&app, r.visit).await.is_empty());
        let worklist = orders::worklist(app.db(), standin::KIND, State::Placed, 10).await.unwrap();
        assert!(worklist.is_empty());
        let page = r.doctor.get(&r.orders_path()).await;
        assert!(page.body.contains("Blood glucose") && page.body.contains("Place orders (3)"), "{}", page.body);

        let placed = r.place().await;
        assert_eq!(placed.status, 303, "{}", placed.body);
        assert_eq!(basket_size(&app, r.note).await, 0);
        let all = orders_of_visit(&app, r.visit).await;
        assert_eq!(all.len(), 3);
        let placer = format!("encounter:{}", r.note);
        assert!(all.iter().all(|o| o.placer_module == "consultations"
            && o.placer_ref.as_deref() == Some(placer.as_str())
            && o.state == State::Placed
            && o.patient.get() == r.patient));
        let lab = all.iter().find(|o| o.kind == "lab").unwrap();
        assert_eq!((lab.code.as_deref(), lab.free_text.as_deref()), (None, Some("Malaria RDT")));
        let drug = all.iter().find(|o| o.kind == "drug").unwrap();
        assert_eq!(drug.quantity, 15);
        assert_eq!(drug.details["frequency"], "TDS");
        assert_eq!(drug.display, "Paracetamol 500 mg: 1 tablet TDS x 5 days (15)");

        // The stand-in department finds it on its worklist and completes it.
        let worklist = orders::worklist(app.db(), standin::KIND, State::Placed, 10).await.unwrap();
        assert_eq!(worklist.len(), 1);
        assert_eq!(worklist[0].priority, "urgent");
        r.admin.get("/").await;
        let done = r
            .admin
            .post_form(&format!("/standin/orders/{}/complete", worklist[0].id), &[])
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        let page = r.doctor.get(&r.orders_path()).await;
        assert!(page.body.contains("5.4 mmol/L") && page.body.contains("Completed"), "{}", page.body);
        // Without a filler the lab and drug orders stay placed (they print).
        let left: Vec<_> = orders_of_visit(&app, r.visit).await.into_iter()
            .filter(|o| o.state == State::Placed).map(|o| o.kind).collect();
        assert_eq!(left.len(), 2, "{left:?}");
        assert_eq!(app.audit_count("consultations.orders_place").await, 1);
        assert_eq!(app.audit_count("order.place").await, 3);
        assert_eq!(app.audit_count("consultations.basket_add").await, 3);
        app.app.audit_reads.flush().await;
        assert!(app.audit_count("consultations.orders_view").await >= 1);
    }

    async fn cancel_racing_the_filler_starting_one_wins(app) {
        let r = room(&app).await;
        r.admin.get("/").await;
        let mut outcomes = Vec::new();
        for round in 0..4 {
            let added = r.add(&[("kind", standin::KIND), ("code", "glucose"), ("quantity", "1")]).await;
            assert_eq!(added.status, 303, "{}", added.body);
            assert_eq!(r.place().await.status, 303);
            let order = orders::worklist(app.db(), standin::KIND, State::Placed, 10).await.unwrap();
            assert_eq!(order.len(), 1, "round {round}");
            let id = order[0].id;
            r.doctor.get(&r.orders_path()).await;
            let cancel_path = format!("{}/{}/cancel", r.orders_path(), id);
            let complete_path = format!("/standin/orders/{id}/complete");
            // Whichever is sent first gets a head start: alternate, so both endings happen.
            let cancel = r.doctor.post_form(&cancel_path, &[("reason", "Patient left")]);
            let complete = r.admin.post_form(&complete_path, &[]);
            let (cancelled, completed) = if round % 2 == 0 {
                tokio::join!(cancel, complete)
            } else {
                let (completed, cancelled) = tokio::join!(complete, cancel);
                (cancelled, completed)
            };
            outcomes.push((cancelled.status, completed.status));
            let state = orders::get(app.db(), id).await.unwrap().unwrap().state;
            let charges: i64 = sqlx::query("SELECT COUNT(*) FROM charges WHERE source = 'order' AND source_ref = $1")
                .bind(id.to_string())
                .fetch_one(app.db().read())
                .await
                .unwrap()
                .get(0);
            match (cancelled.status, completed.status) {
                (303, 409) => {
                    assert_eq!(state, State::Cancelled);
                    assert_eq!(charges, 0);
                }
                (409, 200) => {
                    assert_eq!(state, State::Completed);
                    assert_eq!(charges, 1);
                    assert!(cancelled.body.contains("already started or finished"), "{}", cancelled.body);
                }
                other => panic!("round {round}: exactly one must win, got {other:?}: {} / {}", cancelled.body, completed.body),
            }
        }
        eprintln!("cancel against the filler (cancel, filler): {outcomes:?}");
        // Once the department has started, cancelling is refused and says why.
        assert_eq!(r.add(&[("kind", standin::KIND), ("code", "glucose"), ("quantity", "1")]).await.status, 303);
        assert_eq!(r.place().await.status, 303);
        let id = orders::worklist(app.db(), standin::KIND, State::Placed, 10).await.unwrap()[0].id;
        assert_eq!(r.admin.post_form(&format!("/standin/orders/{id}/complete"), &[]).await.status, 200);
        r.doctor.get(&r.orders_path()).await;
        let late = r.doctor.post_form(&format!("{}/{}/cancel", r.orders_path(), id), &[]).await;
        assert_eq!(late.status, 409, "{}", late.body);
        assert_eq!(orders::get(app.db(), id).await.unwrap().unwrap().state, State::Completed);
    }

    async fn a_placed_order_is_cancelled_with_its_reason_only_from_its_own_note(app) {
        let r = room(&app).await;
        assert_eq!(r.add(&[("kind", "lab"), ("free_text", "Full blood count"), ("quantity", "1")]).await.status, 303);
        assert_eq!(r.place().await.status, 303);
        let id = orders_of_visit(&app, r.visit).await[0].id;
        // Another note's path does not reach this order.
        let other = register_quick(&r.desk, "Baraka", "Mwangi", "0722000222").await;
        let other_visit = visit_id(&submit_check_in(&r.desk, other, "consultation", "").await);
        let doctor_id: i64 = sqlx::query("SELECT id FROM users WHERE username = 'dr.wekesa'")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        let other_note = open_note(&app, other, other_visit, doctor_id).await;
        r.doctor.get(&r.orders_path()).await;
        let wrong = r.doctor.post_form(&format!("/consultations/{other_note}/orders/{id}/cancel"), &[]).await;
        assert_eq!(wrong.status, 404);
        let ok = r.doctor.post_form(&format!("{}/{}/cancel", r.orders_path(), id), &[("reason", "Duplicate request")]).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let order = orders::get(app.db(), id).await.unwrap().unwrap();
        assert_eq!(order.state, State::Cancelled);
        assert_eq!(order.reason.as_deref(), Some("Duplicate request"));
        let page = r.doctor.get(&r.orders_path()).await;
        assert!(page.body.contains("Cancelled") && page.body.contains("Duplicate request"), "{}", page.body);
        assert_eq!(app.audit_count("order.cancel").await, 1);
    }

    async fn a_drug_matching_a_recorded_allergy_needs_a_reason_kept_on_the_order(app) {
        let r = room(&app).await;
        r.desk.get(&format!("/patients/{}/allergies/new", r.patient)).await;
        let allergy = r
            .desk
            .post_form(
                &format!("/patients/{}/allergies", r.patient),
                &[("allergen", "Penicillin"), ("drug_group", "penicillins"), ("severity", "severe")],
            )
            .await;
        assert_eq!(allergy.status, 303, "{}", allergy.body);
        let amoxicillin = [
            ("kind", "drug"),
            ("free_text", "Amoxicillin 500 mg"),
            ("quantity", "15"),
            ("dose", "1"),
            ("dose_unit", "capsule"),
            ("route", "oral"),
            ("frequency", "TDS"),
            ("duration_days", "5"),
        ];
        let refused = r.add(&amoxicillin).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert!(refused.body.contains("recorded allergy to Penicillin"), "{}", refused.body);
        assert!(refused.body.contains("value=\"Amoxicillin 500 mg\""), "what was typed stays");
        assert_eq!(basket_size(&app, r.note).await, 0);
        // A drug of another group needs no reason.
        assert_eq!(r.add(PARACETAMOL).await.status, 303);

        let mut with_reason = amoxicillin.to_vec();
        with_reason.push(("allergy_reason", "Rash only as a child; no alternative in stock"));
        assert_eq!(r.add(&with_reason).await.status, 303);
        assert_eq!(r.place().await.status, 303);
        let orders = orders_of_visit(&app, r.visit).await;
        let amox = orders.iter().find(|o| o.display.starts_with("Amoxicillin")).unwrap();
        assert_eq!(amox.details["allergy_reason"], "Rash only as a child; no alternative in stock");
        let para = orders.iter().find(|o| o.display.starts_with("Paracetamol")).unwrap();
        assert!(para.details.get("allergy_reason").is_none());
        let page = r.doctor.get(&r.orders_path()).await;
        assert!(page.body.contains("no alternative in stock"), "the reason shows on the order");
    }

    async fn bad_quantities_unknown_codes_and_bad_drug_lines_are_refused_with_nothing_saved(app) {
        let r = room(&app).await;
        let lab = |q: &'static str| [("kind", "lab"), ("free_text", "Malaria RDT"), ("quantity", q)];
        for (quantity, message) in [
            ("0", "Quantity must be at least 1."),
            ("-3", "Quantity cannot be negative."),
            ("1.5", "not a fraction"),
            ("10001", "cannot be more than 10,000"),
            ("many", "whole number, such as 1 or 15"),
            ("", "Give the quantity"),
        ] {
            let answer = r.add(&lab(quantity)).await;
            assert_eq!(answer.status, 422, "quantity {quantity:?}: {}", answer.body);
            assert!(answer.body.contains(message), "quantity {quantity:?}: {}", answer.body);
            assert!(answer.body.contains("id=\"order-quantity-error\""), "the message sits beside the field");
        }
        assert_eq!(r.add(&lab("10000")).await.status, 303, "10,000 is the most allowed");

        // A refused line keeps its catalogue choice.
        let kept = r.add(&[("kind", standin::KIND), ("code", "glucose"), ("quantity", "0")]).await;
        assert_eq!(kept.status, 422);
        assert!(kept.body.contains("value=\"glucose\" checked"), "{}", kept.body);
        // Only a local path is followed after a POST.
        let away = r.add(&[("kind", "lab"), ("free_text", "Stool microscopy"), ("quantity", "1"), ("next", "//evil.example/")]).await;
        assert_eq!(away.location(), Some(r.orders_path().as_str()));
        let unknown = r.add(&[("kind", standin::KIND), ("code", "haemoglobin"), ("quantity", "1")]).await;
        assert_eq!(unknown.status, 422);
        assert!(unknown.body.contains("not in the catalogue"), "{}", unknown.body);
        let no_filler = r.add(&[("kind", "lab"), ("code", "fbc"), ("quantity", "1")]).await;
        assert_eq!(no_filler.status, 422, "no filler: no catalogue code");
        let kind = r.add(&[("kind", "xray"), ("free_text", "Chest"), ("quantity", "1")]).await;
        assert_eq!(kind.status, 422);
        assert!(kind.body.contains("Choose the kind of order"), "{}", kind.body);
        let nothing = r.add(&[("kind", "lab"), ("quantity", "1")]).await;
        assert_eq!(nothing.status, 422);
        let long = "x".repeat(201);
        let too_long = r.add(&[("kind", "lab"), ("free_text", &long), ("quantity", "1")]).await;
        assert_eq!(too_long.status, 422);
        let mut no_route = PARACETAMOL.to_vec();
        no_route.retain(|(k, _)| *k != "route");
        let answer = r.add(&no_route).await;
        assert_eq!(answer.status, 422);
        assert!(answer.body.contains("Choose how the drug is given"), "{}", answer.body);
        let mut prn = PARACETAMOL.to_vec();
        prn.retain(|(k, _)| *k != "frequency");
        prn.push(("frequency", "PRN"));
        let answer = r.add(&prn).await;
        assert_eq!(answer.status, 422);
        assert!(answer.body.contains("most doses in a day"), "{}", answer.body);
        let xss = r.add(&[("kind", "lab"), ("free_text", "<script>alert(1)</script>"), ("quantity", "0")]).await;
        assert_eq!(xss.status, 422);
        assert!(!xss.body.contains("<script>alert(1)</script>"), "typed text is escaped");

        assert_eq!(basket_size(&app, r.note).await, 2, "only the good lines were kept");
        assert_eq!(app.audit_count("consultations.basket_add").await, 2);
        assert!(orders_of_visit(&app, r.visit).await.is_empty());
    }

    async fn orders_on_a_closed_visit_or_another_patients_visit_are_refused(app) {
        let r = room(&app).await;
        assert_eq!(r.add(&[("kind", "lab"), ("free_text", "Malaria RDT"), ("quantity", "1")]).await.status, 303);
        // Another patient's visit under this patient's note.
        let other = register_quick(&r.desk, "Baraka", "Mwangi", "0722000222").await;
        let other_visit = visit_id(&submit_check_in(&r.desk, other, "consultation", "").await);
        let doctor_id: i64 = sqlx::query("SELECT id FROM users WHERE username = 'dr.wekesa'")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        let crossed = open_note(&app, r.patient, other_visit, doctor_id).await;
        let path = format!("/consultations/{crossed}/orders");
        r.doctor.get(&path).await;
        let answer = r.doctor.post_form(&path, &[("kind", "lab"), ("free_text", "Malaria RDT"), ("quantity", "1")]).await;
        assert_eq!(answer.status, 422, "{}", answer.body);
        assert!(answer.body.contains("belongs to another patient"), "{}", answer.body);
        assert_eq!(basket_size(&app, crossed).await, 0);

        // The visit closes: neither adding nor placing goes through.
        let mut tx = app.db().begin().await.unwrap();
        appointments::complete_visit(&mut tx, VisitId(r.visit), &Actor::cli(None)).await.unwrap();
        tx.commit().await.unwrap();
        let added = r.add(&[("kind", "lab"), ("free_text", "Stool microscopy"), ("quantity", "1")]).await;
        assert_eq!(added.status, 422);
        assert!(added.body.contains("This visit is closed"), "{}", added.body);
        let placed = r.place().await;
        assert_eq!(placed.status, 422);
        assert!(placed.body.contains("This visit is closed"), "{}", placed.body);
        assert_eq!(basket_size(&app, r.note).await, 1);
        assert!(orders_of_visit(&app, r.visit).await.is_empty());
        // So is a procedure.
        r.doctor.get(&r.orders_path()).await;
        let done = r.doctor.post_form(&format!("/consultations/{}/procedures", r.note), &[("procedure", "dressing")]).await;
        assert_eq!(done.status, 422);
    }

    async fn a_basket_line_is_removed_and_placing_twice_at_once_places_once(app) {
        let r = room(&app).await;
        assert_eq!(r.add(&[("kind", "lab"), ("free_text", "Malaria RDT"), ("quantity", "1")]).await.status, 303);
        assert_eq!(r.add(&[("kind", "lab"), ("free_text", "Urinalysis"), ("quantity", "1")]).await.status, 303);
        assert_eq!(r.add(PARACETAMOL).await.status, 303);
        let line: i64 = sqlx::query("SELECT id FROM encounter_basket WHERE free_text = 'Urinalysis'")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        let remove = format!("/consultations/{}/basket/{line}/remove", r.note);
        r.doctor.get(&r.orders_path()).await;
        assert_eq!(r.doctor.post_form(&remove, &[]).await.status, 303);
        assert_eq!(r.doctor.post_form(&remove, &[]).await.status, 303, "gone already: said, not an error");
        assert_eq!(basket_size(&app, r.note).await, 2);
        assert_eq!(app.audit_count("consultations.basket_remove").await, 1);

        r.doctor.get(&r.orders_path()).await;
        let place = format!("{}/place", r.orders_path());
        let (a, b) = tokio::join!(r.doctor.post_form(&place, &[]), r.doctor.post_form(&place, &[]));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses[0], 303, "{} / {}", a.body, b.body);
        assert!(matches!(statuses[1], 409 | 422), "{statuses:?}");
        assert_eq!(orders_of_visit(&app, r.visit).await.len(), 2, "each line placed once");
        assert_eq!(basket_size(&app, r.note).await, 0);
        let empty = r.place().await;
        assert_eq!(empty.status, 422);
        assert!(empty.body.contains("The basket is empty"), "{}", empty.body);
    }

    async fn a_procedure_done_in_the_room_posts_its_charge(app) {
        let r = room(&app).await;
        let page = r.doctor.get(&r.orders_path()).await;
        assert!(page.body.contains("No procedures recorded"), "empty state");
        let path = format!("/consultations/{}/procedures", r.note);
        let done = r.doctor.post_form(&path, &[("procedure", "dressing")]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(r.doctor.post_form(&path, &[("procedure", "injection")]).await.status, 303);
        let unknown = r.doctor.post_form(&path, &[("procedure", "amputation")]).await;
        assert_eq!(unknown.status, 422);
        assert!(unknown.body.contains("Choose a procedure from the list"), "{}", unknown.body);

        let rows = sqlx::query(
            "SELECT p.id, p.code, c.item_code, c.quantity, c.unit_price_cents, c.visit_id \
             FROM encounter_procedures p JOIN charges c \
             ON c.source = 'consultations' AND c.source_ref = 'procedure:' || CAST(p.id AS TEXT) \
             WHERE p.encounter_id = $1 ORDER BY p.id",
        )
        .bind(r.note)
        .fetch_all(app.db().read())
        .await
        .unwrap();
        assert_eq!(rows.len(), 2);
        let first = &rows[0];
        assert_eq!(first.get::<String, _>(1), "dressing");
        assert_eq!(first.get::<String, _>(2), "consultations.procedure.dressing");
        assert_eq!(first.get::<i64, _>(3), 1);
        assert_eq!(first.get::<i64, _>(4), 20_000);
        assert_eq!(first.get::<Option<i64>, _>(5), Some(r.visit));
        assert_eq!(rows[1].get::<String, _>(2), "consultations.procedure.injection");
        // Each procedure keeps its charge's id, and nothing else of it ever changes.
        let linked: i64 = sqlx::query(
            "SELECT COUNT(*) FROM encounter_procedures p JOIN charges c ON c.id = p.charge_id \
             AND c.source_ref = 'procedure:' || CAST(p.id AS TEXT) WHERE p.encounter_id = $1",
        )
        .bind(r.note)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0);
        assert_eq!(linked, 2);
        let id: i64 = first.get(0);
        for sql in [
            "UPDATE encounter_procedures SET code = 'stitching' WHERE id = $1",
            "UPDATE encounter_procedures SET charge_id = NULL WHERE id = $1",
            "UPDATE encounter_procedures SET charge_id = charge_id + 1 WHERE id = $1",
            "DELETE FROM encounter_procedures WHERE id = $1",
        ] {
            let mut tx = app.db().begin().await.unwrap();
            let refused = sqlx::query(sql).bind(id).execute(&mut *tx).await;
            assert!(refused.is_err(), "{sql} went through");
        }
        assert_eq!(app.audit_count("consultations.procedure").await, 2);
        assert_eq!(app.audit_count("charge.post").await, 2);
        let page = r.doctor.get(&r.orders_path()).await;
        assert!(page.body.contains("Dressing") && page.body.contains("Injection"), "{}", page.body);
    }

    async fn a_signed_note_takes_nothing_new_and_only_doctors_order(app) {
        let r = room(&app).await;
        app.add_user("nurse.akinyi", &["nurse"]).await;
        let nurse = app.login("nurse.akinyi").await;
        assert_eq!(nurse.get(&r.orders_path()).await.status, 403);
        r.desk.get("/").await;
        let desk = r.desk.post_form(&r.orders_path(), &[("kind", "lab"), ("free_text", "FBC"), ("quantity", "1")]).await;
        assert_eq!(desk.status, 403);
        assert_eq!(r.doctor.get("/consultations/999999/orders").await.status, 404);

        let now = hms_core::clock::now_rfc3339();
        let mut tx = app.db().begin().await.unwrap();
        sqlx::query("UPDATE encounters SET state = 'signed', signed_at = $2, signed_by = clinician_id WHERE id = $1")
            .bind(r.note)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let page = r.doctor.get(&r.orders_path()).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("This note is signed"), "{}", page.body);
        let answer = r.doctor.post_form(&r.orders_path(), &[("kind", "lab"), ("free_text", "FBC"), ("quantity", "1")]).await;
        assert_eq!(answer.status, 409);
        assert_eq!(basket_size(&app, r.note).await, 0);
    }

    async fn the_orders_screen_reads_in_kiswahili(app) {
        let r = room(&app).await;
        r.doctor.get(&r.orders_path()).await;
        r.doctor.post_form("/language", &[("lang", "sw")]).await;
        let page = r.doctor.get(&r.orders_path()).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Kikapu ni tupu") && page.body.contains("Weka kwenye kikapu"), "{}", page.body);
    }
}
