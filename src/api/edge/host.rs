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

/// `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2): an IP literal in brackets,
/// or a non-empty registered name (or IPv4 address); no user info; a port, when there
/// is one, that fits 16 bits (an empty port is allowed). Read in place: this runs on
/// every request, and parsing an `Authority` first copied the header.
fn is_valid_host(value: &[u8]) -> bool {
    let rest = match value.first() {
        Some(b'[') => match value.iter().position(|&b| b == b']') {
            Some(end) if is_ip_literal(&value[1..end]) => &value[end + 1..],
            _ => return false,
        },
        _ => {
            let end = value.iter().position(|&b| b == b':').unwrap_or(value.len());
            if end == 0 || !is_reg_name(&value[..end]) {
                return false;
            }
            &value[end..]
        }
    };
    match rest.split_first() {
        None => true,
        Some((b':', port)) => is_port(port),
        Some(_) => false,
    }
}

/// `IPv6address / IPvFuture`, the inside of `[…]`.
fn is_ip_literal(inside: &[u8]) -> bool {
    if let [b'v' | b'V', future @ ..] = inside {
        // IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        let Some(dot) = future.iter().position(|&b| b == b'.') else {
            return false;
        };
        let (version, tail) = (&future[..dot], &future[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !tail.is_empty()
            && tail
                .iter()
                .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
    }
    std::str::from_utf8(inside).is_ok_and(|text| text.parse::<std::net::Ipv6Addr>().is_ok())
}

/// `reg-name` (which also covers `IPv4address`): unreserved, sub-delims and
/// percent-encoded octets.
fn is_reg_name(name: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = name.get(i) {
        if b == b'%' {
            match name.get(i + 1..i + 3) {
                Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else if REG_NAME[usize::from(b)] {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// `*DIGIT` whose value fits 16 bits.
fn is_port(port: &[u8]) -> bool {
    let mut value: u32 = 0;
    for &b in port {
        if !b.is_ascii_digit() {
            return false;
        }
        value = value * 10 + u32::from(b - b'0');
        if value > u32::from(u16::MAX) {
            return false;
        }
    }
    true
}

/// The bytes a `reg-name` holds as they are (unreserved and sub-delims), by value: one
/// load a byte instead of a dozen comparisons, on every request's `Host`.
const REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = u8::MAX;
    loop {
        table[b as usize] = is_unreserved(b) || is_sub_delim(b);
        if b == 0 {
            break table;
        }
        b -= 1;
    }
};

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
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
    fn the_reg_name_table_is_unreserved_and_sub_delims() {
        for b in 0..=u8::MAX {
            assert_eq!(
                REG_NAME[usize::from(b)],
                b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b),
                "{b:#04x}"
            );
        }
    }

    #[test]
    fn http_1_1_needs_exactly_one_valid_host() {
        let v = Version::HTTP_11;
        assert!(check(v, &origin_form(), &hosts(&["gw.example:8080"])).is_ok());
        assert!(check(v, &origin_form(), &hosts(&["[::1]:8080"])).is_ok());
        assert!(check(v, &origin_form(), &hosts(&["gw.example"])).is_ok());
        for good in [
            "gw.example:",
            "127.0.0.1:65535",
            "[2001:db8::1]",
            "[v1.fe80::a+en1]:443",
            "gw%2Dx.example",
            "gw_x~.example",
        ] {
            assert!(
                check(v, &origin_form(), &hosts(&[good])).is_ok(),
                "{good:?}"
            );
        }
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
            ":8080",
            "[::1",
            "[not-an-ip]:80",
            "[::1]x",
            "gw.example:80:80",
            "gw%zz.example",
            "gw.example/path",
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
