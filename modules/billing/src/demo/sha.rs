//! The demo's SHA claims, answered as SHA might, and SHA's payment notice for those approved.

use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::RngExt;
use sqlx::Row;

use hms_core::audit::Actor;
use hms_core::db::DbError;
use hms_core::demo::DemoRun;
use hms_core::money::Money;

/// SHA's payment notice for the claims it approved: one remittance paying what it approved of
/// each (short-paid invoices keep the rest open, as they would until a credit note).
pub(super) async fn remittance(run: &DemoRun<'_>, actor: &Actor) -> Result<(), DbError> {
    let db = run.db;
    let rows = sqlx::query(
        "SELECT c.invoice_id, c.approved_cents, i.total_cents - i.paid_cents - i.credited_cents, \
         i.scheme_id FROM billing_claims c JOIN billing_invoices i ON i.id = c.invoice_id \
         WHERE c.status IN ('approved', 'partial') AND c.approved_cents > 0 ORDER BY c.id",
    )
    .fetch_all(db.read())
    .await?;
    let parts: Vec<(i64, Money)> = rows
        .iter()
        .map(|r| (r.get(0), r.get::<Money, _>(1).min(r.get(2))))
        .filter(|p| p.1 > Money::ZERO)
        .collect();
    let Some(scheme) = rows.first().map(|r| r.get::<i64, _>(3)) else {
        run.set("billing_remittances", 0);
        return Ok(());
    };
    let today = hms_core::day::Day::today().date();
    let remittance = crate::remit::NewRemittance {
        scheme,
        reference: format!("SHA-PN-{}", today.format("%Y%m%d")),
        amount: parts.iter().fold(Money::ZERO, |s, p| s + p.1),
        received_on: today,
        note: Some("Weekly payment notice".into()),
        parts,
    };
    let mut tx = db.begin().await?;
    match crate::remit::record(&mut tx, actor, &remittance, &hms_core::clock::now_rfc3339()).await {
        Ok(_) => tx.commit().await?,
        Err(crate::remit::RemitError::Db(e)) => return Err(e),
        Err(_) => return Err(DbError::Conflict),
    }
    run.set("billing_remittances", 1);
    Ok(())
}

/// SHA claims of the SHA invoices: those of earlier days answered as SHA might (most approved,
/// some in part, a few rejected, some still waiting), the last day's still to send. A facility
/// with no KMHFL code gets a fictional one, since every claim names its provider.
pub(super) async fn claims(
    run: &DemoRun<'_>,
    actor: &Actor,
    last_day: Option<NaiveDate>,
    rng: &mut StdRng,
) -> Result<(), DbError> {
    let db = run.db;
    let code: Option<String> = sqlx::query("SELECT kmhfl_code FROM facilities WHERE id = 1")
        .fetch_one(db.read())
        .await?
        .get(0);
    if code.is_none_or(|c| c.trim().is_empty()) {
        let mut tx = db.begin().await?;
        hms_core::settings::put(&mut tx, "facility_code", "99999").await?;
        tx.commit().await?;
    }
    let invoices: Vec<(i64, String)> = sqlx::query(
        "SELECT i.id, i.issued_at FROM billing_invoices i JOIN billing_schemes s ON s.id = i.scheme_id \
         WHERE i.payer = 'scheme' AND s.kind = 'sha' AND i.status = 'issued' ORDER BY i.id",
    )
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    let mut made = 0u64;
    for (invoice, issued_at) in invoices {
        let id = match crate::claims::prepare(db, actor, invoice, Vec::new()).await {
            Ok(id) => id,
            // A patient without an SHA number is claimed by hand later.
            Err(crate::claims::ClaimError::Db(e)) => return Err(e),
            Err(_) => continue,
        };
        made += 1;
        let day = chrono::DateTime::parse_from_rfc3339(&issued_at)
            .map(|t| hms_core::clock::to_local(t.with_timezone(&chrono::Utc)).date_naive())
            .ok();
        if day.is_none() || day >= last_day {
            continue;
        }
        let total: Money = sqlx::query("SELECT total_cents FROM billing_claims WHERE id = $1")
            .bind(id)
            .fetch_one(db.read())
            .await?
            .get(0);
        let roll = rng.random_range(0..10);
        let (outcome, paid) = match roll {
            0 => ("error", Money::ZERO),
            1 => ("complete", Money::from_cents(total.cents() * 8 / 10)),
            2 => ("queued", Money::ZERO),
            _ => ("complete", total),
        };
        let answer = serde_json::json!({ "resourceType": "ClaimResponse", "id": format!("CR-DEMO-{id}"),
            "outcome": outcome, "disposition": if roll == 0 { "Member not active on the service date" } else { "adjudicated" },
            "total": [{ "category": { "coding": [{ "code": "benefit" }] },
                        "amount": { "value": paid.cents() as f64 / 100.0, "currency": "KES" } }] });
        let d = crate::claims::decision(&answer, total);
        let mut tx = db.begin().await?;
        crate::claims::record_answer(&mut tx, id, &d, &answer, &issued_at).await?;
        tx.commit().await?;
    }
    run.set("billing_claims", made);
    Ok(())
}
