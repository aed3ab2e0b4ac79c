//! Which IP addresses the server may fetch from on a client's behalf: public unicast ones
//! only, so that a URL a client controls (a client ID metadata document, a `jwks_uri`)
//! cannot make the server reach its own network (server-side request forgery:
//! draft-ietf-oauth-client-id-metadata-document, Security Considerations, "Server Side
//! Request Forgery (SSRF) Attacks").
//!
//! Refused: the IANA special-purpose IPv4 ranges (RFC 6890 and its updates) that are not
//! globally reachable, multicast and documentation ranges; every IPv6 address outside
//! global unicast `2000::/3` and the special ranges inside it; IPv6 addresses that embed
//! a refused IPv4 address (IPv4-mapped, NAT64 RFC 6052, 6to4 RFC 3056).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges that are not public unicast: (network, prefix length).
const REFUSED_V4: [([u8; 4], u32); 15] = [
    ([0, 0, 0, 0], 8),       // "this network", unspecified (RFC 791)
    ([10, 0, 0, 0], 8),      // private (RFC 1918)
    ([100, 64, 0, 0], 10),   // shared address space, CGNAT (RFC 6598)
    ([127, 0, 0, 0], 8),     // loopback (RFC 1122)
    ([169, 254, 0, 0], 16),  // link-local (RFC 3927), cloud metadata services
    ([172, 16, 0, 0], 12),   // private (RFC 1918)
    ([192, 0, 0, 0], 24),    // IETF protocol assignments (RFC 6890)
    ([192, 0, 2, 0], 24),    // documentation TEST-NET-1 (RFC 5737)
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast (RFC 7526)
    ([192, 168, 0, 0], 16),  // private (RFC 1918)
    ([198, 18, 0, 0], 15),   // benchmarking (RFC 2544)
    ([198, 51, 100, 0], 24), // documentation TEST-NET-2 (RFC 5737)
    ([203, 0, 113, 0], 24),  // documentation TEST-NET-3 (RFC 5737)
    ([224, 0, 0, 0], 4),     // multicast (RFC 5771)
    ([240, 0, 0, 0], 4),     // reserved (RFC 1112), broadcast 255.255.255.255 included
];

/// Ranges inside global unicast (`2000::/3`, RFC 4291 §2.4) that are not public.
const REFUSED_V6: [(u128, u32); 4] = [
    (0x2001_0000 << 96, 32), // Teredo (RFC 4380), which embeds other addresses
    (0x2001_0002 << 96, 48), // benchmarking (RFC 5180)
    (0x2001_0db8 << 96, 32), // documentation (RFC 3849)
    (0x3fff << 112, 20),     // documentation (RFC 9637)
];

/// Whether the server may connect to `addr` on a client's behalf: a public unicast
/// address, neither loopback, private, link-local, shared (CGNAT), multicast, reserved nor
/// documentation; an IPv6 address embedding an IPv4 one is judged by that one.
pub fn is_public_address(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(addr: Ipv4Addr) -> bool {
    let a = u32::from(addr);
    !REFUSED_V4
        .iter()
        .any(|(net, len)| in_prefix(a, u32::from_be_bytes(*net), *len))
}

fn in_prefix(addr: u32, net: u32, len: u32) -> bool {
    let mask = u32::MAX << (32 - len);
    addr & mask == net
}

fn is_public_v6(addr: Ipv6Addr) -> bool {
    let a = u128::from(addr);
    if let Some(v4) = embedded_v4(a) {
        return is_public_v4(v4);
    }
    // Outside global unicast: unspecified, loopback, IPv4-compatible, unique local,
    // link-local, site-local, multicast, discard-only, local-use NAT64, reserved.
    in_prefix_v6(a, 0x2000 << 112, 3)
        && !REFUSED_V6
            .iter()
            .any(|(net, len)| in_prefix_v6(a, *net, *len))
}

/// The IPv4 address an IPv6 one stands for: IPv4-mapped (`::ffff:a.b.c.d`, RFC 4291
/// §2.5.5.2), NAT64 (`64:ff9b::a.b.c.d`, RFC 6052) or 6to4 (`2002:aabb:ccdd::/48`, RFC
/// 3056).
fn embedded_v4(a: u128) -> Option<Ipv4Addr> {
    if in_prefix_v6(a, 0xffff << 32, 96) || in_prefix_v6(a, 0x0064_ff9b << 96, 96) {
        return Some(Ipv4Addr::from(a as u32));
    }
    if in_prefix_v6(a, 0x2002 << 112, 16) {
        return Some(Ipv4Addr::from((a >> 80) as u32));
    }
    None
}

fn in_prefix_v6(addr: u128, net: u128, len: u32) -> bool {
    let mask = u128::MAX << (128 - len);
    addr & mask == net
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public_address(s.parse().unwrap())
    }

    #[test]
    fn public_unicast_is_allowed() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.88.98.255",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "203.0.112.255",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2000::1",
            "2001:1::1",
            "2001:2:1::1",
            "2001:db9::1",
            "3fff:1000::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(public(a), "{a}");
        }
    }

    #[test]
    fn internal_and_special_addresses_are_refused() {
        for a in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::8.8.8.8",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "64:ff9b::1:0:0:1",
            "::ffff:0:0",
            "1fff:ffff::1",
            "4000::1",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "100::1",
            "2001::1",
            "2001:0:ffff::1",
            "2001:2::1",
            "2001:db8::1",
            "3fff::1",
            "3fff:fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "feff::1",
            "ff02::1",
        ] {
            assert!(!public(a), "{a}");
        }
    }
}
