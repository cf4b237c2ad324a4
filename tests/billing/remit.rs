//! Remittances: SHA pays for its invoices by one transfer, split over them; the parts must add
//! up to what was received, never exceed what an invoice has open (two remittances racing for
//! the last of one invoice: one wins), a reference is recorded once per scheme, and the rows are
//! never edited or deleted. `billing verify` agrees afterwards. SQLite and PostgreSQL.

use hms_testkit::{each_backend, Client, TestApp};

use super::{cashier, hms_billing_verify, publish, sha_prices, visit_with_charge};

/// An SHA price list covering the test at KES 900, and `n` SHA visits with their SHA share
/// invoiced: the invoices' ids, oldest first.
async fn sha_invoices(app: &TestApp, c: &Client, n: usize) -> Vec<i64> {
    let sha = sha_prices(app, c).await;
    for i in 0..n {
        let (_, visit, _) = visit_with_charge(app.db(), &format!("R-{i}"), "sha", 1).await;
        assert_eq!(c.get(&format!("/billing/visits/{visit}")).await.status, 200);
        let r = c
            .post_form(
                &format!("/billing/visits/{visit}/account"),
                &[
                    ("scheme", &sha.to_string()),
                    ("member_number", "CR1569230130821"),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let r = c
            .post_form(
                &format!("/billing/visits/{visit}/invoice"),
                &[("lines", "1")],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let ids = sqlx::query_scalar::<_, i64>(
        "SELECT id FROM billing_invoices WHERE payer = 'scheme' ORDER BY id",
    )
    .fetch_all(app.db().read())
    .await
    .unwrap();
    assert_eq!(ids.len(), n);
    ids
}

fn remittance<'a>(
    sha: &'a str,
    reference: &'a str,
    amount: &'a str,
    parts: &[(&'a str, &'a str)],
) -> Vec<(String, String)> {
    let mut fields = vec![
        ("scheme".to_string(), sha.to_string()),
        ("reference".into(), reference.into()),
        ("amount".into(), amount.into()),
        ("received_on".into(), hms_core::day::Day::today().form()),
        ("note".into(), String::new()),
    ];
    for (invoice, part) in parts {
        fields.push(("invoice".into(), invoice.to_string()));
        fields.push((format!("part_{invoice}"), part.to_string()));
    }
    fields
}

async fn post(c: &Client, fields: &[(String, String)]) -> hms_testkit::TestResponse {
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    c.post_form("/billing/remittances", &borrowed).await
}

each_backend! {
    async fn a_remittance_pays_its_invoices_once_and_adds_up(app) {
        publish(app.db()).await;
        let c = cashier(&app, "remit1", &["accountant"]).await;
        let empty = c.get("/billing/remittances").await;
        assert_eq!(empty.status, 200);
        assert!(empty.body.contains("id=\"no-remittances\""), "{}", empty.body);
        let sha = app.scalar("SELECT id FROM billing_schemes WHERE code = 'sha'").await.to_string();
        let none = c.get(&format!("/billing/remittances/new?scheme={sha}")).await;
        assert!(none.body.contains("id=\"no-open\""), "{}", none.body);

        let ids = sha_invoices(&app, &c, 2).await;
        let (a, b) = (ids[0].to_string(), ids[1].to_string());
        let form = c.get(&format!("/billing/remittances/new?scheme={sha}")).await;
        assert_eq!(form.status, 200);
        assert!(form.body.contains(&format!("id=\"part-{a}\"")) && form.body.contains(&format!("id=\"part-{b}\"")), "{}", form.body);
        let found = c.get(&format!("/billing/remittances/new?scheme={sha}&q=R-1")).await;
        assert!(found.body.contains(&format!("id=\"part-{b}\"")) && !found.body.contains(&format!("id=\"part-{a}\"")), "search by patient number");

        let paid = || app.scalar("SELECT CAST(COALESCE(SUM(paid_cents), 0) AS BIGINT) FROM billing_invoices");
        // Bad input: a message beside the field, nothing recorded.
        for (fields, field, message) in [
            (remittance(&sha, "PN-1", "1300", &[(&a, "900"), (&b, "300")]), "remit-amount-error", "add up to KES 1,200.00"),
            (remittance(&sha, "PN-1", "1000", &[(&a, "1000")]), &*format!("part-{a}-error"), "More than is open"),
            (remittance(&sha, "PN-1", "900", &[(&a, "-900")]), &*format!("part-{a}-error"), ""),
            (remittance(&sha, "PN-1", "900.001", &[(&a, "900")]), "remit-amount-error", ""),
            (remittance(&sha, "", "900", &[(&a, "900")]), "remit-reference-error", ""),
            (remittance(&sha, "PN-1", "900", &[]), "remit-error", ""),
        ] {
            let r = post(&c, &fields).await;
            assert_eq!(r.status, 422, "{fields:?}: {}", r.body);
            assert!(r.body.contains(&format!("id=\"{field}\"")) && r.body.contains(message), "{fields:?}: {}", r.body);
        }
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_remittances").await, 0);
        assert_eq!(paid().await, 0);

        // SHA pays the first invoice whole and part of the second.
        let r = post(&c, &remittance(&sha, "PN-1", "1,300", &[(&a, "900"), (&b, "400")])).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(paid().await, 130_000);
        let shown = c.get(r.location().unwrap()).await;
        assert_eq!(shown.status, 200);
        assert!(shown.body.contains("PN-1") && shown.body.contains("KES 1,300.00") && shown.body.contains("KES 500.00"), "{}", shown.body);
        // The same reference twice books nothing.
        let again = post(&c, &remittance(&sha, "PN-1", "500", &[(&b, "500")])).await;
        assert_eq!(again.status, 422);
        assert!(again.body.contains("id=\"remit-reference-error\""), "{}", again.body);
        // The paid invoice is no longer listed as open.
        let form = c.get(&format!("/billing/remittances/new?scheme={sha}")).await;
        assert!(!form.body.contains(&format!("id=\"part-{a}\"")) && form.body.contains(&format!("id=\"part-{b}\"")));

        // Two remittances race for the last KES 500 of the second invoice: one is recorded.
        let d = cashier(&app, "remit2", &["accountant"]).await;
        assert_eq!(d.get("/billing/remittances").await.status, 200);
        let (f1, f2) = (remittance(&sha, "PN-2", "500", &[(&b, "500")]), remittance(&sha, "PN-3", "500", &[(&b, "500")]));
        let (r1, r2) = tokio::join!(post(&c, &f1), post(&d, &f2));
        let mut statuses = [r1.status, r2.status];
        statuses.sort();
        assert_eq!(statuses, [303, 422], "{} / {}", r1.body, r2.body);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM billing_remittances").await, 2);
        assert_eq!(paid().await, 180_000);
        assert_eq!(hms_billing_verify(app.db()).await, Vec::<String>::new());

        // Every part audited with its patient; the rows cannot be edited or deleted.
        assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'billing.remittance.part' AND patient_id IS NOT NULL").await, 3);
        for sql in [
            "UPDATE billing_remittances SET amount_cents = 1",
            "DELETE FROM billing_remittances",
            "UPDATE billing_remittance_parts SET amount_cents = 1",
            "DELETE FROM billing_remittance_parts",
        ] {
            let mut tx = app.db().begin().await.unwrap();
            assert!(sqlx::query(sql).execute(&mut *tx).await.is_err(), "refused: {sql}");
            drop(tx);
        }

        // A receptionist takes payments at the desk but does not record remittances.
        app.add_user("remit3", &["receptionist"]).await;
        let desk = app.login("remit3").await;
        assert_eq!(desk.get("/billing/remittances").await.status, 403);
        assert_eq!(desk.get("/billing/remittances/1").await.status, 403);
    }
}
