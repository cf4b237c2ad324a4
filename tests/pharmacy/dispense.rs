//! Dispensing through the router: a pharmacist opens a visit's prescriptions and prepares them;
//! without billing prepare issues at once (one click): stock leaves first expiry first, the order
//! advances, the charge is posted. Bad input is refused with 422 and nothing changed; short
//! stock answers 409 with the offer of a partial dispense; the balance is closed as bought
//! outside and prints on a slip; unopened medicine comes back; labels print in Kiswahili;
//! over-the-counter sales refuse prescription-only drugs. Races live in `dispense_races.rs`,
//! payment before issue in `dispense_billing.rs`.

use hms_appointments::api as appts;
use hms_core::audit::Actor;
use hms_core::ids::{OrderId, PatientId, VisitId};
use hms_core::orders::{self, DrugDetails, Frequency, NewOrder, Route, State};
use hms_testkit::{each_backend, pdf, standin, Client, TestApp, TestResponse};
use sqlx::Row;

use crate::fixtures::{day, receive, store_and_drug};

/// A pharmacist signed in, a dispensary and a drug (paracetamol 500 mg tablets, `T-PCM`).
pub struct Counter {
    pub pharmacist: Client,
    pub store: i64,
    pub drug: i64,
}

pub async fn counter(app: &TestApp) -> Counter {
    app.setup_admin().await;
    app.add_user("pharm", &["pharmacist"]).await;
    let pharmacist = app.login("pharm").await;
    // The signed-in session's form token (the login form carried an anonymous one).
    assert_eq!(pharmacist.get("/pharmacy").await.status, 200);
    let (store, drug) = store_and_drug(app.db()).await;
    // These tests are about the pharmacy on its own: cash patients are not held for payment
    // (`dispense_billing` covers the cashier's gate).
    let mut tx = app.db().begin().await.unwrap();
    hms_core::settings::put(&mut tx, "billing.pay_before", "laboratory,imaging")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    Counter {
        pharmacist,
        store,
        drug,
    }
}

/// A prescription line of `code`, `quantity` units.
pub fn details(code: &str, quantity: i64) -> DrugDetails {
    DrugDetails {
        code: Some(code.into()),
        drug: "Paracetamol 500 mg".into(),
        dose: "1".into(),
        dose_unit: "tablet".into(),
        route: Route::Oral,
        frequency: Frequency::Tds,
        max_per_day: None,
        duration_days: 5,
        quantity,
        instructions: String::new(),
    }
}

/// A patient checked in and sent to the pharmacy, with drug orders of these quantities (code
/// `T-PCM`); returns (patient, visit, orders).
pub async fn visit_with_orders(
    app: &TestApp,
    number: &str,
    quantities: &[i64],
) -> (i64, i64, Vec<i64>) {
    let patient = standin::bare_patient(app.db(), number).await;
    let actor = Actor::cli(None);
    let mut tx = app.db().begin().await.unwrap();
    let visit = appts::check_in(
        &mut tx,
        patient,
        None,
        "cash",
        "pharmacy",
        appts::Priority::Normal,
        &actor,
    )
    .await
    .expect("checked in");
    let mut ids = Vec::new();
    for q in quantities {
        let order = NewOrder {
            visit: Some(visit.id),
            ..NewOrder::drug(patient, "consultations", &details("T-PCM", *q))
        };
        ids.push(orders::place(&mut tx, &actor, &order).await.unwrap().get());
    }
    tx.commit().await.unwrap();
    (patient.get(), visit.id.get(), ids)
}

/// The hidden form token of a page.
pub fn token_of(body: &str) -> String {
    let marker = "name=\"token\" value=\"";
    let at = body.find(marker).expect("a form token") + marker.len();
    body[at..at + body[at..].find('"').unwrap()].to_string()
}

/// Posts a prepare for `lines` of (order, units or "" for the balance).
pub async fn prepare(
    c: &Client,
    visit: i64,
    store: i64,
    token: &str,
    lines: &[(i64, &str)],
) -> TestResponse {
    let names: Vec<(String, String)> = lines
        .iter()
        .flat_map(|(o, q)| {
            [
                ("order".to_string(), o.to_string()),
                (format!("qty_{o}"), q.to_string()),
            ]
        })
        .collect();
    let store = store.to_string();
    let mut fields: Vec<(&str, &str)> = vec![("token", token), ("store", store.as_str())];
    fields.extend(names.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    c.post_form(&format!("/pharmacy/visits/{visit}/prepare"), &fields)
        .await
}

pub async fn on_hand(app: &TestApp, drug: i64) -> i64 {
    sqlx::query("SELECT CAST(COALESCE(SUM(qty_on_hand), 0) AS BIGINT) FROM stock_batches WHERE drug_id = $1")
        .bind(drug)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

pub async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

pub async fn order(app: &TestApp, id: i64) -> orders::Order {
    orders::get(app.db(), OrderId(id)).await.unwrap().unwrap()
}

pub async fn ledger_agrees(app: &TestApp) {
    let (_, differences) = hms_pharmacy::stock::check(app.db()).await.unwrap();
    assert!(differences.is_empty(), "ledger differs: {differences:?}");
}

fn dispense_id(r: &TestResponse) -> i64 {
    let loc = r.location().expect("a redirect");
    loc.strip_prefix("/pharmacy/dispenses/")
        .expect("to a dispense")
        .parse()
        .unwrap()
}

each_backend! {
    async fn a_pharmacist_dispenses_in_one_click_first_expiry_first_with_its_charge(app) {
        let c = counter(&app).await;
        let early = receive(app.db(), c.store, c.drug, "E1", day(2027, 1, 31), 10).await;
        let late = receive(app.db(), c.store, c.drug, "L2", day(2028, 6, 30), 50).await;
        let (patient, visit, ids) = visit_with_orders(&app, "P-0001", &[15]).await;

        // The queue lists the visit; the page shows stock, the FEFO pick and a fresh token.
        let queue = c.pharmacist.get("/pharmacy").await;
        assert_eq!(queue.status, 200, "{}", queue.body);
        assert!(queue.body.contains(&format!("/pharmacy/visits/{visit}")), "{}", queue.body);
        let page = c.pharmacist.get(&format!("/pharmacy/visits/{visit}?store={}", c.store)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("E1 × 10") && page.body.contains("L2 × 5"), "{}", page.body);
        let token = token_of(&page.body);
        let again = c.pharmacist.get(&format!("/pharmacy/visits/{visit}?store={}", c.store)).await;
        assert_ne!(token, token_of(&again.body), "each page view gets its own token");

        let done = prepare(&c.pharmacist, visit, c.store, &token, &[(ids[0], "")]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let id = dispense_id(&done);
        // The same form posted again is the same dispense, nothing moves twice.
        let twice = prepare(&c.pharmacist, visit, c.store, &token, &[(ids[0], "")]).await;
        assert_eq!((twice.status, dispense_id(&twice)), (303, id));

        let o = order(&app, ids[0]).await;
        assert_eq!((o.state, o.quantity_done), (State::Completed, 15));
        let balances: Vec<(i64, i64)> = sqlx::query("SELECT id, qty_on_hand FROM stock_batches ORDER BY id")
            .fetch_all(app.db().read()).await.unwrap().iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(balances, vec![(early, 0), (late, 45)]);
        ledger_agrees(&app).await;
        let charges = hms_core::charges::for_visit(app.db(), VisitId(visit)).await.unwrap();
        assert_eq!(charges.len(), 1);
        assert_eq!((charges[0].item.as_str(), charges[0].quantity, charges[0].amount.cents()),
            ("pharmacy.drug.T-PCM", 15, 3000));
        assert_eq!(charges[0].patient, PatientId(patient));

        // A second click on issue never issues twice.
        let issue = c.pharmacist.post_form(&format!("/pharmacy/dispenses/{id}/issue"), &[]).await;
        assert_eq!(issue.status, 409, "{}", issue.body);
        assert_eq!(on_hand(&app, c.drug).await, 45);

        let shown = c.pharmacist.get(&format!("/pharmacy/dispenses/{id}")).await;
        assert_eq!(shown.status, 200, "{}", shown.body);
        assert!(shown.body.contains("E1 × 10") && shown.body.contains("L2 × 5"), "{}", shown.body);
        // Nothing left to dispense: the visit is off the queue.
        let queue = c.pharmacist.get("/pharmacy").await;
        assert!(!queue.body.contains(&format!("/pharmacy/visits/{visit}\"")), "{}", queue.body);
    }

    async fn bad_input_is_refused_with_422_and_nothing_changes(app) {
        let c = counter(&app).await;
        receive(app.db(), c.store, c.drug, "B1", day(2028, 1, 31), 100).await;
        let (_, visit, ids) = visit_with_orders(&app, "P-0002", &[5, 4]).await;
        let (_, other_visit, other_ids) = visit_with_orders(&app, "P-0003", &[2]).await;
        let o = ids[0];
        let store = c.store.to_string();
        let path = format!("/pharmacy/visits/{visit}/prepare");
        c.pharmacist.get(&format!("/pharmacy/visits/{visit}")).await;
        let qty = format!("qty_{o}");
        let o_text = o.to_string();
        for (i, bad) in ["0", "-2", "1.5", "2,5", "abc", "100001", "99999999999999999999", "6"].iter().enumerate() {
            let token = format!("bad-{i}");
            let r = c.pharmacist.post_form(&path, &[("token", &token), ("store", &store), ("order", &o_text), (&qty, bad)]).await;
            assert_eq!(r.status, 422, "{bad}: {}", r.body);
            assert!(r.body.contains("id=\"form-errors\""), "{bad}: {}", r.body);
        }
        // Unknown store, no line, another visit's order, no token.
        let r = c.pharmacist.post_form(&path, &[("token", "x1"), ("store", "9999"), ("order", &o_text)]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        let r = c.pharmacist.post_form(&path, &[("token", "x2"), ("store", &store)]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        let foreign = other_ids[0].to_string();
        let r = c.pharmacist.post_form(&path, &[("token", "x3"), ("store", &store), ("order", &foreign)]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        let r = c.pharmacist.post_form(&path, &[("token", ""), ("store", &store), ("order", &o_text)]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM dispenses").await, 0);
        assert_eq!(on_hand(&app, c.drug).await, 100);
        assert_eq!(order(&app, o).await.state, State::Placed);

        // A closed order: nothing more is dispensed on it.
        let closed = c.pharmacist.post_form(&format!("/pharmacy/orders/{}/close", ids[1]), &[("reason", "unavailable")]).await;
        assert_eq!(closed.status, 303, "{}", closed.body);
        assert_eq!(order(&app, ids[1]).await.state, State::NotDone);
        let r = prepare(&c.pharmacist, visit, c.store, "closed-1", &[(ids[1], "1")]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        // More than is in stock is a conflict with the offer of a partial dispense.
        let r = prepare(&c.pharmacist, other_visit, c.store, "ok-1", &[(other_ids[0], "")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM dispenses").await, 1);
        assert_eq!(on_hand(&app, c.drug).await, 98);
        ledger_agrees(&app).await;
    }

    async fn short_stock_offers_a_partial_and_the_balance_is_closed_as_bought_outside(app) {
        let c = counter(&app).await;
        receive(app.db(), c.store, c.drug, "S1", day(2028, 1, 31), 12).await;
        let (_, visit, ids) = visit_with_orders(&app, "P-0004", &[20]).await;
        let r = prepare(&c.pharmacist, visit, c.store, "short-1", &[(ids[0], "")]).await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("only 12 left; dispense 12 now and leave 8 pending?"), "{}", r.body);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM dispenses").await, 0);
        // The offer: the same line with what there is, under a fresh token.
        let token = token_of(&r.body);
        assert!(r.body.contains(&format!("name=\"qty_{}\" value=\"12\"", ids[0])), "{}", r.body);
        let part = prepare(&c.pharmacist, visit, c.store, &token, &[(ids[0], "12")]).await;
        assert_eq!(part.status, 303, "{}", part.body);
        let o = order(&app, ids[0]).await;
        assert_eq!((o.state, o.quantity_done), (State::InProgress, 12));
        assert_eq!(on_hand(&app, c.drug).await, 0);
        // Still on the queue with 8 to give.
        let queue = c.pharmacist.get("/pharmacy").await;
        assert!(queue.body.contains(&format!("/pharmacy/visits/{visit}")), "{}", queue.body);
        let page = c.pharmacist.get(&format!("/pharmacy/visits/{visit}")).await;
        assert!(page.body.contains("8 / 20"), "{}", page.body);

        let closed = c.pharmacist.post_form(&format!("/pharmacy/orders/{}/close", ids[0]), &[("reason", "outside")]).await;
        assert_eq!(closed.status, 303, "{}", closed.body);
        let o = order(&app, ids[0]).await;
        assert_eq!((o.state, o.reason.as_deref()), (State::PartlyDone, Some("Bought outside")));
        let slip = c.pharmacist.get(&format!("/pharmacy/visits/{visit}/slip.pdf")).await;
        assert_eq!(slip.status, 200);
        let text = pdf::text(&slip.bytes);
        assert!(text.contains("Paracetamol 500 mg") && text.contains("Wanjiru Kamau"), "{text}");
        assert!(text.contains('8'), "{text}");
        ledger_agrees(&app).await;
    }

    async fn unopened_medicine_comes_back_to_its_batch_and_its_charge_is_reversed(app) {
        let c = counter(&app).await;
        let batch = receive(app.db(), c.store, c.drug, "R1", day(2028, 1, 31), 30).await;
        let (_, visit, ids) = visit_with_orders(&app, "P-0005", &[10]).await;
        let r = prepare(&c.pharmacist, visit, c.store, "ret-1", &[(ids[0], "")]).await;
        let id = dispense_id(&r);
        let line: i64 = sqlx::query("SELECT id FROM dispense_lines WHERE dispense_id = $1").bind(id)
            .fetch_one(app.db().read()).await.unwrap().get(0);
        let path = format!("/pharmacy/dispenses/{id}/lines/{line}/return");
        let back = c.pharmacist.post_form(&path, &[("quantity", "4"), ("reason", "Unopened strip")]).await;
        assert_eq!(back.status, 303, "{}", back.body);
        let held: i64 = sqlx::query("SELECT qty_on_hand FROM stock_batches WHERE id = $1").bind(batch)
            .fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(held, 24);
        let charges = hms_core::charges::for_visit(app.db(), VisitId(visit)).await.unwrap();
        assert_eq!(charges.iter().map(|c| c.quantity).sum::<i64>(), 6);
        for (q, reason) in [("7", "Too many"), ("0", "None"), ("2", "")] {
            let r = c.pharmacist.post_form(&path, &[("quantity", q), ("reason", reason)]).await;
            assert_eq!(r.status, 422, "{q}: {}", r.body);
        }
        assert_eq!(on_hand(&app, c.drug).await, 24);
        ledger_agrees(&app).await;
        let shown = c.pharmacist.get(&format!("/pharmacy/dispenses/{id}")).await;
        assert!(shown.body.contains("4 returned"), "{}", shown.body);
    }

    async fn labels_print_in_kiswahili_with_drug_directions_and_patient(app) {
        let c = counter(&app).await;
        receive(app.db(), c.store, c.drug, "K9", day(2028, 3, 31), 30).await;
        let (_, visit, ids) = visit_with_orders(&app, "P-0006", &[15]).await;
        let store = c.store.to_string();
        let o = ids[0].to_string();
        let r = c.pharmacist.post_form(&format!("/pharmacy/visits/{visit}/prepare"),
            &[("token", "sw-1"), ("store", &store), ("order", &o), ("language", "sw")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let id = dispense_id(&r);
        for size in ["label", "a4"] {
            let pdf_r = c.pharmacist.get(&format!("/pharmacy/dispenses/{id}/labels.pdf?size={size}")).await;
            assert_eq!(pdf_r.status, 200, "{}", pdf_r.body);
            // Words as read, whatever the line breaks of a small label.
            let text = pdf::text(&pdf_r.bytes).split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(text.contains("Paracetamol 500 mg"), "{text}");
            assert!(text.contains("Meza kidonge 1 mara tatu kwa siku kwa siku 5"), "{text}");
            assert!(text.contains("Wanjiru Kamau") && text.contains("P-0006"), "{text}");
            assert!(text.contains("K9") && text.contains("03/2028"), "{text}");
        }
        let bad = c.pharmacist.get(&format!("/pharmacy/dispenses/{id}/labels.pdf?size=poster")).await;
        assert_eq!(bad.status, 400);
    }

    async fn over_the_counter_sales_refuse_prescription_only_drugs(app) {
        let c = counter(&app).await;
        let now = hms_core::clock::now_rfc3339();
        let otc: i64 = sqlx::query("INSERT INTO drugs (code, generic_name, strength, form, unit, price_cents, \
            prescription_only, created_at, updated_at) VALUES ('T-ORS', 'Oral rehydration salts', '', 'sachet', \
            'sachet', 5000, 0, $1, $1) RETURNING id").bind(&now).fetch_one(app.db().read()).await.unwrap().get(0);
        receive(app.db(), c.store, otc, "O1", day(2028, 1, 31), 20).await;
        receive(app.db(), c.store, c.drug, "P1", day(2028, 1, 31), 20).await;
        let page = c.pharmacist.get("/pharmacy/sales/new").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Oral rehydration salts") && !page.body.contains("Paracetamol"), "{}", page.body);
        let store = c.store.to_string();
        let (otc_s, pcm_s) = (otc.to_string(), c.drug.to_string());
        let refused = c.pharmacist.post_form("/pharmacy/sales", &[("token", "s-1"), ("store", &store),
            ("drug", &pcm_s), ("quantity", "2")]).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert!(refused.body.contains("needs a prescription"), "{}", refused.body);
        for bad in ["0", "1.5", "-1"] {
            let r = c.pharmacist.post_form("/pharmacy/sales", &[("token", "s-2"), ("store", &store),
                ("drug", &otc_s), ("quantity", bad)]).await;
            assert_eq!(r.status, 422, "{bad}");
        }
        assert_eq!(count(&app, "SELECT COUNT(*) FROM dispenses").await, 0);
        let sold = c.pharmacist.post_form("/pharmacy/sales", &[("token", "s-3"), ("store", &store),
            ("walk_in_name", "Mteja"), ("drug", &otc_s), ("quantity", "3"), ("drug", ""), ("quantity", "")]).await;
        assert_eq!(sold.status, 303, "{}", sold.body);
        assert_eq!(on_hand(&app, otc).await, 17);
        let short = c.pharmacist.post_form("/pharmacy/sales", &[("token", "s-4"), ("store", &store),
            ("drug", &otc_s), ("quantity", "18")]).await;
        assert_eq!(short.status, 409, "{}", short.body);
        ledger_agrees(&app).await;
    }

    async fn the_chart_shows_medicines_of_the_last_90_days_and_the_timeline(app) {
        let c = counter(&app).await;
        receive(app.db(), c.store, c.drug, "C1", day(2028, 1, 31), 30).await;
        let (patient, visit, ids) = visit_with_orders(&app, "P-0007", &[15]).await;
        assert_eq!(prepare(&c.pharmacist, visit, c.store, "chart-1", &[(ids[0], "10")]).await.status, 303);
        let panel = c.pharmacist.get_htmx(&format!("/pharmacy/patients/{patient}/medicines?patients=")).await;
        assert_eq!(panel.status, 200, "{}", panel.body);
        assert!(panel.body.contains("Paracetamol 500 mg tablet × 10 (part)"), "{}", panel.body);
        let entries = hms_pharmacy_timeline(&app, patient).await;
        assert_eq!(entries.len(), 1);
        assert!(entries[0].detail.as_deref().unwrap().contains("× 10"), "{entries:?}");
        let empty = c.pharmacist.get_htmx("/pharmacy/patients/999999/medicines").await;
        assert!(empty.body.contains("No medicines dispensed"), "{}", empty.body);
    }
}

each_backend! {
    async fn another_batch_needs_a_reason_and_prescriptions_and_labels_are_audited_reads(app) {
        let c = counter(&app).await;
        let early = receive(app.db(), c.store, c.drug, "FIRST", day(2027, 6, 30), 20).await;
        let later = receive(app.db(), c.store, c.drug, "LATER", day(2028, 6, 30), 20).await;
        let (patient, visit, ids) = visit_with_orders(&app, "P-0008", &[5]).await;
        let page = c.pharmacist.get(&format!("/pharmacy/visits/{visit}")).await;
        assert!(page.body.contains(&format!("<option value=\"{later}\">LATER")), "{}", page.body);
        let path = format!("/pharmacy/visits/{visit}/prepare");
        let (store, o, later_s) = (c.store.to_string(), ids[0].to_string(), later.to_string());
        let batch = format!("batch_{o}");
        let reason = format!("batch_reason_{o}");
        let r = c.pharmacist.post_form(&path, &[("token", "b-1"), ("store", &store), ("order", &o), (&batch, &later_s)]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("Say why another batch"), "{}", r.body);
        let r = c.pharmacist.post_form(&path, &[("token", "b-2"), ("store", &store), ("order", &o),
            (&batch, &later_s), (&reason, "Patient travels; longer expiry")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let held: Vec<i64> = sqlx::query("SELECT qty_on_hand FROM stock_batches WHERE id IN ($1, $2) ORDER BY id")
            .bind(early).bind(later).fetch_all(app.db().read()).await.unwrap().iter().map(|r| r.get(0)).collect();
        assert_eq!(held, vec![20, 15]);
        let kept: String = sqlx::query("SELECT batch_reason FROM dispense_lines").fetch_one(app.db().read())
            .await.unwrap().get(0);
        assert_eq!(kept, "Patient travels; longer expiry");
        let id = dispense_id(&r);
        assert_eq!(c.pharmacist.get(&format!("/pharmacy/dispenses/{id}/labels.pdf")).await.status, 200);
        app.app.audit_reads.flush().await;
        let reads = |action: &'static str| {
            let db = app.db().clone();
            async move {
                sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = $1 AND patient_id = $2")
                    .bind(action).bind(patient).fetch_one(db.read()).await.unwrap().get::<i64, _>(0)
            }
        };
        assert!(reads("pharmacy.prescriptions_view").await >= 1);
        assert_eq!(reads("pharmacy.labels_print").await, 1);
        assert_eq!(reads("pharmacy.dispense.prepare").await, 1);
        assert_eq!(reads("pharmacy.dispense.issue").await, 1);
    }
}

each_backend! {
    async fn every_dispensing_screen_answers_with_its_empty_state_in_both_languages(app) {
        app.setup_admin().await;
        app.add_user("pharm", &["pharmacist"]).await;
        let p = app.login("pharm").await;
        let queue = p.get("/pharmacy").await;
        assert_eq!(queue.status, 200, "{}", queue.body);
        assert!(queue.body.contains("id=\"no-store\"") && queue.body.contains("id=\"queue-empty\""), "{}", queue.body);
        let sale = p.get("/pharmacy/sales/new").await;
        assert_eq!(sale.status, 200, "{}", sale.body);
        assert!(sale.body.contains("/pharmacy/catalogue"), "{}", sale.body);
        assert_eq!(p.get("/pharmacy/visits/999999").await.status, 404);
        assert_eq!(p.get("/pharmacy/dispenses/999999").await.status, 404);
        assert_eq!(p.post_form("/language", &[("lang", "sw")]).await.status, 303);
        let queue = p.get("/pharmacy").await;
        assert!(queue.body.contains("Hakuna maagizo yanayosubiri"), "{}", queue.body);
        let (store, _) = store_and_drug(app.db()).await;
        let (_, visit, _) = visit_with_orders(&app, "P-0009", &[3]).await;
        let page = p.get(&format!("/pharmacy/visits/{visit}?store={store}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Andaa na utoe") && page.body.contains("Hakuna mizio"), "{}", page.body);
        let sale = p.get("/pharmacy/sales/new").await;
        assert!(sale.body.contains("Hakuna dawa kwenye orodha"), "{}", sale.body);
    }
}

async fn hms_pharmacy_timeline(
    app: &TestApp,
    patient: i64,
) -> Vec<hms_core::module::TimelineEntry> {
    app.app
        .modules
        .timeline(app.db(), &[patient], 10, |m| m == "pharmacy", |_| true)
        .await
}
