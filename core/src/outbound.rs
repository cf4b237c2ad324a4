//! Outbound HTTP for integrations (M-Pesa Daraja now; SHA's HIE and KRA's eTIMS later): one
//! request, one connection, a deadline on the whole exchange. `https://` goes over rustls with
//! the Mozilla roots compiled in (no system store to go stale on a clinic's laptop); `http://`
//! is for simulators on this machine. Bodies are JSON; the caller parses the answer.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The largest answer read (an integration's JSON reply is small).
const MAX_ANSWER: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("not an http(s) address: {0}")]
    Address(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("the exchange failed: {0}")]
    Exchange(String),
}

/// An answer: status and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

struct Target {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

fn parse(url: &str) -> Result<Target, OutboundError> {
    let bad = || OutboundError::Address(url.to_string());
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
        None => (authority, if tls { 443 } else { 80 }),
    };
    if host.is_empty() || host.contains(['@', ' ']) {
        return Err(bad());
    }
    Ok(Target {
        tls,
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(roots).with_no_client_auth())
                .unwrap_or_else(|_| {
                    // The ring provider supports the default versions; this is unreachable.
                    panic!("rustls with ring offers TLS 1.2 and 1.3")
                });
            Arc::new(config)
        })
        .clone()
}

/// Sends `method url` with the headers and JSON body, and reads the answer, all within
/// `timeout`.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
    timeout: Duration,
) -> Result<Answer, OutboundError> {
    tokio::time::timeout(timeout, exchange(method, url, headers, body))
        .await
        .map_err(|_| OutboundError::Timeout(timeout))?
}

async fn exchange(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> Result<Answer, OutboundError> {
    let target = parse(url)?;
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| OutboundError::Connect(e.to_string()))?;
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let host_header = if (target.tls && target.port == 443) || (!target.tls && target.port == 80) {
        target.host.clone()
    } else {
        format!("{}:{}", target.host, target.port)
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(&target.path)
        .header("host", host_header)
        .header("accept", "application/json");
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder
        .body(Full::new(Bytes::from(bytes)))
        .map_err(|e| OutboundError::Exchange(e.to_string()))?;
    if target.tls {
        let name = rustls::pki_types::ServerName::try_from(target.host.clone())
            .map_err(|_| OutboundError::Address(url.to_string()))?;
        let stream = tokio_rustls::TlsConnector::from(tls_config())
            .connect(name, tcp)
            .await
            .map_err(|e| OutboundError::Connect(e.to_string()))?;
        over(TokioIo::new(stream), request).await
    } else {
        over(TokioIo::new(tcp), request).await
    }
}

async fn over<T>(io: T, request: Request<Full<Bytes>>) -> Result<Answer, OutboundError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let failed = |e: hyper::Error| OutboundError::Exchange(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(failed)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = sender.send_request(request).await.map_err(failed)?;
    let status = response.status().as_u16();
    let limited = http_body_util::Limited::new(response.into_body(), MAX_ANSWER);
    let body = limited
        .collect()
        .await
        .map_err(|e| OutboundError::Exchange(e.to_string()))?
        .to_bytes()
        .to_vec();
    Ok(Answer { status, body })
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_are_read_with_their_defaults_and_odd_ones_refused() {
        let t =
            super::parse("https://api.safaricom.co.ke/mpesa/stkpush/v1/processrequest").unwrap();
        assert!(t.tls && t.port == 443 && t.host == "api.safaricom.co.ke");
        assert_eq!(t.path, "/mpesa/stkpush/v1/processrequest");
        let t = super::parse("http://127.0.0.1:8099").unwrap();
        assert!(!t.tls && t.port == 8099 && t.path == "/");
        for bad in [
            "ftp://x",
            "https://user@host/",
            "http://host:port/",
            "https://",
        ] {
            assert!(super::parse(bad).is_err(), "{bad}");
        }
    }
}
