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

mod fhir;
mod hie;

use serde_json::json;
use sqlx::Row;

use hms_core::audit::{self, Actor, Event};
use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::{PatientId, VisitId};
use hms_core::module::{FactKind, VisitFact};
use hms_core::money::Money;

pub use fhir::{bundle, Facts, Line, Purpose, Specialised, PROFILES};
pub use hie::{
    check_eligibility, decision, record_answer, submit, Decision, Hie, HieError, SubmitError,
    HIE_TOKEN, HIE_URL,
};

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
        claim_uuid: fhir::new_uuid(),
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
        specialised: None,
        diagnoses,
        lines,
    }
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
    specialised: Option<fhir::Specialised>,
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
    facts.specialised = specialised;
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

/// One line of the CSV summary of claims (a batch sent as files).
pub fn csv_header() -> &'static str {
    "claim,use,invoice,visit,patient,member,total_kes,status,approved_kes,created_at\n"
}
