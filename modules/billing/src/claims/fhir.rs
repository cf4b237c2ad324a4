//! The Kenya eClaims FHIR Bundle of a claim or pre-authorisation (see [`super`]).

use serde_json::{json, Value};

use hms_core::ids::VisitId;
use hms_core::money::Money;

/// The coding systems the Bundle uses.
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
const SHA_INTERVENTIONS: &str = "https://fhir.sha.go.ke/fhir/CodeSystem/interventions";
pub(super) const SHA_MEMBER: &str = "https://fhir.sha.go.ke/fhir/NamingSystem/sha-member-number";
const KMHFL: &str = "https://fhir.health.go.ke/fhir/NamingSystem/kmhfl-code";
const PREAUTH_TYPES: &str = "https://fhir.sha.go.ke/fhir/CodeSystem/preauth-type";
const SUPPORTING_INFO: &str = "https://fhir.sha.go.ke/fhir/CodeSystem/supporting-info-category";

/// The IG's specialised pre-authorisation profiles.
pub const PROFILES: &[&str] = &["imaging", "oncology", "optical", "renal", "surgical"];

/// What a specialised pre-authorisation adds to the claim: the profile and its clinical
/// details, each sent as the claim's supporting information when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Specialised {
    /// One of [`PROFILES`].
    pub profile: String,
    pub indication: String,
    pub complaint: String,
    /// History of the present illness.
    pub history: String,
    pub investigations: String,
    /// Surgical: general, regional, local or sedation.
    pub anaesthesia: String,
    /// Oncology and renal: the day the (first) session is expected (`2026-12-08`).
    pub session_date: Option<String>,
    /// Optical: the lens prescription.
    pub lens: String,
}

impl Specialised {
    /// The supporting information entries (category code, value), the filled ones only.
    fn entries(&self) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        for (code, text) in [
            ("clinical-indication", &self.indication),
            ("chief-complaint", &self.complaint),
            ("history-of-present-illness", &self.history),
            ("investigations", &self.investigations),
            ("anaesthesia-type", &self.anaesthesia),
            ("lens-prescription", &self.lens),
        ] {
            if !text.trim().is_empty() {
                out.push((code, json!({ "valueString": text.trim() })));
            }
        }
        if let Some(day) = &self.session_date {
            out.push(("session-expected-date", json!({ "timingDate": day })));
        }
        out
    }
}

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
    /// A specialised pre-authorisation's profile and details.
    pub specialised: Option<Specialised>,
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
    if let Some(s) = &f.specialised {
        claim["subType"] = json!({ "coding": [{ "system": PREAUTH_TYPES, "code": s.profile }], "text": s.profile });
        let info: Vec<Value> = s
            .entries()
            .into_iter()
            .enumerate()
            .map(|(i, (code, value))| {
                let mut entry = json!({ "sequence": i + 1,
                    "category": { "coding": [{ "system": SUPPORTING_INFO, "code": code }] } });
                if let (Some(e), Some(v)) = (entry.as_object_mut(), value.as_object()) {
                    e.extend(v.clone());
                }
                entry
            })
            .collect();
        if !info.is_empty() {
            claim["supportingInfo"] = json!(info);
        }
    }
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

/// A UUID version 7 (time-ordered, RFC 9562) for a claim's Bundle, taken before the row is
/// written because the Bundle names it.
pub(super) fn new_uuid() -> String {
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
            specialised: None,
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
        assert!(claim.get("subType").is_none() && claim.get("supportingInfo").is_none());
        let id = new_uuid();
        assert_eq!((id.len(), &id[14..15]), (36, "7"));
        assert!("89ab".contains(&id[19..20]), "{id}");

        // A surgical pre-authorisation: its profile and the details given, in order.
        let surgical = Facts {
            specialised: Some(Specialised {
                profile: "surgical".into(),
                indication: "Symptomatic gallstones".into(),
                anaesthesia: "general".into(),
                session_date: Some("2026-12-20".into()),
                ..Specialised::default()
            }),
            ..f
        };
        let claim = bundle(&surgical)["entry"][0]["resource"].clone();
        assert_eq!(claim["subType"]["coding"][0]["code"], "surgical");
        let info = claim["supportingInfo"].as_array().unwrap();
        assert_eq!(info.len(), 3);
        assert_eq!(
            info[0]["category"]["coding"][0]["code"],
            "clinical-indication"
        );
        assert_eq!(info[0]["valueString"], "Symptomatic gallstones");
        assert_eq!(info[1]["valueString"], "general");
        assert_eq!(
            (info[2]["sequence"].as_u64(), info[2]["timingDate"].as_str()),
            (Some(3), Some("2026-12-20"))
        );
    }
}
