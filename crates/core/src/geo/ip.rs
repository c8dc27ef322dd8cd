//! Which addresses may be looked up: only those routed on the public internet. Private,
//! shared, documentation and other special-purpose ranges (IANA's registries) are
//! never sent to a provider: they locate nothing and would leak internal addressing.
#![warn(missing_docs)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 special-purpose blocks (RFC 6890 and later), as (network, prefix length).
const V4_NOT_PUBLIC: [([u8; 4], u32); 15] = [
    ([0, 0, 0, 0], 8),       // "this network"
    ([10, 0, 0, 0], 8),      // RFC 1918
    ([100, 64, 0, 0], 10),   // shared address space (CGNAT)
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local
    ([172, 16, 0, 0], 12),   // RFC 1918
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // TEST-NET-1
    ([192, 31, 196, 0], 24), // AS112
    ([192, 88, 99, 0], 24),  // deprecated 6to4 relay anycast
    ([192, 168, 0, 0], 16),  // RFC 1918
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // TEST-NET-2
    ([203, 0, 113, 0], 24),  // TEST-NET-3
    ([224, 0, 0, 0], 3),     // multicast, reserved (240/4) and broadcast
];

/// Special-purpose blocks inside IPv6 global unicast (2000::/3).
const V6_NOT_PUBLIC: [(u128, u32); 3] = [
    (0x2001_0000_u128 << 96, 23), // IETF protocol assignments (Teredo, ORCHID, benchmarking…)
    (0x2001_0db8_u128 << 96, 32), // documentation
    (0x3fff_0000_u128 << 96, 20), // documentation (RFC 9637)
];

fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: u128, len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == net & mask
}

/// Whether `ip` is a public unicast address worth locating. An IPv4-mapped IPv6
/// address is judged by its IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !V4_NOT_PUBLIC.iter().any(|&(net, len)| in_v4(v4, net, len)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            // Only 2000::/3 is allocated for global unicast; everything else (::, ::1,
            // fc00::/7 ULA, fe80::/10 link-local, ff00::/8 multicast, NAT64…) is not public.
            None => {
                in_v6(v6, 0x2000_u128 << 112, 3)
                    && !V6_NOT_PUBLIC.iter().any(|&(net, len)| in_v6(v6, net, len))
            }
        },
    }
}
