//! The dashboard's files, compiled into the binary (`include_bytes!`: no CDN, no build
//! step), each served with its content type, an ETag computed once at start-up
//! (`If-None-Match` → 304), `Cache-Control: no-cache` (browsers keep the file but ask
//! each time, so an upgrade shows at once and an unchanged file costs a 304), and the
//! security headers of every dashboard response.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Only files from this origin; no inline script or style, no `eval`; no framing, no
/// forms, no `<base>`. The page's data comes from `fetch` to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The files: name under `/ui/assets/`, content type, contents. `index.html` is `/ui`.
const FILES: [(&str, &str, &[u8]); 13] = [
    ("index.html", "text/html; charset=utf-8", include_bytes!("static/index.html")),
    ("app.css", "text/css; charset=utf-8", include_bytes!("static/app.css")),
    ("favicon.svg", "image/svg+xml", include_bytes!("static/favicon.svg")),
    ("app.js", JS, include_bytes!("static/app.js")),
    ("api.js", JS, include_bytes!("static/api.js")),
    ("stream.js", JS, include_bytes!("static/stream.js")),
    ("format.js", JS, include_bytes!("static/format.js")),
    ("overview.js", JS, include_bytes!("static/overview.js")),
    ("chart.js", JS, include_bytes!("static/chart.js")),
    ("task.js", JS, include_bytes!("static/task.js")),
    ("dead.js", JS, include_bytes!("static/dead.js")),
    ("schedules.js", JS, include_bytes!("static/schedules.js")),
    ("kinds.js", JS, include_bytes!("static/kinds.js")),
];

const JS: &str = "text/javascript; charset=utf-8";

/// One file, ready to serve.
#[derive(Debug)]
struct Asset {
    content_type: &'static str,
    body: &'static [u8],
    etag: HeaderValue,
}

/// Every file by name, with its ETag.
#[derive(Debug)]
pub struct Assets {
    files: HashMap<&'static str, Asset>,
}

impl Assets {
    /// Hashes every file once.
    pub fn new() -> Self {
        let files = FILES
            .iter()
            .map(|(name, content_type, body)| {
                let asset = Asset { content_type, body, etag: etag(body) };
                (*name, asset)
            })
            .collect();
        Self { files }
    }

    /// The file `name` for a request with `headers`: 200 with the file, 304 when the
    /// client holds it already, `None` when there is no such file.
    pub fn respond(&self, name: &str, headers: &HeaderMap) -> Option<Response> {
        let asset = self.files.get(name)?;
        let mut response = if holds(headers, &asset.etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
        };
        let out = response.headers_mut();
        out.insert(header::ETAG, asset.etag.clone());
        out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        secure(out);
        Some(response)
    }
}

impl Default for Assets {
    fn default() -> Self {
        Self::new()
    }
}

/// The security headers of every dashboard response.
pub fn secure(headers: &mut HeaderMap) {
    let set = |headers: &mut HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
}

/// A weak ETag (the compression layer may gzip the body, which a strong one forbids):
/// 64 bits of the file's SHA-256.
fn etag(body: &[u8]) -> HeaderValue {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    let hex: String = digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("W/\"{hex}\"")).unwrap_or(HeaderValue::from_static("W/\"0\""))
}

/// Whether `If-None-Match` names `etag` (weak comparison, RFC 9110 §13.1.2) or is `*`.
fn holds(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let ours = opaque(etag.to_str().unwrap_or_default());
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || opaque(tag) == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_weak_etag_and_the_security_headers() {
        let assets = Assets::new();
        for (name, content_type, _) in FILES {
            let response = assets.respond(name, &HeaderMap::new()).unwrap();
            assert_eq!(response.status(), 200, "{name}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], content_type);
            assert!(response.headers()[header::ETAG].to_str().unwrap().starts_with("W/\""));
            assert_eq!(
                response.headers()[header::CONTENT_SECURITY_POLICY],
                CONTENT_SECURITY_POLICY
            );
        }
        assert!(assets.respond("nope.js", &HeaderMap::new()).is_none());
    }

    #[test]
    fn if_none_match_with_the_etag_is_a_304() {
        let assets = Assets::new();
        let etag =
            assets.respond("app.js", &HeaderMap::new()).unwrap().headers()[header::ETAG].clone();
        let mut headers = HeaderMap::new();
        let strong = etag.to_str().unwrap().trim_start_matches("W/").to_owned();
        headers.insert(header::IF_NONE_MATCH, format!("\"x\", {strong}").parse().unwrap());
        assert_eq!(assets.respond("app.js", &headers).unwrap().status(), 304);
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(assets.respond("app.js", &headers).unwrap().status(), 200);
    }
}
