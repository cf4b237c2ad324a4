//! Credit notes, waivers and refunds: asked for against an invoice, bounded by what is left of
//! it (less what is already asked), decided by a second person and never by the one who asked,
//! once even when two approvers press at the same moment; a refund paid out of the drawer and
//! taken off what was paid; the credit note's PDF; raw SQL refused; `billing verify` agreeing.

use std::sync::Arc;

use hms_core::charges::Clearance;
use hms_core::money::Money;
use hms_testkit::{each_backend, Client, TestApp};

use super::{cashier, clearance, hms_billing_verify, pay, publish, visit_with_charge};

/// Issues the visit's unbilled lines (no payment) and gives the patient's invoice id.
pub(crate) async fn issue(app: &TestApp, c: &Client, visit: i64) -> i64 {
    let r = c
        .post_form(
            &format!("/billing/visits/{visit}/invoice"),
            &[("lines", "1")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    app.scalar("SELECT MAX(id) FROM billing_invoices").await
}

async fn ask(c: &Client, invoice: i64, fields: &[(&str, &str)]) -> hms_testkit::TestResponse {
    assert_eq!(
        c.get(&format!("/billing/invoices/{invoice}")).await.status,
        200
    );
    c.post_form(&format!("/billing/invoices/{invoice}/requests"), fields)
        .await
}

async fn approver(app: &TestApp, name: &str) -> Client {
    app.add_user(name, &["admin"]).await;
    let c = app.login(name).await;
    let page = c.get("/billing/approvals").await;
    assert_eq!(page.status, 200, "{}", page.body);
    c
}

each_backend! {
    async fn a_waiver_is_bounded_decided_by_someone_else_and_lets_the_patient_through(app) {
        let db = app.db();
        publish(db).await;
        let (_, visit, source_ref) = visit_with_charge(db, "A-100", "cash", 1).await;
        let c = cashier(&app, "adj1", &["accountant"]).await;
        let invoice = issue(&app, &c, visit).await;
        assert_eq!(clearance(&app, &source_ref).await, Clearance::Awaiting(Money::from_shillings(850)));
        // Bad input: a message beside the field and nothing recorded.
        for (fields, message) in [
            (vec![("kind", "waiver"), ("amount", "900"), ("category", "waiver"), ("reason", "Cannot pay")], "at most KES 850.00"),
            (vec![("kind", "waiver"), ("amount", "850"), ("reason", "Cannot pay")], "waiver or an exemption"),
            (vec![("kind", "waiver"), ("amount", "850"), ("category", "waiver"), ("reason", "x")], "Give a reason"),
            (vec![("kind", "waiver"), ("amount", "-5"), ("category", "waiver"), ("reason", "Cannot pay")], "amount"),
            (vec![("kind", "gift"), ("amount", "5"), ("reason", "Cannot pay")], "Choose what you are asking for"),
        ] {
            let r = ask(&c, invoice, &fields).await;
            assert_eq!(r.status, 422, "{fields:?}");
            assert!(r.body.to_lowercase().contains(&message.to_lowercase()), "{message}: {}", r.body);
        }
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_requests").await, 0);
        let reason = "Destitute <b>patient</b>, social worker note 14";
        let r = ask(&c, invoice, &[("kind", "waiver"), ("amount", "850"), ("category", "waiver"), ("reason", reason)]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        // What is asked already counts: nothing is left to ask.
        let again = ask(&c, invoice, &[("kind", "credit"), ("amount", "1"), ("reason", "Price error")]).await;
        assert_eq!(again.status, 422);
        assert!(again.body.contains("at most KES 0.00"), "{}", again.body);
        let request: i64 = app.scalar("SELECT MAX(id) FROM billing_requests").await;
        // The cashier holds no approval permission; the asker can never approve.
        assert_eq!(c.post_form(&format!("/billing/approvals/{request}/approve"), &[]).await.status, 403);
        let page = c.get("/billing/approvals").await;
        assert!(page.body.contains(&format!("request-{request}")) && !page.body.contains(&format!("approve-{request}")));
        assert!(page.body.contains("&lt;b&gt;patient"), "free text is escaped on screen");
        assert_eq!(clearance(&app, &source_ref).await, Clearance::Awaiting(Money::from_shillings(850)), "nothing changes before approval");
        let boss = approver(&app, "boss1").await;
        let r = boss.post_form(&format!("/billing/approvals/{request}/approve"), &[("note", "Seen the letter")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(boss.post_form(&format!("/billing/approvals/{request}/approve"), &[]).await.status, 409, "decided once");
        assert_eq!(boss.post_form(&format!("/billing/approvals/{request}/reject"), &[]).await.status, 409);
        assert_eq!(clearance(&app, &source_ref).await, Clearance::Cleared, "waived: the lab may start");
        assert_eq!(app.scalar("SELECT credited_cents FROM billing_invoices").await, 85_000);
        let year = hms_core::day::Day::today().date().format("%Y").to_string();
        let note: i64 = app.scalar("SELECT MAX(id) FROM billing_credit_notes").await;
        let page = boss.get("/billing/approvals").await;
        assert!(page.body.contains(&format!("CN-{year}-000001")), "{}", page.body);
        let pdf = boss.get(&format!("/billing/credit-notes/{note}.pdf")).await;
        assert_eq!(pdf.header("content-type"), Some("application/pdf"));
        let text = hms_testkit::pdf::text(&pdf.bytes);
        for part in [format!("CN-{year}-000001"), format!("INV-{year}-000001"), "A-100".into(),
                     "KES 850.00".into(), "Destitute <b>patient</b>".into(), "Waiver".into()] {
            assert!(text.contains(&part), "{part} in {text}");
        }
        assert!(hms_testkit::pdf::text(&boss.get(&format!("/billing/credit-notes/{note}.pdf")).await.bytes).contains("COPY"));
        let invoice_page = c.get(&format!("/billing/invoices/{invoice}")).await;
        assert!(invoice_page.body.contains(&format!("CN-{year}-000001")) && !invoice_page.body.contains("request-form"),
            "the credit note is listed and nothing is left to ask");
        // An admin who asks cannot approve their own request, even by raw SQL.
        let (_, visit2, _) = visit_with_charge(db, "A-101", "cash", 1).await;
        let both = cashier(&app, "both1", &["accountant", "admin"]).await;
        let invoice2 = issue(&app, &both, visit2).await;
        assert_eq!(ask(&both, invoice2, &[("kind", "credit"), ("amount", "100"), ("reason", "Price error")]).await.status, 303);
        let own: i64 = app.scalar("SELECT MAX(id) FROM billing_requests").await;
        let refused = both.post_form(&format!("/billing/approvals/{own}/approve"), &[]).await;
        assert_eq!(refused.status, 409);
        assert!(refused.body.contains("someone else must approve"), "{}", refused.body);
        for sql in [
            "UPDATE billing_requests SET status = 'done', decided_by = requested_by WHERE status = 'pending'",
            "UPDATE billing_requests SET amount_cents = 1",
            "UPDATE billing_requests SET status = 'pending' WHERE status = 'done'",
            "UPDATE billing_credit_notes SET amount_cents = 1",
            "UPDATE billing_invoices SET credited_cents = 0",
            "UPDATE billing_invoices SET credited_cents = total_cents + 1",
            "DELETE FROM billing_requests",
            "DELETE FROM billing_credit_notes",
        ] {
            let mut tx = db.begin().await.unwrap();
            assert!(sqlx::query(sql).execute(&mut *tx).await.is_err(), "refused: {sql}");
            drop(tx);
        }
        assert_eq!(boss.post_form(&format!("/billing/approvals/{own}/reject"), &[("note", "Price was right")]).await.status, 303);
        assert_eq!(app.audit_count("billing.request").await, 2);
        assert_eq!(app.audit_count("billing.request.approve").await, 1);
        assert_eq!(app.audit_count("billing.request.reject").await, 1);
        assert_eq!(app.audit_count("billing.credit_note").await, 1);
        let verdict = hms_billing_verify(db).await;
        assert!(verdict.is_empty(), "{verdict:?}");
    }

    async fn a_refund_is_bounded_by_what_was_paid_and_comes_out_of_the_drawer(app) {
        let db = app.db();
        publish(db).await;
        let (_, visit, _) = visit_with_charge(db, "A-200", "cash", 2).await;
        let c = cashier(&app, "adj2", &["accountant"]).await;
        assert_eq!(pay(&c, visit, &[("method", "cash"), ("amount", "2000")]).await.status, 303);
        let invoice: i64 = app.scalar("SELECT MAX(id) FROM billing_invoices").await;
        let too_much = ask(&c, invoice, &[("kind", "refund"), ("amount", "1800"), ("reason", "Test not done")]).await;
        assert_eq!(too_much.status, 422);
        assert!(too_much.body.contains("at most KES 1,700.00"), "{}", too_much.body);
        // A paid invoice has nothing left to credit without a refund.
        assert_eq!(ask(&c, invoice, &[("kind", "credit"), ("amount", "10"), ("reason", "Price error")]).await.status, 422);
        assert_eq!(ask(&c, invoice, &[("kind", "refund"), ("amount", "1000"), ("reason", "One test not done")]).await.status, 303);
        let pending = ask(&c, invoice, &[("kind", "refund"), ("amount", "800"), ("reason", "Second thoughts")]).await;
        assert_eq!(pending.status, 422, "the pending refund counts");
        assert!(pending.body.contains("at most KES 700.00"), "{}", pending.body);
        let request: i64 = app.scalar("SELECT MAX(id) FROM billing_requests").await;
        let boss = approver(&app, "boss2").await;
        assert_eq!(boss.post_form(&format!("/billing/approvals/{request}/approve"), &[]).await.status, 303);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_credit_notes").await, 0, "approved, not yet paid out");
        let attention = c.get("/billing/cards/attention").await;
        assert!(attention.body.contains("1 refunds to pay out"), "{}", attention.body);
        // The approver has no shift and no collect permission: only a cashier pays out.
        assert_eq!(boss.post_form(&format!("/billing/approvals/{request}/pay-out"), &[("method", "cash")]).await.status, 403);
        let page = c.get("/billing/approvals").await;
        assert!(page.body.contains(&format!("pay-out-{request}")), "{}", page.body);
        let r = c.post_form(&format!("/billing/approvals/{request}/pay-out"), &[("method", "cash")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(c.post_form(&format!("/billing/approvals/{request}/pay-out"), &[("method", "cash")]).await.status, 409, "paid once");
        assert_eq!(app.scalar("SELECT paid_cents FROM billing_invoices").await, 70_000);
        assert_eq!(app.scalar("SELECT credited_cents FROM billing_invoices").await, 100_000);
        assert_eq!(app.scalar("SELECT cash_refunded_cents FROM billing_shifts").await, 100_000);
        let note: i64 = app.scalar("SELECT MAX(id) FROM billing_credit_notes").await;
        let text = hms_testkit::pdf::text(&c.get(&format!("/billing/credit-notes/{note}.pdf")).await.bytes);
        assert!(text.contains("Refund") && text.contains("KES 1,000.00") && text.contains("Cash"), "{text}");
        // 1,000 float + 1,700 taken - 1,000 paid back = 1,700 in the drawer: no reason needed.
        let closed = c.post_form("/billing/shifts/close", &[("count_1000", "1"), ("count_500", "1"), ("count_100", "2")]).await;
        assert_eq!(closed.status, 303, "{}", closed.body);
        assert_eq!(app.scalar("SELECT expected_cents FROM billing_shifts").await, 170_000);
        let shift: i64 = app.scalar("SELECT MAX(id) FROM billing_shifts").await;
        let z = hms_testkit::pdf::text(&boss.get(&format!("/billing/shifts/{shift}.pdf")).await.bytes);
        assert!(z.contains("Cash refunds paid out") && z.contains("KES 1,000.00"), "{z}");
        // With the shift closed, the next approved refund waits for an open one.
        assert_eq!(ask(&c, invoice, &[("kind", "refund"), ("amount", "700"), ("reason", "Second test not done")]).await.status, 303);
        let second: i64 = app.scalar("SELECT MAX(id) FROM billing_requests").await;
        assert_eq!(boss.post_form(&format!("/billing/approvals/{second}/approve"), &[]).await.status, 303);
        let no_shift = c.post_form(&format!("/billing/approvals/{second}/pay-out"), &[("method", "mpesa")]).await;
        assert_eq!(no_shift.status, 409);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_credit_notes").await, 1);
        let verdict = hms_billing_verify(db).await;
        assert!(verdict.is_empty(), "{verdict:?}");
    }

    async fn racing_requests_never_ask_more_than_is_left_and_two_approvers_issue_one_note(app) {
        let db = app.db();
        publish(db).await;
        let (_, visit, _) = visit_with_charge(db, "A-300", "cash", 1).await;
        let c = Arc::new(cashier(&app, "adj3", &["accountant"]).await);
        let invoice = issue(&app, &c, visit).await;
        assert_eq!(c.get(&format!("/billing/invoices/{invoice}")).await.status, 200);
        // Ten credits of KES 100 against KES 850 at once: eight fit.
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let c = c.clone();
                tokio::spawn(async move {
                    let reason = format!("Price error {i}");
                    c.post_form(&format!("/billing/invoices/{invoice}/requests"),
                        &[("kind", "credit"), ("amount", "100"), ("reason", reason.as_str())]).await.status
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 8, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 2, "{statuses:?}");
        let request: i64 = app.scalar("SELECT MIN(id) FROM billing_requests").await;
        let (a, b) = (approver(&app, "boss3").await, approver(&app, "boss4").await);
        let path = format!("/billing/approvals/{request}/approve");
        let (ra, rb) = tokio::join!(a.post_form(&path, &[]), b.post_form(&path, &[]));
        let mut both = [ra.status, rb.status];
        both.sort();
        assert_eq!(both, [303, 409], "{} / {}", ra.body, rb.body);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_credit_notes").await, 1);
        assert_eq!(app.scalar("SELECT credited_cents FROM billing_invoices").await, 10_000);
        let verdict = hms_billing_verify(db).await;
        assert!(verdict.is_empty(), "{verdict:?}");
    }
}
