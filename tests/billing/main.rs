//! Billing over HTTP on SQLite and PostgreSQL: the gate (cash waits, insured passes), paying a
//! bill with invoice and receipt numbered without gaps, a form posted twice booking once, a
//! stale bill refused, shifts with blind counts and approval by someone else, money rows that
//! raw SQL cannot edit or delete, PDFs read back as text, and `billing verify` agreeing.

mod adjust;
mod browser;
mod claims;
mod deposit;
mod etims;
mod mpesa;
mod remit;

use hms_appointments::api::{self as visits, Priority};
use hms_core::audit::Actor;
use hms_core::charges::{self, ChargeItem, Clearance, NewCharge};
use hms_core::db::Db;
use hms_core::ids::PatientId;
use hms_core::money::Money;
use hms_testkit::standin::bare_patient;
use hms_testkit::{each_backend, Client, TestApp};
use sqlx::Row;

const FBC: &str = "lab.test.fbc";

pub(crate) async fn publish(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    let item = ChargeItem {
        code: FBC.into(),
        name: "Full blood count".into(),
        unit: "test".into(),
        price: Money::from_shillings(850),
    };
    charges::publish_item(&mut tx, "laboratory", &item)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// A visit of a new patient paying by `payer`, with a lab charge of `quantity` tests.
pub(crate) async fn visit_with_charge(
    db: &Db,
    number: &str,
    payer: &str,
    quantity: i64,
) -> (PatientId, i64, String) {
    let patient = bare_patient(db, number).await;
    let mut tx = db.begin().await.unwrap();
    let visit = visits::check_in(
        &mut tx,
        patient,
        None,
        payer,
        "triage",
        Priority::Normal,
        &Actor::cli(None),
    )
    .await
    .unwrap();
    let source_ref = format!("lab-{number}");
    charges::post(
        &mut tx,
        &Actor::cli(None),
        &NewCharge {
            patient,
            visit: Some(visit.id),
            item: FBC.into(),
            quantity,
            unit_price: None,
            service_point: Some("laboratory".into()),
            source: "order".into(),
            source_ref: source_ref.clone(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (patient, visit.id.get(), source_ref)
}

async fn clearance(app: &TestApp, source_ref: &str) -> Clearance {
    charges::clearance(&app.app.modules, app.db(), "order", source_ref)
        .await
        .unwrap()
}

async fn cashier(app: &TestApp, name: &str, roles: &[&str]) -> Client {
    app.add_user(name, roles).await;
    let c = app.login(name).await;
    assert_eq!(c.get("/billing").await.status, 200);
    let r = c
        .post_form("/billing/shifts/open", &[("float", "1000")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    c
}

/// The hidden fields of the visit's pay form: (token, expected cents).
async fn pay_form(c: &Client, visit: i64) -> (String, String) {
    let page = c.get(&format!("/billing/visits/{visit}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let field = |name: &str| {
        let at = page
            .body
            .find(&format!("name=\"{name}\" value=\""))
            .unwrap_or_else(|| panic!("{name} in {}", page.body));
        let rest = &page.body[at + name.len() + 15..];
        rest[..rest.find('"').unwrap()].to_string()
    };
    (field("token"), field("expected"))
}

async fn pay(c: &Client, visit: i64, fields: &[(&str, &str)]) -> hms_testkit::TestResponse {
    let (token, expected) = pay_form(c, visit).await;
    let mut all = vec![("token", token.as_str()), ("expected", expected.as_str())];
    all.extend_from_slice(fields);
    c.post_form(&format!("/billing/visits/{visit}/pay"), &all)
        .await
}

/// SHA's price list from today, covering the test at KES 900 under an intervention code: the
/// SHA scheme's id.
pub(crate) async fn sha_prices(app: &TestApp, c: &Client) -> i64 {
    let sha = app
        .scalar("SELECT id FROM billing_schemes WHERE code = 'sha'")
        .await;
    assert_eq!(c.get(&format!("/billing/prices/{sha}")).await.status, 200);
    let today = hms_core::day::Day::today().form();
    let r = c
        .post_form(
            &format!("/billing/prices/{sha}"),
            &[
                ("effective_from", today.as_str()),
                ("note", ""),
                ("lines", "lab.test.fbc,900,yes,0,SHA-LAB-0042"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    sha
}

/// Serves `app` (a payment or tax authority's simulator) on a free loopback port: its address.
pub(crate) async fn serve_simulator(app: impl poem::Endpoint + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let server = poem::Server::new(poem::listener::TcpListener::bind(addr.to_string()));
    tokio::spawn(async move {
        let _ = server.run(app).await;
    });
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    format!("http://{addr}")
}

/// The one text a statement from the test's own code answers.
pub(crate) async fn text(app: &TestApp, sql: &'static str) -> String {
    sqlx::query(sql)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

fn receipt_id(location: &str) -> i64 {
    location.rsplit("receipt=").next().unwrap().parse().unwrap()
}

each_backend! {
    async fn a_company_is_never_invoiced_past_its_credit_limit_even_by_two_desks_at_once(app) {
        let db = app.db();
        publish(db).await;
        let c = cashier(&app, "corp1", &["accountant"]).await;
        assert_eq!(c.get("/billing/prices").await.status, 200);
        let r = c.post_form("/billing/prices/schemes", &[("code", "acme"), ("name", "Acme Ltd"), ("kind", "corporate")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let acme = app.scalar("SELECT id FROM billing_schemes WHERE code = 'acme'").await;
        assert_eq!(c.get(&format!("/billing/prices/{acme}")).await.status, 200);
        let today = hms_core::day::Day::today().form();
        let r = c.post_form(&format!("/billing/prices/{acme}"), &[("effective_from", today.as_str()), ("note", ""), ("lines", "lab.test.fbc,600")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let bad = c.post_form(&format!("/billing/prices/{acme}/credit-limit"), &[("credit_limit", "lots")]).await;
        assert_eq!(bad.status, 422);
        let r = c.post_form(&format!("/billing/prices/{acme}/credit-limit"), &[("credit_limit", "1000")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let page = c.get(&format!("/billing/prices/{acme}")).await;
        assert!(page.body.contains("KES 1,000.00") || page.body.contains("KES 1000.00"), "{}", page.body);
        // A new version previewed against the prices in force: nothing saved.
        let lists = app.scalar("SELECT COUNT(*) FROM billing_price_lists").await;
        let preview = c.post_form(&format!("/billing/prices/{acme}"), &[("effective_from", "01/01/2030"), ("note", ""), ("lines", "lab.test.xray,100"), ("preview", "1")]).await;
        assert_eq!(preview.status, 200, "{}", preview.body);
        assert!(preview.body.contains("class=\"preview-new\"") && preview.body.contains("class=\"preview-removed\""), "{}", preview.body);
        let changed = c.post_form(&format!("/billing/prices/{acme}"), &[("effective_from", "01/01/2030"), ("note", ""), ("lines", "lab.test.fbc,700"), ("preview", "1")]).await;
        assert!(changed.body.contains("class=\"preview-changed\"") && changed.body.contains("KES 600.00"), "{}", changed.body);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_price_lists").await, lists);
        // Two visits of KES 600 each issued at once from two desks: one passes, one is refused.
        let mut visits = Vec::new();
        for n in ["C-100", "C-101"] {
            let (_, visit, _) = visit_with_charge(db, n, "insurance", 1).await;
            assert_eq!(c.get(&format!("/billing/visits/{visit}")).await.status, 200);
            let r = c.post_form(&format!("/billing/visits/{visit}/account"), &[("scheme", &acme.to_string()), ("member_number", "EMP-7")]).await;
            assert_eq!(r.status, 303, "{}", r.body);
            visits.push(visit);
        }
        let other = cashier(&app, "corp2", &["accountant"]).await;
        for v in &visits {
            assert_eq!(other.get(&format!("/billing/visits/{v}")).await.status, 200);
        }
        let (first, second) = (
            format!("/billing/visits/{}/invoice", visits[0]),
            format!("/billing/visits/{}/invoice", visits[1]),
        );
        let (a, b) = tokio::join!(
            c.post_form(&first, &[("lines", "1")]),
            other.post_form(&second, &[("lines", "1")]),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [303, 409], "{} / {}", a.body, b.body);
        let refused = if a.status == 409 { &a.body } else { &b.body };
        assert!(refused.contains("credit limit") && refused.contains("KES 400.00"), "{refused}");
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_invoices WHERE payer = 'scheme'").await, 1);
        // Raised, the second goes.
        assert_eq!(c.post_form(&format!("/billing/prices/{acme}/credit-limit"), &[("credit_limit", "2000")]).await.status, 303);
        let waiting = if a.status == 409 { visits[0] } else { visits[1] };
        assert_eq!(c.get(&format!("/billing/visits/{waiting}")).await.status, 200);
        assert_eq!(c.post_form(&format!("/billing/visits/{waiting}/invoice"), &[("lines", "1")]).await.status, 303);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_invoices WHERE payer = 'scheme'").await, 2);
        assert!(app.audit_count("billing.scheme.credit_limit").await >= 2);
        // The month's statement lists both invoices, their patients and what is owed.
        let pdf = c.get(&format!("/billing/prices/{acme}/statement")).await;
        assert_eq!(pdf.header("content-type"), Some("application/pdf"));
        let text = hms_testkit::pdf::text(&pdf.bytes);
        assert!(
            text.contains("Statement") && text.contains("Acme Ltd") && text.contains("INV-2026-000001")
                && text.contains("INV-2026-000002") && text.contains("C-100") && text.contains("C-101"),
            "{text}"
        );
        assert!(text.contains("Owed in all now: KES 1,200.00"), "{text}");
        assert_eq!(c.get(&format!("/billing/prices/{acme}/statement?month=13-2026")).await.status, 400);
        let empty = hms_testkit::pdf::text(&c.get(&format!("/billing/prices/{acme}/statement?month=2020-01")).await.bytes);
        assert!(empty.contains("No invoices to the company this month"), "{empty}");
        let sha = app.scalar("SELECT id FROM billing_schemes WHERE code = 'sha'").await;
        assert_eq!(c.get(&format!("/billing/prices/{sha}/statement")).await.status, 404);
        app.app.audit_reads.flush().await;
        assert!(app.audit_count("billing.scheme.statement").await >= 2);
    }

    async fn a_scheme_is_added_with_a_checked_kra_pin(app) {
        app.add_user("prices1", &["accountant"]).await;
        let c = app.login("prices1").await;
        assert_eq!(c.get("/billing/prices").await.status, 200);
        let bad = c.post_form("/billing/prices/schemes", &[("code", "jubilee"), ("name", "Jubilee"), ("kind", "insurer"), ("kra_pin", "P05123")]).await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("nine digits"), "{}", bad.body);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_schemes WHERE code = 'jubilee'").await, 0);
        let ok = c.post_form("/billing/prices/schemes", &[("code", "jubilee"), ("name", "Jubilee"), ("kind", "insurer"), ("kra_pin", "p051234567x")]).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_schemes WHERE code = 'jubilee' AND kra_pin = 'P051234567X'").await, 1);
    }

    async fn a_cash_patient_waits_at_the_lab_until_paid_and_gets_numbered_invoice_and_receipt(app) {
        let db = app.db();
        publish(db).await;
        let (_, visit, source_ref) = visit_with_charge(db, "B-100", "cash", 2).await;
        assert_eq!(clearance(&app, &source_ref).await, Clearance::Awaiting(Money::from_shillings(1700)));
        let c = cashier(&app, "cash1", &["accountant"]).await;
        let desk = c.get("/billing").await;
        assert_eq!(desk.status, 200);
        assert!(desk.body.contains(&format!("/billing/visits/{visit}")), "the visit waits at the desk");
        let r = pay(&c, visit, &[("method", "cash"), ("amount", "2000")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let receipt = receipt_id(r.location().unwrap());
        assert_eq!(clearance(&app, &source_ref).await, Clearance::Cleared, "paid: the lab may start");
        let year = hms_core::day::Day::today().date().format("%Y").to_string();
        let page = c.get(r.location().unwrap()).await;
        assert!(page.body.contains("KES 300.00"), "change shown: {}", page.body);
        assert!(page.body.contains(&format!("INV-{year}-000001")));
        let pdf = c.get(&format!("/billing/receipts/{receipt}.pdf")).await;
        assert_eq!(pdf.header("content-type"), Some("application/pdf"));
        let text = hms_testkit::pdf::text(&pdf.bytes);
        assert!(text.contains(&format!("RCT-{year}-000001")), "{text}");
        assert!(text.contains("KES 1,700.00") && text.contains("One thousand seven hundred shillings"), "{text}");
        assert!(!text.contains("COPY"));
        let again = hms_testkit::pdf::text(&c.get(&format!("/billing/receipts/{receipt}.pdf")).await.bytes);
        assert!(again.contains("COPY"), "a reprint says COPY");
        let (w, _) = hms_testkit::pdf::page_mm(&pdf.bytes);
        assert_eq!(w, 80, "the receipt is cut for an 80 mm roll");
        let inv: i64 = app.scalar("SELECT MAX(id) FROM billing_invoices").await;
        let inv_pdf = hms_testkit::pdf::text(&c.get(&format!("/billing/invoices/{inv}.pdf")).await.bytes);
        assert!(inv_pdf.contains("Full blood count") && inv_pdf.contains("B-100"), "{inv_pdf}");
        assert_eq!(app.audit_count("billing.payment").await, 1);
        assert_eq!(app.audit_count("billing.invoice.issue").await, 1);
        let verdict = hms_billing_verify(db).await;
        assert!(verdict.is_empty(), "{verdict:?}");
    }

    async fn an_insured_visit_passes_the_gate_and_an_unpriced_insured_charge_goes_to_the_patient(app) {
        let db = app.db();
        publish(db).await;
        let (_, _, source_ref) = visit_with_charge(db, "B-101", "sha", 1).await;
        assert_eq!(clearance(&app, &source_ref).await, Clearance::Cleared);
    }

    async fn a_form_posted_twice_books_one_payment_and_a_stale_bill_is_refused(app) {
        let db = app.db();
        publish(db).await;
        let (patient, visit, _) = visit_with_charge(db, "B-102", "cash", 1).await;
        let c = cashier(&app, "cash2", &["accountant"]).await;
        let (token, expected) = pay_form(&c, visit).await;
        let fields = [("token", token.as_str()), ("expected", expected.as_str()), ("method", "mpesa"),
                      ("amount", "850"), ("mpesa_code", "sgh7k2lq9p")];
        let first = c.post_form(&format!("/billing/visits/{visit}/pay"), &fields).await;
        let second = c.post_form(&format!("/billing/visits/{visit}/pay"), &fields).await;
        assert_eq!((first.status, second.status), (303, 303));
        assert_eq!(first.location(), second.location(), "the same receipt");
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_payments").await, 1);
        // The same M-Pesa code on another bill is refused beside the field.
        let (_, other, _) = visit_with_charge(db, "B-103", "cash", 1).await;
        let reused = pay(&c, other, &[("method", "mpesa"), ("amount", "850"), ("mpesa_code", "SGH7K2LQ9P")]).await;
        assert_eq!(reused.status, 422);
        assert!(reused.body.contains("already paid"), "{}", reused.body);
        // A new charge after the page was shown: the old figure is stale.
        let (token, expected) = pay_form(&c, other).await;
        let mut tx = db.begin().await.unwrap();
        charges::post(&mut tx, &Actor::cli(None), &NewCharge {
            patient: PatientId(scalar_patient(db, other).await), visit: Some(hms_core::ids::VisitId(other)),
            item: FBC.into(), quantity: 1, unit_price: None, service_point: Some("laboratory".into()),
            source: "order".into(), source_ref: "late".into(),
        }).await.unwrap();
        tx.commit().await.unwrap();
        let stale = c.post_form(&format!("/billing/visits/{other}/pay"), &[("token", token.as_str()),
            ("expected", expected.as_str()), ("method", "cash"), ("amount", "5000")]).await;
        assert_eq!(stale.status, 409, "{}", stale.body);
        let _ = patient;
        // Bad amounts change nothing.
        for bad in ["-5", "0", "1.005", "10000001", "abc"] {
            let r = pay(&c, other, &[("method", "cash"), ("amount", bad)]).await;
            assert_eq!(r.status, 422, "{bad}");
        }
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_payments").await, 1);
    }

    async fn concurrent_desks_number_invoices_and_receipts_without_gaps(app) {
        let db = app.db();
        publish(db).await;
        let c = cashier(&app, "cash3", &["accountant"]).await;
        let mut forms = Vec::new();
        for i in 0..12 {
            let (_, visit, _) = visit_with_charge(db, &format!("B-2{i:02}"), "cash", 1).await;
            let (token, expected) = pay_form(&c, visit).await;
            // Every third payment is made to fail inside its transaction (a wrong amount for
            // M-Pesa is refused only after the bill is read): its numbers must come back.
            forms.push((visit, token, expected, i % 3 == 0));
        }
        let c = std::sync::Arc::new(c);
        let tasks: Vec<_> = forms.into_iter().map(|(visit, token, expected, fail)| {
            let c = c.clone();
            tokio::spawn(async move {
                let code = format!("Q{:09}", visit);
                let amount = if fail { "1" } else { "850" };
                c.post_form(&format!("/billing/visits/{visit}/pay"), &[("token", token.as_str()),
                    ("expected", expected.as_str()), ("method", "mpesa"), ("amount", amount), ("mpesa_code", code.as_str())]).await.status
            })
        }).collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() { 303 => ok += 1, 422 => {}, s => panic!("status {s}") }
        }
        assert_eq!(ok, 8);
        let seqs: Vec<i64> = sqlx::query("SELECT seq FROM billing_invoices WHERE status = 'issued' ORDER BY seq")
            .fetch_all(db.read()).await.unwrap().iter().map(|r| r.get(0)).collect();
        assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
        let seqs: Vec<i64> = sqlx::query("SELECT seq FROM billing_payments ORDER BY seq")
            .fetch_all(db.read()).await.unwrap().iter().map(|r| r.get(0)).collect();
        assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
        assert!(hms_billing_verify(db).await.is_empty());
    }

    async fn two_desks_paying_invoiced_and_unbilled_visits_at_once_never_deadlock(app) {
        let db = app.db();
        publish(db).await;
        let desks = [cashier(&app, "desk1", &["accountant"]).await, cashier(&app, "desk2", &["accountant"]).await];
        // Half the bills are invoiced first (only a payment left), half not (issue and pay): the
        // two kinds take their locks by different roads unless the order is kept.
        let mut forms = Vec::new();
        for i in 0..16 {
            let (_, visit, _) = visit_with_charge(db, &format!("B-6{i:02}"), "cash", 1).await;
            let desk = &desks[i % 2];
            if i % 4 < 2 {
                let page = desk.get(&format!("/billing/visits/{visit}")).await;
                let lines = page.body.split("name=\"lines\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
                let r = desk.post_form(&format!("/billing/visits/{visit}/invoice"), &[("lines", lines.as_str())]).await;
                assert_eq!(r.status, 303, "{}", r.body);
            }
            let (token, expected) = pay_form(desk, visit).await;
            forms.push((i % 2, visit, token, expected));
        }
        let desks = std::sync::Arc::new(desks);
        let tasks: Vec<_> = forms.into_iter().map(|(d, visit, token, expected)| {
            let desks = desks.clone();
            tokio::spawn(async move {
                desks[d].post_form(&format!("/billing/visits/{visit}/pay"), &[("token", token.as_str()),
                    ("expected", expected.as_str()), ("method", "cash"), ("amount", "1000")]).await.status
            })
        }).collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 303);
        }
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_payments").await, 16);
        assert!(hms_billing_verify(db).await.is_empty());
    }

    async fn a_shift_closes_on_a_blind_count_and_someone_else_approves_it(app) {
        let db = app.db();
        publish(db).await;
        let c = cashier(&app, "cash4", &["accountant"]).await;
        let (_, visit, _) = visit_with_charge(db, "B-300", "cash", 1).await;
        assert_eq!(pay(&c, visit, &[("method", "cash"), ("amount", "850")]).await.status, 303);
        let page = c.get("/billing/shifts").await;
        assert!(!page.body.contains("1,850"), "the expected figure is not shown before the count");
        // 1000 float + 850 taken = 1850 expected; 1800 counted needs a reason.
        let short = c.post_form("/billing/shifts/close", &[("count_1000", "1"), ("count_500", "1"), ("count_100", "3")]).await;
        assert_eq!(short.status, 422);
        let closed = c.post_form("/billing/shifts/close", &[("count_1000", "1"), ("count_500", "1"), ("count_100", "3"), ("reason", "50 given as change twice")]).await;
        assert_eq!(closed.status, 303, "{}", closed.body);
        let shift: i64 = app.scalar("SELECT MAX(id) FROM billing_shifts").await;
        assert_eq!(app.scalar("SELECT expected_cents - counted_cents FROM billing_shifts").await, 5000);
        // A closed shift takes nothing.
        let (_, later, _) = visit_with_charge(db, "B-301", "cash", 1).await;
        let page = c.get(&format!("/billing/visits/{later}")).await;
        assert!(page.body.contains("pay-no-shift") && !page.body.contains("pay-form"), "no form without a shift");
        let refused = c.post_form(&format!("/billing/visits/{later}/pay"), &[("token", "t-closed"),
            ("expected", "85000"), ("method", "cash"), ("amount", "850")]).await;
        assert_eq!(refused.status, 422);
        assert!(refused.body.contains("Open your shift"), "{}", refused.body);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_payments").await, 1);
        // A cashier without the approval permission cannot approve.
        assert_eq!(c.post_form(&format!("/billing/shifts/{shift}/approve"), &[]).await.status, 403);
        // One holding it cannot approve their own shift: the check is part of the update.
        let both = cashier(&app, "both", &["accountant", "admin"]).await;
        assert_eq!(both.post_form("/billing/shifts/close", &[("count_1000", "1")]).await.status, 303);
        let own: i64 = app.scalar("SELECT MAX(id) FROM billing_shifts").await;
        assert_eq!(both.post_form(&format!("/billing/shifts/{own}/approve"), &[]).await.status, 409);
        app.add_user("boss", &["admin"]).await;
        let admin = app.login("boss").await;
        assert_eq!(admin.get("/billing/shifts").await.status, 200);
        assert_eq!(admin.post_form(&format!("/billing/shifts/{shift}/approve"), &[]).await.status, 303);
        assert_eq!(admin.post_form(&format!("/billing/shifts/{shift}/approve"), &[]).await.status, 409, "once");
        let z = hms_testkit::pdf::text(&admin.get(&format!("/billing/shifts/{shift}.pdf")).await.bytes);
        assert!(z.contains("KES 1,850.00") && z.contains("KES -50.00"), "{z}");
    }

    async fn money_rows_refuse_edits_and_deletes_even_by_raw_sql(app) {
        let db = app.db();
        publish(db).await;
        let c = cashier(&app, "cash5", &["accountant"]).await;
        let (_, visit, _) = visit_with_charge(db, "B-400", "cash", 1).await;
        assert_eq!(pay(&c, visit, &[("method", "cash"), ("amount", "850")]).await.status, 303);
        for sql in [
            "UPDATE billing_invoices SET total_cents = 1",
            "UPDATE billing_lines SET amount_cents = 1",
            "UPDATE billing_payments SET amount_cents = 1",
            "DELETE FROM billing_invoices",
            "DELETE FROM billing_lines",
            "DELETE FROM billing_payments",
            "DELETE FROM billing_allocations",
            "DELETE FROM billing_shifts",
            "DELETE FROM billing_counters",
            "UPDATE billing_invoices SET paid_cents = total_cents + 1",
        ] {
            let mut tx = db.begin().await.unwrap();
            assert!(sqlx::query(sql).execute(&mut *tx).await.is_err(), "refused: {sql}");
            drop(tx);
        }
        assert!(hms_billing_verify(db).await.is_empty());
    }

    async fn billing_screens_answer_with_empty_states(app) {
        let admin = app.setup_admin().await;
        app.add_user("acc", &["accountant"]).await;
        let acc = app.login("acc").await;
        for path in ["/billing", "/billing/invoices", "/billing/mpesa", "/billing/shifts", "/billing/prices",
                     "/billing/cards/my-shift", "/billing/cards/waiting", "/billing/cards/collections",
                     "/billing/approvals", "/billing/cards/attention"] {
            let r = acc.get(path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
        }
        assert_eq!(admin.get("/billing/settings").await.status, 200);
        assert_eq!(acc.get("/billing/settings").await.status, 403);
        // The consultation fee check-in posts: set on screen, refused when unreadable, blank stops it.
        let bad = admin.post_form("/billing/settings", &[("consultation_fee", "5OO")]).await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("consultation-fee-error"), "{}", bad.body);
        let fee = admin.post_form("/billing/settings", &[("consultation_fee", "500"), ("gated", "laboratory")]).await;
        assert_eq!(fee.status, 303, "{}", fee.body);
        assert_eq!(app.scalar("SELECT price_cents FROM charge_items WHERE code = 'appointments.consultation'").await, 50_000);
        assert!(admin.get("/billing/settings").await.body.contains("value=\"500.00\""));
        assert_eq!(admin.post_form("/billing/settings", &[("consultation_fee", "")]).await.status, 303);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM settings WHERE key = 'appointments.consultation_item' AND value = ''").await, 1);
        // A price list version: a bad line is named, a good list prices the next bill.
        let bad = acc.post_form("/billing/prices/1", &[("effective_from", "01/01/2026"), ("lines", "lab.test.fbc,abc")]).await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("Line 1"), "{}", bad.body);
        let good = acc.post_form("/billing/prices/1", &[("effective_from", "01/01/2026"), ("lines", "lab.test.fbc,600")]).await;
        assert_eq!(good.status, 303, "{}", good.body);
        publish(app.db()).await;
        let (_, _, source_ref) = visit_with_charge(app.db(), "B-500", "cash", 1).await;
        let _ = source_ref;
        let visit: i64 = app.scalar("SELECT MAX(id) FROM visits").await;
        let page = acc.get(&format!("/billing/visits/{visit}")).await;
        assert!(page.body.contains("KES 600.00"), "priced by the list in force");
    }
}

async fn scalar_patient(db: &Db, visit: i64) -> i64 {
    sqlx::query("SELECT patient_id FROM visits WHERE id = $1")
        .bind(visit)
        .fetch_one(db.read())
        .await
        .unwrap()
        .get(0)
}

/// What `hms billing verify` would print, run in-process.
async fn hms_billing_verify(db: &Db) -> Vec<String> {
    hms_billing::verify_findings(db).await.unwrap()
}
