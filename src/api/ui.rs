//! `/ui/`: a folder of static files (the self-service page in `examples/web`), served
//! when `server.ui_dir` (or `wdgate serve --ui DIR`) names one.
//!
//! The files need no session: the page logs in through the API like any other client.
//! Only `GET` and `HEAD` are answered (anything else is 405); a path with a `..`
//! segment, a backslash or a segment starting with `.` (`.git`, `.env`) is 404, and so
//! is a name the file system refuses (too long) and anything that resolves, through a
//! symlink, to a file outside the folder. A `Range` the file cannot satisfy is the
//! edge's 416 problem (`range_not_satisfiable`, with ServeDir's `Content-Range`). Every
//! answer carries a Content-Security-Policy that lets the page's own scripts talk to
//! this gateway only (`connect-src 'self'`), so a link to `/ui/?api=https://elsewhere`
//! cannot send a password anywhere else.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tower_http::services::ServeDir;

use super::problem::ApiError;

/// Where the files are served.
pub const PREFIX: &str = "/ui/";

/// The page may load its own files and call this origin; nothing inline, no frames.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /ui` (a redirect to `/ui/`) and `GET /ui/{path}`: the files of `dir`, with
/// `index.html` for a folder.
pub fn routes(dir: &Path) -> Router {
    let files = ServeDir::new(dir).append_index_html_on_directories(true);
    // Symlinks inside the folder are resolved against where it really is.
    let root = Arc::new(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()));
    Router::new()
        .route(
            super::paths::UI,
            get(|| async { Redirect::permanent(PREFIX) }),
        )
        .nest_service(PREFIX, files)
        .layer(middleware::from_fn_with_state(root, guard))
}

/// Refuses hidden files and whatever is not really inside the folder, adds the
/// security headers, and puts the prefix back on
/// ServeDir's folder redirects (it sees the path with `/ui` stripped, so it would send
/// `/sub/` for `/ui/sub`).
async fn guard(State(root): State<Arc<PathBuf>>, request: Request, next: Next) -> Response {
    if request.uri().path().split('/').any(is_hidden) {
        return ApiError::NotFound("no such file".to_owned()).into_response();
    }
    let own_redirect = request.uri().path() == "/ui";
    if !own_redirect && !inside(&root, request.uri().path()).await {
        return ApiError::NotFound("no such file".to_owned()).into_response();
    }
    let mut response = next.run(request).await;
    if response.status().is_redirection() && !own_redirect {
        let fixed = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|location| location.starts_with('/'))
            .and_then(|location| {
                HeaderValue::from_str(&format!("{}{location}", PREFIX.trim_end_matches('/'))).ok()
            });
        if let Some(location) = fixed {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Same-origin requests keep their `Origin` (the API's CSRF check needs it).
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Revalidated on every load, so a new version of the page is picked up at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Whether `path` (`/ui/…`, as requested) names something that exists and really lies
/// inside `root` once every symlink is resolved: a file, or a folder whose
/// `index.html` (what ServeDir would send for `folder/`) does. A name the file system
/// refuses (longer than it allows, say) is not inside.
async fn inside(root: &Path, path: &str) -> bool {
    let Some(relative) = path.strip_prefix(PREFIX) else {
        return true;
    };
    // The path ServeDir will open: its percent-decoding and its idea of a component.
    let Ok(decoded) = percent_encoding::percent_decode_str(relative).decode_utf8() else {
        return false;
    };
    let mut target = root.to_path_buf();
    for component in Path::new(&*decoded).components() {
        match component {
            Component::Normal(name) => target.push(name),
            Component::CurDir => {}
            _ => return false,
        }
    }
    let Ok(real) = tokio::fs::canonicalize(&target).await else {
        return false;
    };
    if !real.starts_with(root) {
        return false;
    }
    let is_dir = tokio::fs::metadata(&real).await.is_ok_and(|m| m.is_dir());
    if !is_dir || !path.ends_with('/') {
        return true;
    }
    match tokio::fs::canonicalize(real.join("index.html")).await {
        Ok(index) => index.starts_with(root),
        // No index: ServeDir answers 404 itself.
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// A segment naming a hidden file or folder (`.git`, `%2Eenv`); `..` is one too.
fn is_hidden(segment: &str) -> bool {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::is_hidden;

    #[test]
    fn hidden_segments_are_recognised_encoded_or_not() {
        for hidden in [".git", "..", ".env", "%2Egit", "%2e%2e"] {
            assert!(is_hidden(hidden), "{hidden}");
        }
        for shown in ["", "ui", "index.html", "app.js", "a.b"] {
            assert!(!is_hidden(shown), "{shown}");
        }
    }
}
