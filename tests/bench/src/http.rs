//! A small HTTP/1.1 client for the benchmark: one keep-alive connection per simulated person,
//! a cookie jar and the CSRF token of the last page, like a browser. Deliberately lean (hyper's
//! connection API, no pool, no redirects followed by itself) so that the client, which shares
//! the machine with the server, costs as little CPU as possible.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

pub struct Response {
    pub status: u16,
    pub location: Option<String>,
    pub body: Bytes,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Client {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
    cookies: BTreeMap<String, String>,
    csrf: Option<String>,
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
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            host: HeaderValue::from_str(&addr.to_string()).expect("an address is a valid header"),
            sender: None,
            cookies: BTreeMap::new(),
            csrf: None,
        }
    }

    /// Forgets cookies and token, as a new browser would start (the connection stays).
    pub fn clear_cookies(&mut self) {
        self.cookies.clear();
        self.csrf = None;
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one request; a kept-alive connection the server has closed meanwhile is replaced
    /// once. `headers` are added as given; cookies come from the jar.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&'static str, &str)],
        form: Option<String>,
    ) -> Result<Response, String> {
        let mut fresh = false;
        loop {
            if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
                self.connect().await?;
                fresh = true;
            }
            let sender = self.sender.as_mut().expect("connected above");
            if sender.ready().await.is_err() {
                self.sender = None;
                if fresh {
                    return Err("connection closed".into());
                }
                continue;
            }
            let mut builder = Request::builder()
                .method(method.clone())
                .uri(path)
                .header(HOST, self.host.clone());
            if !self.cookies.is_empty() {
                let jar = self
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                builder = builder.header(COOKIE, jar);
            }
            for (k, v) in headers {
                builder = builder.header(*k, *v);
            }
            let body = match &form {
                Some(f) => {
                    if !headers
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    {
                        builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                    }
                    Bytes::from(f.clone())
                }
                None => Bytes::new(),
            };
            let request = builder
                .body(Full::new(body))
                .map_err(|e| format!("request: {e}"))?;
            let response = match sender.send_request(request).await {
                Ok(r) => r,
                Err(e) => {
                    self.sender = None;
                    if fresh {
                        return Err(format!("send: {e}"));
                    }
                    continue;
                }
            };
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            for v in response.headers().get_all(SET_COOKIE) {
                let Ok(v) = v.to_str() else { continue };
                let first = v.split(';').next().unwrap_or("");
                let Some((name, value)) = first.split_once('=') else {
                    continue;
                };
                if value.is_empty() || v.to_ascii_lowercase().contains("max-age=0") {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies
                        .insert(name.trim().to_string(), value.to_string());
                }
            }
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            if body.starts_with(b"<!") || body.starts_with(b"<") {
                if let Some(token) = find_csrf(&String::from_utf8_lossy(&body)) {
                    self.csrf = Some(token);
                }
            }
            return Ok(Response {
                status,
                location,
                body,
            });
        }
    }

    pub async fn get(&mut self, path: &str) -> Result<Response, String> {
        self.send(Method::GET, path, &[], None).await
    }

    /// A live-search style request: htmx asks for the fragment.
    pub async fn get_htmx(&mut self, path: &str) -> Result<Response, String> {
        self.send(Method::GET, path, &[("HX-Request", "true")], None)
            .await
    }

    /// A form's body with the CSRF token of the last page.
    fn form_body(&self, fields: &[(&str, &str)]) -> String {
        let token = self.csrf.clone().unwrap_or_default();
        form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf_token", &token)
            .extend_pairs(fields)
            .finish()
    }

    /// Posts a form with the CSRF token of the last page.
    pub async fn post_form(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<Response, String> {
        let body = self.form_body(fields);
        self.send(Method::POST, path, &[], Some(body)).await
    }

    /// Posts a form as htmx does (`HX-Request`), with the CSRF token of the last page: the
    /// answer is the fragment the page swaps in.
    pub async fn post_htmx(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<Response, String> {
        let body = self.form_body(fields);
        self.send(Method::POST, path, &[("HX-Request", "true")], Some(body))
            .await
    }

    /// Signs in through the login form.
    pub async fn login(&mut self, username: &str, password: &str) -> Result<(), String> {
        let page = self.get("/login").await?;
        if page.status != 200 {
            return Err(format!("GET /login answered {}", page.status));
        }
        let r = self
            .post_form("/login", &[("username", username), ("password", password)])
            .await?;
        if r.status != 303 {
            return Err(format!("sign-in of {username} answered {}", r.status));
        }
        Ok(())
    }
}
