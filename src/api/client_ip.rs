//! The client's IP: the peer address, or, when the peer is a trusted proxy, the
//! nearest untrusted address in `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

/// Works out a request's client IP.
#[derive(Debug, Clone, Default)]
pub struct ClientIpResolver {
    trusted: Vec<IpNet>,
}

impl ClientIpResolver {
    /// Believes `X-Forwarded-For` only from peers in `trusted`.
    pub fn new(trusted: Vec<IpNet>) -> Self {
        Self { trusted }
    }

    /// The client IP of a request; `None` when the peer is unknown (no socket).
    pub fn resolve(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
        Some(self.client_behind(peer, &parts.headers))
    }

    /// Whether `ip` is one of `server.trusted_proxies`.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted proxy, else the
    /// first untrusted hop of `X-Forwarded-For`, walked from the right (the hop nearest
    /// us).
    pub fn client_behind(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted(peer) {
            return peer;
        }
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse().ok())
            .collect();
        hops.into_iter()
            .rev()
            .find(|ip| !self.is_trusted(*ip))
            .unwrap_or(peer)
    }
}

/// The client IP of the request (`None` when served without a socket).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<super::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(state.client_ip().resolve(parts)))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn resolver() -> ClientIpResolver {
        ClientIpResolver::new(vec![
            "10.0.0.0/8".parse().expect("net"),
            "127.0.0.1/32".parse().expect("net"),
        ])
    }

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_peers() {
        let r = resolver();
        let client: IpAddr = "203.0.113.7".parse().expect("ip");
        let proxy: IpAddr = "10.1.2.3".parse().expect("ip");
        let stranger: IpAddr = "198.51.100.9".parse().expect("ip");
        assert_eq!(r.client_behind(proxy, &xff("203.0.113.7")), client);
        assert_eq!(
            r.client_behind(proxy, &xff("1.1.1.1, 203.0.113.7, 10.9.9.9")),
            client,
            "spoofed left hops are ignored"
        );
        assert_eq!(
            r.client_behind(stranger, &xff("203.0.113.7")),
            stranger,
            "an untrusted peer cannot claim an IP"
        );
        assert_eq!(r.client_behind(proxy, &HeaderMap::new()), proxy);
        assert_eq!(r.client_behind(proxy, &xff("garbage")), proxy);
    }
}
