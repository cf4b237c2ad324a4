//! `/billing/settings`: which service points wait for payment from cash patients (laboratory,
//! pharmacy and imaging unless changed), the consultation fee check-in posts (none unless set)
//! and the facility's KRA PIN for its documents.

use poem::http::StatusCode;
use poem::{handler, Response};
use serde_json::json;

use hms_appointments::api as appts;
use hms_core::audit::{self, Event};
use hms_core::http::{render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::AppResult;

use crate::docs::KRA_PIN_SETTING;
use crate::model::{self, PAY_BEFORE_SETTING};
use crate::SETTINGS;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/billing/settings", Access::Permission(SETTINGS), page),
        RouteSpec::post("/billing/settings", Access::Permission(SETTINGS), save),
    ]
}

async fn render_page(
    cx: &Ctx,
    status: StatusCode,
    typed: serde_json::Value,
    errors: FormErrors,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let gated = crate::clearance::gated_points(db).await?;
    let points: Vec<_> = appts::service_points(db)
        .await?
        .into_iter()
        .map(|p| json!({ "code": p.code, "name": p.name, "gated": gated.contains(&p.code) }))
        .collect();
    let mut c = tera::Context::new();
    c.insert("points", &points);
    c.insert("typed", &typed);
    c.insert("errors", &errors);
    render_status(cx, status, "billing/settings.html", c)
}

/// GET `/billing/settings`.
#[handler]
pub async fn page(cx: Ctx) -> AppResult<Response> {
    let db = &cx.app().db;
    let pin = hms_core::settings::get(db, KRA_PIN_SETTING)
        .await?
        .unwrap_or_default();
    let fee = crate::prices::consultation_fee(db)
        .await?
        .map(|f| f.plain())
        .unwrap_or_default();
    let typed = json!({ "kra_pin": pin, "consultation_fee": fee });
    render_page(&cx, StatusCode::OK, typed, FormErrors::new()).await
}

/// A KRA PIN: a letter, nine digits, a letter (`P051234567X`).
pub fn kra_pin_ok(pin: &str) -> bool {
    let b = pin.as_bytes();
    b.len() == 11
        && b[0].is_ascii_uppercase()
        && b[10].is_ascii_uppercase()
        && b[1..10].iter().all(u8::is_ascii_digit)
}

/// POST `/billing/settings` (repeated `gated`, `consultation_fee` in KES or blank, `kra_pin`).
#[handler]
pub async fn save(cx: Ctx, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let pin = form.get("kra_pin").trim().to_ascii_uppercase();
    let fee_text = form.get("consultation_fee").trim();
    let mut errors = FormErrors::new();
    if !pin.is_empty() && !kra_pin_ok(&pin) {
        errors.add("kra_pin", t("billing.error_kra_pin"));
    }
    let fee = if fee_text.is_empty() {
        None
    } else {
        match model::amount(fee_text) {
            Ok(f) => Some(f),
            Err(key) => {
                errors.add("consultation_fee", t(key));
                None
            }
        }
    };
    if !errors.is_empty() {
        let typed = json!({ "kra_pin": pin, "consultation_fee": fee_text });
        return render_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, typed, errors).await;
    }
    let known: Vec<String> = appts::service_points(db)
        .await?
        .into_iter()
        .map(|p| p.code)
        .collect();
    let mut gated: Vec<String> = form
        .all("gated")
        .into_iter()
        .map(|g| g.trim().to_string())
        .filter(|g| known.contains(g))
        .collect();
    // A gated point the facility has not set up yet (imaging) stays as it was.
    for p in crate::clearance::gated_points(db).await? {
        if !known.contains(&p) && !gated.contains(&p) {
            gated.push(p);
        }
    }
    let value = gated.join(",");
    let mut tx = db.begin().await?;
    for (key, v) in [
        (PAY_BEFORE_SETTING, value.as_str()),
        (KRA_PIN_SETTING, pin.as_str()),
    ] {
        hms_core::settings::put(&mut tx, key, v).await?;
    }
    crate::prices::set_consultation_fee(&mut tx, fee).await?;
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("billing.settings", "settings", None).detail(json!({
            "pay_before": model::points(&value), "kra_pin": pin,
            "consultation_fee": fee.map(|f| f.cents()),
        })),
    )
    .await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("billing.settings_saved"));
    Ok(see_other("/billing/settings"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn kra_pins_are_a_letter_nine_digits_and_a_letter() {
        assert!(super::kra_pin_ok("P051234567X"));
        assert!(!super::kra_pin_ok("P05123456X"));
        assert!(!super::kra_pin_ok("p051234567X"));
        assert!(!super::kra_pin_ok("P05123456AX"));
    }
}
