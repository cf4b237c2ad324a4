//! Billing's demo data: the consultation fee (the facility's fee item, KES 500, unless one is
//! chosen; posted for the week's visits as check-in posts it), the price lists (cash at the departments' prices, SHA covering all,
//! an insurer with a co-pay and a company paying in full, in force from the first day of the
//! history) and the last week's cashier work on the charges the other departments' demo data
//! posted. Each day a cashier's shift takes the cash and M-Pesa visits' payments (cash with
//! change, M-Pesa by code, now and then a card); insured visits are invoiced to their scheme;
//! past shifts are closed on a count (now and then short, with a reason) and approved by the
//! administrator; today's shift stays open, and some of the last clinic day's patients still wait
//! to pay (their waivers for approval). Charges are billed on their visit's day. A week, not
//! the whole history: it is the cashier's recent work the screens and reports show, and it
//! keeps a million-patient run short. Everything goes through the same code as the desk, so
//! `hms billing verify` agrees afterwards.

use chrono::{Duration, NaiveDate, NaiveTime};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sqlx::Row;

use hms_appointments::api as appts;
use hms_core::audit::Actor;
use hms_core::auth::users;
use hms_core::db::{Db, DbError};
use hms_core::demo::{DemoCount, DemoFuture, DemoGenerator, DemoRun};
use hms_core::ids::VisitId;
use hms_core::money::Money;

use crate::adjust::{self, Kind, NewRequest, RefundMethod};
use crate::bill;
use crate::model::{Method, PayerClass};
use crate::pay::{self, Payment};
use crate::prices::{self, PriceLine};
use crate::shifts;

mod sha;

/// Days of cashier work written, ending today.
const WEEK: i64 = 7;

const COUNTS: &[DemoCount] = &[
    DemoCount {
        key: "billing_invoices",
        label: Some("invoices"),
    },
    DemoCount {
        key: "billing_payments",
        label: Some("payments"),
    },
    DemoCount {
        key: "billing_shifts",
        label: None,
    },
    DemoCount {
        key: "billing_credit_notes",
        label: Some("credit notes"),
    },
    DemoCount {
        key: "billing_claims",
        label: Some("SHA claims"),
    },
    DemoCount {
        key: "billing_remittances",
        label: Some("remittances"),
    },
];

pub struct BillingDemo;

impl DemoGenerator for BillingDemo {
    fn counts(&self) -> &'static [DemoCount] {
        COUNTS
    }

    fn generate<'a>(&'a self, run: &'a DemoRun<'a>) -> DemoFuture<'a, ()> {
        Box::pin(async move { generate(run).await.map_err(|e| e.to_string()) })
    }
}

/// RFC 3339 of a Nairobi wall-clock time on `day`.
fn at(day: NaiveDate, hour: u32, minute: u32) -> String {
    let local = day.and_time(NaiveTime::from_hms_opt(hour, minute.min(59), 0).unwrap_or_default());
    let utc = local - Duration::hours(3);
    format!("{}Z", utc.format("%Y-%m-%dT%H:%M:%S%.3f"))
}

async fn generate(run: &DemoRun<'_>) -> Result<(), DbError> {
    let db = run.db;
    let lists: i64 = sqlx::query("SELECT COUNT(*) FROM billing_price_lists")
        .fetch_one(db.read())
        .await?
        .get(0);
    if lists > 0 {
        return Ok(());
    }
    let (Some(cashier), Some(admin)) = (
        users::id_by_username(db, "demo.accountant").await?,
        users::id_by_username(db, "demo.admin").await?,
    ) else {
        return Ok(());
    };
    let mut rng = StdRng::seed_from_u64(run.seed ^ 0xB111);
    let first = run.today - Duration::days(i64::from(run.days.max(1)));
    let week = WEEK.min(i64::from(run.days.max(1)));
    consultation_fees(run, run.today - Duration::days(week - 1)).await?;
    let mut week_visits = visits_by_day(db, run.today - Duration::days(week - 1)).await?;
    // The last day with visits (today, or the last clinic day before it) leaves some patients
    // at the desk and its waivers waiting for approval.
    let last_day = week_visits.keys().next_back().copied();
    let schemes = price_lists(run, first).await?;
    let sha: i64 = sqlx::query("SELECT id FROM billing_schemes WHERE code = 'sha'")
        .fetch_one(db.read())
        .await?
        .get(0);
    let cashier = Actor::cli(Some(cashier));
    let approver = Actor::cli(Some(admin));
    let (mut invoices, mut payments, mut shift_count) = (0u64, 0u64, 0u64);
    let mut notes = 0u64;
    run.progress
        .start(week as u64, "billing: the cashier's week");
    for back in (0..week).rev() {
        let day = run.today - Duration::days(back);
        let today = back == 0;
        let recent = Some(day) == last_day;
        let visits = week_visits.remove(&day).unwrap_or_default();
        let mut tx = db.begin().await?;
        let shift = shifts::open(
            &mut tx,
            &cashier,
            Money::from_shillings(2000),
            &at(day, 7, 30),
        )
        .await
        .map_err(shift_db)?;
        tx.commit().await?;
        shift_count += 1;
        for (n, visit) in visits.iter().enumerate() {
            let minute = (n as u32 * 7) % 540;
            let now = at(day, 8 + minute / 60, minute % 60);
            match PayerClass::of(&visit.payer) {
                PayerClass::Exempt => continue,
                PayerClass::Insured => {
                    let mut tx = db.begin().await?;
                    let issued = async {
                        if visit.payer == "insurance" {
                            let scheme = if rng.random_bool(0.8) {
                                schemes.0
                            } else {
                                schemes.1
                            };
                            bill::set_account(&mut tx, &cashier, visit.id, scheme, Some("M-4471"))
                                .await?;
                        }
                        if visit.payer == "sha" {
                            // A fictional SHA member number, the same for the patient each visit.
                            let member = format!(
                                "CR{:013}",
                                visit.patient_id.get() * 7919 % 10_000_000_000_000
                            );
                            bill::set_account(&mut tx, &cashier, visit.id, sha, Some(&member))
                                .await?;
                        }
                        let bill = bill::load(&mut tx, visit.id).await?;
                        bill::issue(&mut tx, &cashier, &bill, None, &now).await
                    }
                    .await;
                    match issued {
                        Ok(i) => {
                            tx.commit().await?;
                            invoices += [i.patient, i.scheme].iter().flatten().count() as u64;
                            // Now and then the scheme pays less than billed: a credit note.
                            if let Some(invoice) = i.scheme.filter(|_| n % 11 == 3) {
                                let total: Money = sqlx::query(
                                    "SELECT total_cents FROM billing_invoices WHERE id = $1",
                                )
                                .bind(invoice)
                                .fetch_one(db.read())
                                .await?
                                .get(0);
                                let ask = Ask {
                                    invoice,
                                    kind: Kind::Credit,
                                    amount: Money::from_cents(total.cents() / 10)
                                        .max(Money::from_cents(1)),
                                    reason: "The scheme's tariff is lower than billed",
                                    category: None,
                                };
                                notes +=
                                    adjust_demo(db, &cashier, Some(&approver), &ask, None, &now)
                                        .await?;
                            }
                        }
                        Err(bill::BillError::Db(e)) => return Err(e),
                        Err(_) => tx.rollback().await?,
                    }
                }
                PayerClass::Cash => {
                    // Today some are still at the desk.
                    if recent && rng.random_bool(0.3) {
                        continue;
                    }
                    let mut tx = db.begin().await?;
                    let bill = match bill::load(&mut tx, visit.id).await {
                        Ok(b) => b,
                        Err(bill::BillError::Db(e)) => return Err(e),
                        Err(_) => {
                            tx.rollback().await?;
                            continue;
                        }
                    };
                    if bill.due <= Money::ZERO {
                        tx.rollback().await?;
                        continue;
                    }
                    // Now and then a patient who cannot pay is let off (a waiver or an
                    // exemption, approved by the administrator); the last day's wait for approval.
                    if n % 17 == 5 {
                        let issued = bill::issue(&mut tx, &cashier, &bill, None, &now).await;
                        let Ok(bill::Issued {
                            patient: Some(invoice),
                            ..
                        }) = issued
                        else {
                            tx.rollback().await?;
                            continue;
                        };
                        tx.commit().await?;
                        invoices += 1;
                        let category = if n % 2 == 0 { "waiver" } else { "exemption" };
                        let ask = Ask {
                            invoice,
                            kind: Kind::Waiver,
                            amount: bill.due,
                            reason: "Cannot pay: assessed by the social worker",
                            category: Some(category),
                        };
                        let decided = (!recent).then_some(&approver);
                        notes += adjust_demo(db, &cashier, decided, &ask, None, &now).await?;
                        continue;
                    }
                    let method = if visit.payer == "mpesa" {
                        Method::Mpesa
                    } else if rng.random_bool(0.1) {
                        Method::Card
                    } else {
                        Method::Cash
                    };
                    let tendered = match method {
                        // Notes handed over: the amount rounded up to the next hundred.
                        Method::Cash => {
                            Money::from_shillings((bill.due.cents() + 9_999) / 10_000 * 100)
                        }
                        _ => bill.due,
                    };
                    let mut code = |prefix: char| {
                        let tail: String = (0..9)
                            .map(|_| {
                                char::from(
                                    b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"[rng.random_range(0..34)],
                                )
                            })
                            .collect();
                        format!("{prefix}{tail}")
                    };
                    let mpesa_receipt = (method == Method::Mpesa).then(|| code('S'));
                    let card_reference =
                        (method == Method::Card).then(|| format!("T01/{}", code('A')));
                    // Now and then the patient left a deposit first (before a procedure),
                    // which then pays the bill.
                    if n % 29 == 3 && method == Method::Cash {
                        let deposit = crate::deposit::NewDeposit {
                            visit: visit.id,
                            token: format!("demo-deposit-{}", visit.id.get()),
                            method,
                            amount: tendered,
                            mpesa_receipt: None,
                            card_reference: None,
                            at: now.clone(),
                        };
                        let taken = crate::deposit::take(&mut tx, &cashier, &deposit).await;
                        let used = match taken {
                            Ok(_) => {
                                crate::deposit::use_for_bill(
                                    &mut tx, &cashier, visit.id, bill.due, &now,
                                )
                                .await
                            }
                            Err(e) => Err(e),
                        };
                        match used {
                            Ok(_) => {
                                tx.commit().await?;
                                payments += 1;
                                invoices += 1;
                            }
                            Err(bill::BillError::Db(e)) => return Err(e),
                            Err(_) => tx.rollback().await?,
                        }
                        continue;
                    }
                    let payment = Payment {
                        visit: visit.id,
                        token: format!("demo-{}", visit.id.get()),
                        expected: bill.due,
                        method,
                        amount: tendered,
                        mpesa_receipt,
                        card_reference,
                        at: now.clone(),
                    };
                    match pay::pay_audited(&mut tx, &cashier, &payment).await {
                        Ok(_) => {
                            tx.commit().await?;
                            payments += 1;
                            invoices += 1;
                            // Now and then part of it is paid back: a test not done.
                            if n % 23 == 7 && bill.due > Money::from_shillings(200) {
                                let invoice: i64 = sqlx::query(
                                    "SELECT MAX(id) FROM billing_invoices WHERE visit_id = $1 AND payer = 'patient'",
                                )
                                .bind(visit.id)
                                .fetch_one(db.read())
                                .await?
                                .get(0);
                                let ask = Ask {
                                    invoice,
                                    kind: Kind::Refund,
                                    amount: Money::from_shillings(100),
                                    reason: "A test ordered was not done",
                                    category: None,
                                };
                                notes += adjust_demo(
                                    db,
                                    &cashier,
                                    Some(&approver),
                                    &ask,
                                    Some(RefundMethod::Cash),
                                    &now,
                                )
                                .await?;
                            }
                        }
                        Err(bill::BillError::Db(e)) => return Err(e),
                        Err(_) => tx.rollback().await?,
                    }
                }
            }
        }
        if !today {
            let mut tx = db.begin().await?;
            let expected: Money = sqlx::query(
                "SELECT float_cents + cash_taken_cents - cash_refunded_cents FROM billing_shifts WHERE id = $1",
            )
            .bind(shift)
            .fetch_one(&mut *tx)
            .await?
            .get(0);
            let short = rng.random_bool(0.2);
            let counted = if short && expected > Money::from_shillings(50) {
                expected - Money::from_shillings(50)
            } else {
                expected
            };
            let reason = if counted == expected {
                ""
            } else {
                "KES 50 given as change twice"
            };
            let detail = serde_json::json!({ "total": counted.cents() });
            shifts::close(&mut tx, &cashier, counted, &detail, reason, &at(day, 17, 0))
                .await
                .map_err(shift_db)?;
            shifts::approve(&mut tx, &approver, shift, &at(day, 17, 30))
                .await
                .map_err(shift_db)?;
            run.audit_batch(&mut tx, "demo.billing", payments, None)
                .await?;
            tx.commit().await?;
        }
        run.set("billing_invoices", invoices);
        run.set("billing_payments", payments);
        run.set("billing_shifts", shift_count);
        run.set("billing_credit_notes", notes);
        run.progress.advance(1);
    }
    paybill_confirmations(db, &mut rng).await?;
    sha::claims(run, &cashier, last_day, &mut rng).await?;
    sha::remittance(run, &cashier).await
}

/// M-Pesa's paybill confirmations of the week's M-Pesa payments, as the confirmation address
/// receives them (most arrive; a few are still to come), and two payments whose reference names
/// no bill, waiting for a cashier.
async fn paybill_confirmations(db: &Db, rng: &mut StdRng) -> Result<(), DbError> {
    let paid: Vec<(String, Money, Option<i64>)> = sqlx::query(
        "SELECT mpesa_receipt, amount_cents, visit_id FROM billing_payments WHERE method = 'mpesa' ORDER BY id",
    )
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    let strays = [("SDEMO00001", "ACC 44", 300), ("SDEMO00002", "", 1_250)];
    let arriving = paid
        .iter()
        .filter(|_| rng.random_bool(0.9))
        .map(|(code, amount, visit)| {
            let reference = visit
                .map(|v| crate::mpesa::bill_ref(VisitId(v)))
                .unwrap_or_default();
            (code.clone(), reference, *amount)
        })
        .chain(
            strays
                .iter()
                .map(|(c, r, s)| (c.to_string(), r.to_string(), Money::from_shillings(*s))),
        );
    for (code, reference, amount) in arriving {
        let raw = serde_json::json!({
            "TransactionType": "Pay Bill", "TransID": code, "TransAmount": amount.plain(),
            "BillRefNumber": reference, "MSISDN": "25471****678",
        })
        .to_string();
        let incoming = crate::mpesa::Incoming {
            receipt: code,
            amount,
            phone: Some("25471****678".into()),
            bill_ref: Some(reference).filter(|r| !r.is_empty()),
            paid_at: None,
            source: crate::mpesa::Source::C2b,
            push: None,
        };
        crate::mpesa::receive(db, ("c2b_confirmation", &raw), None, incoming).await?;
    }
    Ok(())
}

/// A credit note, waiver or refund the demo asks for.
struct Ask {
    invoice: i64,
    kind: Kind,
    amount: Money,
    reason: &'static str,
    category: Option<&'static str>,
}

/// Asks as the cashier; when `approver` is given, approves it and (a refund) pays it out in the
/// cashier's open shift. Gives the number of credit notes issued (0 or 1).
async fn adjust_demo(
    db: &Db,
    cashier: &Actor,
    approver: Option<&Actor>,
    ask: &Ask,
    refund: Option<RefundMethod>,
    now: &str,
) -> Result<u64, DbError> {
    let request = NewRequest {
        invoice: ask.invoice,
        kind: ask.kind,
        amount: ask.amount,
        reason: ask.reason.to_string(),
        category: ask.category.map(str::to_string),
    };
    let mut tx = db.begin().await?;
    let id = adjust::request(&mut tx, cashier, &request, now)
        .await
        .map_err(adjust_db)?;
    let Some(approver) = approver else {
        tx.commit().await?;
        return Ok(0);
    };
    let note = adjust::decide(&mut tx, approver, id, true, "", now)
        .await
        .map_err(adjust_db)?;
    if let Some(method) = refund {
        adjust::pay_out(&mut tx, cashier, id, method, now)
            .await
            .map_err(adjust_db)?;
        tx.commit().await?;
        return Ok(1);
    }
    tx.commit().await?;
    Ok(u64::from(note.is_some()))
}

fn adjust_db(e: adjust::AdjustError) -> DbError {
    match e {
        adjust::AdjustError::Db(d) => d,
        _ => DbError::Conflict,
    }
}

fn shift_db(e: shifts::ShiftError) -> DbError {
    match e {
        shifts::ShiftError::Db(d) => d,
        _ => DbError::Conflict,
    }
}

/// The consultation fee of every visit since `from`, as check-in posts it once the facility has
/// chosen its fee item (chosen here when it has not: KES 500).
async fn consultation_fees(run: &DemoRun<'_>, from: NaiveDate) -> Result<(), DbError> {
    let db = run.db;
    let mut tx = db.begin().await?;
    if appts::consultation_item(&mut tx).await?.is_none() {
        crate::prices::set_consultation_fee(&mut tx, Some(Money::from_shillings(500))).await?;
    }
    tx.commit().await?;
    let ids = appts::visit_ids_since(db, hms_core::day::Day::new(from)).await?;
    for chunk in ids.chunks(200) {
        let visits = appts::visits(db, chunk).await?;
        let mut tx = db.begin().await?;
        for v in &visits {
            appts::post_consultation_fee(
                &mut tx,
                v.id,
                v.patient_id,
                appts::FIRST_POINT,
                run.actor,
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// The price lists; the insurer's and the company's scheme ids.
async fn price_lists(run: &DemoRun<'_>, from: NaiveDate) -> Result<(i64, i64), DbError> {
    let db = run.db;
    let items: Vec<(String, Money)> =
        sqlx::query("SELECT code, price_cents FROM charge_items ORDER BY code")
            .fetch_all(db.read())
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    let line = |(code, price): &(String, Money), copay: Money| PriceLine {
        item: code.clone(),
        price: *price,
        covered: true,
        copay: if copay > *price { *price } else { copay },
        scheme_code: None,
        tax_type: "A".into(),
    };
    let mut tx = db.begin().await?;
    let insurer = prices::add_scheme(
        &mut tx,
        run.actor,
        "afya-bora",
        "Afya Bora Insurance",
        "insurer",
        None,
    )
    .await?
    .ok_or(DbError::Conflict)?;
    let company = prices::add_scheme(
        &mut tx,
        run.actor,
        "tana-hardware",
        "Tana Hardware Ltd",
        "corporate",
        Some("P051234567X"),
    )
    .await?
    .ok_or(DbError::Conflict)?;
    let lists = [
        (
            "cash",
            Vec::from_iter(items.iter().map(|i| line(i, Money::ZERO))),
        ),
        (
            "sha",
            Vec::from_iter(items.iter().map(|i| line(i, Money::ZERO))),
        ),
        // A tenth of the price per unit, in whole shillings.
        (
            "afya-bora",
            Vec::from_iter(
                items
                    .iter()
                    .map(|i| line(i, Money::from_shillings(i.1.cents() / 1000))),
            ),
        ),
        (
            "tana-hardware",
            Vec::from_iter(items.iter().map(|i| line(i, Money::ZERO))),
        ),
    ];
    if !items.is_empty() {
        for (code, lines) in &lists {
            let scheme = prices::scheme_by_code(&mut tx, code)
                .await?
                .ok_or(DbError::Conflict)?;
            prices::add_list(
                &mut tx,
                run.actor,
                &scheme,
                from,
                Some("Demo prices"),
                lines,
            )
            .await
            .map_err(|e| match e {
                prices::ListError::Db(d) => d,
                prices::ListError::DateTaken => DbError::Conflict,
            })?;
        }
    }
    run.audit_batch(&mut tx, "demo.billing_prices", lists.len() as u64, None)
        .await?;
    tx.commit().await?;
    Ok((insurer, company))
}

/// The week's visits by day (oldest first within a day): their charges are billed on the visit's
/// own day, whenever the department's demo posted them.
async fn visits_by_day(
    db: &Db,
    from: NaiveDate,
) -> Result<std::collections::BTreeMap<NaiveDate, Vec<appts::Visit>>, DbError> {
    let ids = appts::visit_ids_since(db, hms_core::day::Day::new(from)).await?;
    let mut by_day: std::collections::BTreeMap<NaiveDate, Vec<appts::Visit>> = Default::default();
    for v in appts::visits(db, &ids).await? {
        by_day.entry(v.day.date()).or_default().push(v);
    }
    for visits in by_day.values_mut() {
        visits.sort_by_key(|v| v.id.get());
    }
    Ok(by_day)
}
