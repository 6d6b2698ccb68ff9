//! Browser support: CORS for configured origins, the session cookie, and CSRF
//! protection for requests that a cookie (not a bearer token) authenticates.

use std::time::Duration;

use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, Uri};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::edge::target_authority;
use super::problem::ApiError;
use crate::config::{BrowserConfig, SameSite};

/// The CORS layer for the configured origins (credentials allowed, never `*`), or
/// `None` when no origin is configured.
pub fn cors_layer(config: &BrowserConfig) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = config
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let request_id = HeaderName::from_static("x-request-id");
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                request_id.clone(),
            ])
            .expose_headers([
                request_id,
                header::CONTENT_DISPOSITION,
                header::CONTENT_LOCATION,
                header::CONTENT_RANGE,
                header::ETAG,
                header::LAST_MODIFIED,
                header::LINK,
                header::LOCATION,
                header::RETRY_AFTER,
                header::WWW_AUTHENTICATE,
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(
    config: &BrowserConfig,
    token: &str,
    max_age: Duration,
) -> Option<HeaderValue> {
    HeaderValue::from_str(&cookie(config, token, max_age.as_secs())).ok()
}

/// `Set-Cookie` that removes the session cookie.
pub fn clearing_cookie(config: &BrowserConfig) -> Option<HeaderValue> {
    HeaderValue::from_str(&cookie(config, "", 0)).ok()
}

fn cookie(config: &BrowserConfig, value: &str, max_age: u64) -> String {
    let mut text = format!(
        "{}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite={}",
        config.cookie_name,
        config.cookie_path,
        match config.cookie_same_site {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
        }
    );
    if config.cookie_secure {
        text.push_str("; Secure");
    }
    if let Some(domain) = &config.cookie_domain {
        text.push_str("; Domain=");
        text.push_str(domain);
    }
    text
}

/// The session token from the cookie, if cookies are on and one is sent.
pub fn token_from_cookie<'a>(config: &BrowserConfig, headers: &'a HeaderMap) -> Option<&'a str> {
    if !config.cookie_enabled {
        return None;
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == config.cookie_name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Refuses a cross-site request: the `Origin` (or, without one, the `Referer`'s
/// origin) must be an allowed origin or the authority the request was sent to (`Host`
/// on HTTP/1, `:authority` on HTTP/2, both given by `uri` and `headers`). A request
/// naming neither is refused too, as browsers always send one of them on unsafe
/// requests.
pub fn check_origin(
    config: &BrowserConfig,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(), ApiError> {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| referer_origin(headers));
    let Some(origin) = origin else {
        return Err(csrf("the request names no Origin"));
    };
    if config
        .cors_origins
        .iter()
        .any(|o| o.eq_ignore_ascii_case(&origin))
        || same_host(&origin, target_authority(uri, headers))
    {
        Ok(())
    } else {
        Err(csrf("the request comes from an origin that is not allowed"))
    }
}

/// Whether `method` can change state (and so needs CSRF protection).
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn csrf(detail: &str) -> ApiError {
    ApiError::CsrfRejected(format!(
        "{detail}: cookie-authenticated changes need a same-site request"
    ))
}

fn referer_origin(headers: &HeaderMap) -> Option<String> {
    let referer: axum::http::Uri = headers.get(header::REFERER)?.to_str().ok()?.parse().ok()?;
    let scheme = referer.scheme_str()?;
    let authority = referer.authority()?;
    Some(format!("{scheme}://{authority}"))
}

/// Whether `origin`'s host and port are the ones the request was sent to.
fn same_host(origin: &str, target: Option<&str>) -> bool {
    let Some(host) = target else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BrowserConfig {
        BrowserConfig {
            cors_origins: vec!["https://app.example.com".to_owned()],
            cookie_enabled: true,
            ..BrowserConfig::default()
        }
    }

    fn parts(headers: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        map
    }

    #[test]
    fn the_cookie_has_every_attribute() {
        let c = cookie(&config(), "wdg_x", 60);
        assert_eq!(
            c,
            "wdgate_session=wdg_x; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; wdgate_session=wdg_tok; b=2"),
        );
        assert_eq!(token_from_cookie(&config(), &h), Some("wdg_tok"));
        let off = BrowserConfig::default();
        assert_eq!(token_from_cookie(&off, &h), None, "cookies off: ignored");
    }

    #[test]
    fn origins_are_checked() {
        let c = config();
        let check =
            |headers: &[(&str, &str)]| check_origin(&c, &parts(headers), &Uri::from_static("/me"));
        assert!(check(&[("origin", "https://app.example.com")]).is_ok());
        assert!(check(&[("origin", "https://evil.example")]).is_err());
        assert!(check(&[]).is_err());
        assert!(check(&[("referer", "https://app.example.com/page?x")]).is_ok());
        assert!(check(&[("origin", "http://gw:8080"), ("host", "gw:8080")]).is_ok());
        assert!(check(&[("origin", "http://gw:9999"), ("host", "gw:8080")]).is_err());
    }

    #[test]
    fn on_http_2_the_same_host_is_the_authority_of_the_request_uri() {
        let c = config();
        let uri = Uri::from_static("https://gw:8443/sessions");
        let h2 = |headers: &[(&str, &str)]| check_origin(&c, &parts(headers), &uri);
        assert!(
            h2(&[("origin", "https://gw:8443")]).is_ok(),
            "no Host on HTTP/2"
        );
        assert!(h2(&[("origin", "https://gw:9999")]).is_err());
        assert!(h2(&[("origin", "https://evil.example"), ("host", "evil.example")]).is_err());
    }
}
