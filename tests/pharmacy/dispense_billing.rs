//! Payment before issue: with a module that decides clearance (a stand-in till here, as billing
//! will), preparing posts the charges and waits; *Issue* is refused until the line is paid, then
//! issues once; stock that ran out meanwhile is issued in part and the rest of the charge
//! reversed; a prepared dispense can be cancelled (its charges reversed); an emergency passes
//! at once. Both databases.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use hms_appointments::api as appts;
use hms_core::audit::Actor;
use hms_core::charges::Clearance;
use hms_core::db::Db;
use hms_core::http::RouteSpec;
use hms_core::ids::VisitId;
use hms_core::module::{ClearanceFuture, HoldFuture, Module, Permission};
use hms_core::money::Money;
use hms_core::orders::{self, NewOrder, State};
use hms_pharmacy::stock::{self, Kind, Movement};
use hms_testkit::{standin, Backend, TestApp};
use sqlx::Row;

use crate::dispense::{
    count, counter, details, ledger_agrees, on_hand, order, prepare, visit_with_orders,
};
use crate::fixtures::{day, receive};

/// A till that clears a pharmacy line once it is marked paid.
struct Till {
    paid: Arc<Mutex<HashSet<String>>>,
}

impl Module for Till {
    fn id(&self) -> &'static str {
        "till"
    }
    fn title(&self) -> &'static str {
        "till"
    }
    fn permissions(&self) -> &'static [Permission] {
        &[]
    }
    fn routes(&self) -> Vec<RouteSpec> {
        Vec::new()
    }
    fn holds_for_payment<'a>(&'a self, _db: &'a Db, point: &'a str) -> Option<HoldFuture<'a>> {
        Some(Box::pin(async move { Ok(point == "pharmacy") }))
    }
    fn clearance<'a>(
        &'a self,
        _db: &'a Db,
        source: &'a str,
        source_ref: &'a str,
    ) -> Option<ClearanceFuture<'a>> {
        let paid = self.paid.lock().unwrap().contains(source_ref);
        let pharmacy = source == "pharmacy.dispense";
        Some(Box::pin(async move {
            Ok(match (pharmacy, paid) {
                (true, false) => Clearance::Awaiting(Money::from_cents(100)),
                (true, true) => Clearance::Cleared,
                _ => Clearance::NotNeeded,
            })
        }))
    }
}

macro_rules! each_backend_with_till {
    ($(async fn $name:ident($app:ident, $paid:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run(backend: Backend) {
                let $paid: Arc<Mutex<HashSet<String>>> = Arc::default();
                let till: Arc<dyn Module> = Arc::new(Till { paid: $paid.clone() });
                // The stand-in till decides alone: the billing module is switched off.
                let off = |c: &mut hms_core::config::Config| c.modules_disabled = vec!["billing".into()];
                let Some($app) = TestApp::start_custom(backend, off, move |p| p.modules.push(till)).await else {
                    return;
                };
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres).await;
            }
        }
    )*};
}

async fn line_of(app: &TestApp, dispense: i64) -> i64 {
    sqlx::query("SELECT id FROM dispense_lines WHERE dispense_id = $1")
        .bind(dispense)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

fn dispense_of(r: &hms_testkit::TestResponse) -> i64 {
    r.location()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

each_backend_with_till! {
    async fn a_cash_patient_pays_between_prepare_and_issue_and_issue_happens_once(app, paid) {
        let c = counter(&app).await;
        let batch = receive(app.db(), c.store, c.drug, "T1", day(2028, 1, 31), 20).await;
        let (_, visit, ids) = visit_with_orders(&app, "B-0001", &[10, 10]).await;
        let r = prepare(&c.pharmacist, visit, c.store, "pay-1", &[(ids[0], "")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let id = dispense_of(&r);
        // Prepared and charged; nothing has left the shelf.
        assert_eq!(on_hand(&app, c.drug).await, 20);
        assert_eq!(order(&app, ids[0]).await.state, State::InProgress);
        assert_eq!(hms_core::charges::for_visit(app.db(), VisitId(visit)).await.unwrap().len(), 1);
        let page = c.pharmacist.get(&format!("/pharmacy/dispenses/{id}")).await;
        assert!(page.body.contains("id=\"awaiting\""), "{}", page.body);
        let early = c.pharmacist.post_form(&format!("/pharmacy/dispenses/{id}/issue"), &[]).await;
        assert_eq!(early.status, 409, "{}", early.body);
        assert_eq!(on_hand(&app, c.drug).await, 20);

        let line = line_of(&app, id).await;
        paid.lock().unwrap().insert(format!("dispense_line:{line}"));
        let issued = c.pharmacist.post_form(&format!("/pharmacy/dispenses/{id}/issue"), &[]).await;
        assert_eq!(issued.status, 303, "{}", issued.body);
        let again = c.pharmacist.post_form(&format!("/pharmacy/dispenses/{id}/issue"), &[]).await;
        assert_eq!(again.status, 409, "{}", again.body);
        assert_eq!(on_hand(&app, c.drug).await, 10);
        assert_eq!(order(&app, ids[0]).await.state, State::Completed);

        // The second line is prepared, then stock leaves by another way before the issue:
        // what is left is issued and the rest of its charge reversed.
        let r = prepare(&c.pharmacist, visit, c.store, "pay-2", &[(ids[1], "")]).await;
        let id2 = dispense_of(&r);
        let now = hms_core::clock::now_rfc3339();
        let mut tx = app.db().begin().await.unwrap();
        stock::post(&mut tx, &Movement { batch, quantity: -6, kind: Kind::Adjustment, reference: "adjustment:0",
            reason: Some("damaged"), user: None, at: &now, usable_on: None }).await.unwrap();
        tx.commit().await.unwrap();
        let line2 = line_of(&app, id2).await;
        paid.lock().unwrap().insert(format!("dispense_line:{line2}"));
        let part = c.pharmacist.post_form(&format!("/pharmacy/dispenses/{id2}/issue"), &[]).await;
        assert_eq!(part.status, 303, "{}", part.body);
        let o = order(&app, ids[1]).await;
        assert_eq!((o.state, o.quantity_done), (State::InProgress, 4));
        assert_eq!(on_hand(&app, c.drug).await, 0);
        let charged: i64 = hms_core::charges::for_visit(app.db(), VisitId(visit)).await.unwrap()
            .iter().map(|c| c.quantity).sum();
        assert_eq!(charged, 14);
        ledger_agrees(&app).await;
    }

    async fn a_prepared_dispense_is_cancelled_with_a_reason_and_an_emergency_passes_at_once(app, paid) {
        let c = counter(&app).await;
        receive(app.db(), c.store, c.drug, "T2", day(2028, 1, 31), 20).await;
        let (_, visit, ids) = visit_with_orders(&app, "B-0002", &[5]).await;
        let r = prepare(&c.pharmacist, visit, c.store, "cancel-1", &[(ids[0], "")]).await;
        let id = dispense_of(&r);
        let path = format!("/pharmacy/dispenses/{id}/cancel");
        let no_reason = c.pharmacist.post_form(&path, &[("reason", "  ")]).await;
        assert_eq!(no_reason.status, 422, "{}", no_reason.body);
        let done = c.pharmacist.post_form(&path, &[("reason", "Patient left")]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let charged: i64 = hms_core::charges::for_visit(app.db(), VisitId(visit)).await.unwrap()
            .iter().map(|c| c.quantity).sum();
        assert_eq!(charged, 0);
        assert_eq!(c.pharmacist.post_form(&path, &[("reason", "Again")]).await.status, 409);
        // The order is free for another dispense.
        assert_eq!(order(&app, ids[0]).await.state, State::InProgress);

        // An emergency: issued at once, payment later.
        let patient = standin::bare_patient(app.db(), "B-0003").await;
        let actor = Actor::cli(None);
        let mut tx = app.db().begin().await.unwrap();
        let v = appts::check_in(&mut tx, patient, None, "cash", "pharmacy", appts::Priority::Emergency, &actor)
            .await.unwrap();
        let o = orders::place(&mut tx, &actor, &NewOrder { visit: Some(v.id), ..NewOrder::drug(patient, "consultations", &details("T-PCM", 2)) })
            .await.unwrap();
        tx.commit().await.unwrap();
        let r = prepare(&c.pharmacist, v.id.get(), c.store, "er-1", &[(o.get(), "")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(order(&app, o.get()).await.state, State::Completed);
        assert_eq!(on_hand(&app, c.drug).await, 18);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM dispenses WHERE emergency = 1 AND state = 'issued'").await, 1);
        let _ = paid;
        ledger_agrees(&app).await;
    }
}

/// A hidden field's value in a page.
fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = body
        .find(&marker)
        .unwrap_or_else(|| panic!("{name} in {body}"))
        + marker.len();
    body[at..at + body[at..].find('"').unwrap()].to_string()
}

hms_testkit::each_backend! {
    async fn with_billing_on_a_cash_patient_pays_at_the_cashier_before_the_pharmacy_issues(app) {
        let c = counter(&app).await;
        // The facility's default: the pharmacy waits for cash patients to pay.
        let mut tx = app.db().begin().await.unwrap();
        hms_core::settings::put(&mut tx, "billing.pay_before", "laboratory,pharmacy,imaging").await.unwrap();
        tx.commit().await.unwrap();
        receive(app.db(), c.store, c.drug, "T9", day(2028, 1, 31), 20).await;
        let (_, visit, ids) = visit_with_orders(&app, "B-0009", &[6]).await;
        let r = prepare(&c.pharmacist, visit, c.store, "paid-1", &[(ids[0], "")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let id = dispense_of(&r);
        let page = c.pharmacist.get(&format!("/pharmacy/dispenses/{id}")).await;
        assert!(page.body.contains("id=\"awaiting\""), "waits for payment");
        let early = c.pharmacist.post_form(&format!("/pharmacy/dispenses/{id}/issue"), &[]).await;
        assert_eq!(early.status, 409, "{}", early.body);
        assert_eq!(on_hand(&app, c.drug).await, 20);

        app.add_user("cashier", &["accountant"]).await;
        let cashier = app.login("cashier").await;
        let desk = cashier.get("/billing").await;
        assert!(desk.body.contains(&format!("/billing/visits/{visit}")), "waiting at the cashier");
        assert_eq!(cashier.post_form("/billing/shifts/open", &[("float", "0")]).await.status, 303);
        let bill = cashier.get(&format!("/billing/visits/{visit}")).await;
        let (token, expected) = (hidden(&bill.body, "token"), hidden(&bill.body, "expected"));
        let paid = cashier.post_form(&format!("/billing/visits/{visit}/pay"), &[("token", token.as_str()),
            ("expected", expected.as_str()), ("method", "cash"), ("amount", "100000")]).await;
        assert_eq!(paid.status, 303, "{}", paid.body);

        let issued = c.pharmacist.post_form(&format!("/pharmacy/dispenses/{id}/issue"), &[]).await;
        assert_eq!(issued.status, 303, "{}", issued.body);
        assert_eq!(on_hand(&app, c.drug).await, 14);
        assert_eq!(order(&app, ids[0]).await.state, State::Completed);
        assert!(hms_billing::verify_findings(app.db()).await.unwrap().is_empty());
        ledger_agrees(&app).await;
    }
}
