//! SHA claims against an HIE simulator on loopback: eligibility kept on the visit's account, a
//! pre-authorisation of a visit's charges, the claim of its SHA invoice built as the eClaims
//! Bundle (SHA intervention codes, member, facility, the pre-authorisation named), downloaded as
//! a file and in the CSV summary, sent through an outage and answered approved or rejected;
//! one claim per invoice. SQLite and PostgreSQL.

use std::sync::{Arc, Mutex};

use poem::web::{Data, Json};
use poem::{handler, EndpointExt, Route};
use serde_json::{json, Value};

use hms_testkit::{Backend, TestApp};

use super::{cashier, publish, sha_prices, text, visit_with_charge};

/// What the simulator saw and how it answers.
#[derive(Default)]
struct Sim {
    bundles: Vec<Value>,
    eligibility: Vec<Value>,
    auth: Vec<String>,
    down: bool,
    /// The ClaimResponse outcome it answers: complete or error.
    outcome: String,
}

type Shared = Arc<Mutex<Sim>>;

#[handler]
fn bundle(sim: Data<&Shared>, req: &poem::Request, body: Json<Value>) -> poem::Response {
    let mut s = sim.lock().unwrap();
    s.auth
        .push(req.header("authorization").unwrap_or("").to_string());
    if s.down {
        return poem::Response::builder()
            .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
            .finish();
    }
    s.bundles.push(body.0.clone());
    let claim = &body.0["entry"][0]["resource"];
    let total = claim["total"]["value"].as_f64().unwrap_or(0.0);
    let answer = json!({ "resourceType": "ClaimResponse", "id": format!("CR-{}", s.bundles.len()),
        "outcome": s.outcome, "disposition": "adjudicated",
        "total": [{ "category": { "coding": [{ "code": "benefit" }] }, "amount": { "value": total, "currency": "KES" } }] });
    poem::Response::builder()
        .content_type("application/fhir+json")
        .body(answer.to_string())
}

#[handler]
fn eligibility(sim: Data<&Shared>, body: Json<Value>) -> Json<Value> {
    let mut s = sim.lock().unwrap();
    let member = body.0["patient"]["identifier"]["value"]
        .as_str()
        .unwrap_or("")
        .to_string();
    s.eligibility.push(body.0);
    Json(
        json!({ "resourceType": "CoverageEligibilityResponse", "outcome": "complete",
                 "insurance": [{ "inforce": member == "CR1569230130821" }] }),
    )
}

async fn app_with_hie(backend: Backend, sim: Shared) -> Option<TestApp> {
    let app = Route::new()
        .at("/fhir/Bundle", poem::post(bundle))
        .at("/fhir/CoverageEligibilityRequest", poem::post(eligibility))
        .data(sim);
    let url = format!("{}/fhir", super::serve_simulator(app).await);
    TestApp::start_with(backend, move |c| {
        let mut t = toml::Table::new();
        t.insert("sha_hie_url".into(), toml::Value::String(url.clone()));
        t.insert(
            "sha_hie_token".into(),
            toml::Value::String("hie-token".into()),
        );
        c.modules.insert("billing".into(), t);
    })
    .await
}

/// An SHA visit of a new patient with a lab charge, on an SHA account with `member`.
async fn sha_visit(app: &TestApp, c: &hms_testkit::Client, number: &str, member: &str) -> i64 {
    let (_, visit, _) = visit_with_charge(app.db(), number, "sha", 1).await;
    let sha = app
        .scalar("SELECT id FROM billing_schemes WHERE code = 'sha'")
        .await;
    assert_eq!(c.get(&format!("/billing/visits/{visit}")).await.status, 200);
    let r = c
        .post_form(
            &format!("/billing/visits/{visit}/account"),
            &[("scheme", &sha.to_string()), ("member_number", member)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    visit
}

async fn claims_are_built_sent_and_answered(backend: Backend) {
    let sim: Shared = Arc::new(Mutex::new(Sim {
        outcome: "complete".into(),
        ..Sim::default()
    }));
    let Some(app) = app_with_hie(backend, sim.clone()).await else {
        return;
    };
    let db = app.db();
    publish(db).await;
    {
        let mut tx = db.begin().await.unwrap();
        hms_core::settings::put(&mut tx, "facility_code", "24578")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let c = cashier(&app, "sha1", &["accountant"]).await;
    // SHA's prices: the test is covered under its intervention code.
    sha_prices(&app, &c).await;
    let empty = c.get("/billing/claims").await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("id=\"none-ready\"") && empty.body.contains("id=\"no-claims\""));

    let visit = sha_visit(&app, &c, "S-100", "CR1569230130821").await;
    // Eligibility, kept on the account.
    let page = c.get(&format!("/billing/visits/{visit}")).await;
    assert!(
        page.body.contains("id=\"check-eligibility\"") && page.body.contains("Not checked"),
        "{}",
        page.body
    );
    let r = c
        .post_form(&format!("/billing/visits/{visit}/eligibility"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM billing_accounts WHERE eligibility = 'eligible' AND eligibility_checked_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        sim.lock().unwrap().eligibility[0]["resourceType"],
        "CoverageEligibilityRequest"
    );

    // A pre-authorisation of what the visit will be given: a surgical one needs its clinical
    // indication and anaesthesia, and a real day; what is wrong is said beside the field.
    let page = c.get(&format!("/billing/visits/{visit}")).await;
    assert!(
        page.body.contains("id=\"preauth-profile\""),
        "{}",
        page.body
    );
    let at = format!("/billing/visits/{visit}/preauth");
    let bad = c
        .post_form(
            &at,
            &[("profile", "surgical"), ("session_date", "31/02/2027")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    for field in ["indication", "anaesthesia", "session-date"] {
        assert!(
            bad.body.contains(&format!("id=\"preauth-{field}-error\"")),
            "{field}: {}",
            bad.body
        );
    }
    let unknown = c.post_form(&at, &[("profile", "dental")]).await;
    assert!(unknown.status == 422 && unknown.body.contains("id=\"preauth-profile-error\""));
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM billing_claims").await,
        0,
        "nothing prepared"
    );
    let r = c
        .post_form(
            &at,
            &[
                ("profile", "surgical"),
                ("indication", "Symptomatic gallstones <b>"),
                ("anaesthesia", "general"),
                ("session_date", "20/12/2026"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let preauth_uuid = text(
        &app,
        "SELECT uuid FROM billing_claims WHERE purpose = 'preauthorization'",
    )
    .await;
    let preauth: Value = serde_json::from_str(
        &text(
            &app,
            "SELECT bundle FROM billing_claims WHERE purpose = 'preauthorization'",
        )
        .await,
    )
    .unwrap();
    let claim = &preauth["entry"][0]["resource"];
    assert_eq!(claim["subType"]["coding"][0]["code"], "surgical");
    assert_eq!(
        claim["supportingInfo"][0]["valueString"],
        "Symptomatic gallstones <b>"
    );
    assert_eq!(claim["supportingInfo"][2]["timingDate"], "2026-12-20");

    // The visit's SHA share invoiced, then claimed.
    let r = c
        .post_form(
            &format!("/billing/visits/{visit}/invoice"),
            &[("lines", "1")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let invoice = app
        .scalar("SELECT id FROM billing_invoices WHERE payer = 'scheme'")
        .await;
    let list = c.get("/billing/claims").await;
    assert!(
        list.body.contains(&format!("prepare-{invoice}")),
        "{}",
        list.body
    );
    let r = c
        .post_form("/billing/claims", &[("invoice", &invoice.to_string())])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let again = c
        .post_form("/billing/claims", &[("invoice", &invoice.to_string())])
        .await;
    assert_eq!(again.status, 409, "one claim per invoice");
    let claim = app
        .scalar("SELECT id FROM billing_claims WHERE purpose = 'claim'")
        .await;
    let file = c.get(&format!("/billing/claims/{claim}.json")).await;
    assert_eq!(file.header("content-type"), Some("application/fhir+json"));
    let b: Value = serde_json::from_str(&file.body).unwrap();
    assert_eq!(b["resourceType"], "Bundle");
    let kinds: Vec<&str> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Claim",
            "Patient",
            "Coverage",
            "Encounter",
            "Organization",
            "Organization"
        ]
    );
    let cl = &b["entry"][0]["resource"];
    assert_eq!(
        (cl["use"].as_str(), cl["status"].as_str()),
        (Some("claim"), Some("active"))
    );
    assert_eq!(
        cl["item"][0]["productOrService"]["coding"][0]["code"],
        "SHA-LAB-0042"
    );
    assert_eq!(cl["total"]["value"].as_f64(), Some(900.0));
    assert_eq!(cl["provider"]["reference"], "Organization/24578");
    assert_eq!(
        cl["related"][0]["claim"]["reference"],
        format!("Claim/{preauth_uuid}")
    );
    assert_eq!(
        b["entry"][1]["resource"]["identifier"][0]["value"],
        "CR1569230130821"
    );
    assert_eq!(
        b["entry"][2]["resource"]["id"],
        "CR1569230130821-sha-coverage"
    );
    let csv = c.get("/billing/claims.csv").await;
    assert!(
        csv.body.starts_with("claim,use,invoice")
            && csv
                .body
                .contains("\"CR1569230130821\",\"900.00\",\"prepared\""),
        "{}",
        csv.body
    );

    // The HIE down: the claim stays prepared, with the reason; back up: approved.
    sim.lock().unwrap().down = true;
    let r = c
        .post_form(&format!("/billing/claims/{claim}/submit"), &[])
        .await;
    assert_eq!(r.status, 303);
    let page = c.get(&format!("/billing/claims/{claim}")).await;
    assert!(
        page.body.contains("Not sent") && page.body.contains("id=\"submit-claim\""),
        "{}",
        page.body
    );
    sim.lock().unwrap().down = false;
    let r = c
        .post_form(&format!("/billing/claims/{claim}/submit"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        text(&app, "SELECT status || ' ' || COALESCE(external_id, '') FROM billing_claims WHERE purpose = 'claim'").await,
        "approved CR-1"
    );
    assert_eq!(
        c.post_form(&format!("/billing/claims/{claim}/submit"), &[])
            .await
            .status,
        409
    );
    assert!(sim
        .lock()
        .unwrap()
        .auth
        .iter()
        .all(|a| a == "Bearer hie-token"));

    // A claim SHA rejects shows on the accountant's dashboard card.
    sim.lock().unwrap().outcome = "error".into();
    let second = sha_visit(&app, &c, "S-101", "CR0000000000001").await;
    assert_eq!(
        c.post_form(
            &format!("/billing/visits/{second}/invoice"),
            &[("lines", "1")]
        )
        .await
        .status,
        303
    );
    let invoice2 = app
        .scalar("SELECT MAX(id) FROM billing_invoices WHERE payer = 'scheme'")
        .await;
    assert_eq!(
        c.post_form("/billing/claims", &[("invoice", &invoice2.to_string())])
            .await
            .status,
        303
    );
    let claim2 = app.scalar("SELECT MAX(id) FROM billing_claims").await;
    assert_eq!(
        c.post_form(&format!("/billing/claims/{claim2}/submit"), &[])
            .await
            .status,
        303
    );
    assert!(c
        .get("/billing/cards/attention")
        .await
        .body
        .contains("attention-claims"));
    assert!(c
        .get("/billing/claims?status=rejected")
        .await
        .body
        .contains(&format!("claim-{claim2}")));
    // What was claimed never changes.
    let mut tx = db.begin().await.unwrap();
    assert!(sqlx::query("UPDATE billing_claims SET bundle = '{}'")
        .execute(&mut *tx)
        .await
        .is_err());
    drop(tx);
    // A cash invoice is never an SHA claim.
    let (_, cash, _) = visit_with_charge(db, "S-102", "cash", 1).await;
    assert_eq!(
        c.post_form(
            &format!("/billing/visits/{cash}/invoice"),
            &[("lines", "1")]
        )
        .await
        .status,
        303
    );
    let cash_invoice = app.scalar("SELECT MAX(id) FROM billing_invoices").await;
    let r = c
        .post_form("/billing/claims", &[("invoice", &cash_invoice.to_string())])
        .await;
    assert_eq!(r.status, 409);
    // Only accountants (billing.claims) see claims.
    app.add_user("recept1", &["receptionist"]).await;
    let reception = app.login("recept1").await;
    assert_eq!(reception.get("/billing/claims").await.status, 403);
    assert_eq!(
        reception
            .get(&format!("/billing/claims/{claim}.json"))
            .await
            .status,
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha_claims_sqlite() {
    claims_are_built_sent_and_answered(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha_claims_postgres() {
    claims_are_built_sent_and_answered(Backend::Postgres).await;
}
