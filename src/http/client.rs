//! Who is asking, by network address: the key of the per-address limits (login
//! failures, the public application form).
//!
//! The address is the TCP peer. Only when that peer is a configured trusted proxy
//! (`TRUSTED_PROXIES`) is `X-Forwarded-For` read, walking from the right past every
//! trusted hop: the entries left of the first untrusted one were written by the client
//! and prove nothing. Without trusted proxies the header is ignored entirely, so a client
//! cannot pick its own bucket.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::{IpNet, Ipv6Net};

/// A trusted proxy: an address block such as `10.0.0.0/8`, or one address.
pub type Cidr = IpNet;

/// Parses a comma-separated list of addresses and blocks (`TRUSTED_PROXIES`).
pub fn parse_cidrs(raw: &str) -> Result<Vec<Cidr>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(|ip| IpNet::from(canonical(ip))))
                .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))
        })
        .collect()
}

fn trusts(trusted: &[Cidr], ip: IpAddr) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// An IPv4-mapped IPv6 address is the IPv4 client it maps (dual-stack listeners).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address (see the module doc); `None` only when actix knows no peer
/// (not the case for TCP listeners).
pub fn client_ip(req: &HttpRequest, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = canonical(req.peer_addr()?.ip());
    if !trusts(trusted, peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for hop in forwarded.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // Garbage where an address belongs: the last hop we could trust sent it.
            return Some(nearest);
        };
        if !trusts(trusted, ip) {
            return Some(ip);
        }
        nearest = ip;
    }
    Some(nearest)
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| canonical(s.ip()))
}

/// The key a per-address limit counts under: the IPv4 address, or the IPv6 /64 (one
/// subscriber's usual allocation, so hopping between its addresses gains nothing).
pub fn address_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => Ipv6Net::new(v6, 64)
            .expect("64 is a valid IPv6 prefix")
            .trunc()
            .to_string(),
    }
}

/// [`client_ip`] as a limit key; requests without a peer share one bucket.
pub fn client_key(req: &HttpRequest, trusted: &[Cidr]) -> String {
    client_ip(req, trusted).map_or_else(|| "unknown".to_owned(), address_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, xff: &[&str]) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(peer.parse().unwrap());
        for h in xff {
            r = r.append_header(("x-forwarded-for", *h));
        }
        r.to_http_request()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let r = req("203.0.113.9:5000", &["198.51.100.1"]);
        assert_eq!(client_ip(&r, &[]), Some("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = parse_cidrs("127.0.0.1, 10.0.0.0/8").unwrap();
        // The client forged the leftmost entry; our proxies appended the rest.
        let r = req("127.0.0.1:5000", &["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(
            client_ip(&r, &trusted),
            Some("198.51.100.7".parse().unwrap())
        );
        // A peer that is not a trusted proxy is the client, whatever it claims.
        let r = req("192.0.2.1:5000", &["198.51.100.7"]);
        assert_eq!(client_ip(&r, &trusted), Some("192.0.2.1".parse().unwrap()));
        // Garbage stops the walk at the last trusted hop.
        let r = req("127.0.0.1:5000", &["198.51.100.7, bogus"]);
        assert_eq!(client_ip(&r, &trusted), Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn trusted_proxies_parse_as_blocks_or_single_addresses() {
        let trusted = parse_cidrs("10.0.0.0/8, 127.0.0.1, fd00::/8").unwrap();
        assert!(trusts(&trusted, "10.200.0.1".parse().unwrap()));
        assert!(trusts(&trusted, "127.0.0.1".parse().unwrap()));
        assert!(!trusts(&trusted, "127.0.0.2".parse().unwrap()));
        assert!(!trusts(&trusted, "11.0.0.1".parse().unwrap()));
        assert!(trusts(&trusted, "fd12::1".parse().unwrap()));
        assert!(parse_cidrs("10.0.0.0/33").is_err());
        assert!(parse_cidrs("proxy").is_err());
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
        assert_eq!(address_key("192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
