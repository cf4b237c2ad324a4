//! Orders as departments hand work to each other: a doctor places, a filler starts and completes,
//! and when two desks act on one order at the same moment one wins and the other is told
//! someone else acted first (never a double). Critical results alert the placer until
//! acknowledged, once. A department built only in tests fills its own kind of order and charges
//! for it without any edit to core, web or another module.

use hms_core::audit::Actor;
use hms_core::db::Db;
use hms_core::ids::{OrderId, PatientId, UserId};
use hms_core::orders::{
    self, alerts, DrugDetails, Flag, Frequency, NewOrder, OrderError, Outcome, Route, State,
};
use hms_testkit::standin::{self, bare_patient};
use hms_testkit::{each_backend, Backend, TestApp};
use sqlx::Row;

fn doctor(id: i64) -> Actor {
    Actor {
        user_id: Some(id),
        client_addr: Some("192.0.2.1".into()),
        request_id: None,
    }
}

fn lab_order(patient: PatientId, quantity: i64) -> NewOrder {
    NewOrder {
        code: Some("fbc".into()),
        quantity,
        ..NewOrder::new(orders::LAB, patient, "consultations", "Full blood count")
    }
}

async fn place(db: &Db, actor: &Actor, order: &NewOrder) -> OrderId {
    let mut tx = db.begin().await.unwrap();
    let id = orders::place(&mut tx, actor, order).await.expect("placed");
    tx.commit().await.unwrap();
    id
}

async fn state_of(db: &Db, id: OrderId) -> State {
    orders::get(db, id).await.unwrap().expect("order").state
}

/// Runs one order step in its own transaction, committing only when it worked.
macro_rules! step {
    ($db:expr, |$tx:ident| $call:expr) => {{
        let mut $tx = $db.begin().await.unwrap();
        let done: Result<_, OrderError> = $call.await;
        if done.is_ok() {
            $tx.commit().await.unwrap();
        }
        done
    }};
}

/// Counts winners and conflicts of concurrent steps; anything else fails the test.
fn tally<T>(results: Vec<Result<T, OrderError>>) -> (usize, usize) {
    let mut won = 0;
    let mut lost = 0;
    for r in results {
        match r {
            Ok(_) => won += 1,
            Err(e) if e.is_conflict() => lost += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    (won, lost)
}

async fn outcome_rows(db: &Db, id: OrderId) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM order_outcomes WHERE order_id = $1")
        .bind(id)
        .fetch_one(db.read())
        .await
        .unwrap()
        .get(0)
}

each_backend! {
    async fn an_order_goes_from_placed_to_completed_and_shows_on_each_worklist(app) {
        let db = app.db();
        let doc = app.add_user("daktari", &["doctor"]).await;
        let patient = bare_patient(db, "P-100").await;
        let id = place(db, &doctor(doc), &lab_order(patient, 1)).await;
        let waiting = orders::worklist(db, orders::LAB, State::Placed, 50).await.unwrap();
        assert_eq!(waiting.iter().map(|o| o.id).collect::<Vec<_>>(), vec![id]);
        assert_eq!(waiting[0].placed_by, Some(UserId(doc)));
        assert_eq!(waiting[0].uuid.len(), 36, "the database gave it a uuid");
        step!(db, |tx| orders::start(&mut tx, &doctor(doc), id)).unwrap();
        assert!(orders::worklist(db, orders::LAB, State::Placed, 50).await.unwrap().is_empty());
        let outcome = Outcome { summary: "Hb 12.1 g/dL".into(), flag: Flag::Normal };
        step!(db, |tx| orders::complete(&mut tx, &doctor(doc), id, Some(&outcome))).unwrap();
        let done = orders::get(db, id).await.unwrap().unwrap();
        assert_eq!((done.state, done.quantity_done), (State::Completed, 1));
        assert_eq!(done.outcome_summary.as_deref(), Some("Hb 12.1 g/dL"));
        assert_eq!(orders::for_patient(db, patient, 10).await.unwrap().len(), 1);
        for action in ["order.place", "order.start", "order.complete", "order.outcome"] {
            assert_eq!(app.audit_count(action).await, 1, "{action}");
        }
    }

    async fn cancel_and_start_at_the_same_moment_one_wins(app) {
        let db = app.db().clone();
        let doc = app.add_user("daktari", &["doctor"]).await;
        let patient = bare_patient(&db, "P-101").await;
        for _ in 0..5 {
            let id = place(&db, &doctor(doc), &lab_order(patient, 1)).await;
            let (d1, d2) = (db.clone(), db.clone());
            let cancel = tokio::spawn(async move {
                step!(d1, |tx| orders::cancel(&mut tx, &doctor(doc), id, Some("wrong test")))
            });
            let start = tokio::spawn(async move {
                step!(d2, |tx| orders::start(&mut tx, &doctor(doc), id))
            });
            let (c, s) = (cancel.await.unwrap(), start.await.unwrap());
            let cancelled = c.is_ok();
            assert_eq!(tally(vec![c, s]), (1, 1));
            let expected = if cancelled { State::Cancelled } else { State::InProgress };
            assert_eq!(state_of(&db, id).await, expected);
        }
    }

    async fn twenty_fillers_completing_one_order_complete_it_once(app) {
        let db = app.db().clone();
        let doc = app.add_user("daktari", &["doctor"]).await;
        let patient = bare_patient(&db, "P-102").await;
        let id = place(&db, &doctor(doc), &lab_order(patient, 1)).await;
        step!(db, |tx| orders::start(&mut tx, &doctor(doc), id)).unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    let outcome = Outcome { summary: format!("result {i}"), flag: Flag::Normal };
                    step!(db, |tx| orders::complete(&mut tx, &doctor(doc), id, Some(&outcome)))
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        assert_eq!(tally(results), (1, 19));
        assert_eq!(outcome_rows(&db, id).await, 1);
        assert_eq!(app.audit_count("order.complete").await, 1);
    }

    async fn the_quantity_done_never_passes_the_quantity_even_when_raced(app) {
        let db = app.db().clone();
        let doc = app.add_user("daktari", &["doctor"]).await;
        let patient = bare_patient(&db, "P-103").await;
        let id = place(&db, &doctor(doc), &lab_order(patient, 5)).await;
        step!(db, |tx| orders::start(&mut tx, &doctor(doc), id)).unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    step!(db, |tx| orders::record_done(&mut tx, &doctor(doc), id, 1))
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        assert_eq!(tally(results), (5, 15));
        assert_eq!(orders::get(&db, id).await.unwrap().unwrap().quantity_done, 5);
        // The database itself refuses more, whoever writes.
        let raw = sqlx::query("UPDATE orders SET quantity_done = quantity + 1 WHERE id = $1")
            .bind(id)
            .execute(db.read())
            .await;
        assert!(raw.is_err(), "the CHECK refuses quantity_done above quantity");
    }

    async fn a_part_done_order_is_closed_with_a_reason_and_others_end_as_they_should(app) {
        let db = app.db().clone();
        let doc = app.add_user("daktari", &["doctor"]).await;
        let actor = doctor(doc);
        let patient = bare_patient(&db, "P-104").await;
        let part = place(&db, &actor, &lab_order(patient, 3)).await;
        step!(db, |tx| orders::start(&mut tx, &actor, part)).unwrap();
        let blank = step!(db, |tx| orders::close_rest(&mut tx, &actor, part, "  "));
        assert!(matches!(blank, Err(OrderError::Invalid { field: "reason", .. })));
        // Nothing done yet: there is no part to close.
        let none = step!(db, |tx| orders::close_rest(&mut tx, &actor, part, "out of stock"));
        assert!(none.unwrap_err().is_conflict());
        step!(db, |tx| orders::record_done(&mut tx, &actor, part, 2)).unwrap();
        step!(db, |tx| orders::close_rest(&mut tx, &actor, part, "bought outside")).unwrap();
        let closed = orders::get(&db, part).await.unwrap().unwrap();
        assert_eq!((closed.state, closed.quantity_done), (State::PartlyDone, 2));
        assert_eq!(closed.reason.as_deref(), Some("bought outside"));

        let refused = place(&db, &actor, &lab_order(patient, 1)).await;
        step!(db, |tx| orders::not_done(&mut tx, &actor, refused, "patient declined")).unwrap();
        assert_eq!(state_of(&db, refused).await, State::NotDone);

        let stopped = place(&db, &actor, &lab_order(patient, 1)).await;
        let early = step!(db, |tx| orders::discontinue(&mut tx, &actor, stopped, "improved"));
        assert!(early.unwrap_err().is_conflict(), "only an order in progress is discontinued");
        step!(db, |tx| orders::start(&mut tx, &actor, stopped)).unwrap();
        step!(db, |tx| orders::discontinue(&mut tx, &actor, stopped, "improved")).unwrap();
        let late = step!(db, |tx| orders::cancel(&mut tx, &actor, stopped, None));
        assert!(late.unwrap_err().is_conflict());
        let seen = orders::get(&db, stopped).await.unwrap().unwrap();
        assert_eq!((seen.state, seen.reason.as_deref()), (State::Discontinued, Some("improved")));
    }

    async fn an_amended_result_is_a_new_outcome_row_and_the_order_shows_the_latest(app) {
        let db = app.db().clone();
        let doc = app.add_user("daktari", &["doctor"]).await;
        let actor = doctor(doc);
        let patient = bare_patient(&db, "P-105").await;
        let id = place(&db, &actor, &lab_order(patient, 1)).await;
        let early = Outcome { summary: "K 5.0".into(), flag: Flag::Normal };
        let refused = step!(db, |tx| orders::amend(&mut tx, &actor, id, &early));
        assert!(refused.unwrap_err().is_conflict(), "only a completed order is amended");
        step!(db, |tx| orders::start(&mut tx, &actor, id)).unwrap();
        step!(db, |tx| orders::complete(&mut tx, &actor, id, Some(&early))).unwrap();
        let fixed = Outcome { summary: "K 6.8 (haemolysed sample repeated)".into(), flag: Flag::Abnormal };
        step!(db, |tx| orders::amend(&mut tx, &actor, id, &fixed)).unwrap();
        let rows = orders::outcomes(&db, id).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].summary.as_str(), rows[0].amended), ("K 5.0", false));
        assert!(rows[1].amended);
        let order = orders::get(&db, id).await.unwrap().unwrap();
        assert_eq!(order.outcome_summary.as_deref(), Some(fixed.summary.as_str()));
        assert_eq!(order.outcome_flag, Some(Flag::Abnormal));
        assert_eq!(app.audit_count("order.amend").await, 1);
    }

    async fn a_critical_result_alerts_the_placer_until_acknowledged_once(app) {
        let db = app.db().clone();
        let doc = app.add_user("daktari", &["doctor"]).await;
        let actor = doctor(doc);
        let patient = bare_patient(&db, "P-106").await;
        let id = place(&db, &actor, &lab_order(patient, 1)).await;
        step!(db, |tx| orders::start(&mut tx, &actor, id)).unwrap();
        let critical = Outcome { summary: "Glucose 1.9 mmol/L".into(), flag: Flag::Critical };
        step!(db, |tx| orders::complete(&mut tx, &actor, id, Some(&critical))).unwrap();
        assert_eq!(alerts::open_count(&db, UserId(doc)).await.unwrap(), 1);
        let client = app.login("daktari").await;
        let badge = client.get("/orders/alerts/badge").await;
        assert_eq!(badge.status, 200);
        assert!(badge.body.contains('1'), "{}", badge.body);
        let page = client.get("/orders/alerts").await;
        assert!(page.body.contains("Glucose 1.9 mmol/L"), "{}", page.body);
        let alert = alerts::open_for(&db, UserId(doc), 10).await.unwrap()[0].id;
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut tx = db.begin().await.unwrap();
                    let r = alerts::acknowledge(&mut tx, &doctor(doc), alert, UserId(doc)).await;
                    if r.is_ok() {
                        tx.commit().await.unwrap();
                    }
                    r.map_err(OrderError::from)
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        assert_eq!(tally(results), (1, 4));
        assert_eq!(alerts::open_count(&db, UserId(doc)).await.unwrap(), 0);
        assert_eq!(app.audit_count("order.alert_ack").await, 1);
        let empty = client.get("/orders/alerts").await;
        assert!(empty.body.contains("No critical results are waiting for you."), "{}", empty.body);
    }

    async fn a_drug_order_is_checked_against_the_one_prescription_shape(app) {
        let db = app.db().clone();
        let doc = app.add_user("daktari", &["doctor"]).await;
        let patient = bare_patient(&db, "P-107").await;
        let mut rx = DrugDetails {
            code: Some("amox500".into()),
            drug: "Amoxicillin 500 mg".into(),
            dose: "1".into(),
            dose_unit: "capsule".into(),
            route: Route::Oral,
            frequency: Frequency::Prn,
            max_per_day: None,
            duration_days: 5,
            quantity: 15,
            instructions: String::new(),
        };
        let bad = step!(db, |tx| orders::place(&mut tx, &doctor(doc), &NewOrder::drug(patient, "consultations", &rx)));
        assert!(matches!(bad, Err(OrderError::Invalid { field: "max_per_day", .. })));
        assert!(bad.unwrap_err().message().contains("PRN"));
        rx.frequency = Frequency::Tds;
        let id = step!(db, |tx| orders::place(&mut tx, &doctor(doc), &NewOrder::drug(patient, "consultations", &rx))).unwrap();
        let stored = orders::get(&db, id).await.unwrap().unwrap();
        let back: DrugDetails = serde_json::from_value(stored.details).unwrap();
        assert_eq!(back, rx);
        assert_eq!(stored.quantity, 15);
        assert_eq!(orders::worklist(&db, orders::DRUG, State::Placed, 10).await.unwrap().len(), 1);
    }

    async fn two_enabled_fillers_of_one_kind_stop_start_up(app) {
        let mut parts = hms_web::parts();
        parts.modules.push(standin::module());
        parts.modules.push(std::sync::Arc::new(SecondFiller));
        let config = hms_core::config::Config {
            data_dir: app.data_dir.join("second"),
            ..hms_core::config::Config::default()
        };
        let refused = hms_web::start_with_parts(config, app.db().clone(), parts).await;
        let Err(e) = refused else { panic!("start-up must stop") };
        let text = e.to_string();
        assert!(text.contains("'standin'") && text.contains("'second_lab'"), "{text}");
    }
}

/// A second module filling the stand-in's kind.
struct SecondFiller;

impl hms_core::module::Module for SecondFiller {
    fn id(&self) -> &'static str {
        "second_lab"
    }
    fn title(&self) -> &'static str {
        "second_lab"
    }
    fn permissions(&self) -> &'static [hms_core::module::Permission] {
        &[]
    }
    fn routes(&self) -> Vec<hms_core::http::RouteSpec> {
        Vec::new()
    }
    fn fulfils(&self) -> &'static [&'static str] {
        &[standin::KIND]
    }
}

async fn standin_fills_and_charges(backend: Backend) {
    let Some(app) = TestApp::start_with_modules(backend, vec![standin::module()]).await else {
        return;
    };
    let db = app.db().clone();
    let admin = app.setup_admin().await;
    let doc = app.add_user("daktari", &["doctor"]).await;
    let patient = bare_patient(&db, "P-200").await;
    let filler = app.app.modules.filler(standin::KIND).expect("a filler");
    assert_eq!(filler.id(), "standin");
    assert!(
        app.app.modules.filler(orders::LAB).is_none(),
        "no laboratory: lab orders wait"
    );
    let choices = app
        .app
        .modules
        .orderables(&db, standin::KIND, "gluc")
        .await
        .unwrap();
    assert!(app
        .app
        .modules
        .orderables(&db, orders::LAB, "fbc")
        .await
        .unwrap()
        .is_empty());
    let by_code = app
        .app
        .modules
        .orderable(&db, standin::KIND, "glucose")
        .await
        .unwrap();
    assert_eq!(by_code.map(|o| o.name), Some("Blood glucose".to_string()));
    assert_eq!(choices.len(), 1);
    assert_eq!(choices[0].price, Some(standin::price()));
    let order = NewOrder {
        code: Some(choices[0].code.clone()),
        ..NewOrder::new(standin::KIND, patient, "consultations", &choices[0].name)
    };
    let id = place(&db, &doctor(doc), &order).await;
    admin.get("/").await;
    let r = admin
        .post_form(&format!("/standin/orders/{id}/complete"), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(state_of(&db, id).await, State::Completed);
    let charged: (i64, String, i64) = sqlx::query(
        "SELECT COUNT(*), MIN(item_code), CAST(SUM(quantity * unit_price_cents) AS BIGINT) \
         FROM charges WHERE source = 'order' AND source_ref = $1",
    )
    .bind(id.to_string())
    .fetch_one(db.read())
    .await
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .unwrap();
    assert_eq!(
        charged,
        (1, standin::ITEM.to_string(), standin::price().cents())
    );
    let again = admin
        .post_form(&format!("/standin/orders/{id}/complete"), &[])
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_added_in_tests_fills_its_orders_and_charges_for_them_sqlite() {
    standin_fills_and_charges(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_added_in_tests_fills_its_orders_and_charges_for_them_postgres() {
    standin_fills_and_charges(Backend::Postgres).await;
}
