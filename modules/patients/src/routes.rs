//! Screens of the patients module.

use chrono::{Datelike, Utc};
use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_core::audit::Event;
use hms_core::http::{render, render_status, see_other, Ctx, FlashKind, Form};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{clock, phone, AppError, AppResult};

use crate::model::{self, Sex};
use crate::repo::{self, Found, NewPatient};

const PAGE_SIZE: i64 = 25;

fn today() -> chrono::NaiveDate {
    clock::to_local(Utc::now()).date_naive()
}

/// A search result as shown: age instead of the date, the phone partly masked.
#[derive(Serialize)]
struct Shown {
    id: i64,
    number: String,
    name: String,
    sex: String,
    age: String,
    phone: String,
}

fn shown(f: Found) -> Shown {
    let age = chrono::NaiveDate::parse_from_str(&f.date_of_birth, "%Y-%m-%d")
        .map(|d| model::age_text(d, f.dob_estimated, today()))
        .unwrap_or_default();
    Shown {
        id: f.id,
        number: f.number,
        name: f.name,
        sex: sex_label(&f.sex),
        age,
        phone: f
            .phone
            .as_deref()
            .map(model::mask_phone)
            .unwrap_or_default(),
    }
}

/// "Female"/"Male" in the request's language.
fn sex_label(sex: &str) -> String {
    match sex {
        "female" => t("patients.sex_female"),
        "male" => t("patients.sex_male"),
        other => other.to_string(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

#[handler]
pub async fn find(cx: Ctx, Query(query): Query<FindQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let q: String = query.q.trim().chars().take(80).collect();
    let mut next = None;
    let results: Vec<Found> = if q.is_empty() {
        repo::newest(db, PAGE_SIZE).await?
    } else {
        let compact: String = q.chars().filter(|c| !c.is_whitespace()).collect();
        let phone = phone::normalize_mobile(&q).ok();
        let mut exact = repo::exact(
            db,
            &compact.to_uppercase(),
            phone.as_deref(),
            &compact.to_uppercase(),
        )
        .await?;
        let tokens = model::query_tokens(&q);
        let after = query
            .after
            .rsplit_once(':')
            .and_then(|(tok, id)| Some((tok.to_string(), id.parse::<i64>().ok()?)));
        let after_ref = after
            .as_ref()
            .map(|(t, i)| (t.as_str(), *i))
            .unwrap_or(("", 0));
        if !tokens.is_empty() {
            let (by_name, more) = repo::by_names(db, &tokens, after_ref, PAGE_SIZE).await?;
            for f in by_name {
                if !exact.iter().any(|e| e.id == f.id) {
                    exact.push(f);
                }
            }
            next = more.map(|(tok, id)| format!("{tok}:{id}"));
        }
        // One audit row per search, without the typed text (it may be a name).
        cx.audit_read(
            Event::new("patient.search", "patient", None).detail(json!({"results": exact.len()})),
        )
        .await;
        exact
    };
    let mut c = tera::Context::new();
    c.insert("q", &q);
    c.insert(
        "results",
        &results.into_iter().map(shown).collect::<Vec<_>>(),
    );
    c.insert("next", &next);
    c.insert("can_register", &cx.can(crate::REGISTER));
    render(&cx, "patients/find.html", c)
}

/// The registration form's fields as typed.
#[derive(Debug, Default, Clone, Serialize)]
struct Typed {
    first_name: String,
    middle_name: String,
    last_name: String,
    sex: String,
    date_of_birth: String,
    age_years: String,
    age_months: String,
    phone: String,
    id_type: String,
    id_number: String,
    county_code: String,
    allergies: String,
}

impl Typed {
    fn from_form(f: &Form) -> Self {
        let g = |k: &str| f.get(k).trim().to_string();
        Typed {
            first_name: g("first_name"),
            middle_name: g("middle_name"),
            last_name: g("last_name"),
            sex: g("sex"),
            date_of_birth: g("date_of_birth"),
            age_years: g("age_years"),
            age_months: g("age_months"),
            phone: g("phone"),
            id_type: g("id_type"),
            id_number: g("id_number"),
            county_code: g("county_code"),
            allergies: f.get("allergies").trim().chars().take(500).collect(),
        }
    }
}

fn form_page(
    cx: &Ctx,
    status: StatusCode,
    values: &Typed,
    errors: &FormErrors,
    duplicates: &[repo::Candidate],
    blocked: bool,
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("values", values);
    c.insert("errors", errors);
    c.insert("id_types", model::ID_TYPES);
    c.insert("counties", model::counties());
    c.insert("duplicates", duplicates);
    c.insert("blocked", &blocked);
    render_status(cx, status, "patients/new.html", c)
}

#[handler]
pub async fn new(cx: Ctx) -> AppResult<Response> {
    let values = Typed {
        id_type: "national_id".into(),
        ..Default::default()
    };
    form_page(&cx, StatusCode::OK, &values, &FormErrors::new(), &[], false)
}

#[handler]
pub async fn register(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let v = Typed::from_form(&form);
    let mut errors = FormErrors::new();
    errors.check("first_name", model::check_name(&v.first_name, true));
    errors.check("middle_name", model::check_name(&v.middle_name, false));
    errors.check("last_name", model::check_name(&v.last_name, true));
    let sex = Sex::parse(&v.sex);
    if sex.is_none() {
        errors.add("sex", t("patients.error_sex"));
    }
    let birth = match model::birth_date(&v.date_of_birth, &v.age_years, &v.age_months, today()) {
        Ok(b) => Some(b),
        Err((field, message)) => {
            errors.add(field, message);
            None
        }
    };
    let phone = if v.phone.is_empty() {
        None
    } else {
        match phone::normalize_mobile(&v.phone) {
            Ok(p) => Some(p),
            Err(m) => {
                errors.add("phone", m);
                None
            }
        }
    };
    let id_type = if v.id_type.is_empty() {
        "none".to_string()
    } else {
        v.id_type.clone()
    };
    let id_number = match model::normalize_id(&id_type, &v.id_number) {
        Ok(n) => n,
        Err(m) => {
            errors.add("id_number", m);
            String::new()
        }
    };
    let county = if v.county_code.is_empty() {
        None
    } else if model::county(&v.county_code).is_some() {
        Some(v.county_code.clone())
    } else {
        errors.add("county_code", t("patients.error_county"));
        None
    };
    let valid = errors.is_empty();
    let (Some(sex), Some(birth)) = (sex.filter(|_| valid), birth.filter(|_| valid)) else {
        return form_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &v,
            &errors,
            &[],
            false,
        );
    };
    let dob = birth.date.format("%Y-%m-%d").to_string();
    let tokens = model::name_tokens(&[&v.first_name, &v.middle_name, &v.last_name]);

    // The same document blocks; a likely match needs an explicit "register anyway".
    if id_type != "none" {
        if let Some(holder) = repo::holder_of(&app.db, &id_type, &id_number).await? {
            errors.add("id_number", t("patients.error_id_taken"));
            return form_page(&cx, StatusCode::CONFLICT, &v, &errors, &[holder], true);
        }
    }
    if form.get("register_anyway") != "1" {
        let likely =
            repo::likely_matches(&app.db, phone.as_deref(), &dob, sex.as_str(), &tokens).await?;
        if !likely.is_empty() {
            return form_page(&cx, StatusCode::CONFLICT, &v, &errors, &likely, false);
        }
    }

    let patient = NewPatient {
        first_name: v.first_name.clone(),
        middle_name: Some(v.middle_name.clone()).filter(|m| !m.is_empty()),
        last_name: v.last_name.clone(),
        sex: sex.as_str(),
        date_of_birth: dob,
        dob_estimated: birth.estimated,
        phone,
        id_type,
        id_number,
        county_code: county,
        allergies: Some(v.allergies.clone()).filter(|a| !a.is_empty()),
        tokens,
    };
    let mut tx = app.db.begin().await?;
    let registered = repo::register(&mut tx, &patient, "P", today().year(), &cx.actor()).await;
    let (id, number) = match registered {
        Ok(r) => r,
        Err(e) if e.to_string().to_lowercase().contains("unique") => {
            // Someone registered the same document a moment ago.
            drop(tx);
            errors.add("id_number", t("patients.error_id_taken"));
            return form_page(&cx, StatusCode::CONFLICT, &v, &errors, &[], true);
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("patients.registered").replace("{number}", &number),
    );
    Ok(see_other(&format!("/patients/{id}")))
}

#[handler]
pub async fn chart(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let chart = repo::chart(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if chart.id != id {
        // A merged record: the survivor is the chart.
        return Ok(see_other(&format!("/patients/{}", chart.id)));
    }
    cx.audit_read(Event::new("patient.view", "patient", Some(chart.id)).patient(chart.id))
        .await;
    let dob = chrono::NaiveDate::parse_from_str(&chart.date_of_birth, "%Y-%m-%d").ok();
    let mut c = tera::Context::new();
    c.insert(
        "age",
        &dob.map(|d| model::age_text(d, chart.dob_estimated, today()))
            .unwrap_or_default(),
    );
    c.insert(
        "phone",
        &chart
            .phone
            .as_deref()
            .map(phone::display)
            .unwrap_or_default(),
    );
    c.insert(
        "county",
        &chart
            .county_code
            .as_deref()
            .and_then(model::county)
            .map(|c| c.name),
    );
    c.insert("id_types", model::ID_TYPES);
    c.insert("sex", &sex_label(&chart.sex));
    c.insert("patient", &chart);
    c.insert("can_report", &cx.can("audit.patient_report"));
    render(&cx, "patients/chart.html", c)
}
