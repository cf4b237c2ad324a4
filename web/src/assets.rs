//! Static files (htmx, Bootstrap, our CSS/JS, favicon), embedded in the binary so a clinic with
//! no internet needs nothing else. Served with ETags; a request carrying the file's current
//! version (`?v=...`, as `static_url` writes it) may be cached for a year.

use std::collections::HashMap;
use std::sync::OnceLock;

use poem::http::{header, StatusCode};
use poem::web::Path;
use poem::{handler, Request, Response};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "static/"]
struct Files;

struct Asset {
    bytes: Vec<u8>,
    /// The gzip form, when it is worth sending (text files): small clinics share slow links.
    gzipped: Option<Vec<u8>>,
    version: String,
    content_type: &'static str,
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).ok()?;
    let out = enc.finish().ok()?;
    (out.len() < bytes.len() * 9 / 10).then_some(out)
}

fn assets() -> &'static HashMap<String, Asset> {
    static ASSETS: OnceLock<HashMap<String, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        Files::iter()
            .filter_map(|name| {
                let file = Files::get(&name)?;
                let bytes = file.data.into_owned();
                let version = hex::encode(&Sha256::digest(&bytes)[..8]);
                let gzipped = gzip(&bytes);
                Some((
                    name.to_string(),
                    Asset {
                        bytes,
                        gzipped,
                        version,
                        content_type: content_type(&name),
                    },
                ))
            })
            .collect()
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("ico") => "image/x-icon",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The version (content hash) of every static file, for `static_url`.
pub fn versions() -> HashMap<String, String> {
    assets()
        .iter()
        .map(|(k, a)| (k.clone(), a.version.clone()))
        .collect()
}

#[handler]
pub fn static_file(Path(name): Path<String>, req: &Request) -> Response {
    serve(&name, req)
}

#[handler]
pub fn favicon(req: &Request) -> Response {
    serve("favicon.ico", req)
}

fn serve(name: &str, req: &Request) -> Response {
    let Some(asset) = assets().get(name) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .content_type("text/plain; charset=utf-8")
            .body("not found");
    };
    let accepts_gzip = req
        .header(header::ACCEPT_ENCODING)
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let gzipped = asset.gzipped.as_ref().filter(|_| accepts_gzip);
    let etag = match gzipped {
        Some(_) => format!("\"{}-gz\"", asset.version),
        None => format!("\"{}\"", asset.version),
    };
    let versioned = req
        .uri()
        .query()
        .is_some_and(|q| q == format!("v={}", asset.version));
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    let matches = req
        .header(header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut builder = Response::builder()
        .header(header::ETAG, etag.as_str())
        .header(header::CACHE_CONTROL, cache)
        .header(header::VARY, "Accept-Encoding");
    if matches {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    let body = match gzipped {
        Some(gz) => {
            builder = builder.header(header::CONTENT_ENCODING, "gzip");
            gz.clone()
        }
        None => asset.bytes.clone(),
    };
    builder.content_type(asset.content_type).body(body)
}
