//! Charges as the cashier will rely on them: a retried post never charges twice, the ledger
//! cannot be edited or deleted even with raw SQL, a reversal never takes back more than was
//! charged however many desks try at once, and check-in posts the consultation fee once when the
//! facility has chosen one (and nothing when it has not).

use hms_appointments::api::{self as visits, Priority};
use hms_core::audit::Actor;
use hms_core::charges::{self, ChargeError, ChargeItem, Clearance, NewCharge};
use hms_core::db::Db;
use hms_core::ids::{ChargeId, PatientId};
use hms_core::money::Money;
use hms_testkit::each_backend;
use hms_testkit::standin::bare_patient;
use sqlx::Row;

const FBC: &str = "lab.test.fbc";

fn cashier() -> Actor {
    Actor::cli(None)
}

async fn publish(db: &Db, code: &str, shillings: i64) {
    let mut tx = db.begin().await.unwrap();
    let item = ChargeItem {
        code: code.into(),
        name: "Full blood count".into(),
        unit: "test".into(),
        price: Money::from_shillings(shillings),
    };
    charges::publish_item(&mut tx, "laboratory", &item)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

fn fbc_for(patient: PatientId, quantity: i64, source_ref: &str) -> NewCharge {
    NewCharge {
        patient,
        visit: None,
        item: FBC.into(),
        quantity,
        unit_price: None,
        service_point: Some("laboratory".into()),
        source: "order".into(),
        source_ref: source_ref.into(),
    }
}

async fn post(db: &Db, charge: &NewCharge) -> Result<charges::Charge, ChargeError> {
    let mut tx = db.begin().await.unwrap();
    let done = charges::post(&mut tx, &cashier(), charge).await;
    if done.is_ok() {
        tx.commit().await.unwrap();
    }
    done
}

async fn reverse(
    db: &Db,
    id: ChargeId,
    quantity: i64,
    r: &str,
) -> Result<charges::Charge, ChargeError> {
    let mut tx = db.begin().await.unwrap();
    let done = charges::reverse(&mut tx, &cashier(), id, quantity, r).await;
    if done.is_ok() {
        tx.commit().await.unwrap();
    }
    done
}

async fn scalar(db: &Db, sql: &'static str, bind: i64) -> i64 {
    sqlx::query(sql)
        .bind(bind)
        .fetch_one(db.read())
        .await
        .unwrap()
        .get(0)
}

async fn net_quantity(db: &Db, charge: ChargeId) -> i64 {
    scalar(
        db,
        "SELECT CAST(SUM(quantity) AS BIGINT) FROM charges WHERE id = $1 OR reverses = $1",
        charge.get(),
    )
    .await
}

each_backend! {
    async fn posting_the_same_source_twice_gives_one_charge(app) {
        let db = app.db();
        publish(db, FBC, 850).await;
        let patient = bare_patient(db, "P-300").await;
        let first = post(db, &fbc_for(patient, 2, "41")).await.unwrap();
        assert_eq!(first.amount, Money::from_shillings(1700));
        assert_eq!(first.unit_price, Money::from_shillings(850));
        let again = post(db, &fbc_for(patient, 2, "41")).await.unwrap();
        assert_eq!(again, first);
        assert_eq!(scalar(db, "SELECT COUNT(*) FROM charges WHERE patient_id = $1", patient.get()).await, 1);
        assert_eq!(app.audit_count("charge.post").await, 1);
        let unknown = post(db, &NewCharge { item: "lab.test.none".into(), ..fbc_for(patient, 1, "42") }).await;
        assert!(matches!(unknown, Err(ChargeError::UnknownItem(_))));
        assert_eq!(unknown.unwrap_err().message(), "That item is not on the price list.");
    }

    async fn charges_cannot_be_updated_or_deleted_even_with_raw_sql(app) {
        let db = app.db();
        publish(db, FBC, 850).await;
        let patient = bare_patient(db, "P-301").await;
        let charge = post(db, &fbc_for(patient, 1, "43")).await.unwrap();
        let uuid: String = sqlx::query("SELECT uuid FROM charges WHERE id = $1")
            .bind(charge.id).fetch_one(db.read()).await.unwrap().get(0);
        assert_eq!(uuid.len(), 36, "the database gave the charge its uuid");
        let mut tx = db.begin().await.unwrap();
        let update = sqlx::query("UPDATE charges SET quantity = 9 WHERE id = $1")
            .bind(charge.id).execute(&mut *tx).await;
        assert!(update.is_err(), "UPDATE refused");
        drop(tx);
        let mut tx = db.begin().await.unwrap();
        let delete = sqlx::query("DELETE FROM charges WHERE id = $1")
            .bind(charge.id).execute(&mut *tx).await;
        assert!(delete.is_err(), "DELETE refused");
        drop(tx);
        assert_eq!(charges::get(db, charge.id).await.unwrap(), Some(charge));
    }

    async fn a_shortfall_and_a_later_return_are_two_reversals_never_more_than_charged(app) {
        let db = app.db();
        publish(db, FBC, 100).await;
        let patient = bare_patient(db, "P-302").await;
        let charge = post(db, &fbc_for(patient, 5, "44")).await.unwrap();
        let shortfall = reverse(db, charge.id, 2, "shortfall").await.unwrap();
        assert_eq!((shortfall.quantity, shortfall.amount), (-2, Money::from_shillings(-200)));
        assert_eq!(shortfall.reverses, Some(charge.id));
        assert_eq!(reverse(db, charge.id, 2, "shortfall").await.unwrap(), shortfall, "same ref, same reversal");
        let too_much = reverse(db, charge.id, 4, "return-1").await;
        assert!(matches!(too_much, Err(ChargeError::TooMuch { wanted: 4, left: 3 })));
        reverse(db, charge.id, 3, "return-1").await.unwrap();
        assert_eq!(net_quantity(db, charge.id).await, 0);
        let nothing_left = reverse(db, charge.id, 1, "return-2").await;
        assert!(matches!(nothing_left, Err(ChargeError::TooMuch { left: 0, .. })));
        let of_reversal = reverse(db, shortfall.id, 1, "x").await;
        assert!(matches!(of_reversal, Err(ChargeError::UnknownCharge(_))));
        assert_eq!(app.audit_count("charge.reverse").await, 2);
    }

    async fn reversals_raced_never_exceed_the_charge(app) {
        let db = app.db().clone();
        publish(&db, FBC, 100).await;
        let patient = bare_patient(&db, "P-303").await;
        let charge = post(&db, &fbc_for(patient, 5, "45")).await.unwrap();
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move { reverse(&db, charge.id, 1, &format!("return-{i}")).await })
            })
            .chain((0..6).map(|_| {
                let db = db.clone();
                tokio::spawn(async move { reverse(&db, charge.id, 1, "same-slip").await })
            }))
            .collect();
        let mut refused = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => {}
                Err(ChargeError::TooMuch { .. }) => refused += 1,
                Err(e) => panic!("unexpected: {e}"),
            }
        }
        assert_eq!(net_quantity(&db, charge.id).await, 0, "exactly all of it reversed, never more");
        assert_eq!(scalar(&db, "SELECT COUNT(*) FROM charges WHERE reverses = $1", charge.id.get()).await, 5);
        assert!(refused >= 12 - 4, "at least the returns that found nothing left were refused: {refused}");
    }

    async fn clearance_is_not_needed_for_a_charge_nobody_posted(app) {
        let answer = charges::clearance(&app.app.modules, app.db(), "order", "1").await.unwrap();
        assert_eq!(answer, Clearance::NotNeeded);
    }

    async fn check_in_posts_the_consultation_fee_once_when_one_is_configured(app) {
        let db = app.db();
        let before = bare_patient(db, "P-304").await;
        let after = bare_patient(db, "P-305").await;
        let check_in = |patient: PatientId| async move {
            let mut tx = db.begin().await.unwrap();
            let visit = visits::check_in(&mut tx, patient, None, "cash", "triage", Priority::Normal, &cashier())
                .await
                .unwrap();
            tx.commit().await.unwrap();
            visit.id.get()
        };
        let unconfigured = check_in(before).await;
        assert_eq!(scalar(db, "SELECT COUNT(*) FROM charges WHERE visit_id = $1", unconfigured).await, 0);

        publish(db, "appointments.consultation", 500).await;
        let mut tx = db.begin().await.unwrap();
        hms_core::settings::put(&mut tx, hms_appointments::fees::CONSULTATION_ITEM, "appointments.consultation").await.unwrap();
        tx.commit().await.unwrap();
        let visit = check_in(after).await;
        let fees = charges::for_visit(db, visit.into()).await.unwrap();
        assert_eq!(fees.len(), 1);
        assert_eq!(fees[0].amount, Money::from_shillings(500));
        assert_eq!((fees[0].source.as_str(), fees[0].source_ref.clone()), ("visit.checkin", visit.to_string()));
        assert_eq!(fees[0].service_point.as_deref(), Some("triage"));
        // A retry of the fee for the same visit finds the charge already made.
        let mut tx = db.begin().await.unwrap();
        hms_appointments::fees::post_consultation_fee(&mut tx, hms_core::ids::VisitId(visit), after, "triage", &cashier()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(charges::for_visit(db, visit.into()).await.unwrap().len(), 1);
    }
}
