//! M-Pesa against a Daraja simulator on loopback: the STK push (its request checked field by
//! field), a second push refused while one waits, the callback's secret, a malformed callback
//! kept and answered 400, ten identical callbacks and a paybill confirmation of the same receipt
//! booking one payment, a cancelled prompt in words, the status query when the callback is
//! late, paybill payments matched by reference or left unmatched for a cashier, and a code
//! typed at the desk confirmed by its paybill confirmation. SQLite and PostgreSQL.

use std::sync::{Arc, Mutex};

use poem::http::Method;
use poem::web::{Data, Json};
use poem::{handler, EndpointExt, Route};
use serde_json::{json, Value};

use hms_core::charges::Clearance;
use hms_testkit::{Backend, Client, TestApp};

use super::{cashier, clearance, hms_billing_verify, publish, visit_with_charge};

const SECRET: &str = "callback-secret-0001";

/// What the simulator saw and how it answers.
#[derive(Default)]
struct Sim {
    pushes: Vec<Value>,
    down: bool,
    query_code: String,
}

type Shared = Arc<Mutex<Sim>>;

#[handler]
fn token() -> Json<Value> {
    Json(json!({ "access_token": "sim-token", "expires_in": "3599" }))
}

#[handler]
fn stkpush(sim: Data<&Shared>, req: &poem::Request, body: Json<Value>) -> poem::Response {
    let mut s = sim.lock().unwrap();
    if s.down || req.header("authorization") != Some("Bearer sim-token") {
        return poem::Response::builder()
            .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
            .finish();
    }
    s.pushes.push(body.0);
    let n = s.pushes.len();
    poem::Response::builder().content_type("application/json").body(
        json!({ "MerchantRequestID": format!("m-{n}"), "CheckoutRequestID": format!("ws_CO_{n}"),
                "ResponseCode": "0", "ResponseDescription": "Success. Request accepted for processing",
                "CustomerMessage": "Success" })
        .to_string(),
    )
}

#[handler]
fn stkquery(sim: Data<&Shared>, body: Json<Value>) -> Json<Value> {
    let s = sim.lock().unwrap();
    Json(
        json!({ "CheckoutRequestID": body.0["CheckoutRequestID"], "ResponseCode": "0",
                 "ResultCode": s.query_code, "ResultDesc": "Request cancelled by user" }),
    )
}

async fn simulator(sim: Shared) -> String {
    let app = Route::new()
        .at("/oauth/v1/generate", poem::get(token))
        .at("/mpesa/stkpush/v1/processrequest", poem::post(stkpush))
        .at("/mpesa/stkpushquery/v1/query", poem::post(stkquery))
        .data(sim);
    super::serve_simulator(app).await
}

async fn app_with_mpesa(backend: Backend, sim: Shared) -> Option<TestApp> {
    let api = simulator(sim).await;
    TestApp::start_with(backend, move |c| {
        c.public_url = Some("https://hms.example.org".into());
        let mut t = toml::Table::new();
        for (k, v) in [
            ("mpesa_api", api.as_str()),
            ("mpesa_shortcode", "174379"),
            ("mpesa_passkey", "pass-key"),
            ("mpesa_consumer_key", "ck"),
            ("mpesa_consumer_secret", "cs"),
            ("mpesa_callback_secret", SECRET),
        ] {
            t.insert(k.into(), toml::Value::String(v.into()));
        }
        c.modules.insert("billing".into(), t);
    })
    .await
}

async fn post_json(c: &Client, path: &str, body: &Value) -> hms_testkit::TestResponse {
    c.send(
        Method::POST,
        path,
        &[("content-type", "application/json")],
        body.to_string().into_bytes(),
    )
    .await
}

fn paid_callback(checkout: &str, receipt: &str, shillings: i64) -> Value {
    json!({"Body": {"stkCallback": {"MerchantRequestID": "m-1", "CheckoutRequestID": checkout,
        "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": shillings},
            {"Name": "MpesaReceiptNumber", "Value": receipt}, {"Name": "TransactionDate", "Value": 20261207101500u64},
            {"Name": "PhoneNumber", "Value": 254712345678u64}]}}}})
}

fn c2b(receipt: &str, reference: &str, amount: &str) -> Value {
    json!({"TransactionType": "Pay Bill", "TransID": receipt, "TransTime": "20261207101500",
        "TransAmount": amount, "BusinessShortCode": "174379", "BillRefNumber": reference,
        "InvoiceNumber": "", "OrgAccountBalance": "", "ThirdPartyTransID": "",
        "MSISDN": "25470****149", "FirstName": "AMINA"})
}

async fn scalar(app: &TestApp, sql: &'static str) -> i64 {
    app.scalar(sql).await
}

async fn a_push_its_callbacks_and_repeats_book_one_payment(backend: Backend) {
    let sim: Shared = Arc::default();
    let Some(app) = app_with_mpesa(backend, sim.clone()).await else {
        return;
    };
    let db = app.db();
    publish(db).await;
    let (_, visit, source_ref) = visit_with_charge(db, "M-100", "cash", 1).await;
    let c = Arc::new(cashier(&app, "mp1", &["accountant"]).await);
    let page = c.get(&format!("/billing/visits/{visit}")).await;
    assert!(
        page.body.contains("stk-form") && page.body.contains(&format!("B{visit}")),
        "{}",
        page.body
    );
    let r = c
        .post_form(
            &format!("/billing/visits/{visit}/stk"),
            &[("phone", "0712 345 678"), ("expected", "85000")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let sent = sim.lock().unwrap().pushes[0].clone();
    assert_eq!(sent["Amount"], 850);
    assert_eq!(sent["PartyA"], "254712345678");
    assert_eq!(sent["PhoneNumber"], "254712345678");
    assert_eq!(sent["AccountReference"], format!("B{visit}"));
    assert_eq!(
        sent["CallBackURL"],
        format!("https://hms.example.org/billing/mpesa/stk/{SECRET}")
    );
    assert_eq!(sent["TransactionType"], "CustomerPayBillOnline");
    let stamp = sent["Timestamp"].as_str().unwrap();
    assert_eq!(stamp.len(), 14);
    let expected = hms_billing_password(&format!("174379pass-key{stamp}"));
    assert_eq!(sent["Password"], expected);
    // A second push while one waits is refused; the status shows the wait.
    let again = c
        .post_form(
            &format!("/billing/visits/{visit}/stk"),
            &[("phone", "0712345678"), ("expected", "85000")],
        )
        .await;
    assert_eq!(again.status, 409);
    assert!(c
        .get(&format!("/billing/visits/{visit}/stk"))
        .await
        .body
        .contains("stk-waiting"));
    // Callbacks: a wrong secret is 404, a malformed body is kept and answered 400.
    let anon = app.client();
    assert_eq!(
        post_json(
            &anon,
            "/billing/mpesa/stk/wrong-secret-000000",
            &paid_callback("ws_CO_1", "SGR7XK2M4P", 850)
        )
        .await
        .status,
        404
    );
    let bad = post_json(
        &anon,
        &format!("/billing/mpesa/stk/{SECRET}"),
        &json!({"Body": "nonsense"}),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM billing_mpesa_messages").await,
        1,
        "kept as it came"
    );
    // Ten identical callbacks at once, then the paybill's confirmation of the same receipt.
    let anon = Arc::new(anon);
    let path = format!("/billing/mpesa/stk/{SECRET}");
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (anon, path) = (anon.clone(), path.clone());
            tokio::spawn(async move {
                post_json(&anon, &path, &paid_callback("ws_CO_1", "SGR7XK2M4P", 850)).await
            })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["ResultCode"], 0);
        if v["ResultDesc"] == "Accepted" {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1, "the others are acknowledged as repeats");
    let confirmation = post_json(
        &anon,
        &format!("/billing/mpesa/c2b/{SECRET}/confirmation"),
        &c2b("SGR7XK2M4P", &format!("B{visit}"), "850.00"),
    )
    .await;
    assert_eq!(confirmation.status, 200);
    assert!(
        confirmation.body.contains("Duplicate"),
        "{}",
        confirmation.body
    );
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM billing_payments").await,
        1,
        "one receipt, one payment"
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM billing_mpesa_receipts WHERE status = 'booked'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM billing_mpesa_messages").await,
        12
    );
    assert_eq!(clearance(&app, &source_ref).await, Clearance::Cleared);
    let status = c.get(&format!("/billing/visits/{visit}/stk")).await;
    assert!(
        status.body.contains("stk-paid") && status.body.contains("SGR7XK2M4P"),
        "{}",
        status.body
    );
    // The receipt went into the cashier's shift.
    assert_eq!(
        scalar(&app, "SELECT other_taken_cents FROM billing_shifts").await,
        85_000
    );

    // A cancelled prompt reads in words; a late one is asked after 60 s.
    let (_, second, _) = visit_with_charge(db, "M-101", "cash", 1).await;
    assert_eq!(
        c.post_form(
            &format!("/billing/visits/{second}/stk"),
            &[("phone", "0712345678"), ("expected", "85000")]
        )
        .await
        .status,
        303
    );
    let cancelled = json!({"Body": {"stkCallback": {"MerchantRequestID": "m-2", "CheckoutRequestID": "ws_CO_2",
        "ResultCode": 1032, "ResultDesc": "Request cancelled by user"}}});
    assert_eq!(post_json(&anon, &path, &cancelled).await.status, 200);
    let status = c.get(&format!("/billing/visits/{second}/stk")).await;
    assert!(
        status.body.contains("stk-failed")
            && status.body.contains("The patient cancelled the prompt."),
        "{}",
        status.body
    );
    assert_eq!(
        c.post_form(
            &format!("/billing/visits/{second}/stk"),
            &[("phone", "0712345678"), ("expected", "85000")]
        )
        .await
        .status,
        303,
        "a new prompt may follow a failed one"
    );
    sim.lock().unwrap().query_code = "2001".into();
    let mut tx = db.begin().await.unwrap();
    sqlx::query("UPDATE billing_mpesa_pushes SET requested_at = '2026-01-01T00:00:00.000Z' WHERE checkout_request_id = 'ws_CO_3'")
        .execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let status = c.get(&format!("/billing/visits/{second}/stk")).await;
    assert!(
        status.body.contains("wrong PIN"),
        "the status query answered: {}",
        status.body
    );

    // A push left `sending` by a crash before M-Pesa answered blocks prompts for two minutes only.
    let mut tx = db.begin().await.unwrap();
    sqlx::query("UPDATE billing_mpesa_pushes SET status = 'failed' WHERE status = 'waiting'")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("INSERT INTO billing_mpesa_pushes (visit_id, patient_id, phone, amount_cents, account_ref, status, \
                 requested_by, requested_at) SELECT visit_id, patient_id, phone, amount_cents, account_ref, 'sending', \
                 requested_by, '2026-01-01T00:00:00.000Z' FROM billing_mpesa_pushes WHERE checkout_request_id = 'ws_CO_3'")
        .execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    // M-Pesa down: the push fails with a message and a new one may be sent.
    sim.lock().unwrap().down = true;
    let r = c
        .post_form(
            &format!("/billing/visits/{second}/stk"),
            &[("phone", "0712345678"), ("expected", "85000")],
        )
        .await;
    assert_eq!(r.status, 303);
    let page = c.get(&format!("/billing/visits/{second}")).await;
    assert!(page.body.contains("could not be reached"), "{}", page.body);
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM billing_mpesa_pushes WHERE status IN ('sending', 'waiting')"
        )
        .await,
        0
    );
    let verdict = hms_billing_verify(db).await;
    assert!(verdict.is_empty(), "{verdict:?}");
}

async fn paybill_payments_match_by_reference_or_wait_for_a_cashier(backend: Backend) {
    let sim: Shared = Arc::default();
    let Some(app) = app_with_mpesa(backend, sim).await else {
        return;
    };
    let db = app.db();
    publish(db).await;
    let (_, visit, source_ref) = visit_with_charge(db, "M-200", "cash", 1).await;
    let c = cashier(&app, "mp2", &["accountant"]).await;
    let anon = app.client();
    let confirm = format!("/billing/mpesa/c2b/{SECRET}/confirmation");
    assert_eq!(
        post_json(
            &anon,
            &format!("/billing/mpesa/c2b/{SECRET}/validation"),
            &c2b("SGR7XK2M5A", "x", "1")
        )
        .await
        .status,
        200
    );
    // A reference typed loosely still names the bill; with no cashier asking it waits, suggested.
    assert_eq!(
        post_json(
            &anon,
            &confirm,
            &c2b("SGR7XK2M5A", &format!("b {visit}"), "850.00")
        )
        .await
        .status,
        200
    );
    assert_eq!(
        post_json(&anon, &confirm, &c2b("SGR7XK2M5B", "XYZ", "100.00"))
            .await
            .status,
        200
    );
    assert_eq!(
        post_json(&anon, &confirm, &json!({"TransID": "bad"}))
            .await
            .status,
        400
    );
    // Control characters in what M-Pesa sends are dropped, never stored (PostgreSQL refuses NUL).
    let odd = post_json(&anon, &confirm, &c2b("SGR7XK2M5D", "B9\u{0}9\u{7}", "5.00")).await;
    assert_eq!(odd.status, 200, "{}", odd.body);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM billing_mpesa_receipts WHERE bill_ref = 'B99'")
            .await,
        1
    );
    let page = c.get("/billing/mpesa").await;
    assert!(
        page.body.contains("SGR7XK2M5A") && page.body.contains(&format!("value=\"B{visit}\"")),
        "{}",
        page.body
    );
    let first: i64 = app
        .scalar("SELECT MIN(id) FROM billing_mpesa_receipts")
        .await;
    let second: i64 = app
        .scalar("SELECT id FROM billing_mpesa_receipts WHERE receipt = 'SGR7XK2M5B'")
        .await;
    // Booking the KES 100 receipt to a bill owing KES 850 is refused and changes nothing.
    let wrong = c
        .post_form(
            &format!("/billing/mpesa/receipts/{second}/book"),
            &[("reference", &format!("B{visit}"))],
        )
        .await;
    assert_eq!(wrong.status, 409, "{}", wrong.body);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_payments").await, 0);
    let booked = c
        .post_form(
            &format!("/billing/mpesa/receipts/{first}/book"),
            &[("reference", "")],
        )
        .await;
    assert_eq!(booked.status, 303, "{}", booked.body);
    assert_eq!(
        c.post_form(
            &format!("/billing/mpesa/receipts/{first}/book"),
            &[("reference", "")]
        )
        .await
        .status,
        409,
        "booked once"
    );
    assert_eq!(clearance(&app, &source_ref).await, Clearance::Cleared);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM billing_mpesa_receipts WHERE status = 'unmatched'")
            .await,
        2
    );
    // A code typed at the desk is confirmed when its paybill confirmation arrives.
    let (_, desk_visit, _) = visit_with_charge(db, "M-201", "cash", 1).await;
    let r = super::pay(
        &c,
        desk_visit,
        &[
            ("method", "mpesa"),
            ("amount", "850"),
            ("mpesa_code", "SGR7XK2M5C"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = c.get("/billing/mpesa?q=SGR7XK2M5C").await;
    assert!(page.body.contains("Not yet"), "unconfirmed: {}", page.body);
    assert_eq!(
        post_json(&anon, &confirm, &c2b("SGR7XK2M5C", "", "850.00"))
            .await
            .status,
        200
    );
    let page = c.get("/billing/mpesa?q=SGR7XK2M5C").await;
    assert!(!page.body.contains("Not yet"), "confirmed: {}", page.body);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_payments").await, 2);
    let verdict = hms_billing_verify(db).await;
    assert!(verdict.is_empty(), "{verdict:?}");
}

/// Daraja's Password: base64 of shortcode, passkey and timestamp (the encoder is checked
/// against the RFC 4648 vectors in its own tests).
fn hms_billing_password(raw: &str) -> String {
    hms_billing::daraja::base64(raw.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_push_and_callbacks_sqlite() {
    a_push_its_callbacks_and_repeats_book_one_payment(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_push_and_callbacks_postgres() {
    a_push_its_callbacks_and_repeats_book_one_payment(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paybill_matching_sqlite() {
    paybill_payments_match_by_reference_or_wait_for_a_cashier(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paybill_matching_postgres() {
    paybill_payments_match_by_reference_or_wait_for_a_cashier(Backend::Postgres).await;
}

async fn a_statement_books_what_the_callbacks_missed_once(backend: Backend) {
    let sim: Shared = Arc::default();
    let Some(app) = app_with_mpesa(backend, sim).await else {
        return;
    };
    let db = app.db();
    publish(db).await;
    let (_, typed, _) = visit_with_charge(db, "M-300", "cash", 1).await;
    let (_, unpaid, _) = visit_with_charge(db, "M-301", "cash", 1).await;
    let c = cashier(&app, "mp3", &["accountant"]).await;
    // Typed at the desk by its code; another heard by paybill confirmation.
    let r = super::pay(
        &c,
        typed,
        &[
            ("method", "mpesa"),
            ("amount", "850"),
            ("mpesa_code", "SLA1B2C3D1"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let anon = app.client();
    let confirm = format!("/billing/mpesa/c2b/{SECRET}/confirmation");
    assert_eq!(
        post_json(&anon, &confirm, &c2b("SLA1B2C3D2", "XYZ", "40.00"))
            .await
            .status,
        200
    );
    let statement = format!(
        "Account Name:,Uxcheck Health Centre\n\
         Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No.\n\
         SLA1B2C3D1,2026-12-07 09:00:00,,Pay Bill,Completed,850.00,,,true,Pay Bill,2547******49 - AMINA,,B{typed}\n\
         SLA1B2C3D2,2026-12-07 09:10:00,,Pay Bill,Completed,40.00,,,true,Pay Bill,2547******49 - AMINA,,XYZ\n\
         SLA1B2C3D3,2026-12-07 09:20:00,,\"Pay Bill from 2547******12, BARAKA\",Completed,\"850.00\",,,true,Pay Bill,2547******12 - BARAKA,,b {unpaid}\n\
         SLA1B2C3D4,2026-12-07 09:30:00,,Business Charge,Completed,,-25.00,,true,Charge,,,\n\
         SLA1B2C3D5,2026-12-07 09:40:00,,Pay Bill,Failed,300.00,,,,Pay Bill,,,B1\n"
    );
    assert_eq!(c.get("/billing/mpesa").await.status, 200);
    let r = c
        .post_file(
            "/billing/mpesa/statement",
            "statement",
            "statement.csv",
            statement.as_bytes(),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = c.get("/billing/mpesa").await;
    assert!(
        page.body
            .contains("1 booked or confirmed, 1 to match by hand, 1 seen before, 2 other rows"),
        "{}",
        page.body
    );
    // The statement confirmed the typed code; the unpaid bill's receipt waits, suggested.
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM billing_mpesa_receipts WHERE receipt = 'SLA1B2C3D1' AND status = 'booked' AND source = 'statement'").await,
        1
    );
    assert!(
        page.body.contains("SLA1B2C3D3") && page.body.contains(&format!("value=\"B{unpaid}\"")),
        "{}",
        page.body
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM billing_mpesa_messages WHERE kind = 'statement'"
        )
        .await,
        3
    );
    // Read again: every receipt seen before, nothing booked twice.
    let payments = scalar(&app, "SELECT COUNT(*) FROM billing_payments").await;
    let r = c
        .post_file(
            "/billing/mpesa/statement",
            "statement",
            "statement.csv",
            statement.as_bytes(),
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(c
        .get("/billing/mpesa")
        .await
        .body
        .contains("0 booked or confirmed, 0 to match by hand, 3 seen before"));
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM billing_payments").await,
        payments
    );
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM billing_mpesa_receipts").await,
        3
    );
    // Not a statement: said so, nothing kept.
    let r = c
        .post_file(
            "/billing/mpesa/statement",
            "statement",
            "prices.csv",
            b"item,price\nx,1\n",
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(c
        .get("/billing/mpesa")
        .await
        .body
        .contains("This is not an M-Pesa statement"));
    let r = c
        .post_file(
            "/billing/mpesa/statement",
            "statement",
            "s.csv",
            b"Receipt No.,Paid In\nSLA1B2C3D9,12x\n",
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(c.get("/billing/mpesa").await.body.contains("Line 2:"));
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM billing_mpesa_messages WHERE kind = 'statement'"
        )
        .await,
        6
    );
    assert_eq!(hms_billing_verify(db).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_import_sqlite() {
    a_statement_books_what_the_callbacks_missed_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_import_postgres() {
    a_statement_books_what_the_callbacks_missed_once(Backend::Postgres).await;
}
