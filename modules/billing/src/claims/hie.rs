//! The Kenya HIE: claims sent as Bundles, ClaimResponses read, eligibility asked (see
//! [`super`]). `[modules.billing]` `sha_hie_url` and `sha_hie_token`.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::Row;

use hms_core::audit::{self, Actor, Event};
use hms_core::config::Config;
use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::VisitId;
use hms_core::module_config::Setting;
use hms_core::money::Money;
use hms_core::outbound;

use super::fhir::SHA_MEMBER;

const MODULE: &str = "billing";
const TIMEOUT: Duration = Duration::from_secs(30);

pub const HIE_URL: Setting = crate::daraja::text(
    "sha_hie_url",
    "The Kenya HIE's FHIR address for SHA claims and eligibility; empty: claims are prepared and exported as files",
);
pub const HIE_TOKEN: Setting = crate::daraja::text(
    "sha_hie_token",
    "The bearer token the HIE issued this facility",
);

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

#[cfg(test)]
mod tests {
    use super::*;

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
