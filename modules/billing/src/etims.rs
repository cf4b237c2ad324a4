//! KRA eTIMS (OSCU). Every invoice and credit note enters a submission queue in the transaction
//! that issues it, as the `saveTrnsSalesOsdc` document KRA will be sent, so a rollback takes the
//! document back with the number and nothing issued is ever missing from the queue. Rows form a
//! chain per facility (SHA-256 of the previous row's hash and the payload; the head row holds the
//! last link and serialises issuing), which `hms billing verify` walks.
//!
//! The sender sends in chain order, one document at a time, while the link is up: an unreachable
//! KRA leaves the document queued and retried later (backing off), a refusal marks it failed and
//! stops the queue until someone looks. A document is claimed by a guarded update before it is
//! sent, so two app servers never send it twice. KRA's receipt number, signature and internal
//! data are stored and printed on the invoice with a QR code.
//!
//! Configured in `[modules.billing]`: `etims_api`, `etims_branch` (bhfId), `etims_device`
//! (dvcSrlNo) and `etims_cmc_key`; the facility's KRA PIN (the tin) is a billing setting.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::Row;

use hms_core::audit::{self, Actor, Event};
use hms_core::config::Config;
use hms_core::db::{Db, DbError, Tx};
use hms_core::module_config::{Setting, SettingKind};
use hms_core::money::Money;
use hms_core::{clock, outbound};

use crate::model::Method;

const MODULE: &str = "billing";
const TIMEOUT: Duration = Duration::from_secs(20);
/// How long a claimed document is left to its sender before another may try it.
const LEASE_SECS: i64 = 60;
/// The hash before a facility's first document.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub const API: Setting = crate::daraja::text(
    "etims_api",
    "KRA eTIMS OSCU address (https://etims-api.kra.go.ke/etims-api, or the sandbox); empty: documents wait in the queue",
);
pub const BRANCH: Setting = Setting {
    key: "etims_branch",
    description: "The branch id KRA gave this facility (bhfId)",
    kind: SettingKind::Text { default: "00" },
};
pub const DEVICE: Setting = crate::daraja::text(
    "etims_device",
    "The device serial number the OSCU was initialised with (dvcSrlNo)",
);
pub const CMC_KEY: Setting = crate::daraja::text(
    "etims_cmc_key",
    "The communication key (cmcKey) KRA returned at initialisation",
);

/// KRA's tax types: A exempt, B 16% VAT, C zero-rated, D not VAT, E 8% VAT. Medical services and
/// most medicines are exempt, hence the default A.
pub const TAX_TYPES: &[(&str, i64)] = &[("A", 0), ("B", 16), ("C", 0), ("D", 0), ("E", 8)];

/// The VAT rate (percent) of a tax type; unknown types are taken as exempt.
pub fn tax_rate(tax_type: &str) -> i64 {
    TAX_TYPES
        .iter()
        .find(|(t, _)| *t == tax_type)
        .map_or(0, |(_, r)| *r)
}

/// The VAT inside a tax-inclusive `amount` at `rate` percent, to the cent (half away from zero).
pub fn tax_in(amount: Money, rate: i64) -> Money {
    let num = amount.cents() * rate;
    let den = 100 + rate;
    Money::from_cents((num + num.signum() * den / 2) / den)
}

/// KRA's payment type code: 01 cash, 02 credit, 05 card, 06 mobile money.
pub fn payment_type(method: Option<Method>) -> &'static str {
    match method {
        Some(Method::Cash) => "01",
        Some(Method::Card) => "05",
        Some(Method::Mpesa) => "06",
        None => "02",
    }
}

/// One item of a document.
pub struct Item<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub quantity: i64,
    pub unit_price: Money,
    pub amount: Money,
    pub tax_type: &'a str,
}

/// What a document is.
pub struct Document<'a> {
    /// The invoice's or credit note's number (trdInvcNo).
    pub number: &'a str,
    /// Sale (`S`) or credit note (`R`).
    pub receipt_type: &'static str,
    /// For a credit note, the eTIMS number of the invoice it reverses.
    pub original: Option<i64>,
    pub customer_pin: Option<&'a str>,
    pub customer_name: Option<&'a str>,
    pub payment_type: &'static str,
    pub reason: Option<&'a str>,
    pub items: Vec<Item<'a>>,
}

fn shillings(m: Money) -> Value {
    json!(m.cents() as f64 / 100.0)
}

/// The `saveTrnsSalesOsdc` body of `doc`, numbered `seq` (invcNo), issued at `at` (RFC 3339).
fn payload(doc: &Document, seq: i64, at: &str) -> Value {
    let local = DateTime::parse_from_rfc3339(at)
        .map(|t| clock::to_local(t.with_timezone(&Utc)))
        .unwrap_or_else(|_| clock::to_local(Utc::now()));
    let stamp = local.format("%Y%m%d%H%M%S").to_string();
    let mut body = json!({
        "trdInvcNo": doc.number, "invcNo": seq, "orgInvcNo": doc.original.unwrap_or(0),
        "custTin": doc.customer_pin, "custNm": doc.customer_name, "salesTyCd": "N",
        "rcptTyCd": doc.receipt_type, "pmtTyCd": doc.payment_type, "salesSttsCd": "02",
        "cfmDt": stamp, "salesDt": local.format("%Y%m%d").to_string(),
        "totItemCnt": doc.items.len(), "prchrAcptcYn": "N", "remark": doc.reason,
        "regrId": "hms", "regrNm": "HMS", "modrId": "hms", "modrNm": "HMS",
        "receipt": { "custTin": doc.customer_pin, "rcptPbctDt": stamp, "prchrAcptcYn": "N" },
    });
    if doc.receipt_type == "R" {
        body["rfdDt"] = json!(stamp);
        body["rfdRsnCd"] = json!("06");
    }
    let (mut taxable, mut tax, mut total) = (Money::ZERO, Money::ZERO, Money::ZERO);
    for (t, rate) in TAX_TYPES {
        let in_type: Money = doc
            .items
            .iter()
            .filter(|i| i.tax_type == *t)
            .map(|i| i.amount)
            .sum();
        let vat = tax_in(in_type, *rate);
        body[format!("taxblAmt{t}")] = shillings(in_type);
        body[format!("taxRt{t}")] = json!(rate);
        body[format!("taxAmt{t}")] = shillings(vat);
        taxable += in_type;
        tax += vat;
        total += in_type;
    }
    body["totTaxblAmt"] = shillings(taxable);
    body["totTaxAmt"] = shillings(tax);
    body["totAmt"] = shillings(total);
    body["itemList"] = doc
        .items
        .iter()
        .enumerate()
        .map(|(n, i)| {
            json!({
                "itemSeq": n + 1, "itemCd": i.code, "itemNm": i.name, "pkgUnitCd": "NT",
                "pkg": i.quantity, "qtyUnitCd": "U", "qty": i.quantity,
                "prc": shillings(i.unit_price), "splyAmt": shillings(i.amount), "dcRt": 0,
                "dcAmt": 0, "taxTyCd": i.tax_type, "taxblAmt": shillings(i.amount),
                "taxAmt": shillings(tax_in(i.amount, tax_rate(i.tax_type))),
                "totAmt": shillings(i.amount),
            })
        })
        .collect();
    body
}

/// The link after `prev` for `payload`.
pub fn link(prev: &str, payload: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(payload.as_bytes());
    hex::encode(h.finalize())
}

/// What a queued document belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Of {
    Invoice(i64),
    CreditNote(i64),
}

/// Queues `doc` for the facility in `tx` (the issuing transaction): takes the next link of the
/// facility's chain, whose head row stays locked until COMMIT. Returns the eTIMS number.
pub async fn enqueue(
    tx: &mut Tx,
    facility: i64,
    of: Of,
    doc: &Document<'_>,
    at: &str,
) -> Result<i64, DbError> {
    let head = sqlx::query(
        "INSERT INTO billing_etims_head (facility_id, last_seq, last_hash) VALUES ($1, 1, $2) \
         ON CONFLICT (facility_id) DO UPDATE SET last_seq = billing_etims_head.last_seq + 1 \
         RETURNING last_seq, last_hash",
    )
    .bind(facility)
    .bind(GENESIS)
    .fetch_one(&mut **tx)
    .await?;
    let seq: i64 = head.get(0);
    // A new head row holds the genesis hash as its (previous) link.
    let prev: String = head.get(1);
    let body = payload(doc, seq, at).to_string();
    let hash = link(&prev, &body);
    sqlx::query("UPDATE billing_etims_head SET last_hash = $2 WHERE facility_id = $1")
        .bind(facility)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    let (invoice, note) = match of {
        Of::Invoice(id) => (Some(id), None),
        Of::CreditNote(id) => (None, Some(id)),
    };
    sqlx::query(
        "INSERT INTO billing_etims_documents (facility_id, seq, invoice_id, credit_note_id, number, \
         payload, prev_hash, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(facility)
    .bind(seq)
    .bind(invoice)
    .bind(note)
    .bind(doc.number)
    .bind(&body)
    .bind(&prev)
    .bind(&hash)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(seq)
}

/// The eTIMS number of an invoice's document, for a credit note citing it.
pub async fn seq_of_invoice(tx: &mut Tx, invoice: i64) -> Result<Option<i64>, DbError> {
    Ok(
        sqlx::query("SELECT seq FROM billing_etims_documents WHERE invoice_id = $1")
            .bind(invoice)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.get(0)),
    )
}

/// A configured OSCU link.
#[derive(Clone)]
pub struct Oscu {
    api: String,
    branch: String,
    device: String,
    key: String,
}

impl Oscu {
    /// The link as configured, when there is an address and a communication key.
    pub fn from_config(config: &Config) -> Option<Self> {
        let get = |s: &Setting| config.module_text(MODULE, s).trim().to_string();
        let api = get(&API).trim_end_matches('/').to_string();
        let key = get(&CMC_KEY);
        if api.is_empty() || key.is_empty() {
            return None;
        }
        Some(Self {
            api,
            branch: get(&BRANCH),
            device: get(&DEVICE),
            key,
        })
    }
}

/// Why an attempt did not get a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// KRA could not be reached (or answered 5xx): still queued.
    Offline(String),
    /// KRA refused it: failed, waiting for someone.
    Refused(String),
}

/// What one round of sending did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Round {
    pub sent: usize,
    pub offline: Option<String>,
    pub refused: Option<String>,
}

fn backoff(attempts: i64) -> chrono::Duration {
    chrono::Duration::seconds((30i64 << attempts.clamp(0, 6)).min(1800))
}

/// Sends what is due for every facility, in chain order, until the queue is empty, KRA is
/// unreachable, or it refuses a document. `now_please`: someone pressed "Send now", so a
/// document backing off after an outage is tried at once (one being sent is still left alone).
pub async fn send_due(db: &Db, oscu: &Oscu, tin: &str, now_please: bool) -> Result<Round, DbError> {
    let mut round = Round::default();
    let facilities: Vec<i64> = sqlx::query(
        "SELECT DISTINCT facility_id FROM billing_etims_documents WHERE status <> 'sent'",
    )
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    for facility in facilities {
        loop {
            let next = sqlx::query(
                "SELECT id, seq, status, payload, attempts \
                 FROM billing_etims_documents WHERE facility_id = $1 AND status <> 'sent' \
                 ORDER BY seq LIMIT 1",
            )
            .bind(facility)
            .fetch_optional(db.read())
            .await?;
            let Some(row) = next else { break };
            let (id, status, body, attempts): (i64, String, String, i64) =
                (row.get(0), row.get(2), row.get(3), row.get(4));
            let now = Utc::now();
            if status == "failed" {
                break;
            }
            // Claimed for a while: a second server (or round) leaves it alone.
            let claimed = write_one(db, sqlx::query(
                "UPDATE billing_etims_documents SET attempts = attempts + 1, claimed_until = $3 \
                 WHERE id = $1 AND status = 'queued' AND attempts = $2 \
                 AND (claimed_until IS NULL OR claimed_until <= $4) \
                 AND ($5 OR next_attempt_at IS NULL OR next_attempt_at <= $4)",
            )
            .bind(id)
            .bind(attempts)
            .bind((now + chrono::Duration::seconds(LEASE_SECS)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .bind(now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .bind(now_please)).await?;
            if claimed != 1 {
                break;
            }
            match attempt(oscu, tin, &body).await {
                Ok(signed) => {
                    write_one(
                        db,
                        sqlx::query(
                            "UPDATE billing_etims_documents SET status = 'sent', receipt_no = $2, \
                         signature = $3, internal_data = $4, sdc_id = $5, signed_at = $6, \
                         sent_at = $7, last_error = NULL, claimed_until = NULL \
                         WHERE id = $1 AND status = 'queued'",
                        )
                        .bind(id)
                        .bind(&signed.receipt_no)
                        .bind(&signed.signature)
                        .bind(&signed.internal_data)
                        .bind(&signed.sdc_id)
                        .bind(&signed.signed_at)
                        .bind(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                    )
                    .await?;
                    round.sent += 1;
                }
                Err(Failure::Offline(why)) => {
                    write_one(db, sqlx::query(
                        "UPDATE billing_etims_documents SET last_error = $2, next_attempt_at = $3, \
                         claimed_until = NULL WHERE id = $1 AND status = 'queued'",
                    )
                    .bind(id)
                    .bind(&why)
                    .bind((now + backoff(attempts)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))).await?;
                    round.offline = Some(why);
                    return Ok(round);
                }
                Err(Failure::Refused(why)) => {
                    write_one(db, sqlx::query(
                        "UPDATE billing_etims_documents SET status = 'failed', last_error = $2, \
                         claimed_until = NULL WHERE id = $1 AND status = 'queued'",
                    )
                    .bind(id)
                    .bind(why_text(&why))).await?;
                    round.refused = Some(why);
                    break;
                }
            }
        }
    }
    Ok(round)
}

/// Runs one guarded update in a transaction of its own: the rows it changed.
async fn write_one<'q>(
    db: &Db,
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
) -> Result<u64, DbError> {
    let mut tx = db.begin().await?;
    let done = q.execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    Ok(done)
}

fn why_text(why: &str) -> String {
    why.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// KRA's answer to a signed document.
struct Signed {
    receipt_no: String,
    signature: String,
    internal_data: String,
    sdc_id: String,
    signed_at: String,
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => why_text(s),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

async fn attempt(oscu: &Oscu, tin: &str, body: &str) -> Result<Signed, Failure> {
    let payload: Value = serde_json::from_str(body).map_err(|e| Failure::Refused(e.to_string()))?;
    let url = format!("{}/saveTrnsSalesOsdc", oscu.api);
    let headers = [
        ("tin", tin),
        ("bhfId", oscu.branch.as_str()),
        ("cmcKey", oscu.key.as_str()),
    ];
    let answer = outbound::send("POST", &url, &headers, Some(&payload), TIMEOUT)
        .await
        .map_err(|e| Failure::Offline(e.to_string()))?;
    if answer.status >= 500 {
        return Err(Failure::Offline(format!("HTTP {}", answer.status)));
    }
    let v: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let code = text_of(&v["resultCd"]);
    if answer.status >= 400 || code != "000" {
        let words = text_of(&v["resultMsg"]);
        return Err(Failure::Refused(
            format!("{code} {words} (HTTP {})", answer.status)
                .trim()
                .to_string(),
        ));
    }
    let data = &v["data"];
    let signature = text_of(&data["rcptSign"]);
    if signature.is_empty() {
        return Err(Failure::Refused("KRA's answer has no signature".into()));
    }
    Ok(Signed {
        receipt_no: text_of(&data["curRcptNo"]),
        signature,
        internal_data: text_of(&data["intrlData"]),
        sdc_id: Some(text_of(&data["sdcId"]))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| oscu.device.clone()),
        signed_at: text_of(&data["sdcDateTime"]),
    })
}

/// Puts a failed document back in the queue (after its cause was put right), audited.
pub async fn retry(tx: &mut Tx, actor: &Actor, id: i64) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE billing_etims_documents SET status = 'queued', next_attempt_at = NULL \
         WHERE id = $1 AND status = 'failed'",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    audit::record(
        tx,
        actor,
        Event::new("billing.etims.retry", "billing_etims_document", Some(id)),
    )
    .await?;
    Ok(true)
}

/// KRA's stamp on a document, for printing.
#[derive(Debug, Clone, Serialize)]
pub struct Stamp {
    pub seq: i64,
    pub status: String,
    pub receipt_no: Option<String>,
    pub signature: Option<String>,
    pub internal_data: Option<String>,
    pub sdc_id: Option<String>,
    pub signed_at: Option<String>,
}

impl Stamp {
    /// What the QR code carries: KRA's receipt check address with the tin, branch and
    /// signature (the form KRA's own receipts use, as integrators describe it).
    pub fn qr_text(&self, tin: &str, branch: &str) -> Option<String> {
        self.signature.as_ref().map(|s| {
            format!("https://etims.kra.go.ke/common/link/etims/receipt/indexEtimsReceiptData?Data={tin}{branch}{s}")
        })
    }
}

/// The stamp of an invoice's (or credit note's) document.
pub async fn stamp(db: &Db, of: Of) -> Result<Option<Stamp>, DbError> {
    let (sql, id) = match of {
        Of::Invoice(id) => (
            "SELECT seq, status, receipt_no, signature, internal_data, sdc_id, signed_at \
             FROM billing_etims_documents WHERE invoice_id = $1",
            id,
        ),
        Of::CreditNote(id) => (
            "SELECT seq, status, receipt_no, signature, internal_data, sdc_id, signed_at \
             FROM billing_etims_documents WHERE credit_note_id = $1",
            id,
        ),
    };
    Ok(sqlx::query(sql)
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .map(|r| Stamp {
            seq: r.get(0),
            status: r.get(1),
            receipt_no: r.get(2),
            signature: r.get(3),
            internal_data: r.get(4),
            sdc_id: r.get(5),
            signed_at: r.get(6),
        }))
}

/// What a printed document shows of eTIMS: the stamp, and the QR once KRA signed it.
#[derive(Debug, Clone)]
pub struct Print {
    pub stamp: Stamp,
    pub qr: Option<String>,
}

/// The eTIMS part of a printed invoice or credit note (none before the chain began).
pub async fn print_of(
    db: &Db,
    of: Of,
    tin: &str,
    config: &Config,
) -> Result<Option<Print>, DbError> {
    let branch = config.module_text(MODULE, &BRANCH);
    Ok(stamp(db, of).await?.map(|stamp| Print {
        qr: stamp.qr_text(tin, branch.trim()),
        stamp,
    }))
}

/// Walks each facility's chain: every link recomputed from its payload and the one before,
/// numbers without gaps, and the head at the last link. Findings as (what, detail).
pub async fn verify_chain(db: &Db) -> Result<Vec<(String, String)>, DbError> {
    let mut findings = Vec::new();
    let rows = sqlx::query(
        "SELECT facility_id, seq, number, payload, prev_hash, hash FROM billing_etims_documents \
         ORDER BY facility_id, seq",
    )
    .fetch_all(db.read())
    .await?;
    let mut at: Option<(i64, i64, String)> = None;
    for r in &rows {
        let (facility, seq, number): (i64, i64, String) = (r.get(0), r.get(1), r.get(2));
        let (body, prev, hash): (String, String, String) = (r.get(3), r.get(4), r.get(5));
        let (want_seq, want_prev) = match &at {
            Some((f, s, h)) if *f == facility => (s + 1, h.clone()),
            _ => (1, GENESIS.to_string()),
        };
        if seq != want_seq || prev != want_prev {
            findings.push((
                "eTIMS chain broken before".to_string(),
                format!("{number} (eTIMS number {seq})"),
            ));
        }
        if link(&prev, &body) != hash {
            findings.push((
                "eTIMS document changed after it was queued".to_string(),
                format!("{number} (eTIMS number {seq})"),
            ));
        }
        at = Some((facility, seq, hash));
    }
    let heads = sqlx::query("SELECT facility_id, last_seq, last_hash FROM billing_etims_head")
        .fetch_all(db.read())
        .await?;
    for h in &heads {
        let (facility, seq, hash): (i64, i64, String) = (h.get(0), h.get(1), h.get(2));
        let last = rows
            .iter()
            .rev()
            .find(|r| r.get::<i64, _>(0) == facility)
            .map(|r| (r.get::<i64, _>(1), r.get::<String, _>(5)));
        if last != Some((seq, hash)) {
            findings.push((
                "eTIMS chain head differs from its last document".to_string(),
                format!("facility {facility}"),
            ));
        }
    }
    Ok(findings)
}

/// Sends in the background every `every` while the server runs, when eTIMS is configured.
pub async fn run_in_background(
    app: hms_core::App,
    mut stop: hms_core::module::StopSignal,
    every: Duration,
) {
    let Some(oscu) = Oscu::from_config(&app.config) else {
        tracing::info!("eTIMS documents are queued but not sent by this server: no etims_api");
        return;
    };
    loop {
        if *stop.borrow() {
            return;
        }
        match hms_core::settings::get(&app.db, crate::docs::KRA_PIN_SETTING).await {
            Ok(Some(tin)) if !tin.is_empty() => {
                if let Err(e) = send_due(&app.db, &oscu, &tin, false).await {
                    tracing::error!(error = %e, "eTIMS: the round failed");
                }
            }
            Ok(_) => tracing::warn!("eTIMS: no KRA PIN in the billing settings"),
            Err(e) => tracing::error!(error = %e, "eTIMS: the settings could not be read"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}
