//! Responses: rendering a page or its HTMX fragment, redirects, cookies and error pages.

use poem::http::header::{self, HeaderValue};
use poem::http::StatusCode;
use poem::Response;

use super::Ctx;
use crate::app::App;
use crate::error::{AppError, AppResult};

/// Renders a page with 200.
pub fn render(cx: &Ctx, template: &str, context: tera::Context) -> AppResult<Response> {
    render_status(cx, StatusCode::OK, template, context)
}

/// Renders a page, or only its `content` block for an HTMX request (the whole page when HTMX
/// restores history, since it keeps no history cache).
pub fn render_status(
    cx: &Ctx,
    status: StatusCode,
    template: &str,
    mut context: tera::Context,
) -> AppResult<Response> {
    add_base(&mut context, cx.app(), Some(cx));
    let tera = &cx.app().ui.tera;
    let html = if cx.wants_fragment() {
        tera.render_block(template, "content", &context)?
    } else {
        tera.render(template, &context)?
    };
    Ok(html_response(status, html))
}

/// Like [`render`], but an HTMX request gets only `part`: the partial template that `template`
/// includes for the part of the page that changes (a list's results as the user types). The
/// partial is rendered on its own: Tera renders a block only by running its whole page, menu
/// and all, and throwing the rest away, so a live search paid for a full page each time.
pub fn render_part(
    cx: &Ctx,
    template: &str,
    part: &str,
    mut context: tera::Context,
) -> AppResult<Response> {
    if !cx.wants_fragment() {
        return render(cx, template, context);
    }
    // The part replaces a piece of a page already shown: it gets what its forms need, not the
    // menu, banner and languages of the page around it (nor the flash, which waits for the next
    // full page).
    add_request(&mut context, cx);
    let html = cx.app().ui.tera.render(part, &context)?;
    Ok(html_response(StatusCode::OK, html))
}

/// A CSV file to download (rows built with [`crate::ui::csv_cell`]), named `stem-YYYYMMDD-HHMM.csv`
/// in facility time.
pub fn csv_attachment(stem: &str, body: String) -> Response {
    let name = format!(
        "{stem}-{}.csv",
        crate::clock::to_local(chrono::Utc::now()).format("%Y%m%d-%H%M")
    );
    Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(body)
}

/// A PDF shown in the browser (to print or save), named `name`; never cached, since documents
/// carry patient data. The name is made of the caller's own parts (numbers, fixed words).
pub fn pdf_inline(name: &str, body: Vec<u8>) -> Response {
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    Response::builder()
        .content_type("application/pdf")
        .header(header::CACHE_CONTROL, "no-store")
        .header(
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{safe}\""),
        )
        .body(body)
}

/// What every template, whole page or part, may use of the request: its language, the signed-in
/// user, the CSRF token for forms and the path.
fn add_request(context: &mut tera::Context, cx: &Ctx) {
    context.insert("lang", crate::i18n::current());
    context.insert("user", &cx.user());
    context.insert("csrf_token", &cx.csrf_token());
    context.insert("path", cx.path());
}

fn add_base(context: &mut tera::Context, app: &App, cx: Option<&Ctx>) {
    context.insert("facility_name", &app.facility_name());
    context.insert("facility_logo", &app.facility_logo());
    context.insert(
        "languages",
        &crate::i18n::LANGUAGES
            .iter()
            .map(|(code, name)| serde_json::json!({"code": code, "name": name}))
            .collect::<Vec<_>>(),
    );
    match cx {
        Some(cx) => {
            let menu: Vec<MenuEntry> = match cx.user() {
                Some(_) => {
                    let items = app.modules.menu_for(|p| cx.can(p));
                    // The item for this page; else the item whose section holds it (the
                    // deepest: /patients/import/7 is under "Import", not "Find a patient").
                    let holds =
                        |href: &str| href != "/" && cx.path().starts_with(&format!("{href}/"));
                    let current = items
                        .iter()
                        .find(|m| m.href == cx.path())
                        .or_else(|| {
                            items
                                .iter()
                                .filter(|m| holds(m.href))
                                .max_by_key(|m| m.href.len())
                        })
                        .map(|m| m.href);
                    items
                        .into_iter()
                        .map(|m| MenuEntry {
                            label: crate::i18n::t(m.label),
                            current: current == Some(m.href),
                            href: m.href,
                        })
                        .collect()
                }
                None => Vec::new(),
            };
            context.insert("menu", &menu);
            context.insert("licence_banner", &licence_banner(cx));
            context.insert("flash", &cx.take_incoming_flash());
            add_request(context, cx);
        }
        None => {
            context.insert("lang", crate::i18n::current());
            context.insert("licence_banner", &None::<()>);
            context.insert("menu", &Vec::<()>::new());
            context.insert("user", &None::<()>);
            context.insert("csrf_token", "");
            context.insert("flash", &Vec::<()>::new());
            context.insert("path", "");
        }
    }
}

#[derive(serde::Serialize)]
struct Banner {
    level: &'static str,
    text: String,
}

/// The licence banner for this user, if any: evaluation and near expiry for those who manage the
/// licence; grace and read-only for everyone.
fn licence_banner(cx: &Ctx) -> Option<Banner> {
    use crate::licence::{Standing, WARN_DAYS};
    cx.user()?;
    let manager = cx.can(crate::licence::MANAGE_PERMISSION);
    let days = |key: &str, d: i64| crate::i18n::t(key).replace("{days}", &d.to_string());
    match cx.licence().standing {
        Standing::Development if manager => Some(Banner {
            level: "info",
            text: crate::i18n::t("licence.banner_development"),
        }),
        Standing::Evaluation { days_left } if manager => Some(Banner {
            level: "info",
            text: days("licence.banner_evaluation", days_left),
        }),
        Standing::Valid { days_left } if manager && days_left < WARN_DAYS => Some(Banner {
            level: "warning",
            text: days("licence.banner_expiring", days_left),
        }),
        Standing::Grace { days_left } => Some(Banner {
            level: "warning",
            text: days("licence.banner_grace", days_left),
        }),
        Standing::ReadOnly => Some(Banner {
            level: "danger",
            text: crate::i18n::t("licence.banner_read_only"),
        }),
        _ => None,
    }
}

#[derive(serde::Serialize)]
struct MenuEntry {
    label: String,
    href: &'static str,
    current: bool,
}

fn html_response(status: StatusCode, html: String) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .body(html)
}

/// 303 See Other to a local path (after a successful full-page POST).
pub fn see_other(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .finish()
}

/// Redirect after a POST: 303 for a page, `HX-Redirect` for an HTMX request (a followed 303
/// would swap the next page into a fragment).
pub fn hx_or_see_other(cx: &Ctx, location: &str) -> Response {
    redirect_to(cx.is_htmx(), location)
}

pub(crate) fn redirect_to(htmx: bool, location: &str) -> Response {
    if htmx {
        Response::builder()
            .status(StatusCode::OK)
            .header("HX-Redirect", location)
            .finish()
    } else {
        see_other(location)
    }
}

/// A `Set-Cookie` header value: HttpOnly, SameSite=Lax, Path=/, Secure when configured.
pub fn cookie_header(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The friendly page (or fragment) for an error. Internal details go to the log only.
pub(crate) fn error_page(app: &App, cx: Option<&Ctx>, err: &AppError) -> Response {
    let htmx = cx.is_some_and(|c| c.is_htmx());
    if let AppError::Unauthenticated = err {
        if htmx {
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header("HX-Redirect", "/login")
                .finish();
        }
        let next = cx.map(|c| c.path_and_query()).unwrap_or("/");
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("next", next)
            .finish();
        return see_other(&format!("/login?{query}"));
    }
    if let AppError::Internal(detail) = err {
        tracing::error!(error = %detail, "request failed");
    } else {
        tracing::debug!(error = %err, "request refused");
    }
    let (title, message) = describe(err);
    let mut context = tera::Context::new();
    context.insert("status", &err.status().as_u16());
    context.insert("title_key", title);
    context.insert("message", &message);
    add_base(&mut context, app, cx);
    let tera = &app.ui.tera;
    let rendered = if cx.is_some_and(|c| c.wants_fragment()) {
        tera.render_block("error.html", "content", &context)
    } else {
        tera.render("error.html", &context)
    };
    let html = rendered.unwrap_or_else(|e| {
        tracing::error!(error = ?e, "error page failed to render");
        "<!doctype html><title>Error</title><p>Something went wrong. Please try again.</p>".into()
    });
    let mut resp = html_response(err.status(), html);
    if htmx {
        // Error fragments replace the main area, whatever the form targeted.
        resp.headers_mut()
            .insert("HX-Retarget", HeaderValue::from_static("#main"));
        resp.headers_mut()
            .insert("HX-Reswap", HeaderValue::from_static("innerHTML"));
    }
    resp
}

/// Title key and message for each error.
fn describe(err: &AppError) -> (&'static str, String) {
    use crate::i18n::t;
    match err {
        AppError::NotFound => ("error.not_found_title", t("error.not_found")),
        AppError::Forbidden => ("error.forbidden_title", t("error.forbidden")),
        AppError::LicencePaused => ("error.licence_title", t("error.licence_paused")),
        AppError::Csrf => ("error.csrf_title", t("error.csrf")),
        AppError::Unauthenticated => ("error.forbidden_title", t("error.forbidden")),
        AppError::BadRequest(detail) => ("error.bad_request_title", {
            let base = t("error.bad_request");
            if detail.is_empty() {
                base
            } else {
                format!("{base} ({detail})")
            }
        }),
        AppError::PayloadTooLarge => ("error.too_large_title", t("error.too_large")),
        AppError::UnsupportedMediaType => ("error.bad_request_title", t("error.media_type")),
        AppError::TooManyRequests(m) => ("error.too_many_title", m.clone()),
        AppError::Conflict(m) => ("error.conflict_title", m.clone()),
        AppError::Internal(_) => ("error.internal_title", t("error.internal")),
    }
}
