//! Published ports: docker's `-p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]` (each port may be a
//! range `A-B`; the IP may be `[v6]`), `EXPOSE`'s `PORT[/PROTO]`, and the mapping of one
//! container port to one host port.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{spec:?}: {reason}")]
pub struct PortError {
    pub spec: String,
    pub reason: String,
}

fn bad(spec: &str, reason: impl Into<String>) -> PortError {
    PortError {
        spec: spec.to_string(),
        reason: reason.into(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
        }
    }

    fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "sctp" => Some(Proto::Sctp),
            _ => None,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        })
    }
}

/// An inclusive range of ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub first: u16,
    pub last: u16,
}

impl Range {
    /// How many ports it holds.
    pub fn count(self) -> u32 {
        u32::from(self.last - self.first) + 1
    }
}

fn range(spec: &str, s: &str) -> Result<Range, PortError> {
    let port = |p: &str| match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(bad(spec, format!("{p:?} is not a port (1-65535)"))),
    };
    let (first, last) = match s.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(s)?, port(s)?),
    };
    if last < first {
        return Err(bad(spec, format!("range {s} ends before it starts")));
    }
    Ok(Range { first, last })
}

/// One `-p` flag, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortSpec {
    pub proto: Proto,
    /// Absent: every local address.
    pub host_ip: Option<IpAddr>,
    /// Absent: a free port chosen at start.
    pub host: Option<Range>,
    pub container: Range,
}

impl PortSpec {
    /// Parses `[IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`.
    pub fn parse(spec: &str) -> Result<PortSpec, PortError> {
        let (rest, proto) = match spec.rsplit_once('/') {
            Some((r, p)) => (
                r,
                Proto::parse(p)
                    .ok_or_else(|| bad(spec, format!("unknown protocol {p:?} (tcp, udp, sctp)")))?,
            ),
            None => (spec, Proto::Tcp),
        };
        // An IPv6 address is in brackets: [::1]:80:80.
        let (host_ip, rest) = match rest.strip_prefix('[') {
            Some(r) => {
                let (ip, after) = r
                    .split_once(']')
                    .ok_or_else(|| bad(spec, "missing ']' after an IPv6 address"))?;
                let after = after
                    .strip_prefix(':')
                    .ok_or_else(|| bad(spec, "want [IP]:HOST_PORT:CONTAINER_PORT"))?;
                (Some(ip), after)
            }
            None => match rest.matches(':').count() {
                0 | 1 => (None, rest),
                2 => rest
                    .split_once(':')
                    .map(|(ip, r)| (Some(ip), r))
                    .unwrap_or((None, rest)),
                _ => return Err(bad(spec, "too many ':' (an IPv6 address goes in [])")),
            },
        };
        let host_ip = match host_ip {
            Some("") | None => None,
            Some(ip) => Some(
                ip.parse::<IpAddr>()
                    .map_err(|_| bad(spec, format!("{ip:?} is not an IP address")))?,
            ),
        };
        // The kernel routes no IPv6 loopback address off `lo` (IPv4 has route_localnet), so
        // a port there would never answer: refused rather than published into the void.
        if host_ip == Some(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)) {
            return Err(bad(
                spec,
                "[::1] cannot be forwarded to a container (publish on 127.0.0.1 or [::])",
            ));
        }
        let (host, container) = match rest.split_once(':') {
            Some(("", c)) => (None, c),
            Some((h, c)) => (Some(range(spec, h)?), c),
            None => (None, rest),
        };
        if container.is_empty() {
            return Err(bad(spec, "no container port"));
        }
        let container = range(spec, container)?;
        if let Some(h) = host {
            if h.count() != container.count() && container.count() != 1 {
                return Err(bad(spec, "host and container port ranges differ in length"));
            }
        }
        Ok(PortSpec {
            proto,
            host_ip: host_ip.filter(|ip| !ip.is_unspecified()),
            host,
            container,
        })
    }

    /// An image's `EXPOSE` entry (`80`, `53/udp`), published to a free port (`-P`).
    pub fn exposed(entry: &str) -> Result<PortSpec, PortError> {
        let (port, proto) = entry.split_once('/').unwrap_or((entry, "tcp"));
        let proto =
            Proto::parse(proto).ok_or_else(|| bad(entry, format!("unknown protocol {proto:?}")))?;
        Ok(PortSpec {
            proto,
            host_ip: None,
            host: None,
            container: range(entry, port)?,
        })
    }

    /// What each container port asks for: `(container port, host ports it may take)`.
    /// A single container port with a host range takes any free one of the range.
    pub fn wants(&self) -> Vec<(u16, Option<Range>)> {
        let c = self.container;
        (c.first..=c.last)
            .map(|p| {
                let host = self.host.map(|h| {
                    if c.count() == 1 {
                        h
                    } else {
                        let at = h.first + (p - c.first);
                        Range {
                            first: at,
                            last: at,
                        }
                    }
                });
                (p, host)
            })
            .collect()
    }
}

/// A container port published on a host port, as `berth port` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mapping {
    pub proto: Proto,
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub port: u16,
}

impl Mapping {
    /// The host port it holds.
    pub fn host(&self) -> crate::hostports::HostPort {
        crate::hostports::HostPort {
            proto: self.proto,
            ip: self.host_ip,
            port: self.host_port,
        }
    }

    /// `0.0.0.0:8080->80/tcp`, as `docker ps` shows it.
    pub fn published(&self) -> String {
        let host = match self.host_ip {
            Some(IpAddr::V6(ip)) => format!("[{ip}]"),
            Some(ip) => ip.to_string(),
            None => "0.0.0.0".into(),
        };
        format!("{host}:{}->{}/{}", self.host_port, self.port, self.proto)
    }
}

impl fmt::Display for Mapping {
    /// `80/tcp -> 0.0.0.0:8080`, as docker prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(
                f,
                "{}/{} -> [{ip}]:{}",
                self.port, self.proto, self.host_port
            ),
            Some(ip) => write!(f, "{}/{} -> {ip}:{}", self.port, self.proto, self.host_port),
            None => write!(
                f,
                "{}/{} -> 0.0.0.0:{}",
                self.port, self.proto, self.host_port
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> PortSpec {
        PortSpec::parse(s).unwrap()
    }

    fn r(first: u16, last: u16) -> Range {
        Range { first, last }
    }

    #[test]
    fn docker_forms() {
        assert_eq!(
            p("80"),
            PortSpec {
                proto: Proto::Tcp,
                host_ip: None,
                host: None,
                container: r(80, 80)
            }
        );
        assert_eq!(p("8080:80").host, Some(r(8080, 8080)));
        let s = p("127.0.0.1:8080:80/udp");
        assert_eq!(
            (s.host_ip, s.proto),
            (Some("127.0.0.1".parse().unwrap()), Proto::Udp)
        );
        let s = p("127.0.0.1::80");
        assert_eq!((s.host, s.container), (None, r(80, 80)));
        let s = p("[fd00::1]:53:53/sctp");
        assert_eq!(
            (s.host_ip, s.proto),
            (Some("fd00::1".parse().unwrap()), Proto::Sctp)
        );
        assert!(PortSpec::parse("[::1]:53:53")
            .unwrap_err()
            .to_string()
            .contains("[::1] cannot be forwarded"));
        assert_eq!(p("0.0.0.0:80:80").host_ip, None);
        let s = p("8000-8002:80-82");
        assert_eq!(
            s.wants(),
            [
                (80, Some(r(8000, 8000))),
                (81, Some(r(8001, 8001))),
                (82, Some(r(8002, 8002)))
            ]
        );
        assert_eq!(p("9000-9009:80").wants(), [(80, Some(r(9000, 9009)))]);
        assert_eq!(p("80-81").wants(), [(80, None), (81, None)]);
    }

    #[test]
    fn bad_specs_say_why() {
        for (s, why) in [
            ("", "no container port"),
            ("80/icmp", "unknown protocol"),
            ("0", "not a port"),
            ("70000", "not a port"),
            ("a:b", "not a port"),
            ("90-80", "ends before"),
            ("1-3:1-2", "differ in length"),
            ("1.2.3:80:80", "not an IP"),
            ("1:2:3:4", "too many"),
            ("[::1:80:80", "missing ']'"),
            ("8080:", "no container port"),
        ] {
            let e = PortSpec::parse(s).unwrap_err();
            assert!(e.reason.contains(why), "{s}: {e}");
        }
    }

    #[test]
    fn exposed_and_display() {
        assert_eq!(PortSpec::exposed("53/udp").unwrap().proto, Proto::Udp);
        assert!(PortSpec::exposed("x").is_err());
        let m = Mapping {
            proto: Proto::Tcp,
            host_ip: None,
            host_port: 8080,
            port: 80,
        };
        assert_eq!(m.to_string(), "80/tcp -> 0.0.0.0:8080");
        assert_eq!(m.published(), "0.0.0.0:8080->80/tcp");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "[0-9a-f:\\[\\]./-]{0,24}") {
            let _ = PortSpec::parse(&s);
        }

        #[test]
        fn host_and_container_round_trip(h in 1u16..65000, c in 1u16..65000, udp: bool) {
            let proto = if udp { "udp" } else { "tcp" };
            let s = p(&format!("{h}:{c}/{proto}"));
            prop_assert_eq!(s.wants(), vec![(c, Some(r(h, h)))]);
            prop_assert_eq!(s.proto.to_string(), proto);
        }
    }
}
