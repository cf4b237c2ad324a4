//! Diagnoses: the live search and the diagnoses of a draft note (add, remove), and the
//! administrators' catalogue with its MOH 705 mapping.

use std::collections::HashMap;

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;

use hms_core::audit::{self, Event};
use hms_core::http::{
    render_part, render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec,
};
use hms_core::i18n::t;
use hms_core::ids::EncounterId;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use crate::diagnoses::{self, Mapping, FORM_A, FORM_B};
use crate::encounter::Encounter;
use crate::repo::diagnoses::{self as repo, EntryFields};
use crate::repo::encounters;
use crate::{DIAGNOSES, WRITE};

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/consultations/diagnoses", P(DIAGNOSES), catalogue),
        RouteSpec::get("/consultations/diagnoses/:entry", P(DIAGNOSES), entry_page),
        RouteSpec::post("/consultations/diagnoses/:entry", P(DIAGNOSES), save_entry),
        RouteSpec::get("/consultations/:id/diagnoses", P(WRITE), note_diagnoses),
        RouteSpec::post("/consultations/:id/diagnoses", P(WRITE), add),
        RouteSpec::post(
            "/consultations/:id/diagnoses/:diagnosis/remove",
            P(WRITE),
            remove,
        ),
        RouteSpec::post(
            "/consultations/:id/diagnoses/:diagnosis/certainty",
            P(WRITE),
            certainty,
        ),
    ]
}

/// Most entries the picker offers for one search.
const PICKER_LIMIT: usize = 15;
/// The whole catalogue fits on its screen.
const CATALOGUE_LIMIT: usize = 1000;
/// Longest search text.
const Q_MAX: usize = 80;

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

fn clean_q(q: &str) -> String {
    q.trim().chars().take(Q_MAX).collect()
}

// ---------------------------------------------------------------------------------------------
// The diagnoses of a note

/// The page of a note's diagnoses (and, for HTMX, the picker's results only).
async fn note_page(
    cx: &Ctx,
    status: StatusCode,
    enc: &Encounter,
    q: &str,
    errors: &FormErrors,
    values: &HashMap<String, String>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    diagnoses::ensure_catalogue(db).await?;
    let results = if q.is_empty() {
        Vec::new()
    } else {
        repo::search(db, q, true, PICKER_LIMIT).await?
    };
    let mut c = tera::Context::new();
    c.insert(
        "picker",
        &json!({ "encounter": enc.id, "q": q, "results": results, "draft": enc.is_draft() }),
    );
    if cx.is_htmx() && status == StatusCode::OK && errors.is_empty() {
        return render_part(
            cx,
            "consultations/diagnoses_note.html",
            "consultations/_diagnosis_picker.html",
            c,
        );
    }
    let card = hms_patients::api::card(db, enc.patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    c.insert(
        "patient",
        &json!({ "id": card.id, "name": card.full_name, "number": card.number, "age": card.age_text }),
    );
    c.insert("encounter", enc);
    c.insert(
        "diagnoses",
        &diagnoses::section_with(db, enc, errors, values).await?,
    );
    cx.audit_read(
        Event::new(
            "consultations.diagnoses_view",
            "encounter",
            Some(enc.id.get()),
        )
        .patient(enc.patient_id.get()),
    )
    .await;
    render_status(cx, status, "consultations/diagnoses_note.html", c)
}

#[handler]
pub async fn note_diagnoses(
    cx: Ctx,
    Path(id): Path<i64>,
    Query(query): Query<SearchQuery>,
) -> AppResult<Response> {
    let enc = super::encounter_of(&cx.app().db, EncounterId(id)).await?;
    let q = clean_q(&query.q);
    note_page(
        &cx,
        StatusCode::OK,
        &enc,
        &q,
        &FormErrors::new(),
        &HashMap::new(),
    )
    .await
}

/// The answer after a change or a refusal: the section for HTMX, else the note (or this page
/// again with the messages).
async fn answer(
    cx: &Ctx,
    status: StatusCode,
    enc: &Encounter,
    errors: &FormErrors,
    values: &HashMap<String, String>,
) -> AppResult<Response> {
    if cx.is_htmx() {
        let mut c = tera::Context::new();
        c.insert(
            "diagnoses",
            &diagnoses::section_with(&cx.app().db, enc, errors, values).await?,
        );
        let mut r = render_part(
            cx,
            "consultations/diagnoses_note.html",
            "consultations/_diagnoses.html",
            c,
        )?;
        r.set_status(status);
        return Ok(r);
    }
    if status == StatusCode::OK {
        return Ok(see_other(&format!("/consultations/{}", enc.id)));
    }
    let q = values.get("q").cloned().unwrap_or_default();
    note_page(cx, status, enc, &q, errors, values).await
}

fn refusal(field: &str, message: String) -> FormErrors {
    let mut errors = FormErrors::new();
    errors.add(field, message);
    errors
}

#[handler]
pub async fn add(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let enc = super::encounter_of(db, EncounterId(id)).await?;
    let values: HashMap<String, String> = ["code", "free_text", "certainty", "q"]
        .iter()
        .map(|k| (k.to_string(), form.get(k).trim().to_string()))
        .collect();
    if !enc.is_draft() {
        let errors = refusal("form", t("consultations_diagnoses.error_signed"));
        return answer(&cx, StatusCode::CONFLICT, &enc, &errors, &values).await;
    }
    let pick = match diagnoses::read_pick(
        db,
        form.get("code"),
        form.get("free_text"),
        form.get("certainty"),
    )
    .await?
    {
        Ok(p) => p,
        Err(errors) => {
            return answer(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &enc,
                &errors,
                &values,
            )
            .await
        }
    };
    // Diagnoses added at once share a commit (group commit).
    let job = (enc.id, pick, cx.actor());
    let added = db
        .write_or_refuse(job, |tx, (id, pick, actor)| {
            Box::pin(async move {
                let now = encounters::get_in(tx, *id)
                    .await?
                    .ok_or(AppError::NotFound)?;
                if !now.is_draft() {
                    let key = "consultations_diagnoses.error_signed";
                    return Ok(Err((now, StatusCode::CONFLICT, "form", key)));
                }
                if let Some(code) = &pick.code {
                    if repo::has_code(tx, now.id, code).await? {
                        let key = "consultations_diagnoses.error_already";
                        let status = StatusCode::UNPROCESSABLE_ENTITY;
                        return Ok(Err((now, status, "code", key)));
                    }
                }
                let diagnosis = repo::insert(tx, &now, pick, None, actor).await?;
                audit::record(
                    tx,
                    actor,
                    Event::new(
                        "consultations.diagnosis_add",
                        "encounter_diagnosis",
                        Some(diagnosis),
                    )
                    .patient(now.patient_id.get())
                    .detail(json!({ "encounter": now.id, "after": pick })),
                )
                .await?;
                Ok::<_, AppError>(Ok(now))
            })
        })
        .await?;
    let now = match added {
        Ok(now) => now,
        Err((now, status, field, key)) => {
            let errors = refusal(field, t(key));
            return answer(&cx, status, &now, &errors, &values).await;
        }
    };
    answer(
        &cx,
        StatusCode::OK,
        &now,
        &FormErrors::new(),
        &HashMap::new(),
    )
    .await
}

#[handler]
pub async fn remove(cx: Ctx, Path((id, diagnosis)): Path<(i64, i64)>) -> AppResult<Response> {
    let db = &cx.app().db;
    let mut tx = db.begin().await?;
    let enc = encounters::get_in(&mut tx, EncounterId(id))
        .await?
        .ok_or(AppError::NotFound)?;
    let before = repo::one_in(&mut tx, enc.id, diagnosis)
        .await?
        .ok_or(AppError::NotFound)?;
    let by = cx.actor().user_id;
    if !enc.is_draft() || !repo::remove(&mut tx, enc.id, diagnosis, by).await? {
        drop(tx);
        let errors = refusal("form", t("consultations_diagnoses.error_signed"));
        return answer(&cx, StatusCode::CONFLICT, &enc, &errors, &HashMap::new()).await;
    }
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new(
            "consultations.diagnosis_remove",
            "encounter_diagnosis",
            Some(diagnosis),
        )
        .patient(enc.patient_id.get())
        .detail(json!({
            "encounter": enc.id,
            "before": {
                "code": before.catalogue_code,
                "display": before.display,
                "certainty": before.certainty,
            },
        })),
    )
    .await?;
    tx.commit().await?;
    answer(
        &cx,
        StatusCode::OK,
        &enc,
        &FormErrors::new(),
        &HashMap::new(),
    )
    .await
}

#[handler]
pub async fn certainty(
    cx: Ctx,
    Path((id, diagnosis)): Path<(i64, i64)>,
    form: Form,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let wanted = form.get("certainty").trim().to_string();
    let mut tx = db.begin().await?;
    let enc = encounters::get_in(&mut tx, EncounterId(id))
        .await?
        .ok_or(AppError::NotFound)?;
    let before = repo::one_in(&mut tx, enc.id, diagnosis)
        .await?
        .ok_or(AppError::NotFound)?;
    if !diagnoses::CERTAINTIES.contains(&wanted.as_str()) {
        drop(tx);
        let errors = refusal("form", t("consultations_diagnoses.error_certainty"));
        return answer(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &enc,
            &errors,
            &HashMap::new(),
        )
        .await;
    }
    if !enc.is_draft() || !repo::set_certainty(&mut tx, enc.id, diagnosis, &wanted).await? {
        drop(tx);
        let errors = refusal("form", t("consultations_diagnoses.error_signed"));
        return answer(&cx, StatusCode::CONFLICT, &enc, &errors, &HashMap::new()).await;
    }
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new(
            "consultations.diagnosis_certainty",
            "encounter_diagnosis",
            Some(diagnosis),
        )
        .patient(enc.patient_id.get())
        .detail(json!({
            "encounter": enc.id,
            "before": { "certainty": before.certainty },
            "after": { "certainty": wanted },
        })),
    )
    .await?;
    tx.commit().await?;
    answer(
        &cx,
        StatusCode::OK,
        &enc,
        &FormErrors::new(),
        &HashMap::new(),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// The catalogue (administrators)

#[handler]
pub async fn catalogue(cx: Ctx, Query(query): Query<SearchQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    diagnoses::ensure_catalogue(db).await?;
    let q = clean_q(&query.q);
    let entries = repo::search(db, &q, false, CATALOGUE_LIMIT).await?;
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let label = |form: &str, row: Option<i64>| match row {
                Some(r) => diagnoses::row_label(form, r),
                None => diagnoses::row_label(
                    form,
                    if form == FORM_A {
                        diagnoses::ALL_OTHER_A
                    } else {
                        diagnoses::ALL_OTHER_B
                    },
                ),
            };
            json!({
                "entry": e,
                "a_label": label(FORM_A, e.mapping.a),
                "b_label": label(FORM_B, e.mapping.b),
                "pregnancy_label": e.mapping.pregnancy.map(|r| diagnoses::row_label(FORM_B, r)),
            })
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("q", &q);
    c.insert("rows", &rows);
    render_part(
        &cx,
        "consultations/diagnoses.html",
        "consultations/_diagnosis_rows.html",
        c,
    )
}

/// The rows a form may count on: the disease rows (attendances and referrals are counted
/// elsewhere), as (value, label) for a select.
fn row_options(form: &str) -> Vec<(String, String)> {
    let last = if form == FORM_A {
        diagnoses::ALL_OTHER_A
    } else {
        diagnoses::ALL_OTHER_B
    };
    (1..=last)
        .map(|r| (r.to_string(), diagnoses::row_label(form, r)))
        .collect()
}

async fn entry_view(
    cx: &Ctx,
    status: StatusCode,
    id: i64,
    errors: &FormErrors,
    values: Option<HashMap<String, String>>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let entry = repo::entry(db, id).await?.ok_or(AppError::NotFound)?;
    let seen = repo::updated_at(db, id).await?.unwrap_or_default();
    let row = |r: Option<i64>| r.map(|r| r.to_string()).unwrap_or_default();
    let values = values.unwrap_or_else(|| {
        [
            ("name", entry.name.clone()),
            ("name_sw", entry.name_sw.clone().unwrap_or_default()),
            ("synonyms", entry.synonyms.clone()),
            ("icd10", entry.icd10.clone().unwrap_or_default()),
            ("icd11", entry.icd11.clone().unwrap_or_default()),
            ("row_a", row(entry.mapping.a)),
            ("row_b", row(entry.mapping.b)),
            ("row_pregnancy", row(entry.mapping.pregnancy)),
            ("active", if entry.active { "1" } else { "" }.to_string()),
            ("seen", seen),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    });
    let mut c = tera::Context::new();
    c.insert("entry", &entry);
    c.insert("values", &values);
    c.insert("errors", errors);
    c.insert("rows_a", &row_options(FORM_A));
    c.insert("rows_b", &row_options(FORM_B));
    render_status(cx, status, "consultations/diagnosis_edit.html", c)
}

#[handler]
pub async fn entry_page(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    entry_view(&cx, StatusCode::OK, id, &FormErrors::new(), None).await
}

const ENTRY_KEYS: &[&str] = &[
    "name",
    "name_sw",
    "synonyms",
    "icd10",
    "icd11",
    "row_a",
    "row_b",
    "row_pregnancy",
    "active",
    "seen",
];

/// An ICD-10 code as written: a letter, two digits, optionally a dot and one to four more.
fn icd10_ok(code: &str) -> bool {
    let b = code.as_bytes();
    if b.len() < 3 || !b[0].is_ascii_uppercase() || !b[1].is_ascii_digit() {
        return false;
    }
    if !(b[2].is_ascii_digit() || b[2].is_ascii_uppercase()) {
        return false;
    }
    match &b[3..] {
        [] => true,
        [b'.', rest @ ..] => {
            (1..=4).contains(&rest.len()) && rest.iter().all(|c| c.is_ascii_alphanumeric())
        }
        _ => false,
    }
}

/// Reads and checks the catalogue form.
fn entry_fields(form: &Form) -> Result<EntryFields, FormErrors> {
    let mut errors = FormErrors::new();
    let text = |key: &str, max: usize, errors: &mut FormErrors| {
        let v = form.get(key).trim().to_string();
        if v.chars().count() > max {
            errors.add(
                key,
                t("consultations_diagnoses.error_too_long").replace("{max}", &max.to_string()),
            );
        }
        v
    };
    let name = text("name", 120, &mut errors);
    if name.is_empty() {
        errors.add("name", t("consultations_diagnoses.error_name"));
    }
    let name_sw = text("name_sw", 120, &mut errors);
    let synonyms = text("synonyms", 500, &mut errors);
    let icd10 = text("icd10", 10, &mut errors).to_uppercase();
    if !icd10.is_empty() && !icd10_ok(&icd10) {
        errors.add("icd10", t("consultations_diagnoses.error_icd10"));
    }
    let icd11 = text("icd11", 20, &mut errors);
    let row = |key: &str, last: i64, errors: &mut FormErrors| {
        let v = form.get(key).trim();
        if v.is_empty() {
            return None;
        }
        match v.parse::<i64>() {
            Ok(r) if (1..=last).contains(&r) => Some(r),
            _ => {
                errors.add(key, t("consultations_diagnoses.error_row"));
                None
            }
        }
    };
    let mapping = Mapping {
        a: row("row_a", diagnoses::ALL_OTHER_A, &mut errors),
        b: row("row_b", diagnoses::ALL_OTHER_B, &mut errors),
        pregnancy: row("row_pregnancy", diagnoses::ALL_OTHER_B, &mut errors),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(EntryFields {
        name,
        name_sw,
        synonyms,
        icd10,
        icd11,
        mapping,
        active: form.get("active") == "1",
    })
}

#[handler]
pub async fn save_entry(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let before = repo::entry(db, id).await?.ok_or(AppError::NotFound)?;
    let values: HashMap<String, String> = ENTRY_KEYS
        .iter()
        .map(|k| (k.to_string(), form.get(k).trim().to_string()))
        .collect();
    let fields = match entry_fields(&form) {
        Ok(f) => f,
        Err(errors) => {
            return entry_view(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                id,
                &errors,
                Some(values),
            )
            .await
        }
    };
    let actor = cx.actor();
    let mut tx = db.begin().await?;
    if !repo::update_entry(&mut tx, id, form.get("seen"), &fields, &actor).await? {
        drop(tx);
        let errors = refusal("form", t("consultations_diagnoses.error_changed"));
        return entry_view(&cx, StatusCode::CONFLICT, id, &errors, None).await;
    }
    audit::record(
        &mut tx,
        &actor,
        Event::new("diagnoses.catalogue_edit", "diagnosis_catalogue", Some(id))
            .detail(json!({ "code": before.code, "before": before, "after": fields })),
    )
    .await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("consultations_diagnoses.saved"));
    Ok(see_other(&format!(
        "/consultations/diagnoses?q={}",
        before
            .icd10
            .as_deref()
            .unwrap_or(&before.code)
            .replace('.', "")
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn icd10_codes_are_checked() {
        for ok in [
            "A09", "B50.8", "O98.6", "J18.9", "A00.9", "U07.1", "C4A", "S72.001",
        ] {
            assert!(super::icd10_ok(ok), "{ok}");
        }
        for bad in ["", "a09", "B5", "B50.", "B50,8", "50.8", "B50.81234"] {
            assert!(!super::icd10_ok(bad), "{bad}");
        }
    }
}
