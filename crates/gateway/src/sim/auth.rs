//! Who may use the simulator API: the client-address allow-list and the exact
//! `Authorization` value.
//!
//! The client address is the first hop of `X-Forwarded-For` when there is one, else the
//! peer address of the connection. That header is set by whoever sends the request, so
//! an allow-list other than `*` only means something when the gateway is reachable
//! solely through a proxy that overwrites it, which is how it is deployed (nginx:
//! `proxy_set_header X-Forwarded-For $remote_addr;`, see `deploy/nginx`). The
//! `Forwarded` header, which actix's `realip_remote_addr` would prefer, is ignored:
//! nginx passes a client's own `Forwarded` through untouched.

use std::{
    future::{ready, Ready},
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use actix_web::{dev::Payload, http::header::AUTHORIZATION, FromRequest, HttpRequest};
use ipnet::{IpNet, Ipv4Net};
use secrecy::ExposeSecret;

use super::{error::SimError, Sim};
use crate::settings::SimSettings;

/// One entry of the allow-list, `ipnet`'s network parser taking what it takes (`10.0.0.0/8`,
/// `2001:db8::/32`), plus what the setting has always taken besides: a bare address
/// (`192.168.1.7`, `::1`) is the network of that one address, and an IPv4-mapped IPv6
/// address or network (`::ffff:10.0.0.0/104`) is the IPv4 one it maps. Host bits in the
/// network address are dropped (`10.1.2.3/8` is `10.0.0.0/8`).
pub fn parse_network(entry: &str) -> Result<IpNet, String> {
    let entry = entry.trim();
    let bad = |why: &str| format!("not an IP address or CIDR: {entry:?} ({why})");
    let net = match entry.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) if !entry.contains('/') => {
            IpNet::from(IpAddr::from_str(entry).map_err(|_| bad("bad address"))?)
        }
        Err(_) => {
            let (addr, _) = entry.split_once('/').unwrap_or((entry, ""));
            return Err(bad(if IpAddr::from_str(addr).is_ok() {
                "bad prefix length"
            } else {
                "bad address"
            }));
        }
    };
    let net = match net {
        IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
            Some(v4) => {
                let prefix =
                    v6.prefix_len().checked_sub(96).ok_or_else(|| bad("prefix length out of range"))?;
                IpNet::V4(Ipv4Net::new(v4, prefix).map_err(|_| bad("prefix length out of range"))?)
            }
            None => net,
        },
        IpNet::V4(_) => net,
    };
    Ok(net.trunc())
}

/// Whether `net` holds `ip`, an IPv4-mapped IPv6 client being the IPv4 address it maps.
fn holds(net: &IpNet, ip: IpAddr) -> bool {
    net.contains(&ip.to_canonical())
}

/// The client addresses allowed on the simulator routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowList {
    Everyone,
    Only(Vec<IpNet>),
}

impl AllowList {
    /// Entries are IPs or CIDRs; `*` anywhere allows everyone. An empty list allows no one.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let entries: Vec<&str> = entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()).collect();
        if entries.contains(&"*") {
            return Ok(AllowList::Everyone);
        }
        entries.iter().map(|e| parse_network(e)).collect::<Result<_, _>>().map(AllowList::Only)
    }

    pub fn allows(&self, client: Option<&str>) -> bool {
        match self {
            AllowList::Everyone => true,
            AllowList::Only(nets) => match client.and_then(parse_client) {
                Some(ip) => nets.iter().any(|net| holds(net, ip)),
                None => false,
            },
        }
    }

    /// Refuses the request (403) unless its client address is allowed.
    pub fn check(&self, req: &HttpRequest) -> Result<(), SimError> {
        if matches!(self, AllowList::Everyone) {
            return Ok(());
        }
        let client = client_address(req);
        let client = client.as_deref();
        if self.allows(client) {
            Ok(())
        } else {
            Err(SimError::forbidden().with_cause(format!("client address {client:?} is not allowed")))
        }
    }
}

/// The client's address as given (module docs): the first hop of `X-Forwarded-For`,
/// else the connection's peer.
pub fn client_address(req: &HttpRequest) -> Option<String> {
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|hop| hop.trim().to_string());
    forwarded.or_else(|| req.peer_addr().map(|a| a.ip().to_string()))
}

/// The client's address as an IP, when it is one ([`client_address`]).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    client_address(req).as_deref().and_then(parse_client)
}

/// `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]`, `[::1]:80`.
pub fn parse_client(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    IpAddr::from_str(raw)
        .ok()
        .or_else(|| SocketAddr::from_str(raw).ok().map(|a| a.ip()))
        .or_else(|| IpAddr::from_str(raw.strip_prefix('[')?.strip_suffix(']')?).ok())
}

/// A request whose `Authorization` header is the configured one: routes that require
/// it name this extractor first; without it the answer is 403.
#[derive(Debug)]
pub struct Authorized;

impl FromRequest for Authorized {
    type Error = SimError;
    type Future = Ready<Result<Self, SimError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            Sim::of(req)
                .and_then(|sim| check_authorization(req, &sim.state.settings.sim))
                .map(|()| Authorized),
        )
    }
}

/// Refuses the request (403) unless its `Authorization` header is exactly the
/// configured value. The comparison takes the same time wherever the first difference is.
fn check_authorization(req: &HttpRequest, sim: &SimSettings) -> Result<(), SimError> {
    let expected = sim.authorization.expose_secret().as_bytes();
    let given = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    match given {
        Some(given) if constant_time_eq(given, expected) => Ok(()),
        Some(_) => Err(SimError::forbidden().with_cause("wrong Authorization header")),
        None => Err(SimError::forbidden().with_cause("no Authorization header")),
    }
}

/// Equal lengths and bytes, without an early exit (only the length can leak).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cidr(s: &str) -> IpNet {
        parse_network(s).unwrap()
    }

    #[test]
    fn ipv4_networks_contain_their_addresses_only() {
        let net = cidr("10.0.0.0/8");
        assert!(holds(&net, ip("10.0.0.0")));
        assert!(holds(&net, ip("10.255.255.255")));
        assert!(!holds(&net, ip("11.0.0.0")));
        assert!(!holds(&net, ip("9.255.255.255")));
        let net = cidr("192.168.1.128/25");
        assert!(holds(&net, ip("192.168.1.200")));
        assert!(!holds(&net, ip("192.168.1.127")));
        assert!(holds(&cidr("0.0.0.0/0"), ip("203.0.113.9")));
        let single = cidr("127.0.0.1");
        assert!(holds(&single, ip("127.0.0.1")));
        assert!(!holds(&single, ip("127.0.0.2")));
        assert_eq!(cidr("127.0.0.1"), cidr("127.0.0.1/32"));
        // Host bits in the network address are ignored.
        assert!(holds(&cidr("10.1.2.3/8"), ip("10.200.0.1")));
    }

    #[test]
    fn ipv6_networks_contain_their_addresses_only() {
        let net = cidr("2001:db8::/32");
        assert!(holds(&net, ip("2001:db8::1")));
        assert!(holds(&net, ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(!holds(&net, ip("2001:db9::1")));
        assert!(holds(&cidr("::/0"), ip("fe80::1")));
        assert!(holds(&cidr("::1"), ip("::1")));
        assert!(!holds(&cidr("::1"), ip("::2")));
        assert!(holds(&cidr("fe80::/10"), ip("febf::1")));
        assert!(!holds(&cidr("fe80::/10"), ip("fec0::1")));
    }

    #[test]
    fn families_do_not_mix_except_for_mapped_ipv4() {
        assert!(!holds(&cidr("0.0.0.0/0"), ip("::1")));
        assert!(!holds(&cidr("::/0"), ip("127.0.0.1")));
        // A client seen as ::ffff:10.1.2.3 is 10.1.2.3.
        assert!(holds(&cidr("10.0.0.0/8"), ip("::ffff:10.1.2.3")));
        // A mapped network is the IPv4 network.
        assert_eq!(cidr("::ffff:10.0.0.0/104"), cidr("10.0.0.0/8"));
        assert!(holds(&cidr("::ffff:10.0.0.0/104"), ip("10.9.9.9")));
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/x",
            "localhost",
            "10.0.0.0/-1",
            "::ffff:10.0.0.0/95",
        ] {
            assert!(parse_network(bad).is_err(), "{bad:?}");
        }
        assert!(AllowList::parse(&["10.0.0.0/8".into(), "nonsense".into()]).is_err());
    }

    #[test]
    fn allow_lists_match_any_entry_and_star_matches_everyone() {
        let list = AllowList::parse(&["10.0.0.0/8".into(), " 2001:db8::/32 ".into()]).unwrap();
        assert!(list.allows(Some("10.1.2.3")));
        assert!(list.allows(Some("10.1.2.3:5555")));
        assert!(list.allows(Some("[2001:db8::7]:443")));
        assert!(list.allows(Some("[2001:db8::7]")));
        assert!(list.allows(Some("2001:db8::7")));
        assert!(!list.allows(Some("127.0.0.1")));
        assert!(!list.allows(Some("garbage")));
        assert!(!list.allows(None));
        let all = AllowList::parse(&["10.0.0.0/8".into(), "*".into()]).unwrap();
        assert_eq!(all, AllowList::Everyone);
        assert!(all.allows(None));
        assert!(!AllowList::parse(&[]).unwrap().allows(Some("127.0.0.1")));
    }

    #[test]
    fn authorization_compares_whole_values() {
        assert!(constant_time_eq(b"Basic abc", b"Basic abc"));
        assert!(!constant_time_eq(b"Basic abd", b"Basic abc"));
        assert!(!constant_time_eq(b"Basic ab", b"Basic abc"));
        assert!(!constant_time_eq(b"", b"Basic abc"));
    }
}
