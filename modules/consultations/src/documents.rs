//! Documents issued from a consultation (referral letter, sick note, prescription slip, lab
//! request form, visit summary): numbered per facility and series, kept as issued (the content
//! as JSON, so a reprint is the same document), printed through core's PDF builder; every print
//! after the first is marked "Copy". The daily MOH 204A/B OPD register is in `register`.

use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;
use hms_core::module::TimelineEntry;
use hms_core::pdf::{Column, Document, Letterhead, PageSize, Style};
use hms_core::ui::FormErrors;
use serde::Serialize;
use serde_json::{json, Value};

use crate::encounter::Encounter;
use crate::repo::documents as repo;

pub const REFERRAL: &str = "referral";
pub const SICK_NOTE: &str = "sick_note";
pub const PRESCRIPTION: &str = "prescription";
pub const LAB_REQUEST: &str = "lab_request";
pub const VISIT_SUMMARY: &str = "visit_summary";

/// Every kind, in the order the page offers them, with its number prefix.
pub const KINDS: &[(&str, &str)] = &[
    (REFERRAL, "REF"),
    (SICK_NOTE, "SCK"),
    (PRESCRIPTION, "RX"),
    (LAB_REQUEST, "LAB"),
    (VISIT_SUMMARY, "VS"),
];

/// Longest texts accepted in the forms.
const SHORT: usize = 200;
const LONG: usize = 2000;
/// Longest sick leave one note gives, days.
const MAX_REST_DAYS: i64 = 90;

pub fn is_kind(kind: &str) -> bool {
    KINDS.iter().any(|(k, _)| *k == kind)
}

/// The kind in the reader's language.
pub fn kind_label(kind: &str) -> String {
    if is_kind(kind) {
        t(&format!("consultations_documents.kind_{kind}"))
    } else {
        kind.to_string()
    }
}

/// What a kind is for, in a line, in the reader's language.
pub fn kind_help(kind: &str) -> String {
    if is_kind(kind) {
        t(&format!("consultations_documents.kind_help_{kind}"))
    } else {
        String::new()
    }
}

/// A number of a series: `REF-2026-00042`. The series is the kind and the year, per facility.
pub fn number(kind: &str, year: i32, value: i64) -> String {
    let prefix = KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, p)| *p)
        .unwrap_or("DOC");
    format!("{prefix}-{year}-{value:05}")
}

pub fn series(kind: &str, year: i32) -> String {
    format!("{kind}/{year}")
}

/// What the issuing form sent, kept to show again when refused.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fields {
    pub kind: String,
    pub referral_to: String,
    pub reason: String,
    pub summary: String,
    pub rest_days: String,
    pub rest_from: String,
    pub consent: String,
    pub remarks: String,
    pub clinical_notes: String,
}

fn too_long(errors: &mut FormErrors, field: &str, value: &str, max: usize) {
    if value.chars().count() > max {
        errors.add(
            field,
            t("consultations_documents.error_too_long").replace("{max}", &max.to_string()),
        );
    }
}

/// The kind's fields, checked; the values as the document keeps them.
pub fn validate(f: &Fields) -> Result<Value, FormErrors> {
    let mut errors = FormErrors::new();
    let fields = match f.kind.as_str() {
        REFERRAL => {
            if f.referral_to.trim().is_empty() {
                errors.add(
                    "referral_to",
                    t("consultations_documents.error_referral_to"),
                );
            }
            if f.reason.trim().is_empty() {
                errors.add("reason", t("consultations_documents.error_reason"));
            }
            too_long(&mut errors, "referral_to", &f.referral_to, SHORT);
            too_long(&mut errors, "reason", &f.reason, LONG);
            too_long(&mut errors, "summary", &f.summary, LONG);
            json!({
                "referral_to": f.referral_to.trim(),
                "reason": f.reason.trim(),
                "summary": f.summary.trim(),
            })
        }
        SICK_NOTE => {
            let days = f.rest_days.trim().parse::<i64>().ok();
            let days = match days {
                Some(d) if (1..=MAX_REST_DAYS).contains(&d) => d,
                _ => {
                    errors.add(
                        "rest_days",
                        t("consultations_documents.error_rest_days")
                            .replace("{max}", &MAX_REST_DAYS.to_string()),
                    );
                    0
                }
            };
            let from = Day::event(f.rest_from.trim()).ok();
            if from.is_none() {
                errors.add("rest_from", t("consultations_documents.error_rest_from"));
            }
            if !matches!(f.consent.as_str(), "yes" | "no") {
                errors.add("consent", t("consultations_documents.error_consent"));
            }
            too_long(&mut errors, "remarks", &f.remarks, SHORT * 2);
            let until = from.map(|d| d.plus_days(days.max(1) - 1).text());
            json!({
                "rest_days": days,
                "rest_from": from.map(|d| d.text()),
                "rest_until": until,
                "consent": f.consent == "yes",
                "remarks": f.remarks.trim(),
            })
        }
        LAB_REQUEST => {
            too_long(&mut errors, "clinical_notes", &f.clinical_notes, LONG);
            json!({ "clinical_notes": f.clinical_notes.trim() })
        }
        PRESCRIPTION | VISIT_SUMMARY => json!({}),
        _ => {
            errors.add("kind", t("consultations_documents.error_kind"));
            json!({})
        }
    };
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(errors)
    }
}

/// What a document of `kind` says, gathered when it is issued and kept as it was. `Err` names
/// the field to blame when there is nothing to print (a prescription without drugs).
pub async fn content(
    db: &Db,
    enc: &Encounter,
    kind: &str,
    fields: Value,
    clinician: i64,
) -> Result<Result<Value, FormErrors>, DbError> {
    let card = hms_patients::api::card(db, enc.patient_id).await?;
    let allergies = hms_patients::api::allergies(db, enc.patient_id).await?;
    let who = repo::clinician(db, clinician).await?;
    let consent = fields
        .get("consent")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let diagnoses = if kind == SICK_NOTE && !consent {
        Vec::new()
    } else {
        repo::diagnoses(db, enc.id).await?
    };
    let drugs = if matches!(kind, PRESCRIPTION | VISIT_SUMMARY | REFERRAL) {
        repo::lines(db, enc.visit_id, hms_core::orders::DRUG).await?
    } else {
        Vec::new()
    };
    let tests = if matches!(kind, LAB_REQUEST | VISIT_SUMMARY | REFERRAL) {
        repo::lines(db, enc.visit_id, hms_core::orders::LAB).await?
    } else {
        Vec::new()
    };
    let mut errors = FormErrors::new();
    if kind == PRESCRIPTION && drugs.is_empty() {
        errors.add("kind", t("consultations_documents.error_no_drugs"));
    }
    if kind == LAB_REQUEST && tests.is_empty() {
        errors.add("kind", t("consultations_documents.error_no_tests"));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let patient = card.map(|c| {
        json!({
            "name": c.full_name,
            "number": c.number,
            "sex": c.sex,
            "date_of_birth": c.date_of_birth.map(|d| d.text()),
            "age": c.age_text,
        })
    });
    let allergies: Vec<String> = allergies
        .into_iter()
        .map(|a| match a.reaction {
            Some(r) if !r.trim().is_empty() => format!("{} ({})", a.allergen, r.trim()),
            _ => a.allergen,
        })
        .collect();
    let note = if matches!(kind, REFERRAL | VISIT_SUMMARY) {
        json!({
            "complaint": enc.complaint,
            "complaint_duration": enc.complaint_duration,
            "history": enc.history,
            "examination": enc.examination,
            "assessment": enc.assessment,
            "plan": enc.plan,
        })
    } else {
        json!({ "complaint": enc.complaint })
    };
    Ok(Ok(json!({
        "kind": kind,
        "visit_day": enc.visit_day.text(),
        "patient": patient.unwrap_or(Value::Null),
        "allergies": allergies,
        "clinician": {
            "name": who.name,
            "cadre": who.cadre,
            "registration_no": who.registration_no,
        },
        "diagnoses": diagnoses,
        "drugs": drugs,
        "tests": tests,
        "note": note,
        "outcome": enc.outcome,
        "fields": fields,
    })))
}

fn text_of<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut at = v;
    for p in path {
        at = match at.get(p) {
            Some(x) => x,
            None => return "",
        };
    }
    at.as_str().unwrap_or("")
}

fn day_text(stored: &str) -> String {
    Day::from_db_text(stored)
        .map(|d| d.display())
        .unwrap_or_else(|| stored.to_string())
}

fn sex_text(code: &str) -> String {
    match code {
        "female" | "male" => t(&format!("consultations_documents.sex_{code}")),
        other => other.to_string(),
    }
}

/// The document as PDF, from what was kept when it was issued; `copy` marks a reprint.
pub fn pdf(
    head: &Letterhead,
    number: &str,
    issued_at: &str,
    content: &Value,
    copy: bool,
) -> Vec<u8> {
    let kind = text_of(content, &["kind"]);
    let title = kind_label(kind);
    let mut doc =
        Document::new(PageSize::A4, &format!("{title} {number}")).page_numbers(&t("pdf.page_of"));
    doc.letterhead(head);
    doc.text(Style::Title, &title);
    if copy {
        doc.text(Style::Heading, &t("consultations_documents.copy_mark"));
    }
    doc.fields(&[
        (&t("consultations_documents.number"), number),
        (
            &t("consultations_documents.issued_at"),
            &hms_core::clock::display_rfc3339(issued_at),
        ),
    ]);
    doc.space(1.0);
    let p = &content["patient"];
    let born = text_of(p, &["date_of_birth"]);
    let age = text_of(p, &["age"]);
    let born = if born.is_empty() {
        age.to_string()
    } else {
        format!("{} ({age})", day_text(born))
    };
    doc.heading(&t("consultations_documents.patient"));
    doc.fields(&[
        (&t("consultations_documents.name"), text_of(p, &["name"])),
        (
            &t("consultations_documents.patient_number"),
            text_of(p, &["number"]),
        ),
        (
            &t("consultations_documents.sex"),
            &sex_text(text_of(p, &["sex"])),
        ),
        (&t("consultations_documents.born"), &born),
        (
            &t("consultations_documents.visit_day"),
            &day_text(text_of(content, &["visit_day"])),
        ),
    ]);
    let f = &content["fields"];
    match kind {
        REFERRAL => referral(&mut doc, content, f),
        SICK_NOTE => sick_note(&mut doc, content, f),
        PRESCRIPTION => {
            allergies(&mut doc, content);
            diagnoses(&mut doc, content);
            lines(&mut doc, content, "drugs", "consultations_documents.drugs");
        }
        LAB_REQUEST => {
            diagnoses(&mut doc, content);
            let notes = text_of(f, &["clinical_notes"]);
            if !notes.is_empty() {
                doc.heading(&t("consultations_documents.clinical_notes"));
                doc.paragraph(notes);
            }
            lines(&mut doc, content, "tests", "consultations_documents.tests");
        }
        _ => {
            note(&mut doc, content);
            diagnoses(&mut doc, content);
            lines(&mut doc, content, "tests", "consultations_documents.tests");
            lines(&mut doc, content, "drugs", "consultations_documents.drugs");
            allergies(&mut doc, content);
        }
    }
    signature(&mut doc, content);
    doc.finish()
}

fn referral(doc: &mut Document, content: &Value, f: &Value) {
    doc.heading(&t("consultations_documents.referral_to"));
    doc.paragraph(text_of(f, &["referral_to"]));
    doc.heading(&t("consultations_documents.reason"));
    doc.paragraph(text_of(f, &["reason"]));
    let summary = text_of(f, &["summary"]);
    if summary.is_empty() {
        note(doc, content);
    } else {
        doc.heading(&t("consultations_documents.summary"));
        doc.paragraph(summary);
    }
    diagnoses(doc, content);
    lines(doc, content, "tests", "consultations_documents.tests");
    lines(doc, content, "drugs", "consultations_documents.drugs_given");
    allergies(doc, content);
}

fn sick_note(doc: &mut Document, content: &Value, f: &Value) {
    let days = f.get("rest_days").and_then(Value::as_i64).unwrap_or(0);
    let from = day_text(text_of(f, &["rest_from"]));
    let until = day_text(text_of(f, &["rest_until"]));
    let name = text_of(content, &["patient", "name"]);
    doc.space(2.0);
    doc.paragraph(
        &t("consultations_documents.sick_note_text")
            .replace("{name}", name)
            .replace("{days}", &days.to_string())
            .replace("{from}", &from)
            .replace("{until}", &until),
    );
    if f.get("consent").and_then(Value::as_bool) == Some(true) {
        diagnoses(doc, content);
    } else {
        doc.paragraph(&t("consultations_documents.diagnosis_withheld"));
    }
    let remarks = text_of(f, &["remarks"]);
    if !remarks.is_empty() {
        doc.heading(&t("consultations_documents.remarks"));
        doc.paragraph(remarks);
    }
}

fn note(doc: &mut Document, content: &Value) {
    let n = &content["note"];
    let mut complaint = text_of(n, &["complaint"]).to_string();
    let duration = text_of(n, &["complaint_duration"]);
    if !duration.is_empty() {
        complaint = format!("{complaint} ({duration})");
    }
    for (key, value) in [
        ("complaint", complaint.as_str()),
        ("history", text_of(n, &["history"])),
        ("examination", text_of(n, &["examination"])),
        ("assessment", text_of(n, &["assessment"])),
        ("plan", text_of(n, &["plan"])),
    ] {
        if !value.trim().is_empty() {
            doc.heading(&t(&format!("consultations_documents.note_{key}")));
            doc.paragraph(value);
        }
    }
}

fn diagnoses(doc: &mut Document, content: &Value) {
    let list: Vec<repo::Diagnosis> =
        serde_json::from_value(content["diagnoses"].clone()).unwrap_or_default();
    doc.heading(&t("consultations_documents.diagnoses"));
    if list.is_empty() {
        doc.paragraph(&t("consultations_documents.none"));
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            vec![
                d.display.clone(),
                d.icd10.clone().unwrap_or_default(),
                t(&format!(
                    "consultations_documents.certainty_{}",
                    d.certainty
                )),
            ]
        })
        .collect();
    doc.table(
        &[
            Column::new(&t("consultations_documents.diagnosis"), 4.0),
            Column::new(&t("consultations_documents.icd10"), 1.0),
            Column::new(&t("consultations_documents.certainty"), 1.2),
        ],
        &rows,
    );
}

fn lines(doc: &mut Document, content: &Value, key: &str, heading: &str) {
    let list: Vec<repo::Line> = serde_json::from_value(content[key].clone()).unwrap_or_default();
    if list.is_empty() {
        return;
    }
    doc.heading(&t(heading));
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|l| {
            vec![
                l.display.clone(),
                l.quantity.to_string(),
                t(&format!("consultations_documents.priority_{}", l.priority)),
                l.instructions.clone(),
            ]
        })
        .collect();
    doc.table(
        &[
            Column::new(&t("consultations_documents.item"), 4.0),
            Column::new(&t("consultations_documents.quantity"), 0.8),
            Column::new(&t("consultations_documents.priority"), 1.0),
            Column::new(&t("consultations_documents.instructions"), 2.0),
        ],
        &rows,
    );
}

fn allergies(doc: &mut Document, content: &Value) {
    let list: Vec<String> =
        serde_json::from_value(content["allergies"].clone()).unwrap_or_default();
    doc.heading(&t("consultations_documents.allergies"));
    if list.is_empty() {
        doc.paragraph(&t("consultations_documents.no_allergies"));
    } else {
        doc.paragraph(&list.join(", "));
    }
}

fn signature(doc: &mut Document, content: &Value) {
    let c = &content["clinician"];
    doc.space(6.0);
    doc.text(Style::Body, "______________________________");
    doc.fields(&[
        (
            &t("consultations_documents.clinician"),
            text_of(c, &["name"]),
        ),
        (&t("consultations_documents.cadre"), text_of(c, &["cadre"])),
        (
            &t("consultations_documents.registration_no"),
            text_of(c, &["registration_no"]),
        ),
    ]);
}

/// An issued document as lists show it.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub id: i64,
    pub number: String,
    pub kind: String,
    pub kind_label: String,
    pub issued_at: String,
    pub issued_by: String,
    pub prints: i64,
}

pub fn listed(d: &repo::Stored) -> Listed {
    Listed {
        id: d.id,
        number: d.number.clone(),
        kind: d.kind.clone(),
        kind_label: kind_label(&d.kind),
        issued_at: hms_core::clock::display_rfc3339(&d.issued_at),
        issued_by: d.issued_by.clone().unwrap_or_default(),
        prints: d.prints,
    }
}

/// The documents of a note and what may be issued, for the consultation page (JSON for
/// `consultations/_documents.html`).
pub async fn section(db: &Db, encounter: &Encounter) -> Result<Value, DbError> {
    let issued: Vec<Listed> = repo::of_encounter(db, encounter.id)
        .await?
        .iter()
        .map(listed)
        .collect();
    let kinds: Vec<Value> = KINDS
        .iter()
        .map(|(k, _)| json!({"code": k, "label": kind_label(k), "help": kind_help(k)}))
        .collect();
    Ok(json!({
        "encounter_id": encounter.id,
        "issued": issued,
        "kinds": kinds,
    }))
}

/// Documents issued to the patient, for the chart timeline, newest first.
pub async fn timeline(
    db: &Db,
    patients: &[i64],
    limit: i64,
) -> Result<Vec<TimelineEntry>, DbError> {
    let mut out = Vec::new();
    for patient in patients {
        for (kind, number, at, id) in repo::of_patient(db, *patient, limit).await? {
            out.push(TimelineEntry {
                at,
                kind: "consultations_documents.timeline",
                title: format!("{} {number}", kind_label(&kind)),
                detail: None,
                href: Some(format!("/consultations/documents/{id}.pdf")),
                permission: crate::VIEW,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_renders_issued_documents_and_the_kinds_to_issue() {
        let templates = hms_core::module::embedded_templates::<crate::Templates>();
        let ui = hms_core::ui::Ui::new(templates, Default::default()).unwrap();
        let mut c = tera::Context::new();
        let section = json!({
            "encounter_id": 7,
            "issued": [{"id": 3, "number": "REF-2026-00001", "kind": "referral",
                        "kind_label": "<b>Referral</b>", "issued_at": "07 Dec 2026",
                        "issued_by": "Dr A", "prints": 1}],
            "kinds": [{"code": "sick_note", "label": "Sick note"}],
        });
        c.insert("documents", &section);
        let html = ui.tera.render("consultations/_documents.html", &c).unwrap();
        assert!(html.contains("/consultations/documents/3.pdf"), "{html}");
        assert!(html.contains("&lt;b&gt;Referral"), "escaped: {html}");
        assert!(
            html.contains("/consultations/7/documents/new?kind=sick_note"),
            "{html}"
        );
        c.insert(
            "documents",
            &json!({"encounter_id": 7, "issued": [], "kinds": []}),
        );
        let empty = ui.tera.render("consultations/_documents.html", &c).unwrap();
        assert!(empty.contains("consultations_documents.empty") || empty.contains("No document"));
    }

    #[test]
    fn numbers_name_their_series() {
        assert_eq!(number(REFERRAL, 2026, 42), "REF-2026-00042");
        assert_eq!(number(SICK_NOTE, 2027, 1), "SCK-2027-00001");
        assert_eq!(series(PRESCRIPTION, 2026), "prescription/2026");
    }

    #[test]
    fn a_sick_note_needs_days_a_start_and_an_answer_on_consent() {
        let f = Fields {
            kind: SICK_NOTE.into(),
            rest_days: "0".into(),
            rest_from: "31/02/2026".into(),
            ..Default::default()
        };
        let errors = validate(&f).unwrap_err();
        for field in ["rest_days", "rest_from", "consent"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
        let f = Fields {
            kind: SICK_NOTE.into(),
            rest_days: "3".into(),
            rest_from: "07/12/2026".into(),
            consent: "no".into(),
            ..Default::default()
        };
        let v = validate(&f).unwrap();
        assert_eq!(v["rest_until"], "2026-12-09");
        assert_eq!(v["consent"], false);
    }

    #[test]
    fn a_referral_needs_where_and_why_and_unknown_kinds_are_refused() {
        let f = Fields {
            kind: REFERRAL.into(),
            reason: "x".repeat(LONG + 1),
            ..Default::default()
        };
        let errors = validate(&f).unwrap_err();
        assert!(errors.get("referral_to").is_some());
        assert!(errors.get("reason").is_some());
        let f = Fields {
            kind: "death_certificate".into(),
            ..Default::default()
        };
        assert!(validate(&f).unwrap_err().get("kind").is_some());
    }
}
