//! KRA eTIMS against an OSCU simulator on loopback: invoices and a credit note queued in the
//! transactions that issue them, chained by hash; sending in order with the tin, branch and
//! cmcKey headers; an outage that leaves documents queued and backing off; a refusal that
//! stops the queue until a person sends it again; KRA's signature and QR on the invoice PDF; a
//! chain that raw SQL cannot rewrite and that `billing verify` walks. SQLite and PostgreSQL.

use std::sync::{Arc, Mutex};

use poem::web::{Data, Json};
use poem::{handler, EndpointExt, Route};
use serde_json::{json, Value};

use hms_testkit::{Backend, TestApp};

use super::{cashier, hms_billing_verify, pay, publish, text, visit_with_charge};

const PIN: &str = "P051234567X";
const KEY: &str = "cmc-key-for-tests";

/// What the simulator saw and how it answers.
#[derive(Default)]
struct Sim {
    /// Documents it signed, as sent.
    signed: Vec<Value>,
    /// Every request's (tin, bhfId, cmcKey) headers.
    headers: Vec<(String, String, String)>,
    down: bool,
    /// Refuse the document of this trader invoice number.
    refuse: Option<String>,
}

type Shared = Arc<Mutex<Sim>>;

#[handler]
fn save_sales(sim: Data<&Shared>, req: &poem::Request, body: Json<Value>) -> poem::Response {
    let mut s = sim.lock().unwrap();
    let header = |name: &str| req.header(name).unwrap_or("").to_string();
    s.headers
        .push((header("tin"), header("bhfId"), header("cmcKey")));
    if s.down {
        return poem::Response::builder()
            .status(poem::http::StatusCode::BAD_GATEWAY)
            .finish();
    }
    let answer = if header("cmcKey") != KEY {
        json!({ "resultCd": "899", "resultMsg": "Invalid cmcKey" })
    } else if s.refuse.as_deref() == body.0["trdInvcNo"].as_str() {
        json!({ "resultCd": "910", "resultMsg": "Request parameter error" })
    } else {
        s.signed.push(body.0.clone());
        let n = s.signed.len();
        json!({ "resultCd": "000", "resultMsg": "It is succeeded", "resultDt": "20261207101500",
                "data": { "curRcptNo": n, "totRcptNo": n, "intrlData": format!("INTRLDATA{n:04}"),
                          "rcptSign": format!("SIGN{n:012}"), "sdcDateTime": "20261207101500" } })
    };
    poem::Response::builder()
        .content_type("application/json")
        .body(answer.to_string())
}

async fn simulator(sim: Shared) -> String {
    let app = Route::new()
        .at("/etims-api/saveTrnsSalesOsdc", poem::post(save_sales))
        .data(sim);
    format!("{}/etims-api", super::serve_simulator(app).await)
}

async fn app_with_etims(backend: Backend, sim: Shared) -> Option<TestApp> {
    let api = simulator(sim).await;
    TestApp::start_with(backend, move |c| {
        let mut t = toml::Table::new();
        for (k, v) in [
            ("etims_api", api.as_str()),
            ("etims_branch", "01"),
            ("etims_device", "KRACU0100000001"),
            ("etims_cmc_key", KEY),
        ] {
            t.insert(k.into(), toml::Value::String(v.into()));
        }
        c.modules.insert("billing".into(), t);
    })
    .await
}

async fn documents(app: &TestApp) -> Vec<(i64, String, String, Option<String>)> {
    use sqlx::Row;
    sqlx::query("SELECT seq, number, status, signature FROM billing_etims_documents ORDER BY seq")
        .fetch_all(app.db().read())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

async fn queued_and_sent_in_order_through_an_outage_and_a_refusal(backend: Backend) {
    let sim: Shared = Arc::default();
    let Some(app) = app_with_etims(backend, sim.clone()).await else {
        return;
    };
    let db = app.db();
    publish(db).await;
    {
        let mut tx = db.begin().await.unwrap();
        hms_core::settings::put(&mut tx, "billing.kra_pin", PIN)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let c = cashier(&app, "kra1", &["accountant"]).await;
    let empty = c.get("/billing/etims").await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("id=\"no-etims\""), "{}", empty.body);

    // Two cash sales: each invoice is queued as it is issued, chained to the one before.
    let mut visits = Vec::new();
    for number in ["K-100", "K-101"] {
        let (_, visit, _) = visit_with_charge(db, number, "cash", 1).await;
        let r = pay(&c, visit, &[("method", "cash"), ("amount", "1000")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        visits.push(visit);
    }
    let docs = documents(&app).await;
    assert_eq!(docs.len(), 2, "{docs:?}");
    assert_eq!((docs[0].0, docs[1].0, docs[0].2.as_str()), (1, 2, "queued"));
    let payload: Value = serde_json::from_str(
        &text(
            &app,
            "SELECT payload FROM billing_etims_documents WHERE seq = 1",
        )
        .await,
    )
    .unwrap();
    assert_eq!(payload["trdInvcNo"], docs[0].1.as_str());
    assert_eq!(
        (
            payload["invcNo"].as_i64(),
            payload["rcptTyCd"].as_str(),
            payload["pmtTyCd"].as_str()
        ),
        (Some(1), Some("S"), Some("01"))
    );
    assert_eq!(payload["totAmt"].as_f64(), Some(850.0));
    assert_eq!(payload["itemList"][0]["taxTyCd"], "A");
    assert_eq!(payload["itemList"][0]["itemNm"], "Full blood count");
    let prev: String = text(
        &app,
        "SELECT prev_hash FROM billing_etims_documents WHERE seq = 2",
    )
    .await;
    let first: String = text(
        &app,
        "SELECT hash FROM billing_etims_documents WHERE seq = 1",
    )
    .await;
    assert_eq!(prev, first, "the second link names the first");

    // KRA unreachable: nothing is lost, the documents wait and back off.
    sim.lock().unwrap().down = true;
    let r = c.post_form("/billing/etims/send", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = c.get("/billing/etims").await;
    assert!(page.body.contains("cannot be reached"), "{}", page.body);
    assert!(documents(&app).await.iter().all(|d| d.2 == "queued"));
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM billing_etims_documents WHERE next_attempt_at IS NOT NULL AND last_error IS NOT NULL")
            .await,
        1,
        "the first waits to be tried again; the second was not tried before it"
    );

    // Back up, with the second document refused: the first is signed, the queue stops.
    {
        let mut s = sim.lock().unwrap();
        s.down = false;
        s.refuse = Some(docs[1].1.clone());
    }
    let r = c.post_form("/billing/etims/send", &[]).await;
    assert_eq!(r.status, 303);
    let after = documents(&app).await;
    assert_eq!(
        (after[0].2.as_str(), after[1].2.as_str()),
        ("sent", "failed"),
        "{after:?}"
    );
    let page = c.get("/billing/etims?status=failed").await;
    assert!(
        page.body.contains("910 Request parameter error") && page.body.contains("retry-2"),
        "{}",
        page.body
    );
    let card = c.get("/billing/cards/attention").await;
    assert!(card.body.contains("attention-etims"), "{}", card.body);
    // A third sale queues behind the refused one and is not sent past it.
    let (_, visit, _) = visit_with_charge(db, "K-102", "cash", 1).await;
    assert_eq!(
        pay(
            &c,
            visit,
            &[
                ("method", "mpesa"),
                ("mpesa_code", "SGH7K2LQ9P"),
                ("amount", "850")
            ]
        )
        .await
        .status,
        303
    );
    assert_eq!(c.post_form("/billing/etims/send", &[]).await.status, 303);
    assert_eq!(documents(&app).await[2].2, "queued");
    assert_eq!(sim.lock().unwrap().signed.len(), 1);

    // Put right and sent again: the rest go, in order, each once.
    sim.lock().unwrap().refuse = None;
    let failed = app
        .scalar("SELECT id FROM billing_etims_documents WHERE status = 'failed'")
        .await;
    let r = c
        .post_form(&format!("/billing/etims/{failed}/retry"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        c.post_form(&format!("/billing/etims/{failed}/retry"), &[])
            .await
            .status,
        409,
        "only a refused document is sent again"
    );
    assert_eq!(c.post_form("/billing/etims/send", &[]).await.status, 303);
    assert!(documents(&app).await.iter().all(|d| d.2 == "sent"));
    {
        let s = sim.lock().unwrap();
        let numbers: Vec<i64> = s
            .signed
            .iter()
            .map(|d| d["invcNo"].as_i64().unwrap())
            .collect();
        assert_eq!(numbers, vec![1, 2, 3], "sent in chain order, each once");
        assert_eq!(s.signed[2]["pmtTyCd"], "06", "M-Pesa is mobile money");
        assert!(s
            .headers
            .iter()
            .all(|(tin, bhf, key)| tin == PIN && bhf == "01" && key == KEY));
    }

    // KRA's stamp on the invoice: receipt number, signature, and the QR code.
    let invoice = app
        .scalar("SELECT invoice_id FROM billing_etims_documents WHERE seq = 1")
        .await;
    let pdf = c.get(&format!("/billing/invoices/{invoice}.pdf")).await;
    let text = hms_testkit::pdf::text(&pdf.bytes);
    assert!(
        text.contains("KRA eTIMS")
            && text.contains("SIGN000000000001")
            && text.contains("INTRLDATA0001"),
        "{text}"
    );
    let codes = hms_testkit::pdf::barcodes(&pdf.bytes);
    assert!(
        codes
            .iter()
            .any(|q| q.starts_with("https://etims.kra.go.ke/")
                && q.ends_with(&format!("{PIN}01SIGN000000000001"))),
        "{codes:?}"
    );

    // The 80 mm receipt of that sale carries the same stamp.
    let payment = app.scalar("SELECT MIN(id) FROM billing_payments").await;
    let receipt = c.get(&format!("/billing/receipts/{payment}.pdf")).await;
    let text = hms_testkit::pdf::text(&receipt.bytes);
    assert!(text.contains("SIGN000000000001"), "{text}");
    assert_eq!(hms_testkit::pdf::page_mm(&receipt.bytes).0, 80);
    assert!(hms_testkit::pdf::barcodes(&receipt.bytes)
        .iter()
        .any(|q| q.ends_with("SIGN000000000001")));

    // The chain cannot be rewritten; verify walks it.
    for sql in [
        "UPDATE billing_etims_documents SET payload = '{}' WHERE seq = 2",
        "UPDATE billing_etims_documents SET signature = 'forged' WHERE seq = 1",
        "UPDATE billing_etims_documents SET hash = prev_hash WHERE seq = 3",
        "DELETE FROM billing_etims_documents WHERE seq = 3",
    ] {
        let mut tx = db.begin().await.unwrap();
        let refused = sqlx::query(sql).execute(&mut *tx).await;
        assert!(refused.is_err(), "{sql}");
        drop(tx);
    }
    assert_eq!(hms_billing_verify(db).await, Vec::<String>::new());
    // Past the trigger (someone with the database's keys): verify sees the rewritten link.
    let drop_trigger = match backend {
        Backend::Sqlite => "DROP TRIGGER billing_etims_documents_fixed",
        Backend::Postgres => {
            "DROP TRIGGER billing_etims_documents_fixed ON billing_etims_documents"
        }
    };
    let mut tx = db.begin().await.unwrap();
    for sql in [
        drop_trigger,
        "UPDATE billing_etims_documents SET payload = replace(payload, '850', '85') WHERE seq = 2",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    let findings = hms_billing_verify(db).await;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].contains("changed after it was queued"),
        "{findings:?}"
    );
}

async fn a_credit_note_reverses_its_invoice_for_kra(backend: Backend) {
    let sim: Shared = Arc::default();
    let Some(app) = app_with_etims(backend, sim.clone()).await else {
        return;
    };
    let db = app.db();
    publish(db).await;
    let (_, visit, _) = visit_with_charge(db, "K-200", "cash", 2).await;
    let c = cashier(&app, "kra2", &["accountant"]).await;
    let invoice = super::adjust::issue(&app, &c, visit).await;
    let r = c
        .post_form(
            &format!("/billing/invoices/{invoice}/requests"),
            &[
                ("kind", "waiver"),
                ("amount", "500"),
                ("category", "waiver"),
                ("reason", "Cannot pay in full"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    app.add_user("kraadmin", &["admin"]).await;
    let admin = app.login("kraadmin").await;
    assert_eq!(admin.get("/billing/approvals").await.status, 200);
    let request = app.scalar("SELECT MAX(id) FROM billing_requests").await;
    let r = admin
        .post_form(&format!("/billing/approvals/{request}/approve"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let payload: Value = serde_json::from_str(
        &text(
            &app,
            "SELECT payload FROM billing_etims_documents WHERE credit_note_id IS NOT NULL",
        )
        .await,
    )
    .unwrap();
    assert_eq!(
        (
            payload["rcptTyCd"].as_str(),
            payload["orgInvcNo"].as_i64(),
            payload["invcNo"].as_i64()
        ),
        (Some("R"), Some(1), Some(2)),
        "{payload}"
    );
    assert_eq!(payload["totAmt"].as_f64(), Some(500.0));
    assert_eq!(payload["remark"], "Cannot pay in full");
    let note = app.scalar("SELECT MAX(id) FROM billing_credit_notes").await;
    let text = hms_testkit::pdf::text(
        &admin
            .get(&format!("/billing/credit-notes/{note}.pdf"))
            .await
            .bytes,
    );
    assert!(text.contains("KRA eTIMS: waiting to be sent"), "{text}");
    assert_eq!(hms_billing_verify(db).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etims_queue_sqlite() {
    queued_and_sent_in_order_through_an_outage_and_a_refusal(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etims_queue_postgres() {
    queued_and_sent_in_order_through_an_outage_and_a_refusal(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etims_credit_note_sqlite() {
    a_credit_note_reverses_its_invoice_for_kra(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etims_credit_note_postgres() {
    a_credit_note_reverses_its_invoice_for_kra(Backend::Postgres).await;
}
