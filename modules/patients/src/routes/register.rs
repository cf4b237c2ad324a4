//! Registering a patient.

use chrono::Datelike;
use poem::http::StatusCode;
use poem::{handler, Response};
use serde::Serialize;

use hms_core::http::{render_status, see_other, Ctx, FlashKind, Form};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{phone, AppResult};

use super::today;
use crate::model::{self, Sex};
use crate::repo::{self, NewPatient};

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

