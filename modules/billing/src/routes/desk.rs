//! The cashier desk. `/billing` lists visits with something to pay (newest charges of the last
//! three days, or open patient invoices), with a search by patient number; `/billing/visits/:id`
//! shows the bill priced by the visit's scheme, its invoices and receipts, and the payment form;
//! `POST /billing/visits/:id/pay` (fields `token`, `expected` in cents, `method`, `amount`,
//! `mpesa_code`, `card_terminal`, `card_approval`) answers 303 to the visit with the receipt,
//! 422 with messages beside the fields, 409 when the bill changed since the page was shown.

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

use hms_appointments::api as appts;
use hms_core::audit::Event;
use hms_core::db::DbError;
use hms_core::http::{render, render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::ids::{PatientId, VisitId};
use hms_core::money::Money;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};
use hms_patients::api as patients;

use crate::bill::{self, BillError};
use crate::model::{self, Method, PayerClass};
use crate::pay::{self as payments, Payment};
use crate::{COLLECT, INVOICE, VIEW};

const PAGE: i64 = 25;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/billing", Access::Permission(COLLECT), desk),
        RouteSpec::get("/billing/visits/:id", Access::Permission(VIEW), visit_page),
        RouteSpec::post("/billing/visits/:id/pay", Access::Permission(COLLECT), pay),
        RouteSpec::post(
            "/billing/visits/:id/invoice",
            Access::Permission(INVOICE),
            issue,
        ),
        RouteSpec::post(
            "/billing/visits/:id/account",
            Access::Permission(COLLECT),
            account,
        ),
    ]
}

#[derive(Debug, Default, Deserialize)]
pub struct DeskQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    page: Option<String>,
}

/// A visit waiting at the desk.
#[derive(Debug, serde::Serialize)]
pub struct Waiting {
    pub visit: i64,
    pub patient: i64,
    pub number: String,
    pub name: String,
    pub payer: String,
    pub amount: String,
    pub since: String,
}

/// Visits with unbilled charges since `since` or an open patient invoice, oldest first.
pub async fn waiting(
    db: &hms_core::db::Db,
    since: &str,
    patient: Option<PatientId>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Waiting>, DbError> {
    let rows = sqlx::query(
        "SELECT w.visit_id, w.patient_id, CAST(SUM(w.amount) AS BIGINT), MIN(w.at) FROM ( \
           SELECT c.visit_id, c.patient_id, c.quantity * c.unit_price_cents AS amount, c.posted_at AS at \
           FROM charges c WHERE c.posted_at >= $1 AND c.visit_id IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM billing_lines l WHERE l.charge_id = c.id) \
           UNION ALL \
           SELECT i.visit_id, i.patient_id, i.total_cents - i.paid_cents - i.credited_cents, i.issued_at \
           FROM billing_invoices i WHERE i.payer = 'patient' AND i.status = 'issued' \
           AND i.paid_cents + i.credited_cents < i.total_cents AND i.visit_id IS NOT NULL) w \
         WHERE ($2 = 0 OR w.patient_id = $2) \
         GROUP BY w.visit_id, w.patient_id HAVING SUM(w.amount) > 0 \
         ORDER BY MIN(w.at) LIMIT CAST($3 AS BIGINT) OFFSET CAST($4 AS BIGINT)",
    )
    .bind(since)
    .bind(patient.map(|p| p.get()).unwrap_or(0))
    .bind(limit)
    .bind(offset)
    .fetch_all(db.read())
    .await?;
    let visit_ids: Vec<VisitId> = rows.iter().map(|r| VisitId(r.get(0))).collect();
    let patient_ids: Vec<PatientId> = rows.iter().map(|r| PatientId(r.get(1))).collect();
    let visits = appts::visits(db, &visit_ids).await?;
    let cards = patients::cards(db, &patient_ids).await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let visit: i64 = r.get(0);
            let patient: i64 = r.get(1);
            let card = cards.iter().find(|c| c.id.get() == patient);
            let payer = visits
                .iter()
                .find(|v| v.id.get() == visit)
                .map(|v| v.payer.as_str());
            // Exempt visits have nothing to pay at the desk.
            if payer.is_some_and(|p| PayerClass::of(p) == PayerClass::Exempt) {
                return None;
            }
            let payer = payer.map(appts::payer_label).unwrap_or_default();
            Some(Waiting {
                visit,
                patient,
                number: card.map(|c| c.number.clone()).unwrap_or_default(),
                name: card.map(|c| c.full_name.clone()).unwrap_or_default(),
                payer,
                amount: Money::from_cents(r.get(2)).to_string(),
                since: hms_core::clock::display_rfc3339(&r.get::<String, _>(3)),
            })
        })
        .collect())
}

/// Three Nairobi days back, as the desk looks for charges.
pub fn desk_since() -> String {
    let day = hms_core::day::Day::today().plus_days(-2);
    chrono::DateTime::from_timestamp_millis(day.start_ms())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// GET `/billing`.
#[handler]
pub async fn desk(cx: Ctx, Query(q): Query<DeskQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let user = cx.require_user()?.id;
    let shift = crate::shifts::open_of(db, user).await?;
    let search = q.q.unwrap_or_default().trim().to_string();
    let page = super::page(q.page.as_deref());
    let mut not_found = false;
    let patient = if search.is_empty() {
        None
    } else {
        match patients::card_by_number(db, &search).await? {
            Some(c) => Some(c.id),
            None => {
                not_found = true;
                None
            }
        }
    };
    let rows = if not_found {
        Vec::new()
    } else {
        waiting(db, &desk_since(), patient, PAGE + 1, (page - 1) * PAGE).await?
    };
    let has_next = rows.len() as i64 > PAGE;
    let rows: Vec<_> = rows.into_iter().take(PAGE as usize).collect();
    let mut c = tera::Context::new();
    c.insert("shift", &shift);
    c.insert("rows", &rows);
    c.insert("q", &search);
    c.insert("not_found", &not_found);
    c.insert("page", &page);
    c.insert("has_next", &has_next);
    render(&cx, "billing/desk.html", c)
}

pub(super) async fn visit_context(
    cx: &Ctx,
    visit: VisitId,
) -> AppResult<(tera::Context, bill::Bill)> {
    let db = &cx.app().db;
    let mut tx = db.begin().await?;
    let loaded = bill::load(&mut tx, visit).await;
    tx.rollback().await.ok();
    let bill = match loaded {
        Ok(b) => b,
        Err(BillError::NoVisit) => return Err(AppError::NotFound),
        Err(e) => return Err(e.into_app()),
    };
    let card = patients::card(db, bill.patient)
        .await?
        .ok_or(AppError::NotFound)?;
    cx.audit_read(
        Event::new("billing.visit.view", "visit", Some(visit.get())).patient(bill.patient.get()),
    )
    .await;
    let receipts = sqlx::query(
        "SELECT id, receipt_number, method, amount_cents, received_at, purpose FROM billing_payments \
         WHERE visit_id = $1 ORDER BY id",
    )
    .bind(visit)
    .fetch_all(db.read())
    .await
    .map_err(DbError::from)?
    .iter()
    .map(|r| {
        json!({
            "id": r.get::<i64, _>(0), "number": r.get::<String, _>(1),
            "method": t(Method::parse(&r.get::<String, _>(2)).unwrap_or(Method::Cash).label_key()),
            "amount": Money::from_cents(r.get(3)).to_string(),
            "at": hms_core::clock::display_rfc3339(&r.get::<String, _>(4)),
            "deposit": r.get::<String, _>(5) == "deposit",
        })
    })
    .collect::<Vec<_>>();
    let user = cx.require_user()?.id;
    let shift = crate::shifts::open_of(db, user).await?;
    let mut c = tera::Context::new();
    c.insert(
        "patient",
        &json!({ "id": card.id.get(), "number": card.number, "name": card.full_name }),
    );
    c.insert("visit", &visit.get());
    c.insert("payer", &appts::payer_label(&bill.payer));
    c.insert("scheme", &bill.scheme);
    c.insert("exempt", &(bill.class == PayerClass::Exempt));
    c.insert("insured", &(bill.class == PayerClass::Insured));
    c.insert("lines", &bill.unbilled);
    c.insert("invoices", &bill.invoices);
    c.insert("receipts", &receipts);
    c.insert("due", &bill.due.to_string());
    c.insert("due_cents", &bill.due.cents());
    c.insert("due_plain", &bill.due.plain());
    c.insert("scheme_due", &bill.scheme_due.to_string());
    c.insert("has_due", &(bill.due > Money::ZERO));
    c.insert("shift", &shift);
    c.insert("can_collect", &cx.can(COLLECT));
    c.insert("can_invoice", &cx.can(INVOICE));
    c.insert("lines_count", &bill.unbilled.len());
    c.insert("scheme_id", &bill.scheme_id);
    c.insert("schemes", &crate::prices::schemes(db).await?);
    c.insert("token", &hms_core::auth::random_token());
    c.insert("deposit_token", &hms_core::auth::random_token());
    c.insert("bill_ref", &crate::mpesa::bill_ref(visit));
    c.insert(
        "stk_on",
        &crate::daraja::Daraja::from_config(&cx.app().config).is_some(),
    );
    c.insert("push", &super::mpesa::latest_push(db, visit).await?);
    let deposits = crate::deposit::of_visit(db, visit).await?;
    let deposit_left = deposits.iter().fold(Money::ZERO, |s, d| s + d.left);
    c.insert("deposits", &deposits);
    c.insert("deposit_errors", &FormErrors::new());
    c.insert("deposit_typed", &json!({ "method": "cash" }));
    c.insert("deposit_open", &false);
    c.insert("deposit_left", &deposit_left);
    let phone = patients::contacts(db, &[bill.patient])
        .await?
        .into_iter()
        .next()
        .and_then(|(_, c)| c.phone)
        .map(|p| hms_core::phone::display(&p))
        .unwrap_or_default();
    c.insert("patient_phone", &phone);
    let sha = sqlx::query(
        "SELECT s.kind, a.eligibility, a.eligibility_checked_at FROM billing_schemes s \
         LEFT JOIN billing_accounts a ON a.visit_id = $2 AND a.scheme_id = s.id WHERE s.id = $1",
    )
    .bind(bill.scheme_id)
    .bind(visit)
    .fetch_optional(db.read())
    .await
    .map_err(DbError::from)?
    .filter(|r| r.get::<String, _>(0) == "sha");
    c.insert("sha_visit", &sha.is_some());
    c.insert(
        "eligibility",
        &sha.as_ref().and_then(|r| r.get::<Option<String>, _>(1)),
    );
    c.insert("can_claim", &cx.can(crate::CLAIMS));
    c.insert(
        "hie_on",
        &crate::claims::Hie::from_config(&cx.app().config).is_some(),
    );
    Ok((c, bill))
}

/// GET `/billing/visits/:id`.
#[handler]
pub async fn visit_page(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let (mut c, _) = visit_context(&cx, VisitId(id)).await?;
    c.insert("errors", &FormErrors::new());
    c.insert("typed", &json!({ "method": "cash" }));
    render(&cx, "billing/visit.html", c)
}

impl BillError {
    pub(super) fn into_app(self) -> AppError {
        match self {
            BillError::Db(DbError::Conflict) | BillError::Stale => {
                AppError::Conflict(t(self.key()))
            }
            BillError::CreditLimit(left) => {
                AppError::Conflict(t(self.key()).replace("{left}", &left.to_string()))
            }
            BillError::Db(e) => e.into(),
            BillError::NoVisit => AppError::NotFound,
            other => AppError::BadRequest(t(other.key())),
        }
    }
}

/// POST `/billing/visits/:id/pay`.
#[handler]
pub async fn pay(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let visit = VisitId(id);
    let mut errors = FormErrors::new();
    let typed = typed_tender(&form);
    let token = form.get("token").trim().to_string();
    if token.is_empty() || token.len() > 100 {
        errors.add("token", t("billing.error_token"));
    }
    let expected = form
        .get("expected")
        .trim()
        .parse::<i64>()
        .ok()
        .map(Money::from_cents);
    let Tender {
        method,
        amount,
        mpesa,
        card,
    } = tender(&form, &mut errors);
    let Some(expected) = expected else {
        return Err(AppError::Conflict(t("billing.error_stale")));
    };
    if !errors.is_empty() {
        return form_again(&cx, visit, StatusCode::UNPROCESSABLE_ENTITY, typed, errors).await;
    }
    let (Some(method), Some(amount)) = (method, amount) else {
        return Err(AppError::BadRequest(t("billing.error_method")));
    };
    let payment = Payment {
        visit,
        token: token.clone(),
        expected,
        method,
        amount,
        mpesa_receipt: mpesa,
        card_reference: card,
        at: hms_core::clock::now_rfc3339(),
    };
    let db = &cx.app().db;
    // Through the group writer: payments at several desks share commits.
    let booked = match db.write_or_refuse((cx.actor(), payment), pay_job).await {
        Ok(b) => b,
        Err(e) => {
            // A second click of the same form, racing the first: the first's payment stands.
            if let BillError::Db(ref d) = e {
                if d.unique_constraint()
                    .is_some_and(|c| c.contains("form_token"))
                {
                    let mut tx = db.begin().await?;
                    let earlier = payments::by_token(&mut tx, &token).await?;
                    tx.rollback().await.ok();
                    if let Some(p) = earlier {
                        return Ok(see_other(&format!("/billing/visits/{id}?receipt={p}")));
                    }
                }
                if d.is_unique() {
                    return Err(AppError::Conflict(t("billing.error_stale")));
                }
            }
            return match e {
                BillError::Amount => {
                    errors.add("amount", t(e.key()));
                    form_again(&cx, visit, StatusCode::UNPROCESSABLE_ENTITY, typed, errors).await
                }
                BillError::ReferenceUsed => {
                    let field = if method == Method::Mpesa {
                        "mpesa_code"
                    } else {
                        "card_approval"
                    };
                    errors.add(field, t(e.key()));
                    form_again(&cx, visit, StatusCode::UNPROCESSABLE_ENTITY, typed, errors).await
                }
                BillError::NoShift
                | BillError::NothingDue
                | BillError::Exempt
                | BillError::Negative => {
                    errors.add("form", t(e.key()));
                    form_again(&cx, visit, StatusCode::UNPROCESSABLE_ENTITY, typed, errors).await
                }
                other => Err(other.into_app()),
            };
        }
    };
    if booked.new && booked.change > Money::ZERO {
        cx.flash(FlashKind::Success, t_change(booked.change));
    } else if booked.new {
        cx.flash(FlashKind::Success, t("billing.paid"));
    }
    Ok(see_other(&format!(
        "/billing/visits/{id}?receipt={}",
        booked.payment
    )))
}

/// The money fields of a payment or deposit form, read.
pub(super) struct Tender {
    pub method: Option<Method>,
    pub amount: Option<Money>,
    pub mpesa: Option<String>,
    pub card: Option<String>,
}

/// What was typed into the money fields, to show the form again.
pub(super) fn typed_tender(form: &Form) -> serde_json::Value {
    json!({
        "method": form.get("method"), "amount": form.get("amount"),
        "mpesa_code": form.get("mpesa_code"), "card_terminal": form.get("card_terminal"),
        "card_approval": form.get("card_approval"),
    })
}

/// Reads `method`, `amount`, `mpesa_code`, `card_terminal` and `card_approval`; a message for
/// a field goes under its name.
pub(super) fn tender(form: &Form, errors: &mut FormErrors) -> Tender {
    let method = Method::parse(form.get("method"));
    let amount = match model::amount(form.get("amount")) {
        Ok(a) => Some(a),
        Err(key) => {
            errors.add("amount", t(key));
            None
        }
    };
    let (mut mpesa, mut card) = (None, None);
    match method {
        None => errors.add("method", t("billing.error_method")),
        Some(Method::Mpesa) => match model::mpesa_code(form.get("mpesa_code")) {
            Ok(code) => mpesa = Some(code),
            Err(key) => errors.add("mpesa_code", t(key)),
        },
        Some(Method::Card) => {
            match model::card_reference(form.get("card_terminal"), form.get("card_approval")) {
                Ok(r) => card = Some(r),
                Err(key) => errors.add("card_approval", t(key)),
            }
        }
        Some(Method::Cash) => {}
    }
    Tender {
        method,
        amount,
        mpesa,
        card,
    }
}

fn pay_job<'c>(
    tx: &'c mut hms_core::db::Tx,
    (actor, payment): &'c (hms_core::audit::Actor, Payment),
) -> hms_core::group_commit::RefusableFuture<'c, payments::Booked, BillError> {
    Box::pin(payments::pay(tx, actor, payment))
}

fn t_change(change: Money) -> String {
    t("billing.paid_change").replace("{change}", &change.to_string())
}

async fn form_again(
    cx: &Ctx,
    visit: VisitId,
    status: StatusCode,
    typed: serde_json::Value,
    errors: FormErrors,
) -> AppResult<Response> {
    let (mut c, _) = visit_context(cx, visit).await?;
    c.insert("errors", &errors);
    c.insert("typed", &typed);
    render_status(cx, status, "billing/visit.html", c)
}

/// POST `/billing/visits/:id/invoice` (field `lines`, the number of lines the page showed):
/// issues the unbilled lines to their payers without a payment.
#[handler]
pub async fn issue(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let expected: usize = form
        .get("lines")
        .trim()
        .parse()
        .map_err(|_| AppError::Conflict(t("billing.error_stale")))?;
    let mut tx = cx.app().db.begin().await?;
    match bill::issue_now_audited(
        &mut tx,
        &cx.actor(),
        VisitId(id),
        expected,
        &hms_core::clock::now_rfc3339(),
    )
    .await
    {
        Ok(_) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("billing.issued_flash"));
            Ok(see_other(&format!("/billing/visits/{id}")))
        }
        Err(e) => {
            tx.rollback().await.ok();
            Err(e.into_app())
        }
    }
}

/// POST `/billing/visits/:id/account` (fields `scheme`, `member_number`): who pays for the visit,
/// while nothing of it is invoiced.
#[handler]
pub async fn account(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    appts::visit(db, VisitId(id))
        .await?
        .ok_or(AppError::NotFound)?;
    let scheme = form.get("scheme").trim().parse::<i64>().ok();
    let member = form.get("member_number").trim();
    let mut errors = FormErrors::new();
    let known = match scheme {
        Some(s) => crate::prices::scheme(db, s).await?,
        None => None,
    };
    if known.is_none() {
        errors.add("scheme", t("billing.error_scheme"));
    }
    let member_ok = member.chars().count() <= 40
        && member
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-/ ".contains(c));
    if !member_ok {
        errors.add("member_number", t("billing.error_member"));
    }
    let typed = json!({ "method": "cash", "member_number": member });
    let (Some(scheme), true) = (known, errors.is_empty()) else {
        return form_again(
            &cx,
            VisitId(id),
            StatusCode::UNPROCESSABLE_ENTITY,
            typed,
            errors,
        )
        .await;
    };
    let mut tx = db.begin().await?;
    let member = Some(member).filter(|m| !m.is_empty());
    match bill::set_account(&mut tx, &cx.actor(), VisitId(id), scheme.id, member).await {
        Ok(()) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("billing.account_saved"));
            Ok(see_other(&format!("/billing/visits/{id}")))
        }
        Err(e) => {
            tx.rollback().await.ok();
            Err(e.into_app())
        }
    }
}
