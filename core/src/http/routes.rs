//! Routes are declared as specs (method, path, access, endpoint); the platform builds the poem
//! router from them and wraps every endpoint in the access check, body limit and CSRF guard.
//! Specs, unlike a built poem `Route`, can be listed: tests walk every route.

use std::collections::BTreeMap;

use poem::http::Method;
use poem::{
    Endpoint, EndpointExt, FromRequest, IntoEndpoint, Request, RequestBody, Response, Route,
    RouteMethod,
};

use super::Ctx;
use crate::error::AppError;

/// Bodies larger than this are refused unless a route says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Who may call a route. There is no default: every spec names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (setup, login, health check, static files).
    Public,
    /// Any signed-in user (their own dashboard, password, sign out).
    Authenticated,
    /// Signed-in users whose roles hold this permission.
    Permission(&'static str),
    /// A machine calling in (a payment provider's callback): no session and no form token; the
    /// handler authenticates the call (a secret in its path) and reads the raw body, which the
    /// guard has read up to the route's body limit.
    Callback,
}

pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    /// The module the route belongs to (its enabled state gates the route); `None` for the
    /// platform's own routes.
    pub module: Option<&'static str>,
    pub body_limit: usize,
    /// Form fields that may hold several lines (text areas): newline and tab are allowed in
    /// them, and no other control character in any field.
    pub multiline: &'static [&'static str],
    /// A security action on accounts (disabling one, ending its sessions, resetting its
    /// password): allowed to holders of its permission even when the licence pauses
    /// administrative work, so an expired licence never keeps a leaked account open.
    pub never_paused: bool,
    endpoint: poem::endpoint::BoxEndpoint<'static, Response>,
}

impl RouteSpec {
    pub fn new<E>(method: Method, path: &'static str, access: Access, endpoint: E) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        Self {
            method,
            path,
            access,
            module: None,
            body_limit: DEFAULT_BODY_LIMIT,
            multiline: &[],
            never_paused: false,
            endpoint: endpoint.into_endpoint().map_to_response().boxed(),
        }
    }

    pub fn get<E>(path: &'static str, access: Access, endpoint: E) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        Self::new(Method::GET, path, access, endpoint)
    }

    pub fn post<E>(path: &'static str, access: Access, endpoint: E) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        Self::new(Method::POST, path, access, endpoint)
    }

    /// Tags the route with its module (the registry does this for module routes).
    pub fn in_module(mut self, id: &'static str) -> Self {
        self.module = Some(id);
        self
    }

    /// Names the form fields of this route that may hold several lines.
    pub fn multiline(mut self, fields: &'static [&'static str]) -> Self {
        self.multiline = fields;
        self
    }

    /// Marks the route as a security action on accounts, which the licence never pauses.
    pub fn never_paused(mut self) -> Self {
        self.never_paused = true;
        self
    }

    /// Raises (or lowers) the body limit of this route.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
}

/// Builds the router; every endpoint is wrapped in its guard.
pub fn build_router(specs: Vec<RouteSpec>) -> Route {
    let mut by_path: BTreeMap<&'static str, RouteMethod> = BTreeMap::new();
    for spec in specs {
        let guarded = Guard {
            access: spec.access,
            module: spec.module,
            body_limit: spec.body_limit,
            multiline: spec.multiline,
            never_paused: spec.never_paused,
            inner: spec.endpoint,
        };
        let rm = by_path.remove(spec.path).unwrap_or_default();
        let rm = rm.method(spec.method, guarded);
        by_path.insert(spec.path, rm);
    }
    let mut route = Route::new();
    for (path, rm) in by_path {
        route = route.at(path, rm);
    }
    route
}

struct Guard {
    access: Access,
    module: Option<&'static str>,
    body_limit: usize,
    multiline: &'static [&'static str],
    never_paused: bool,
    inner: poem::endpoint::BoxEndpoint<'static, Response>,
}

fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl Endpoint for Guard {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let cx = req
            .extensions()
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| AppError::Internal("request context missing".into()))?;
        // A module that is not enabled does not exist, for everyone.
        if let Some(module) = self.module {
            if !cx.module_on(module) {
                return Err(AppError::NotFound.into());
            }
        }
        match self.access {
            Access::Public => {}
            Access::Callback => {
                if let Some(field) = control_in_path_or_query(&req) {
                    return Err(control_character(&field).into());
                }
                let body = req
                    .take_body()
                    .into_bytes_limit(self.body_limit)
                    .await
                    .map_err(|_| AppError::PayloadTooLarge)?;
                req.set_body(body);
                return self.inner.call(req).await;
            }
            Access::Authenticated | Access::Permission(_) => {
                let Some(user) = cx.user() else {
                    return Err(AppError::Unauthenticated.into());
                };
                // After a password reset, the new password comes first.
                if user.must_change_password
                    && !matches!(cx.path(), "/account/password" | "/logout")
                {
                    return Ok(super::respond::redirect_to(
                        cx.is_htmx(),
                        "/account/password",
                    ));
                }
                if let Access::Permission(p) = self.access {
                    let allowed = if self.never_paused {
                        cx.holds(p)
                    } else {
                        cx.can(p)
                    };
                    if !allowed {
                        let paused = cx.licence().standing.read_only()
                            && cx
                                .app()
                                .modules
                                .permission(p)
                                .is_some_and(|(_, d)| d.administrative)
                            && cx.0.permissions.contains(p);
                        return Err(if paused {
                            AppError::LicencePaused
                        } else {
                            AppError::Forbidden
                        }
                        .into());
                    }
                }
            }
        }
        // Text that no screen can show and PostgreSQL cannot store (NUL) is refused here, once
        // for every route, before a handler sees it.
        if let Some(field) = control_in_path_or_query(&req) {
            return Err(control_character(&field).into());
        }
        if is_unsafe(req.method()) {
            let form = read_form(&mut req, self.body_limit).await?;
            let sent = req
                .header("X-CSRF-Token")
                .map(str::to_string)
                .or_else(|| form.get_opt("csrf_token").map(str::to_string));
            let expected = match cx.user() {
                Some(u) => Some(u.csrf_token.clone()),
                None => cx.anon_csrf_from_cookie(),
            };
            let ok = match (sent, expected) {
                (Some(s), Some(e)) => crate::auth::constant_time_eq(s.as_bytes(), e.as_bytes()),
                _ => false,
            };
            if !ok {
                tracing::warn!("request refused: missing or wrong CSRF token");
                return Err(AppError::Csrf.into());
            }
            if let Some(field) = form.control_character(self.multiline) {
                return Err(control_character(field).into());
            }
            req.extensions_mut().insert(form);
        }
        self.inner.call(req).await
    }
}

/// Whether text holds a control character: any at all, or, in a multi-line field, any but
/// newline, carriage return and tab.
fn has_control(text: &str, multiline: bool) -> bool {
    text.chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
}

/// The first query parameter holding a control character once decoded, or "address" when the
/// path holds one (a percent-escape: raw ones never get past the HTTP parser).
fn control_in_path_or_query(req: &Request) -> Option<String> {
    let path = req.uri().path().as_bytes();
    let escaped_control = path.windows(3).any(|w| {
        w[0] == b'%'
            && std::str::from_utf8(&w[1..])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .is_some_and(|b| b.is_ascii_control())
    });
    if escaped_control {
        return Some("address".into());
    }
    let query = req.uri().query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, v)| has_control(k, false) || has_control(v, false))
        .map(|(k, _)| k.into_owned())
}

fn control_character(field: &str) -> AppError {
    // A field's name may itself hold the character: it is named without it.
    let name: String = field.chars().filter(|c| !c.is_control()).collect();
    AppError::BadRequest(crate::i18n::t("error.control_character").replace("{field}", &name))
}

async fn read_form(req: &mut Request, limit: usize) -> Result<Form, AppError> {
    let declared: Option<usize> = req
        .header("Content-Length")
        .and_then(|v| v.trim().parse().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(AppError::PayloadTooLarge);
    }
    let content_type = req.content_type().map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let body = req
        .take_body()
        .into_bytes_limit(limit)
        .await
        .map_err(|e| match e {
            poem::error::ReadBodyError::PayloadTooLarge => AppError::PayloadTooLarge,
            other => AppError::BadRequest(other.to_string()),
        })?;
    if body.is_empty() {
        return Ok(Form::default());
    }
    match content_type.as_deref() {
        Some("application/x-www-form-urlencoded") => {}
        Some("multipart/form-data") => {
            let header = req.content_type().unwrap_or_default().to_string();
            return read_multipart(&header, body).await;
        }
        _ => return Err(AppError::UnsupportedMediaType),
    }
    if std::str::from_utf8(&body).is_err() {
        return Err(AppError::BadRequest(
            "the form was not valid UTF-8 text".into(),
        ));
    }
    let mut fields = Vec::new();
    for (k, v) in form_urlencoded::parse(&body) {
        // parse() replaces bad percent-escapes with U+FFFD; refuse instead of storing garbage.
        if k.contains('\u{FFFD}') || v.contains('\u{FFFD}') {
            return Err(AppError::BadRequest(
                "the form was not valid UTF-8 text".into(),
            ));
        }
        fields.push((k.into_owned(), v.into_owned()));
    }
    Ok(Form {
        fields,
        files: Vec::new(),
    })
}

/// Parses a file-upload form: text fields become fields, files are kept with their names.
async fn read_multipart(content_type: &str, body: bytes::Bytes) -> Result<Form, AppError> {
    let bad = |m: String| AppError::BadRequest(m);
    let boundary = multer::parse_boundary(content_type).map_err(|e| bad(e.to_string()))?;
    let mut parts = multer::Multipart::with_reader(std::io::Cursor::new(body), boundary);
    let mut form = Form::default();
    while let Some(field) = parts.next_field().await.map_err(|e| bad(e.to_string()))? {
        let name = field.name().unwrap_or_default().to_string();
        match field.file_name().map(str::to_string) {
            Some(file_name) => {
                let data = field.bytes().await.map_err(|e| bad(e.to_string()))?;
                form.files.push(UploadedFile {
                    field: name,
                    file_name,
                    data: data.to_vec(),
                });
            }
            None => {
                let text = field
                    .text()
                    .await
                    .map_err(|_| bad("the form was not valid UTF-8 text".into()))?;
                form.fields.push((name, text));
            }
        }
    }
    Ok(form)
}

/// A file sent with a form.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    pub field: String,
    pub file_name: String,
    pub data: Vec<u8>,
}

/// The fields of a submitted form (parsed once by the guard, which also checked its CSRF token).
#[derive(Debug, Clone, Default)]
pub struct Form {
    fields: Vec<(String, String)>,
    files: Vec<UploadedFile>,
}

impl Form {
    pub fn get_opt(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The field's value, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.get_opt(name).unwrap_or("")
    }

    /// Every value of a repeated field (checkboxes, multi-selects).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl Form {
    /// The first field holding a character that cannot be stored: the names of fields that
    /// may hold several lines are given.
    fn control_character(&self, multiline: &[&str]) -> Option<&str> {
        let fields = self
            .fields
            .iter()
            .find(|(k, v)| has_control(k, false) || has_control(v, multiline.contains(&k.as_str())))
            .map(|(k, _)| k.as_str());
        fields.or_else(|| {
            self.files
                .iter()
                .find(|f| has_control(&f.field, false) || has_control(&f.file_name, false))
                .map(|f| f.field.as_str())
        })
    }

    /// The file sent in a field, if one was chosen.
    pub fn file(&self, field: &str) -> Option<&UploadedFile> {
        self.files
            .iter()
            .find(|f| f.field == field && !(f.file_name.is_empty() && f.data.is_empty()))
    }
}

impl<'a> FromRequest<'a> for Form {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(req.extensions().get::<Form>().cloned().unwrap_or_default())
    }
}
