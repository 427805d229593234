//! Request headers the gateway reads itself: the client address (`X-Forwarded-For` or
//! the peer), the allow-list's entries, and the cross-site check's `Sec-Fetch-Site`,
//! `Origin`, `Referer` and `Host`.
//!
//! An input is six lines: X-Forwarded-For, an allow-list entry, Sec-Fetch-Site, Origin,
//! Referer, Host; a missing or empty line of the three optional headers is no header.
#![no_main]

use std::net::IpAddr;

use gateway::inputs;
use libfuzzer_sys::fuzz_target;

struct Headers<'a> {
    forwarded_for: &'a str,
    cidr: &'a str,
    sec_fetch_site: Option<&'a str>,
    origin: Option<&'a str>,
    referer: Option<&'a str>,
    host: &'a str,
}

impl<'a> Headers<'a> {
    fn read(text: &'a str) -> Self {
        let mut lines = text.split('\n');
        let mut next = || lines.next().unwrap_or_default();
        let optional = |line: &'a str| (!line.is_empty()).then_some(line);
        Self {
            forwarded_for: next(),
            cidr: next(),
            sec_fetch_site: optional(next()),
            origin: optional(next()),
            referer: optional(next()),
            host: next(),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let h = Headers::read(&text);
    if let Some(ip) = inputs::client_ip(h.forwarded_for) {
        assert_eq!(inputs::client_ip(&ip.to_string()), Some(ip), "{:?}", h.forwarded_for);
    }

    if let Ok(net) = inputs::sim_allow_list_entry(h.cidr) {
        // A network contains the address it is written with (an IPv4-mapped one as the
        // IPv4 address it maps), and parses the same again.
        let addr = h.cidr.trim().split_once('/').map_or(h.cidr.trim(), |(addr, _)| addr);
        let ip: IpAddr = addr.parse().expect("an accepted entry starts with an address");
        assert!(net.contains(&ip.to_canonical()), "{:?} does not contain {ip}", h.cidr);
        assert_eq!(inputs::sim_allow_list_entry(&format!(" {} ", h.cidr)), Ok(net));
    }

    let cross = inputs::is_cross_site(h.sec_fetch_site, h.origin, h.referer, h.host);
    match h.sec_fetch_site {
        Some(site) if site.trim().eq_ignore_ascii_case("same-origin") => assert!(!cross),
        Some(_) => {}
        None if h.origin.is_none() && h.referer.is_none() => assert!(!cross, "no header is not cross-site"),
        None => {}
    }
});
