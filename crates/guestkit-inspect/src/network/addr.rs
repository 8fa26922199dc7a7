//! Address helpers shared by the parsers: netmask to prefix, CIDR checks,
//! MAC address normalisation.

use std::net::{IpAddr, Ipv4Addr};

/// The prefix length a netmask stands for: dotted (`255.255.255.0`) with
/// contiguous ones, or a bare number up to 128. `None` otherwise.
pub fn netmask_prefix(mask: &str) -> Option<u8> {
    let mask = mask.trim();
    if let Ok(n) = mask.parse::<u8>() {
        return (n <= 128).then_some(n);
    }
    let m: Ipv4Addr = mask.parse().ok()?;
    let bits = u32::from(m);
    let ones = bits.leading_ones();
    // Contiguous: every bit after the leading ones is zero.
    let rest = bits.checked_shl(ones).unwrap_or(0);
    (rest == 0).then(|| u8::try_from(ones).ok()).flatten()
}

/// Whether `s` is an IPv4 or IPv6 address (an IPv6 zone `%eth0` allowed).
pub fn is_ip(s: &str) -> bool {
    let bare = s.split_once('%').map_or(s, |(a, _)| a);
    bare.parse::<IpAddr>().is_ok()
}

/// Whether `s` is an IPv6 address (with or without a prefix).
pub fn is_ipv6(s: &str) -> bool {
    let bare = s.split_once('/').map_or(s, |(a, _)| a);
    let bare = bare.split_once('%').map_or(bare, |(a, _)| a);
    matches!(bare.parse::<IpAddr>(), Ok(IpAddr::V6(_)))
}

/// Whether `s` is `ADDRESS` or `ADDRESS/PREFIX` with a prefix that fits
/// the family.
pub fn is_cidr(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return false;
    };
    match prefix {
        None => true,
        Some(p) => p.parse::<u8>().is_ok_and(|p| match ip {
            IpAddr::V4(_) => p <= 32,
            IpAddr::V6(_) => p <= 128,
        }),
    }
}

/// `address` with `prefix` appended unless it already has one.
pub fn with_prefix(address: &str, prefix: Option<u8>) -> String {
    match prefix {
        Some(p) if !address.contains('/') => format!("{address}/{p}"),
        _ => address.to_string(),
    }
}

/// A MAC address in lower case, when `s` is six colon- or dash-separated
/// hex octets; `None` otherwise.
pub fn normalize_mac(s: &str) -> Option<String> {
    let s = s.trim();
    let parts: Vec<&str> = s.split([':', '-']).collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| parts.join(":").to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(netmask_prefix("255.255.255.0"), Some(24));
        assert_eq!(netmask_prefix("255.255.252.0"), Some(22));
        assert_eq!(netmask_prefix("0.0.0.0"), Some(0));
        assert_eq!(netmask_prefix("255.255.255.255"), Some(32));
        assert_eq!(netmask_prefix("255.0.255.0"), None);
        assert_eq!(netmask_prefix("64"), Some(64));
        assert_eq!(netmask_prefix("129"), None);
        assert_eq!(netmask_prefix("junk"), None);
    }

    #[test]
    fn cidrs_and_macs() {
        assert!(is_cidr("192.0.2.10/24"));
        assert!(is_cidr("2001:db8::1/64"));
        assert!(is_cidr("192.0.2.10"));
        assert!(!is_cidr("192.0.2.10/33"));
        assert!(!is_cidr("host/24"));
        assert!(is_ipv6("fe80::1/64"));
        assert!(!is_ipv6("10.0.0.1"));
        assert_eq!(
            normalize_mac("52:54:00:AB:cd:01").as_deref(),
            Some("52:54:00:ab:cd:01")
        );
        assert_eq!(
            normalize_mac("52-54-00-ab-cd-01").as_deref(),
            Some("52:54:00:ab:cd:01")
        );
        assert_eq!(normalize_mac("52:54:00:ab:cd"), None);
        assert_eq!(with_prefix("10.0.0.1", Some(8)), "10.0.0.1/8");
        assert_eq!(with_prefix("10.0.0.1/16", Some(8)), "10.0.0.1/16");
    }
}
