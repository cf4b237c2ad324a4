//! A client for the real router that behaves like a browser: it keeps cookies, remembers the
//! CSRF token of the last page and sends it with forms.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use poem::http::{header, HeaderMap, Method};
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Body, Request, RequestParts};

use crate::SharedEndpoint;

pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as text (lossy for binary bodies; see `bytes`).
    pub body: String,
    pub bytes: Vec<u8>,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
}

pub struct Client {
    endpoint: SharedEndpoint,
    remote: SocketAddr,
    cookies: Mutex<BTreeMap<String, String>>,
    csrf: Mutex<Option<String>>,
}

/// Finds the CSRF token in a page: a hidden field or the `hx-headers` of `<body>`.
pub fn find_csrf(html: &str) -> Option<String> {
    for marker in ["name=\"csrf_token\" value=\"", "\"X-CSRF-Token\": \""] {
        if let Some(pos) = html.find(marker) {
            let rest = &html[pos + marker.len()..];
            let end = rest.find('"')?;
            let token = &rest[..end];
            if !token.is_empty() {
                return Some(token.to_string());
            }
        }
    }
    None
}

impl Client {
    pub fn new(endpoint: SharedEndpoint, remote: SocketAddr) -> Self {
        Self {
            endpoint,
            remote,
            cookies: Mutex::new(BTreeMap::new()),
            csrf: Mutex::new(None),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_string(), value.to_string());
    }

    pub fn csrf_token(&self) -> Option<String> {
        self.csrf.lock().unwrap().clone()
    }

    /// Sends a request with the jar's cookies and extra headers; records cookies and token.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> TestResponse {
        let mut builder = poem::http::Request::builder().method(method).uri(path);
        let jar = self.cookies.lock().unwrap().clone();
        if !jar.is_empty() {
            let cookie = jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            builder = builder.header(header::COOKIE, cookie);
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        if !body.is_empty()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        {
            builder = builder.header(header::CONTENT_LENGTH, body.len().to_string());
        }
        let (parts, ()) = builder.body(()).expect("request").into_parts();
        let parts = RequestParts::from((
            parts,
            LocalAddr(Addr::SocketAddr("127.0.0.1:8080".parse().unwrap())),
            RemoteAddr(Addr::SocketAddr(self.remote)),
            poem::http::uri::Scheme::HTTP,
        ));
        let req = Request::from_parts(parts, Body::from(body));
        let resp = match self.endpoint.call(req).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().into_vec().await.unwrap_or_default();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        self.remember(&headers, &body);
        TestResponse {
            status,
            headers,
            body,
            bytes,
        }
    }

    fn remember(&self, headers: &HeaderMap, body: &str) {
        let mut jar = self.cookies.lock().unwrap();
        for v in headers.get_all(header::SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let first = v.split(';').next().unwrap_or("");
            let Some((name, value)) = first.split_once('=') else {
                continue;
            };
            let expired = v.to_ascii_lowercase().contains("max-age=0");
            if expired || value.is_empty() {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
        if let Some(token) = find_csrf(body) {
            *self.csrf.lock().unwrap() = Some(token);
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Method::GET, path, &[], Vec::new()).await
    }

    pub async fn get_htmx(&self, path: &str) -> TestResponse {
        self.send(Method::GET, path, &[("HX-Request", "true")], Vec::new())
            .await
    }

    /// Posts a form with the current CSRF token (fetching a page first when none is known).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        if self.csrf_token().is_none() {
            self.get(path).await;
        }
        let token = self.csrf_token().unwrap_or_default();
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_form_raw(path, &all).await
    }

    /// Posts exactly these fields (no token added).
    pub async fn post_form_raw(&self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            Method::POST,
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.into_bytes(),
        )
        .await
    }

    /// Posts a file-upload form (multipart) with the current CSRF token.
    pub async fn post_file(
        &self,
        path: &str,
        field: &str,
        file_name: &str,
        data: &[u8],
    ) -> TestResponse {
        let token = self.csrf_token().unwrap_or_default();
        let boundary = "hms-test-boundary-7d3f";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n").as_bytes(),
        );
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\nContent-Type: application/json\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={boundary}");
        self.send(
            Method::POST,
            path,
            &[("Content-Type", content_type.as_str())],
            body,
        )
        .await
    }

    /// Ticks one more box on the roles-and-permissions screen and saves it, as an administrator
    /// would (every box already ticked stays ticked).
    pub async fn grant_on_screen(&self, role: &str, permission: &str) -> TestResponse {
        let matrix = self.get("/admin/roles").await;
        let marker = "name=\"grant\" value=\"";
        let mut grants: Vec<String> = matrix
            .body
            .match_indices(marker)
            .filter_map(|(i, _)| {
                let rest = &matrix.body[i + marker.len()..];
                let value = &rest[..rest.find('"')?];
                let tag = &rest[..rest.find('>')?];
                tag.contains(" checked").then(|| value.to_string())
            })
            .collect();
        grants.push(format!("{role}|{permission}"));
        let mut fields: Vec<(&str, &str)> = grants.iter().map(|g| ("grant", g.as_str())).collect();
        fields.push(("matrix", "1"));
        self.post_form("/admin/roles", &fields).await
    }

    /// Signs in through the login form.
    pub async fn login(&self, username: &str, password: &str) -> TestResponse {
        self.get("/login").await;
        self.post_form("/login", &[("username", username), ("password", password)])
            .await
    }
}
