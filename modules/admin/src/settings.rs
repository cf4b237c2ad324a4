//! Facility settings (name, KMHFL code, level, contacts, language, working days, email
//! from-address, logo) and the "send a test email" button.

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::{handler, Response};
use serde::Serialize;
use serde_json::{json, Value};

use hms_core::audit::{self, Event};
use hms_core::http::{render_status, see_other, Ctx, FlashKind, Form};
use hms_core::i18n::t;
use hms_core::settings::{self, LOGO_MAX_BYTES, WEEK_DAYS};
use hms_core::ui::FormErrors;
use hms_core::{outbox, phone, AppError, AppResult};

/// Facility levels of the Kenya Essential Package for Health (1 is community level).
const LEVELS: &[&str] = &["2", "3", "4", "5", "6"];
const LANGUAGES: &[&str] = &["en", "sw"];
const DEFAULT_DAYS: &str = "mon,tue,wed,thu,fri";

/// The settings as typed (or as stored), to show the form.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SettingsForm {
    pub facility_name: String,
    pub facility_code: String,
    pub facility_level: String,
    pub facility_address: String,
    pub facility_phone: String,
    pub facility_email: String,
    pub default_language: String,
    pub working_days: Vec<String>,
    pub mail_from: String,
}

impl SettingsForm {
    fn from_stored(stored: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| stored.get(k).cloned().unwrap_or_default();
        let days = stored
            .get("working_days")
            .map(String::as_str)
            .unwrap_or(DEFAULT_DAYS);
        let language = get("default_language");
        Self {
            facility_name: get("facility_name"),
            facility_code: get("facility_code"),
            facility_level: get("facility_level"),
            facility_address: get("facility_address"),
            facility_phone: stored
                .get("facility_phone")
                .map(|p| phone::display(p))
                .unwrap_or_default(),
            facility_email: get("facility_email"),
            default_language: if language.is_empty() {
                "en".into()
            } else {
                language
            },
            working_days: split_days(days),
            mail_from: get("mail_from"),
        }
    }

    fn from_form(form: &Form) -> Self {
        let text = |k: &str| form.get(k).trim().to_string();
        Self {
            facility_name: text("facility_name"),
            facility_code: text("facility_code"),
            facility_level: text("facility_level"),
            facility_address: text("facility_address"),
            facility_phone: text("facility_phone"),
            facility_email: text("facility_email").to_lowercase(),
            default_language: text("default_language"),
            working_days: form
                .all("working_days")
                .into_iter()
                .map(|d| d.trim().to_string())
                .collect(),
            mail_from: text("mail_from").to_lowercase(),
        }
    }

    /// Checks every field; returns the values to store by key.
    fn validate(
        &self,
        locked_code: Option<&str>,
        errors: &mut FormErrors,
    ) -> BTreeMap<&'static str, String> {
        let mut out = BTreeMap::new();
        let name_len = self.facility_name.chars().count();
        if !(2..=120).contains(&name_len) || self.facility_name.chars().any(char::is_control) {
            errors.add("facility_name", t("settings.error_name"));
        }
        out.insert("facility_name", self.facility_name.clone());

        let code = &self.facility_code;
        let code_ok = code.is_empty()
            || ((4..=6).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()));
        if !code_ok {
            errors.add("facility_code", t("settings.error_code"));
        } else if let Some(fixed) = locked_code.filter(|f| *f != code) {
            errors.add(
                "facility_code",
                t("settings.error_code_locked").replace("{code}", fixed),
            );
        }
        out.insert("facility_code", code.clone());

        if !self.facility_level.is_empty() && !LEVELS.contains(&self.facility_level.as_str()) {
            errors.add("facility_level", t("settings.error_level"));
        }
        out.insert("facility_level", self.facility_level.clone());

        if self.facility_address.chars().count() > 300
            || self
                .facility_address
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r')
        {
            errors.add("facility_address", t("settings.error_address"));
        }
        out.insert(
            "facility_address",
            self.facility_address.replace("\r\n", "\n"),
        );

        let phone = if self.facility_phone.is_empty() {
            String::new()
        } else {
            normalize_phone(&self.facility_phone).unwrap_or_else(|| {
                errors.add("facility_phone", t("settings.error_phone"));
                String::new()
            })
        };
        out.insert("facility_phone", phone);

        for (field, value) in [
            ("facility_email", &self.facility_email),
            ("mail_from", &self.mail_from),
        ] {
            if !value.is_empty() && !outbox::valid_address(value) {
                errors.add(field, t("settings.error_email"));
            }
        }
        out.insert("facility_email", self.facility_email.clone());
        out.insert("mail_from", self.mail_from.clone());

        if !LANGUAGES.contains(&self.default_language.as_str()) {
            errors.add("default_language", t("settings.error_language"));
        }
        out.insert("default_language", self.default_language.clone());

        if self.working_days.is_empty() {
            errors.add("working_days", t("settings.error_days"));
        } else if self
            .working_days
            .iter()
            .any(|d| !WEEK_DAYS.contains(&d.as_str()))
        {
            errors.add("working_days", t("settings.error_days_unknown"));
        }
        // Stored in week order, whatever order the browser sent them in.
        let days: Vec<&str> = WEEK_DAYS
            .iter()
            .copied()
            .filter(|d| self.working_days.iter().any(|w| w == d))
            .collect();
        out.insert("working_days", days.join(","));
        out
    }
}

fn split_days(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

/// A Kenyan mobile (07.., 01..) or landline (020 .., 041 .., ...; 8 or 9 national digits after
/// the leading 0, area codes starting 2 to 6), stored as +254 and the national number.
fn normalize_phone(raw: &str) -> Option<String> {
    if let Ok(mobile) = phone::normalize_mobile(raw) {
        return Some(mobile);
    }
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let national = compact
        .strip_prefix("+254")
        .or_else(|| compact.strip_prefix("254"))
        .or_else(|| compact.strip_prefix('0'))?;
    let ok = (8..=9).contains(&national.len())
        && national.bytes().all(|b| b.is_ascii_digit())
        && matches!(national.as_bytes()[0], b'2'..=b'6');
    ok.then(|| format!("+254{national}"))
}

/// The KMHFL code fixed by an installed licence, if any.
async fn locked_code(cx: &Ctx) -> AppResult<Option<String>> {
    let db = &cx.app().db;
    if settings::get(db, "licence.file").await?.is_none() {
        return Ok(None);
    }
    Ok(settings::get(db, "facility_code")
        .await?
        .filter(|c| !c.trim().is_empty()))
}

struct Page {
    values: SettingsForm,
    errors: FormErrors,
    test_to: String,
    test_errors: FormErrors,
}

async fn page(cx: &Ctx, status: StatusCode, p: Page) -> AppResult<Response> {
    let app = cx.app();
    let days: Vec<Value> = WEEK_DAYS
        .iter()
        .map(|d| json!({"code": d, "label": t(&format!("settings.day_{d}"))}))
        .collect();
    let languages: Vec<Value> = LANGUAGES
        .iter()
        .map(|l| json!({"code": l, "label": t(&format!("settings.language_{l}"))}))
        .collect();
    let user_email = match cx.user() {
        Some(u) => crate::repo::get(&app.db, u.id)
            .await?
            .and_then(|d| d.details.email),
        None => None,
    };
    let mut c = tera::Context::new();
    c.insert("values", &p.values);
    c.insert("errors", &p.errors);
    c.insert("levels", LEVELS);
    c.insert("days", &days);
    c.insert("language_choices", &languages);
    c.insert("code_locked", &locked_code(cx).await?.is_some());
    c.insert("logo", &app.facility_logo());
    c.insert("logo_max_kib", &(LOGO_MAX_BYTES / 1024));
    c.insert("test_to", &p.test_to);
    c.insert("test_errors", &p.test_errors);
    c.insert("user_email", &user_email);
    c.insert("smtp_configured", &app.config.smtp_url.is_some());
    c.insert("can_outbox", &cx.can(crate::OUTBOX_VIEW));
    render_status(cx, status, "admin/settings.html", c)
}

async fn stored_page(
    cx: &Ctx,
    status: StatusCode,
    test_to: String,
    test_errors: FormErrors,
) -> AppResult<Response> {
    let stored = settings::facility(&cx.app().db).await?;
    page(
        cx,
        status,
        Page {
            values: SettingsForm::from_stored(&stored),
            errors: FormErrors::new(),
            test_to,
            test_errors,
        },
    )
    .await
}

#[handler]
pub async fn settings_show(cx: Ctx) -> AppResult<Response> {
    stored_page(&cx, StatusCode::OK, String::new(), FormErrors::new()).await
}

/// Saves the settings (and the logo, when one was chosen) in one audited transaction; on any
/// error nothing changes and the form comes back with messages beside the fields (422).
#[handler]
pub async fn settings_save(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let values = SettingsForm::from_form(&form);
    let mut errors = FormErrors::new();
    let locked = locked_code(&cx).await?;
    let new = values.validate(locked.as_deref(), &mut errors);
    let logo = match form.file("logo") {
        None => None,
        Some(f) if f.data.len() > LOGO_MAX_BYTES => {
            errors.add(
                "logo",
                t("settings.error_logo_size")
                    .replace("{kib}", &(LOGO_MAX_BYTES / 1024).to_string()),
            );
            None
        }
        Some(f) => match settings::image_type(&f.data) {
            Some(kind) => Some((kind, f.data.clone())),
            None => {
                errors.add("logo", t("settings.error_logo_type"));
                None
            }
        },
    };
    if !errors.is_empty() {
        return page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            Page {
                values,
                errors,
                test_to: String::new(),
                test_errors: FormErrors::new(),
            },
        )
        .await;
    }
    let mut tx = app.db.begin().await?;
    let before = settings::facility_in(&mut tx).await?;
    let mut changed_before = serde_json::Map::new();
    let mut changed_after = serde_json::Map::new();
    for (key, value) in &new {
        let old = before.get(*key);
        if old.map(String::as_str) == Some(value.as_str()) {
            continue;
        }
        if old.is_none() && value.is_empty() {
            continue;
        }
        settings::put(&mut tx, key, value).await?;
        changed_before.insert(key.to_string(), json!(old));
        changed_after.insert(key.to_string(), json!(value));
    }
    let mut logo_detail = Value::Null;
    if let Some((kind, data)) = &logo {
        let etag = settings::put_logo(&mut tx, kind, data).await?;
        logo_detail = json!({"content_type": kind, "bytes": data.len(), "etag": etag});
        let old = app.facility_logo();
        changed_before.insert("logo".into(), json!(old));
        changed_after.insert("logo".into(), json!(etag));
    }
    if changed_after.is_empty() {
        drop(tx);
        cx.flash(FlashKind::Info, t("settings.unchanged"));
        return Ok(see_other("/admin/settings"));
    }
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("settings.update", "settings", None).detail(json!({
            "before": changed_before,
            "after": changed_after,
            "logo": logo_detail,
        })),
    )
    .await?;
    tx.commit().await?;
    app.refresh_facility().await?;
    cx.flash(FlashKind::Success, t("settings.saved"));
    Ok(see_other("/admin/settings"))
}

/// Queues a test email to the address typed, or to the administrator's own address.
#[handler]
pub async fn settings_test_email(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let user = cx.require_user()?;
    let typed = form.get("test_to").trim().to_lowercase();
    let to = if typed.is_empty() {
        crate::repo::get(&app.db, user.id)
            .await?
            .and_then(|d| d.details.email)
            .unwrap_or_default()
    } else {
        typed.clone()
    };
    let mut errors = FormErrors::new();
    if to.is_empty() {
        errors.add("test_to", t("settings.error_test_none"));
    } else if !outbox::valid_address(&to) {
        errors.add("test_to", t("settings.error_email"));
    }
    if !errors.is_empty() {
        return stored_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, typed, errors).await;
    }
    let subject = t("settings.test_subject").replace("{facility}", &app.facility_name());
    let body = t("settings.test_body")
        .replace("{facility}", &app.facility_name())
        .replace("{name}", &user.full_name);
    let mut tx = app.db.begin().await?;
    let id = outbox::enqueue(&mut tx, &to, &subject, &body)
        .await
        .map_err(AppError::internal)?;
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("outbox.test_email", "outbox", Some(id)).detail(json!({"after": {"to": to}})),
    )
    .await?;
    tx.commit().await?;
    let mut note = t("settings.test_queued").replace("{to}", &to);
    if settings::get(&app.db, "mail_from")
        .await?
        .is_none_or(|f| f.is_empty())
    {
        note.push(' ');
        note.push_str(&t("settings.test_no_from"));
    }
    cx.flash(FlashKind::Success, note);
    Ok(see_other("/admin/settings"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_and_landlines_are_accepted() {
        assert_eq!(
            normalize_phone("0712 345 678").as_deref(),
            Some("+254712345678")
        );
        assert_eq!(
            normalize_phone("020 2345678").as_deref(),
            Some("+254202345678")
        );
        assert_eq!(
            normalize_phone("+254 41 222 3333").as_deref(),
            Some("+254412223333")
        );
        assert_eq!(normalize_phone("0812 345"), None);
        assert_eq!(normalize_phone("hello"), None);
    }
}
