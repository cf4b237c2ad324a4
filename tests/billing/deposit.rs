//! Deposits: taken at the desk with a receipt in the cashier's shift (a form posted twice books
//! once, bad amounts change nothing), held for the visit, then used to pay its bill; two desks
//! using the same deposit at once spend it once. The rows refuse edits and deletes by raw SQL,
//! and `billing verify` agrees. SQLite and PostgreSQL.

use hms_testkit::{each_backend, Client};

use super::{cashier, hms_billing_verify, pay, publish, visit_with_charge};

/// The deposit form's one-time token on the visit's page.
async fn deposit_token(c: &Client, visit: i64) -> String {
    let page = c.get(&format!("/billing/visits/{visit}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let form = &page.body[page
        .body
        .find("id=\"deposit-form\"")
        .expect("the deposit form")..];
    let field = "name=\"token\" value=\"";
    let at = form.find(field).unwrap() + field.len();
    form[at..at + form[at..].find('"').unwrap()].to_string()
}

/// What the visit's page says is due, in cents (the pay form's `expected`).
async fn due(c: &Client, visit: i64) -> String {
    let page = c.get(&format!("/billing/visits/{visit}")).await;
    let field = "name=\"expected\" value=\"";
    let at = page.body.find(field).expect("a due amount") + field.len();
    page.body[at..at + page.body[at..].find('"').unwrap()].to_string()
}

each_backend! {
    async fn a_deposit_is_taken_once_held_and_pays_the_bill_once(app) {
        let db = app.db();
        publish(db).await;
        let c = cashier(&app, "dep1", &["receptionist"]).await;
        // Two tests at KES 850: KES 1,700 to pay.
        let (_, visit, _) = visit_with_charge(db, "D-100", "cash", 2).await;
        let page = c.get(&format!("/billing/visits/{visit}")).await;
        assert!(page.body.contains("id=\"take-deposit\"") && !page.body.contains("id=\"use-deposit\""), "{}", page.body);

        let token = deposit_token(&c, visit).await;
        let at = format!("/billing/visits/{visit}/deposit");
        for (fields, error) in [
            (vec![("method", "cash"), ("amount", "-5")], "deposit-amount-error"),
            (vec![("method", "cash"), ("amount", "12.345")], "deposit-amount-error"),
            (vec![("method", "mpesa"), ("amount", "1000"), ("mpesa_code", "nope")], "deposit-mpesa-error"),
            (vec![("method", "cheque"), ("amount", "1000")], "deposit-method-error"),
        ] {
            let mut all = vec![("token", token.as_str())];
            all.extend(fields.iter().copied());
            let r = c.post_form(&at, &all).await;
            assert_eq!(r.status, 422, "{fields:?}");
            assert!(r.body.contains(&format!("id=\"{error}\"")), "{fields:?}: {}", r.body);
        }
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_payments").await, 0);

        // KES 1,000 in cash; the same form posted twice books it once.
        let form = [("token", token.as_str()), ("method", "cash"), ("amount", "1000")];
        let (r1, r2) = tokio::join!(c.post_form(&at, &form), c.post_form(&at, &form));
        assert_eq!((r1.status, r2.status), (303, 303), "{} / {}", r1.body, r2.body);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_payments WHERE purpose = 'deposit'").await, 1);
        assert_eq!(app.scalar("SELECT cash_taken_cents FROM billing_shifts").await, 100_000);
        let receipt = app.scalar("SELECT id FROM billing_payments").await;
        let pdf = hms_testkit::pdf::text(&c.get(&format!("/billing/receipts/{receipt}.pdf")).await.bytes);
        assert!(pdf.contains("Deposit towards the bill") && pdf.contains("1,000.00"), "{pdf}");
        let page = c.get(&format!("/billing/visits/{visit}")).await;
        assert!(page.body.contains("id=\"deposit-left\"") && page.body.contains("KES 1,000.00") && page.body.contains("id=\"use-deposit\""), "{}", page.body);

        // Used against a bill that changed since the page: 409, nothing spent.
        let stale = c.post_form(&format!("{at}/use"), &[("expected", "1")]).await;
        assert_eq!(stale.status, 409);
        assert_eq!(app.scalar("SELECT used_cents FROM billing_deposits").await, 0);
        // Two desks use it at once: it pays KES 1,000 of the bill once.
        let d = cashier(&app, "dep2", &["accountant"]).await;
        let expected = due(&c, visit).await;
        assert_eq!(expected, "170000");
        let use_form = [("expected", expected.as_str())];
        let use_at = format!("{at}/use");
        let (u1, u2) = tokio::join!(c.post_form(&use_at, &use_form), d.post_form(&use_at, &use_form));
        let mut statuses = [u1.status, u2.status];
        statuses.sort();
        assert_eq!(statuses, [303, 409], "{} / {}", u1.body, u2.body);
        assert_eq!(app.scalar("SELECT used_cents FROM billing_deposits").await, 100_000);
        assert_eq!(app.scalar("SELECT paid_cents FROM billing_invoices").await, 100_000);
        assert_eq!(due(&c, visit).await, "70000");
        let again = c.post_form(&format!("{at}/use"), &[("expected", "70000")]).await;
        assert_eq!(again.status, 400, "nothing left of the deposit");

        // The rest paid at the desk as usual; the books agree.
        assert_eq!(pay(&c, visit, &[("method", "cash"), ("amount", "700")]).await.status, 303);
        assert_eq!(app.scalar("SELECT paid_cents FROM billing_invoices").await, 170_000);
        assert_eq!(hms_billing_verify(db).await, Vec::<String>::new());
        assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action IN ('billing.deposit', 'billing.deposit.used') AND patient_id IS NOT NULL").await, 2);
        for sql in [
            "UPDATE billing_deposits SET amount_cents = 1",
            "UPDATE billing_deposits SET used_cents = 0",
            "DELETE FROM billing_deposits",
        ] {
            let mut tx = db.begin().await.unwrap();
            assert!(sqlx::query(sql).execute(&mut *tx).await.is_err(), "refused: {sql}");
            drop(tx);
        }

        // A doctor sees no desk and takes no deposit.
        app.add_user("dep3", &["doctor"]).await;
        let doctor = app.login("dep3").await;
        assert_eq!(doctor.post_form(&at, &[("token", "x1"), ("method", "cash"), ("amount", "10")]).await.status, 403);
    }
}
