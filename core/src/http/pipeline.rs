//! The middleware every request passes: request id, client address, security headers, the
//! first-run redirect, the session, error pages and the access log line.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use poem::http::header::{self, HeaderValue};
use poem::http::{Method, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use super::ctx::{CtxInner, Flash};
use super::{parse_cookies, respond, Ctx, CSRF_COOKIE, FLASH_COOKIE};
use crate::app::App;
use crate::auth::session::{self, SessionUser, Timeouts};
use crate::error::AppError;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Wraps the router with the platform pipeline.
pub struct Platform<E> {
    app: App,
    inner: E,
}

impl<E: Endpoint> Platform<E> {
    pub fn new(app: App, inner: E) -> Self {
        Self { app, inner }
    }
}

impl<E: Endpoint> Endpoint for Platform<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let mut id = [0u8; 8];
        rand::fill(&mut id);
        let request_id = hex::encode(id);
        let span = tracing::info_span!("request", id = %request_id);
        let started = Instant::now();
        let method = req.method().clone();
        // Paths only: query strings can carry search text (patient names).
        let path = req.uri().path().to_string();
        async move {
            let mut resp = self.handle(req, request_id).await;
            secure_headers(&mut resp, &path);
            let status = resp.status().as_u16();
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let logged = logged_path(&path);
            tracing::info!(%method, path = %logged, status, ms = format_args!("{ms:.1}"), "served");
            Ok(resp)
        }
        .instrument(span)
        .await
    }
}

impl<E: Endpoint> Platform<E> {
    async fn handle(&self, mut req: Request, request_id: String) -> Response {
        let app = &self.app;
        let path = req.uri().path().to_string();
        let always_open =
            path == "/healthz" || path.starts_with("/static/") || path == "/favicon.ico";
        let htmx = req.header("HX-Request").is_some();

        if !always_open && path != "/setup" && path != "/language" {
            match app.users_exist().await {
                Ok(true) => {}
                Ok(false) => return respond::redirect_to(htmx, "/setup"),
                Err(e) => return respond::error_page(app, None, &AppError::from(e)),
            }
        }

        let cookies = req
            .header(header::COOKIE)
            .map(parse_cookies)
            .unwrap_or_default();
        let cookie = |name: &str| {
            cookies
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };

        // A page view may use a session read in the last few seconds; a form (any other
        // method) reads it afresh, and empties the cache once handled: it may have signed
        // someone out, disabled a user or changed a role.
        let reads_only = matches!(*req.method(), Method::GET | Method::HEAD);
        let token = cookie(session::COOKIE).filter(|_| !always_open);
        let mut user = match current_user(app, token, reads_only).await {
            Ok(user) => user,
            Err(e) => return respond::error_page(app, None, &e),
        };
        let permissions = match &user {
            Some(u) => match app
                .rbac
                .permissions(&app.db, &app.modules, u.policy_version, &u.role_names())
                .await
            {
                Ok(set) => set,
                Err(e) => return respond::error_page(app, None, &AppError::internal(e)),
            },
            None => Arc::new(Default::default()),
        };
        let lang = request_language(app, user.as_mut(), cookie(super::LANG_COOKIE));
        let licence = match app.licensing.loaded(&app.db).await {
            Ok(loaded) => loaded.verdict(app.licensing.today()),
            Err(e) => return respond::error_page(app, None, &AppError::from(e)),
        };
        let anon_csrf = cookie(CSRF_COOKIE).and_then(|c| app.key.verify("csrf", c));
        let flash: Vec<Flash> = cookie(FLASH_COOKIE)
            .and_then(|c| app.key.verify("flash", c))
            .and_then(|hexed| hex::decode(hexed).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let had_flash = !flash.is_empty();

        let cx = Ctx(Arc::new(CtxInner {
            app: app.clone(),
            request_id,
            client_addr: client_addr(&req, app),
            path: path.clone(),
            path_and_query: req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| path.clone()),
            htmx,
            history_restore: req.header("HX-History-Restore-Request").is_some(),
            user,
            permissions,
            licence,
            anon_csrf: Mutex::new(anon_csrf),
            incoming_flash: Mutex::new(flash),
            outgoing_flash: Mutex::new(Vec::new()),
            set_cookies: Mutex::new(Vec::new()),
        }));
        req.extensions_mut().insert(cx.clone());

        let outcome = crate::i18n::scope(lang, self.inner.call(req)).await;
        let mut resp = match outcome {
            Ok(out) => out.into_response(),
            Err(err) => {
                let app_err = as_app_error(&err);
                crate::i18n::scope(lang, async {
                    respond::error_page(app, Some(&cx), &app_err)
                })
                .await
            }
        };

        if !reads_only {
            app.sessions.clear();
        }
        set_cookies(&cx, had_flash, &mut resp);
        resp
    }
}

/// The signed-in user of a session cookie: from the few-seconds cache for a page view, else
/// read afresh (and cached again for page views).
async fn current_user(
    app: &App,
    token: Option<&str>,
    reads_only: bool,
) -> Result<Option<SessionUser>, AppError> {
    let Some(token) = token else {
        return Ok(None);
    };
    if let Some(user) = reads_only.then(|| app.sessions.get(token)).flatten() {
        return Ok(Some(user));
    }
    let epoch = app.sessions.epoch();
    let timeouts = Timeouts::new(
        app.config.session_idle_minutes,
        app.config.session_absolute_hours,
    );
    let user = session::load(&app.db, token, crate::clock::now_ms(), timeouts).await?;
    if let (true, Some(u)) = (reads_only, &user) {
        app.sessions.put(u, epoch);
    }
    Ok(user)
}

/// The request's language: the user's choice, the switch on the login page, the facility's
/// default. Built-in role names are shown in it.
fn request_language(
    app: &App,
    user: Option<&mut SessionUser>,
    switch: Option<&str>,
) -> &'static str {
    let lang = user
        .as_ref()
        .and_then(|u| u.language.as_deref())
        .and_then(crate::i18n::resolve)
        .or_else(|| switch.and_then(crate::i18n::resolve))
        .unwrap_or_else(|| app.default_language());
    if let Some(u) = user {
        for role in u.roles.iter_mut().filter(|r| r.builtin) {
            role.title = crate::i18n::t_in(lang, &format!("role.{}", role.name));
        }
    }
    lang
}

/// A handler's or poem's error as the one error type the error pages know.
fn as_app_error(err: &poem::Error) -> AppError {
    match err.downcast_ref::<AppError>() {
        Some(e) => clone_error(e),
        None if err.status() == StatusCode::NOT_FOUND => AppError::NotFound,
        None if err.status() == StatusCode::METHOD_NOT_ALLOWED => AppError::NotFound,
        None if err.status().is_client_error() => {
            AppError::BadRequest(err.status().canonical_reason().unwrap_or("").into())
        }
        None => AppError::Internal(err.to_string()),
    }
}

/// The response's cookies: flash messages carried forward (or cleared once shown) and those the
/// handler set.
fn set_cookies(cx: &Ctx, had_flash: bool, resp: &mut Response) {
    let outgoing = std::mem::take(
        &mut *cx
            .0
            .outgoing_flash
            .lock()
            .unwrap_or_else(|e| e.into_inner()),
    );
    let app = cx.app();
    let secure = app.config.cookie_secure;
    if !outgoing.is_empty() {
        let json = serde_json::to_vec(&outgoing).unwrap_or_default();
        let signed = app.key.sign("flash", &hex::encode(json));
        cx.add_cookie(respond::cookie_header(FLASH_COOKIE, &signed, None, secure));
    } else if had_flash
        && cx
            .0
            .incoming_flash
            .lock()
            .map(|f| f.is_empty())
            .unwrap_or(false)
    {
        cx.add_cookie(respond::cookie_header(FLASH_COOKIE, "", Some(0), secure));
    }
    for c in
        cx.0.set_cookies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
    {
        if let Ok(v) = HeaderValue::from_str(c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the nearest address in
/// X-Forwarded-For that is not itself a trusted proxy. A hop a proxy could not name (`unknown`,
/// an obfuscated RFC 7239 name, garbage) is "unknown": such clients share one throttle bucket,
/// but not the proxy's own.
fn client_addr(req: &Request, app: &App) -> String {
    let peer: Option<IpAddr> = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let Some(peer) = peer else {
        return "unknown".into();
    };
    let trusted = |ip: IpAddr| app.config.trusted_proxies.iter().any(|n| n.contains(ip));
    if !trusted(peer) {
        return peer.to_string();
    }
    let Some(xff) = req.header("X-Forwarded-For") else {
        return peer.to_string();
    };
    let mut chosen = peer;
    for hop in xff.rsplit(',') {
        match forwarded_hop(hop) {
            Some(ip) => {
                chosen = ip;
                if !trusted(ip) {
                    break;
                }
            }
            None => return "unknown".into(),
        }
    }
    chosen.to_string()
}

/// One X-Forwarded-For entry: `1.2.3.4`, `1.2.3.4:5555`, `2001:db8::1`, `[2001:db8::1]:443`.
fn forwarded_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| p.parse::<u16>().is_ok());
        return port_ok.then(|| inside.parse().ok()).flatten();
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn clone_error(e: &AppError) -> AppError {
    match e {
        AppError::NotFound => AppError::NotFound,
        AppError::Forbidden => AppError::Forbidden,
        AppError::LicencePaused => AppError::LicencePaused,
        AppError::Csrf => AppError::Csrf,
        AppError::Unauthenticated => AppError::Unauthenticated,
        AppError::BadRequest(m) => AppError::BadRequest(m.clone()),
        AppError::PayloadTooLarge => AppError::PayloadTooLarge,
        AppError::UnsupportedMediaType => AppError::UnsupportedMediaType,
        AppError::TooManyRequests(m) => AppError::TooManyRequests(m.clone()),
        AppError::Conflict(m) => AppError::Conflict(m.clone()),
        AppError::Internal(m) => AppError::Internal(m.clone()),
    }
}

/// The path as logged: secrets carried in a path (a waiting-room display's key) are cut off, so
/// whoever reads the logs cannot open the screen.
fn logged_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/display/") {
        Some(rest) if !rest.is_empty() => "/display/…".into(),
        _ => path.into(),
    }
}

fn secure_headers(resp: &mut Response, path: &str) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.append(header::VARY, HeaderValue::from_static("HX-Request"));
    // The logo sets its own (private) caching.
    let is_static =
        path.starts_with("/static/") || path == "/favicon.ico" || path == "/facility/logo";
    if !is_static {
        // Pages carry patient data: never kept by the browser or a proxy.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::{forwarded_hop, logged_path};

    #[test]
    fn forwarded_hops_with_ports_are_parsed() {
        let ip = |s: &str| Some(s.parse().unwrap());
        assert_eq!(forwarded_hop(" 1.2.3.4"), ip("1.2.3.4"));
        assert_eq!(forwarded_hop("1.2.3.4:5555"), ip("1.2.3.4"));
        assert_eq!(forwarded_hop("2001:db8::1"), ip("2001:db8::1"));
        assert_eq!(forwarded_hop("[2001:db8::1]:443"), ip("2001:db8::1"));
        assert_eq!(forwarded_hop("[2001:db8::1]"), ip("2001:db8::1"));
        for bad in [
            "unknown",
            "_hidden",
            "1.2.3.4:99999",
            "[2001:db8::1]x",
            "",
            "host:80",
        ] {
            assert_eq!(forwarded_hop(bad), None, "{bad}");
        }
    }

    #[test]
    fn display_keys_never_reach_the_log() {
        assert_eq!(logged_path("/display/0123abcd"), "/display/…");
        assert_eq!(logged_path("/patients/12"), "/patients/12");
        assert_eq!(logged_path("/displays"), "/displays");
    }
}
