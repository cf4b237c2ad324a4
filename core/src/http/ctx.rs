//! The per-request context handed to handlers: who is asking, from where, and what the response
//! must carry back (cookies, flash messages).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use poem::{FromRequest, Request, RequestBody};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::auth::session::SessionUser;
use crate::error::AppError;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FlashKind {
    Success,
    Info,
    Warning,
    Danger,
}

/// A one-time message shown on the next page (after a redirect).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

pub(crate) struct CtxInner {
    pub app: App,
    pub request_id: String,
    pub client_addr: String,
    pub path: String,
    pub path_and_query: String,
    pub htmx: bool,
    pub history_restore: bool,
    pub user: Option<SessionUser>,
    /// The user's permissions (empty when signed out).
    pub permissions: Arc<HashSet<String>>,
    /// The licence as it stands for this request.
    pub licence: crate::licence::Verdict,
    /// Anonymous CSRF token from a valid signed cookie, or one made for this response.
    pub anon_csrf: Mutex<Option<String>>,
    /// Flash messages that arrived with the request (consumed when a page renders).
    pub incoming_flash: Mutex<Vec<Flash>>,
    /// Flash messages to carry to the next page.
    pub outgoing_flash: Mutex<Vec<Flash>>,
    pub set_cookies: Mutex<Vec<String>>,
}

#[derive(Clone)]
pub struct Ctx(pub(crate) Arc<CtxInner>);

impl Ctx {
    pub fn app(&self) -> &App {
        &self.0.app
    }
    pub fn request_id(&self) -> &str {
        &self.0.request_id
    }
    pub fn client_addr(&self) -> &str {
        &self.0.client_addr
    }
    pub fn path(&self) -> &str {
        &self.0.path
    }
    pub fn path_and_query(&self) -> &str {
        &self.0.path_and_query
    }
    /// An HTMX request that expects a fragment (not a history restore, which needs the page).
    pub fn wants_fragment(&self) -> bool {
        self.0.htmx && !self.0.history_restore
    }
    pub fn is_htmx(&self) -> bool {
        self.0.htmx
    }
    pub fn user(&self) -> Option<&SessionUser> {
        self.0.user.as_ref()
    }

    /// Whether the signed-in user may use a permission now: they hold it (a set lookup), its
    /// module is on (configuration and licence), and, when the licence has run out past its
    /// grace period, it is not administrative.
    pub fn can(&self, permission: &str) -> bool {
        if !self.0.permissions.contains(permission) {
            return false;
        }
        match self.app().modules.permission(permission) {
            Some((module, p)) => {
                self.module_on(module) && !(p.administrative && self.licence().standing.read_only())
            }
            None => false,
        }
    }

    /// Whether the signed-in user holds a permission whose module is on, whatever the licence's
    /// standing: for security actions on accounts, which an expired licence never pauses.
    pub fn holds(&self, permission: &str) -> bool {
        self.0.permissions.contains(permission)
            && self
                .app()
                .modules
                .permission(permission)
                .is_some_and(|(module, _)| self.module_on(module))
    }

    /// Whether a module is on for this request: enabled by configuration and licensed.
    pub fn module_on(&self, module: &str) -> bool {
        self.app().modules.is_enabled(module) && self.0.licence.covers(module)
    }

    pub fn licence(&self) -> &crate::licence::Verdict {
        &self.0.licence
    }

    /// The signed-in user; handlers behind `Access::Authenticated` always have one.
    pub fn require_user(&self) -> Result<&SessionUser, AppError> {
        self.user().ok_or(AppError::Unauthenticated)
    }

    /// The audit actor of this request.
    pub fn actor(&self) -> crate::audit::Actor {
        crate::audit::Actor {
            user_id: self.user().map(|u| u.id),
            client_addr: Some(self.client_addr().to_string()),
            request_id: Some(self.request_id().to_string()),
        }
    }

    /// Records a read of patient data by this request's user (group-committed; see `audit`).
    pub async fn audit_read(&self, event: crate::audit::Event) {
        self.app().audit_reads.read(self.actor(), event).await;
    }

    /// The CSRF token forms must carry: the session's, or the anonymous double-submit token
    /// (made and set as a signed cookie on first use).
    pub fn csrf_token(&self) -> String {
        if let Some(user) = self.user() {
            return user.csrf_token.clone();
        }
        let mut anon = self.0.anon_csrf.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = anon.as_ref() {
            return token.clone();
        }
        let token = crate::auth::random_token();
        let signed = self.app().key.sign("csrf", &token);
        self.add_cookie(super::cookie_header(
            super::CSRF_COOKIE,
            &signed,
            None,
            self.app().config.cookie_secure,
        ));
        *anon = Some(token.clone());
        token
    }

    /// The anonymous token that arrived in a valid signed cookie, if any.
    pub(crate) fn anon_csrf_from_cookie(&self) -> Option<String> {
        self.0
            .anon_csrf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn add_cookie(&self, header: String) {
        self.0
            .set_cookies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(header);
    }

    /// Queues a message for the next page.
    pub fn flash(&self, kind: FlashKind, text: impl Into<String>) {
        self.0
            .outgoing_flash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Flash {
                kind,
                text: text.into(),
            });
    }

    /// Messages to show on the page being rendered now.
    pub(crate) fn take_incoming_flash(&self) -> Vec<Flash> {
        std::mem::take(
            &mut *self
                .0
                .incoming_flash
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }
}

impl<'a> FromRequest<'a> for Ctx {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        req.extensions()
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| AppError::Internal("request context missing".into()).into())
    }
}
