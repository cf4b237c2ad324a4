//! The request pipeline: request id -> security headers -> session -> route access check ->
//! body limit, form parsing and CSRF guard -> handler -> render (page or HTMX fragment).

mod ctx;
mod pipeline;
mod respond;
mod routes;

pub use ctx::{Ctx, Flash, FlashKind};
pub use pipeline::Platform;
pub use respond::{
    cookie_header, csv_attachment, hx_or_see_other, pdf_inline, render, render_part, render_status,
    see_other,
};
pub use routes::{build_router, Access, Form, RouteSpec, UploadedFile, DEFAULT_BODY_LIMIT};

/// Cookie with the anonymous double-submit CSRF token (signed).
pub const CSRF_COOKIE: &str = "hms_csrf";
/// Cookie with the language chosen on the sign-in page (before anyone is signed in).
pub const LANG_COOKIE: &str = "hms_lang";
/// Cookie with flash messages for the next page (signed).
pub const FLASH_COOKIE: &str = "hms_flash";

/// Parses a `Cookie` request header into (name, value) pairs.
pub fn parse_cookies(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

/// A `next` target is followed only when it is a local path (no scheme, no host, no `//`).
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\r', '\n'])
        && !next.chars().any(char::is_control);
    ok.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_next_targets_are_followed() {
        assert_eq!(safe_next("/patients?q=1"), Some("/patients?q=1"));
        assert_eq!(safe_next("//evil.example/"), None);
        assert_eq!(safe_next("/\\evil.example"), None);
        assert_eq!(safe_next("https://evil.example/"), None);
        assert_eq!(safe_next("javascript:alert(1)"), None);
    }

    #[test]
    fn cookies_are_parsed() {
        let c = parse_cookies("a=1; hms_session=abc ;b=\"x\"");
        assert_eq!(c[1], ("hms_session".into(), "abc".into()));
        assert_eq!(c[2], ("b".into(), "x".into()));
    }
}
