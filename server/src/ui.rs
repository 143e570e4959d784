//! The admin console: the single-page app of `server/ui/` (React, built with Vite), embedded
//! in the binary with `rust-embed` and served at `/ui/`.
//!
//! ```text
//!  GET /            ─► 308 /ui/
//!  GET /ui          ─► 308 /ui/
//!  GET /ui/         ─► index.html                       Cache-Control: no-cache
//!  GET /ui/assets/… ─► a hashed build file              Cache-Control: immutable, 1 year
//!  GET /ui/flags/x  ─► index.html (a client-side route; the app's router resolves it)
//! ```
//!
//! Which files are embedded is decided by `build.rs`: `server/ui/dist/` when it holds a build,
//! otherwise `server/ui/placeholder/` (one page saying how to build the console), so a plain
//! `cargo build` needs no Node. Files are stored deflate-compressed in the binary (rust-embed's
//! `compression`); responses are compressed for the wire by the API's `CompressionLayer`.
//! Every answer carries a strong `ETag` (SHA-256 of the file) and answers `If-None-Match`
//! with 304, plus strict security headers ([`SECURITY_HEADERS`]): the app runs no inline
//! script and may not be framed.
//!
//! These routes are not part of the OpenAPI document: they serve files, not the API, and the
//! document's tests probe documented paths only.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderName, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

/// The console's files (see the module docs for which directory).
#[derive(RustEmbed)]
#[folder = "$BURGEE_UI_DIR"]
struct Assets;

/// The page saying how to build the console, also served when the embedded directory holds no
/// `index.html` (an empty `ui/dist/`).
#[derive(RustEmbed)]
#[folder = "ui/placeholder"]
struct Placeholder;

/// The embedded `index.html`, or the placeholder's.
fn index() -> Option<rust_embed::EmbeddedFile> {
    Assets::get("index.html").or_else(|| Placeholder::get("index.html"))
}

/// The path prefix the console is served under (Vite's `base`).
pub const PREFIX: &str = "/ui/";

/// `Content-Security-Policy` of every console response: scripts, styles, fonts and images
/// from the server's own origin only (no inline script or style element, no eval), API calls
/// to the same origin, and no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The security headers set on every console response (name, value).
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// `Cache-Control` of content-hashed build files (Vite names them `assets/<name>-<hash>.<ext>`).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of everything else (index.html above all): revalidate with the ETag.
const REVALIDATE: &str = "no-cache";

/// The console's routes: `/` and `/ui` redirect to `/ui/`; `/ui/` and `/ui/{*path}` serve the
/// embedded files, with `index.html` for paths that are not files (client-side routes) except
/// under `assets/`, which are 404. Generic over the router state so it merges into
/// [`crate::api::app`].
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(to_console))
        .route("/ui", get(to_console))
        .route("/ui/", get(async |headers: HeaderMap| serve("", &headers)))
        .route(
            "/ui/{*path}",
            get(async |Path(path): Path<String>, headers: HeaderMap| serve(&path, &headers)),
        )
}

/// Whether the embedded console is the real build (false: the placeholder page).
pub fn is_built() -> bool {
    index().is_some_and(|f| !String::from_utf8_lossy(&f.data).contains("console is not built"))
}

async fn to_console() -> Response {
    (StatusCode::PERMANENT_REDIRECT, [(LOCATION, PREFIX)]).into_response()
}

/// Serves `path` (relative to `/ui/`), falling back to `index.html` for client-side routes.
fn serve(path: &str, headers: &HeaderMap) -> Response {
    let (name, file) = match Assets::get(path).filter(|_| !path.is_empty()) {
        Some(file) => (path, file),
        None if path.starts_with("assets/") => return not_found(),
        None => match index() {
            Some(file) => ("index.html", file),
            None => return not_found(),
        },
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let cache = if name.starts_with("assets/") {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(file.data.into_owned()));
        let mime = file.metadata.mimetype();
        let mime = if mime.starts_with("text/") && !mime.contains("charset") {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_owned()
        };
        if let Ok(v) = HeaderValue::from_str(&mime) {
            r.headers_mut().insert(CONTENT_TYPE, v);
        }
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, v);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    secure(h);
    response
}

fn not_found() -> Response {
    let mut response = crate::error::ApiError::not_found("no such console file").into_response();
    secure(response.headers_mut());
    response
}

/// Adds [`SECURITY_HEADERS`].
fn secure(headers: &mut HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_revalidated_and_secured() {
        let r = serve("", &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CACHE_CONTROL], REVALIDATE);
        assert!(
            r.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap_or("")
                .starts_with("text/html")
        );
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap_or("")
                .contains("frame-ancestors 'none'")
        );
        let etag = r.headers()[ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, etag);
        assert_eq!(serve("", &h).status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn client_routes_fall_back_to_index_but_assets_do_not() {
        assert_eq!(
            serve("flags/checkout", &HeaderMap::new()).status(),
            StatusCode::OK
        );
        assert_eq!(
            serve("assets/missing.js", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }
}
