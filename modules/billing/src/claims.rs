//! SHA claims as the Kenya eClaims FHIR IG describes them: a Bundle of the Claim (profile
//! KenyaClaimBase: identifier, status, use, type, priority, patient, provider, insurer,
//! billablePeriod, created, diagnosis, insurance, item with the SHA intervention code, total),
//! the Patient, the Coverage, the Encounter, each Condition and the Organizations. A claim is
//! built from an SHA invoice (the scheme's share of a visit, frozen at issue); a
//! pre-authorisation (`use = preauthorization`) from a visit's charges before they are
//! invoiced, and the claim then names it (`related`, relationship `prior`). Diagnoses come from
//! whichever module records them (`Module::visit_facts`), coded as that module codes them
//! (ICD-10 today; the IG asks for ICD-11 where a mapping exists, and none is held here).
//!
//! Offline first: a claim is prepared and kept as the Bundle it is; it can be downloaded as a
//! file (and a batch as a CSV summary) for upload elsewhere. With the HIE configured
//! (`[modules.billing]` `sha_hie_url`, `sha_hie_token`) it is also POSTed to
//! `{sha_hie_url}/Bundle`, and a ClaimResponse answer (outcome, adjudication) is recorded.
//! Eligibility is asked as a FHIR CoverageEligibilityRequest at
//! `{sha_hie_url}/CoverageEligibilityRequest` and kept on the visit's account.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::Row;

use hms_core::audit::{self, Actor, Event};
use hms_core::config::Config;
use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::{PatientId, VisitId};
use hms_core::module::{FactKind, VisitFact};
use hms_core::module_config::Setting;
use hms_core::money::Money;
use hms_core::outbound;

const MODULE: &str = "billing";
const TIMEOUT: Duration = Duration::from_secs(30);
/// The coding systems the Bundle uses.
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
const SHA_INTERVENTIONS: &str = "https://fhir.sha.go.ke/fhir/CodeSystem/interventions";
const SHA_MEMBER: &str = "https://fhir.sha.go.ke/fhir/NamingSystem/sha-member-number";
const KMHFL: &str = "https://fhir.health.go.ke/fhir/NamingSystem/kmhfl-code";

pub const HIE_URL: Setting = crate::daraja::text(
    "sha_hie_url",
    "The Kenya HIE's FHIR address for SHA claims and eligibility; empty: claims are prepared and exported as files",
);
pub const HIE_TOKEN: Setting = crate::daraja::text(
    "sha_hie_token",
    "The bearer token the HIE issued this facility",
);

/// What a claim is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Claim,
    Preauthorization,
}

impl Purpose {
    pub fn code(self) -> &'static str {
        match self {
            Purpose::Claim => "claim",
            Purpose::Preauthorization => "preauthorization",
        }
    }
}

/// One line claimed.
#[derive(Debug, Clone)]
pub struct Line {
    pub code: Option<String>,
    pub description: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub net: Money,
}

/// Everything a Bundle is built from.
#[derive(Debug, Clone)]
pub struct Facts {
    pub claim_uuid: String,
    /// The claim's own identifier (the invoice number, or `PA-` and the visit).
    pub identifier: String,
    pub purpose: Purpose,
    pub preauth_uuid: Option<String>,
    pub patient_uuid: String,
    pub patient_number: String,
    pub first_name: String,
    pub last_name: String,
    pub sex: String,
    pub birth_date: Option<String>,
    pub member_number: String,
    pub facility_name: String,
    pub kmhfl: String,
    pub visit: VisitId,
    pub start: String,
    pub end: String,
    pub created: String,
    pub diagnoses: Vec<(Option<String>, String)>,
    pub lines: Vec<Line>,
}

fn money(m: Money) -> Value {
    json!({ "value": m.cents() as f64 / 100.0, "currency": "KES" })
}

/// The Bundle of a claim or pre-authorisation.
pub fn bundle(f: &Facts) -> Value {
    let total: Money = f.lines.iter().map(|l| l.net).sum();
    let coverage_id = format!("{}-sha-coverage", f.member_number);
    let provider = format!("Organization/{}", f.kmhfl);
    let diagnosis: Vec<Value> = f
        .diagnoses
        .iter()
        .enumerate()
        .map(|(i, (_, text))| {
            json!({ "sequence": i + 1,
                    "diagnosisReference": { "reference": format!("Condition/{}-{}", f.claim_uuid, i + 1), "display": text } })
        })
        .collect();
    let items: Vec<Value> = f
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut code = json!({ "text": l.description });
            if let Some(c) = &l.code {
                code["coding"] = json!([{ "system": SHA_INTERVENTIONS, "code": c }]);
            }
            json!({ "sequence": i + 1, "productOrService": code, "servicedDate": &f.start[..10.min(f.start.len())],
                    "quantity": { "value": l.quantity }, "unitPrice": money(l.unit_price), "net": money(l.net) })
        })
        .collect();
    let mut claim = json!({
        "resourceType": "Claim", "id": f.claim_uuid,
        "identifier": [{ "system": format!("{KMHFL}/{}/claims", f.kmhfl), "value": f.identifier }],
        "status": "active", "use": f.purpose.code(),
        "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional" }] },
        "priority": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal" }] },
        "patient": { "reference": format!("Patient/{}", f.patient_uuid) },
        "provider": { "reference": provider },
        "insurer": { "reference": "Organization/SHA" },
        "billablePeriod": { "start": f.start, "end": f.end },
        "created": f.created,
        "diagnosis": diagnosis,
        "insurance": [{ "sequence": 1, "focal": true, "coverage": { "reference": format!("Coverage/{coverage_id}") } }],
        "item": items,
        "total": money(total),
    });
    if let Some(pre) = &f.preauth_uuid {
        claim["related"] = json!([{ "claim": { "reference": format!("Claim/{pre}") },
            "relationship": { "coding": [{ "code": "prior" }], "text": "pre-auth" } }]);
    }
    let mut patient = json!({
        "resourceType": "Patient", "id": f.patient_uuid,
        "identifier": [{ "system": SHA_MEMBER, "value": f.member_number },
                       { "system": format!("{KMHFL}/{}/patients", f.kmhfl), "value": f.patient_number }],
        "name": [{ "family": f.last_name, "given": [f.first_name] }],
        "gender": if f.sex == "female" { "female" } else if f.sex == "male" { "male" } else { "unknown" },
    });
    if let Some(b) = &f.birth_date {
        patient["birthDate"] = json!(b);
    }
    let mut entries = vec![
        claim,
        patient,
        json!({ "resourceType": "Coverage", "id": coverage_id, "status": "active",
                "identifier": [{ "system": SHA_MEMBER, "value": f.member_number }],
                "beneficiary": { "reference": format!("Patient/{}", f.patient_uuid) },
                "payor": [{ "reference": "Organization/SHA" }] }),
        json!({ "resourceType": "Encounter", "id": format!("{}-visit-{}", f.kmhfl, f.visit.get()),
                "status": "finished", "class": { "code": "AMB" },
                "subject": { "reference": format!("Patient/{}", f.patient_uuid) },
                "period": { "start": f.start, "end": f.end } }),
        json!({ "resourceType": "Organization", "id": f.kmhfl, "name": f.facility_name,
                "identifier": [{ "system": KMHFL, "value": f.kmhfl }] }),
        json!({ "resourceType": "Organization", "id": "SHA", "name": "Social Health Authority" }),
    ];
    for (i, (code, text)) in f.diagnoses.iter().enumerate() {
        let mut concept = json!({ "text": text });
        if let Some(c) = code {
            concept["coding"] = json!([{ "system": ICD10, "code": c }]);
        }
        entries.push(
            json!({ "resourceType": "Condition", "id": format!("{}-{}", f.claim_uuid, i + 1),
            "code": concept, "subject": { "reference": format!("Patient/{}", f.patient_uuid) } }),
        );
    }
    json!({
        "resourceType": "Bundle", "id": f.claim_uuid, "type": "collection", "timestamp": f.created,
        "entry": entries.into_iter().map(|r| {
            let url = format!("{}/{}", r["resourceType"].as_str().unwrap_or(""), r["id"].as_str().unwrap_or(""));
            json!({ "fullUrl": url, "resource": r })
        }).collect::<Vec<_>>(),
    })
}

/// Why a claim could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Not an SHA invoice issued to the scheme (or no such invoice).
    #[error("not an SHA invoice")]
    NotSha,
    /// A claim of this invoice exists.
    #[error("claimed already")]
    Claimed,
    /// The patient has no SHA number and the visit's account no member number.
    #[error("no member number")]
    NoMember,
    /// The facility has no KMHFL code (the provider of every claim).
    #[error("no KMHFL code")]
    NoFacilityCode,
    /// Nothing to ask for.
    #[error("nothing to claim")]
    Nothing,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ClaimError {
    fn from(e: sqlx::Error) -> Self {
        ClaimError::Db(e.into())
    }
}

impl ClaimError {
    pub fn key(&self) -> &'static str {
        match self {
            ClaimError::NotSha => "billing_claims.error_not_sha",
            ClaimError::Claimed => "billing_claims.error_claimed",
            ClaimError::NoMember => "billing_claims.error_no_member",
            ClaimError::NoFacilityCode => "billing_claims.error_no_kmhfl",
            ClaimError::Nothing => "billing_claims.error_nothing",
            ClaimError::Db(_) => "error.internal",
        }
    }
}

/// The diagnoses of a visit among modules' facts.
pub fn diagnoses_of(facts: &[VisitFact], visit: VisitId) -> Vec<(Option<String>, String)> {
    facts
        .iter()
        .filter(|f| f.visit == visit && f.kind == FactKind::Diagnosis)
        .map(|f| (f.code.clone(), f.text.clone()))
        .collect()
}

/// The patient, member and facility parts of a claim.
async fn who(
    db: &Db,
    patient: PatientId,
    visit: VisitId,
) -> Result<
    (
        hms_patients::api::PatientCard,
        String,
        String,
        String,
        String,
    ),
    ClaimError,
> {
    let card = hms_patients::api::card(db, patient)
        .await?
        .ok_or(ClaimError::NotSha)?;
    let account: Option<String> =
        sqlx::query("SELECT member_number FROM billing_accounts WHERE visit_id = $1")
            .bind(visit)
            .fetch_optional(db.read())
            .await
            .map_err(DbError::from)?
            .and_then(|r| r.get(0));
    let member = match account.filter(|m| !m.trim().is_empty()) {
        Some(m) => m,
        None => hms_patients::api::identifier(db, patient, "sha_number")
            .await?
            .ok_or(ClaimError::NoMember)?,
    };
    let facility = sqlx::query("SELECT name, kmhfl_code FROM facilities WHERE id = 1")
        .fetch_one(db.read())
        .await
        .map_err(DbError::from)?;
    let kmhfl: Option<String> = facility.get(1);
    let kmhfl = kmhfl
        .filter(|k| !k.trim().is_empty())
        .ok_or(ClaimError::NoFacilityCode)?;
    let uuid: String = sqlx::query("SELECT uuid FROM patients WHERE id = $1")
        .bind(patient)
        .fetch_one(db.read())
        .await
        .map_err(DbError::from)?
        .get(0);
    Ok((card, member, facility.get(0), kmhfl, uuid))
}

/// The start and end of a visit (its check-in, and the last charge or now).
async fn period(db: &Db, visit: VisitId) -> Result<(String, String), DbError> {
    let r = sqlx::query(
        "SELECT v.checked_in_at, (SELECT MAX(c.posted_at) FROM charges c WHERE c.visit_id = v.id) \
         FROM visits v WHERE v.id = $1",
    )
    .bind(visit)
    .fetch_one(db.read())
    .await?;
    let start: String = r.get(0);
    let end: Option<String> = r.get(1);
    Ok((start.clone(), end.filter(|e| *e > start).unwrap_or(start)))
}

fn facts_from(
    (card, member, facility, kmhfl, patient_uuid): (
        hms_patients::api::PatientCard,
        String,
        String,
        String,
        String,
    ),
    visit: VisitId,
    (start, end): (String, String),
    diagnoses: Vec<(Option<String>, String)>,
    lines: Vec<Line>,
) -> Facts {
    Facts {
        claim_uuid: new_uuid(),
        identifier: String::new(),
        purpose: Purpose::Claim,
        preauth_uuid: None,
        patient_uuid,
        patient_number: card.number,
        first_name: card.first_name,
        last_name: card.last_name,
        sex: card.sex,
        birth_date: card.date_of_birth.map(|d| d.text()),
        member_number: member,
        facility_name: facility,
        kmhfl,
        visit,
        start,
        end,
        created: hms_core::clock::now_rfc3339(),
        diagnoses,
        lines,
    }
}

/// A UUID version 7 (time-ordered, RFC 9562) for a claim's Bundle, taken before the row is
/// written because the Bundle names it.
fn new_uuid() -> String {
    use rand::RngExt;
    let ms = chrono::Utc::now().timestamp_millis() as u64 & 0xffff_ffff_ffff;
    let r: u128 = rand::rng().random();
    let hi = (ms << 16) | 0x7000 | (r as u64 & 0x0fff);
    let lo = (r >> 64) as u64 & 0x3fff_ffff_ffff_ffff | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// Prepares the claim of SHA invoice `invoice`: the Bundle kept as it will be sent, the
/// visit's latest pre-authorisation named. One claim per invoice (its UNIQUE key).
pub async fn prepare(
    db: &Db,
    actor: &Actor,
    invoice: i64,
    diagnoses: Vec<(Option<String>, String)>,
) -> Result<i64, ClaimError> {
    let inv = crate::docs::invoice(db, invoice)
        .await?
        .ok_or(ClaimError::NotSha)?;
    let scheme = sqlx::query(
        "SELECT s.id, s.kind FROM billing_invoices i JOIN billing_schemes s ON s.id = i.scheme_id \
         WHERE i.id = $1 AND i.payer = 'scheme' AND i.status = 'issued'",
    )
    .bind(invoice)
    .fetch_optional(db.read())
    .await
    .map_err(DbError::from)?;
    let Some(scheme) = scheme.filter(|s| s.get::<String, _>(1) == "sha") else {
        return Err(ClaimError::NotSha);
    };
    let visit = VisitId(inv.visit_id.ok_or(ClaimError::NotSha)?);
    let patient = PatientId(inv.patient_id);
    let lines: Vec<Line> = inv
        .lines
        .iter()
        .filter(|l| l.payer_share != Money::ZERO)
        .map(|l| {
            let whole = l.payer_share == l.amount;
            Line {
                code: l.scheme_code.clone(),
                description: l.description.clone(),
                quantity: if whole { l.quantity } else { 1 },
                unit_price: if whole { l.unit_price } else { l.payer_share },
                net: l.payer_share,
            }
        })
        .collect();
    if lines.is_empty() {
        return Err(ClaimError::Nothing);
    }
    let preauth: Option<(i64, String)> = sqlx::query(
        "SELECT id, uuid FROM billing_claims WHERE visit_id = $1 AND purpose = 'preauthorization' \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(visit)
    .fetch_optional(db.read())
    .await
    .map_err(DbError::from)?
    .map(|r| (r.get(0), r.get(1)));
    let mut facts = facts_from(
        who(db, patient, visit).await?,
        visit,
        period(db, visit).await?,
        diagnoses,
        lines,
    );
    facts.identifier = inv.number.clone();
    facts.preauth_uuid = preauth.as_ref().map(|p| p.1.clone());
    let mut tx = db.begin().await?;
    let id = insert(
        &mut tx,
        actor,
        &facts,
        (Some(invoice), scheme.get(0), preauth.map(|p| p.0)),
        patient,
    )
    .await?
    .ok_or(ClaimError::Claimed)?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(id)
}

/// Prepares a pre-authorisation of a visit's charges not yet invoiced (what the facility
/// expects to give), priced on the visit's SHA scheme.
pub async fn prepare_preauth(
    db: &Db,
    actor: &Actor,
    visit: VisitId,
    diagnoses: Vec<(Option<String>, String)>,
) -> Result<i64, ClaimError> {
    let mut tx = db.begin().await?;
    let bill = crate::bill::load(&mut tx, visit)
        .await
        .map_err(|_| ClaimError::NotSha)?;
    tx.rollback().await.map_err(DbError::from)?;
    let kind: String = sqlx::query("SELECT kind FROM billing_schemes WHERE id = $1")
        .bind(bill.scheme_id)
        .fetch_one(db.read())
        .await
        .map_err(DbError::from)?
        .get(0);
    if kind != "sha" {
        return Err(ClaimError::NotSha);
    }
    let lines: Vec<Line> = bill
        .unbilled
        .iter()
        .filter(|l| l.payer_share > Money::ZERO)
        .map(|l| Line {
            code: l.scheme_code.clone(),
            description: l.description.clone(),
            quantity: l.quantity,
            unit_price: l.unit_price,
            net: l.payer_share,
        })
        .collect();
    if lines.is_empty() {
        return Err(ClaimError::Nothing);
    }
    let mut facts = facts_from(
        who(db, bill.patient, visit).await?,
        visit,
        period(db, visit).await?,
        diagnoses,
        lines,
    );
    facts.purpose = Purpose::Preauthorization;
    facts.identifier = format!("PA-{}", visit.get());
    let mut tx = db.begin().await?;
    let id = insert(
        &mut tx,
        actor,
        &facts,
        (None, bill.scheme_id, None),
        bill.patient,
    )
    .await?
    .ok_or(ClaimError::Claimed)?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(id)
}

async fn insert(
    tx: &mut Tx,
    actor: &Actor,
    f: &Facts,
    (invoice, scheme, preauth): (Option<i64>, i64, Option<i64>),
    patient: PatientId,
) -> Result<Option<i64>, DbError> {
    let total: Money = f.lines.iter().map(|l| l.net).sum();
    let row = sqlx::query(
        "INSERT INTO billing_claims (uuid, purpose, invoice_id, visit_id, patient_id, scheme_id, \
         preauth_id, total_cents, bundle, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (invoice_id) DO NOTHING RETURNING id",
    )
    .bind(&f.claim_uuid)
    .bind(f.purpose.code())
    .bind(invoice)
    .bind(f.visit)
    .bind(patient)
    .bind(scheme)
    .bind(preauth)
    .bind(total)
    .bind(bundle(f).to_string())
    .bind(actor.user_id)
    .bind(&f.created)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: i64 = row.get(0);
    audit::record(
        tx,
        actor,
        Event::new("billing.claim.prepare", "billing_claim", Some(id))
            .patient(patient.get())
            .detail(json!({ "use": f.purpose.code(), "invoice": invoice, "total": total.cents() })),
    )
    .await?;
    Ok(Some(id))
}

/// A configured HIE.
#[derive(Clone)]
pub struct Hie {
    url: String,
    token: String,
}

/// What the HIE said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HieError {
    Unreachable(String),
    Refused(String),
}

impl Hie {
    pub fn from_config(config: &Config) -> Option<Self> {
        let url = config.module_text(MODULE, &HIE_URL);
        let url = url.trim().trim_end_matches('/');
        (!url.is_empty()).then(|| Hie {
            url: url.to_string(),
            token: config.module_text(MODULE, &HIE_TOKEN).trim().to_string(),
        })
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, HieError> {
        let auth = format!("Bearer {}", self.token);
        let answer = outbound::send(
            "POST",
            &format!("{}{path}", self.url),
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/fhir+json"),
            ],
            Some(body),
            TIMEOUT,
        )
        .await
        .map_err(|e| HieError::Unreachable(e.to_string()))?;
        if answer.status >= 500 {
            return Err(HieError::Unreachable(format!("HTTP {}", answer.status)));
        }
        let v: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if answer.status >= 400 {
            let why = v["issue"][0]["diagnostics"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {}", answer.status));
            return Err(HieError::Refused(clean(&why)));
        }
        Ok(v)
    }
}

fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// SHA's answer to a claim, read from a ClaimResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub status: &'static str,
    pub approved: Option<Money>,
    pub external_id: Option<String>,
    pub note: Option<String>,
}

/// Reads a ClaimResponse: `outcome` complete with the whole total approved → approved, less →
/// partial, `error` → rejected; anything else (queued, no ClaimResponse) → submitted.
pub fn decision(answer: &Value, total: Money) -> Decision {
    let response = if answer["resourceType"] == "ClaimResponse" {
        answer.clone()
    } else {
        answer["entry"]
            .as_array()
            .and_then(|e| {
                e.iter()
                    .find(|x| x["resource"]["resourceType"] == "ClaimResponse")
            })
            .map(|x| x["resource"].clone())
            .unwrap_or(Value::Null)
    };
    let external_id = response["id"].as_str().map(clean);
    let note = response["disposition"].as_str().map(clean);
    let approved = response["total"].as_array().and_then(|t| {
        t.iter()
            .find(|x| x["category"]["coding"][0]["code"] == "benefit")
            .and_then(|x| x["amount"]["value"].as_f64())
            .map(|v| Money::from_cents((v * 100.0).round() as i64))
    });
    let status = match response["outcome"].as_str() {
        Some("error") => "rejected",
        Some("complete") | Some("partial") => match approved {
            Some(a) if a < total => "partial",
            _ => "approved",
        },
        _ => "submitted",
    };
    Decision {
        status,
        approved: approved.filter(|_| status != "rejected" && status != "submitted"),
        external_id,
        note,
    }
}

/// Sends a prepared claim to the HIE and records the answer; an unreachable HIE leaves it
/// prepared with the reason (the file can still be exported).
pub async fn submit(db: &Db, hie: &Hie, actor: &Actor, id: i64) -> Result<Decision, SubmitError> {
    let row = sqlx::query(
        "SELECT bundle, total_cents, patient_id FROM billing_claims WHERE id = $1 AND status = 'prepared'",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await
    .map_err(DbError::from)?
    .ok_or(SubmitError::NotPrepared)?;
    let body: Value = serde_json::from_str(&row.get::<String, _>(0)).unwrap_or(Value::Null);
    let (total, patient): (Money, i64) = (row.get(1), row.get(2));
    let answer = hie.post("/Bundle", &body).await;
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    let result = match &answer {
        Ok(v) => {
            let d = decision(v, total);
            if !record_answer(&mut tx, id, &d, v, &now).await? {
                return Err(SubmitError::NotPrepared);
            }
            Ok(d)
        }
        Err(HieError::Unreachable(why)) | Err(HieError::Refused(why)) => {
            sqlx::query(
                "UPDATE billing_claims SET last_error = $2 WHERE id = $1 AND status = 'prepared'",
            )
            .bind(id)
            .bind(why)
            .execute(&mut *tx)
            .await
            .map_err(DbError::from)?;
            Err(match answer {
                Err(HieError::Refused(w)) => SubmitError::Refused(w),
                _ => SubmitError::Unreachable(why.clone()),
            })
        }
    };
    audit::record(
        &mut tx,
        actor,
        Event::new("billing.claim.submit", "billing_claim", Some(id))
            .patient(patient)
            .detail(json!({ "outcome": match &result {
                Ok(d) => d.status.to_string(),
                Err(e) => e.to_string(),
            } })),
    )
    .await
    .map_err(DbError::from)?;
    tx.commit().await.map_err(DbError::from)?;
    result
}

/// Records the HIE's answer `v` (read as `d`) on a prepared claim, by a guarded update: false
/// when the claim was not prepared any more.
pub async fn record_answer(
    tx: &mut Tx,
    id: i64,
    d: &Decision,
    v: &Value,
    now: &str,
) -> Result<bool, DbError> {
    let changed = sqlx::query(
        "UPDATE billing_claims SET status = $2, approved_cents = $3, external_id = $4, \
         answer = $5, last_error = NULL, submitted_at = $6, \
         decided_at = CASE WHEN $2 = 'submitted' THEN NULL ELSE $6 END \
         WHERE id = $1 AND status = 'prepared'",
    )
    .bind(id)
    .bind(d.status)
    .bind(d.approved)
    .bind(d.external_id.as_deref())
    .bind(v.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(changed.rows_affected() == 1)
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the claim is not waiting to be sent")]
    NotPrepared,
    #[error("the HIE could not be reached: {0}")]
    Unreachable(String),
    #[error("the HIE refused the claim: {0}")]
    Refused(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Asks the HIE whether a member is covered today and keeps the answer on the visit's account.
pub async fn check_eligibility(
    db: &Db,
    hie: &Hie,
    actor: &Actor,
    visit: VisitId,
    member: &str,
) -> Result<bool, SubmitError> {
    let today = hms_core::day::Day::today().text();
    let request = json!({
        "resourceType": "CoverageEligibilityRequest", "status": "active", "purpose": ["validation"],
        "created": today, "servicedDate": today,
        "patient": { "identifier": { "system": SHA_MEMBER, "value": member } },
        "insurer": { "reference": "Organization/SHA" },
        "insurance": [{ "coverage": { "identifier": { "system": SHA_MEMBER, "value": member } } }],
    });
    let answer = hie
        .post("/CoverageEligibilityRequest", &request)
        .await
        .map_err(|e| match e {
            HieError::Unreachable(w) => SubmitError::Unreachable(w),
            HieError::Refused(w) => SubmitError::Refused(w),
        })?;
    let inforce = answer["insurance"][0]["inforce"].as_bool().unwrap_or(false);
    let note = answer["disposition"].as_str().map(clean);
    let mut tx = db.begin().await?;
    let changed = sqlx::query(
        "UPDATE billing_accounts SET eligibility = $2, eligibility_checked_at = $3, \
         eligibility_note = $4 WHERE visit_id = $1",
    )
    .bind(visit)
    .bind(if inforce { "eligible" } else { "not_eligible" })
    .bind(hms_core::clock::now_rfc3339())
    .bind(note.as_deref())
    .execute(&mut *tx)
    .await
    .map_err(DbError::from)?;
    if changed.rows_affected() == 1 {
        audit::record(
            &mut tx,
            actor,
            Event::new("billing.eligibility", "visit", Some(visit.get()))
                .detail(json!({ "eligible": inforce })),
        )
        .await
        .map_err(DbError::from)?;
    }
    tx.commit().await.map_err(DbError::from)?;
    Ok(inforce)
}

/// One line of the CSV summary of claims (a batch sent as files).
pub fn csv_header() -> &'static str {
    "claim,use,invoice,visit,patient,member,total_kes,status,approved_kes,created_at\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_carries_each_diagnosis_as_a_condition_and_a_preauthorisation_its_use() {
        let f = Facts {
            claim_uuid: new_uuid(),
            identifier: "PA-7".into(),
            purpose: Purpose::Preauthorization,
            preauth_uuid: None,
            patient_uuid: "p-1".into(),
            patient_number: "P-1".into(),
            first_name: "Amina".into(),
            last_name: "Kamau".into(),
            sex: "female".into(),
            birth_date: Some("1990-05-31".into()),
            member_number: "CR1569230130821".into(),
            facility_name: "Demo".into(),
            kmhfl: "24578".into(),
            visit: VisitId(7),
            start: "2026-12-07T08:00:00Z".into(),
            end: "2026-12-07T09:00:00Z".into(),
            created: "2026-12-07T09:00:00Z".into(),
            diagnoses: vec![
                (Some("B54".into()), "Malaria".into()),
                (None, "Cough".into()),
            ],
            lines: vec![Line {
                code: None,
                description: "Consultation".into(),
                quantity: 1,
                unit_price: Money::from_shillings(500),
                net: Money::from_shillings(500),
            }],
        };
        let b = bundle(&f);
        let claim = &b["entry"][0]["resource"];
        assert_eq!(claim["use"], "preauthorization");
        assert_eq!(claim["diagnosis"].as_array().unwrap().len(), 2);
        let conditions: Vec<&Value> = b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["resourceType"] == "Condition")
            .collect();
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[0]["code"]["coding"][0]["code"], "B54");
        assert!(conditions[1]["code"].get("coding").is_none());
        assert_eq!(
            claim["diagnosis"][0]["diagnosisReference"]["reference"],
            format!("Condition/{}", conditions[0]["id"].as_str().unwrap())
        );
        assert!(claim["item"][0]["productOrService"].get("coding").is_none());
        let id = new_uuid();
        assert_eq!((id.len(), &id[14..15]), (36, "7"));
        assert!("89ab".contains(&id[19..20]), "{id}");
    }

    #[test]
    fn claim_responses_read_as_approved_partial_rejected_or_waiting() {
        let total = Money::from_shillings(1000);
        let answer = |outcome: &str, benefit: f64| {
            json!({ "resourceType": "ClaimResponse", "id": "cr-1", "outcome": outcome,
                    "total": [{ "category": { "coding": [{ "code": "benefit" }] }, "amount": { "value": benefit } }] })
        };
        assert_eq!(
            decision(&answer("complete", 1000.0), total).status,
            "approved"
        );
        let partial = decision(&answer("complete", 600.0), total);
        assert_eq!(
            (partial.status, partial.approved),
            ("partial", Some(Money::from_shillings(600)))
        );
        assert_eq!(decision(&answer("error", 0.0), total).status, "rejected");
        assert_eq!(decision(&answer("queued", 0.0), total).status, "submitted");
        let in_bundle = json!({ "resourceType": "Bundle", "entry": [{ "resource": answer("complete", 1000.0) }] });
        assert_eq!(
            decision(&in_bundle, total).external_id.as_deref(),
            Some("cr-1")
        );
    }
}
