//! The authority a request was sent to, and the `Host` rules of RFC 9112 §3.2: an
//! HTTP/1.1 request names exactly one valid `Host`; HTTP/2 names its authority in
//! `:authority` (which hyper puts in the request URI).

use axum::http::uri::Authority;
use axum::http::{HeaderMap, Uri, Version, header};

/// The authority (`host[:port]`) the request was sent to: the request URI's when it
/// has one (HTTP/2's `:authority`, or an HTTP/1.1 absolute-form target, which takes
/// precedence over `Host` by RFC 9112 §3.2.2), else the `Host` header's.
pub fn target_authority<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    uri.authority()
        .map(Authority::as_str)
        .or_else(|| headers.get(header::HOST)?.to_str().ok())
}

/// Why a request's `Host` (or `:authority`) makes it a 400, if it does.
pub(super) fn check(version: Version, uri: &Uri, headers: &HeaderMap) -> Result<(), &'static str> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err("the request names more than one Host");
    }
    if let Some(host) = host {
        if !is_valid_host(host.as_bytes()) {
            return Err("the Host header is not a valid host[:port]");
        }
    }
    match version {
        Version::HTTP_09 | Version::HTTP_10 => Ok(()),
        Version::HTTP_11 => match host {
            Some(_) => Ok(()),
            None => Err("an HTTP/1.1 request needs a Host header"),
        },
        _ => match (uri.authority(), host) {
            (None, None) => Err("the request names no :authority"),
            (Some(authority), Some(host))
                if !authority
                    .as_str()
                    .as_bytes()
                    .eq_ignore_ascii_case(host.as_bytes()) =>
            {
                Err("Host and :authority name different hosts")
            }
            _ => Ok(()),
        },
    }
}

/// `uri-host [ ":" port ]` (RFC 9110 §7.2): a non-empty host, no user info, and a
/// port that fits 16 bits when there is one.
fn is_valid_host(value: &[u8]) -> bool {
    let Ok(authority) = Authority::try_from(value) else {
        return false;
    };
    if authority.host().is_empty() || authority.as_str().contains('@') {
        return false;
    }
    let after_host = &authority.as_str()[authority.host().len()..];
    match after_host.strip_prefix(':') {
        None => after_host.is_empty(),
        Some("") => true,
        Some(_) => authority.port_u16().is_some(),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn hosts(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::HOST, HeaderValue::from_static(value));
        }
        headers
    }

    fn origin_form() -> Uri {
        Uri::from_static("/me")
    }

    #[test]
    fn http_1_1_needs_exactly_one_valid_host() {
        let v = Version::HTTP_11;
        assert!(check(v, &origin_form(), &hosts(&["gw.example:8080"])).is_ok());
        assert!(check(v, &origin_form(), &hosts(&["[::1]:8080"])).is_ok());
        assert!(check(v, &origin_form(), &hosts(&["gw.example"])).is_ok());
        assert!(check(v, &origin_form(), &hosts(&[])).is_err(), "none");
        assert!(
            check(v, &origin_form(), &hosts(&["a.example", "b.example"])).is_err(),
            "two"
        );
        for bad in [
            "",
            "user@gw.example",
            "gw.example:99999",
            "gw.example:x",
            "a b",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(bad).expect("a value"));
            assert!(check(v, &origin_form(), &headers).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn http_1_0_may_omit_host_but_not_repeat_it() {
        let v = Version::HTTP_10;
        assert!(check(v, &origin_form(), &hosts(&[])).is_ok());
        assert!(check(v, &origin_form(), &hosts(&["a", "b"])).is_err());
    }

    #[test]
    fn http_2_uses_its_authority_and_a_host_must_agree_with_it() {
        let v = Version::HTTP_2;
        let uri = Uri::from_static("https://gw.example:8443/me");
        assert!(check(v, &uri, &hosts(&[])).is_ok());
        assert!(check(v, &uri, &hosts(&["GW.example:8443"])).is_ok());
        assert!(check(v, &uri, &hosts(&["other.example"])).is_err());
        assert!(
            check(v, &origin_form(), &hosts(&[])).is_err(),
            "no authority"
        );
        assert_eq!(
            target_authority(&uri, &hosts(&["other.example"])),
            Some("gw.example:8443"),
            "the URI's authority wins"
        );
        assert_eq!(
            target_authority(&origin_form(), &hosts(&["gw.example"])),
            Some("gw.example")
        );
    }
}
