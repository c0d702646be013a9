//! Network definitions: what `network create` asks for, checked (subnets that overlap no
//! other network, a gateway inside its subnet, an allocation range inside it), kept as one
//! JSON file per network under `ROOT/networks/`.

use crate::state::{self, StateError};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network with name {0} already exists")]
    Exists(String),
    #[error("{flag} {value:?}: {reason}")]
    Bad {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("{0} is a predefined network and cannot be removed")]
    Predefined(String),
    #[error("no free subnet left in {0}: give one with --subnet")]
    PoolFull(IpNet),
    #[error(transparent)]
    State(#[from] StateError),
}

fn bad(flag: &'static str, value: impl ToString, reason: impl Into<String>) -> NetworkError {
    NetworkError::Bad {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// One subnet of a network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subnet {
    pub subnet: IpNet,
    pub gateway: IpAddr,
    /// Addresses are handed out from here (default: the whole subnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<IpNet>,
}

impl Subnet {
    /// The gateway with the subnet's prefix, as the bridge carries it.
    pub fn gateway_net(&self) -> IpNet {
        IpNet::new_assert(self.gateway, self.subnet.prefix_len())
    }

    /// Where addresses are handed out from.
    pub fn pool(&self) -> IpNet {
        self.range.unwrap_or(self.subnet)
    }
}

/// A network as berth keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    /// Seconds since the epoch.
    pub created: u64,
    /// The Linux bridge of the network.
    pub bridge: String,
    pub subnets: Vec<Subnet>,
    pub internal: bool,
    /// Whether an embedded DNS server resolves container names (user-defined networks).
    pub dns: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

impl Network {
    pub fn ipv6(&self) -> bool {
        self.subnets.iter().any(|s| s.subnet.addr().is_ipv6())
    }

    /// Its first subnet of the family of `ip`.
    pub fn subnet_for(&self, v6: bool) -> Option<&Subnet> {
        self.subnets
            .iter()
            .find(|s| s.subnet.addr().is_ipv6() == v6)
    }
}

/// What `network create` asks for.
#[derive(Clone, Debug, Default)]
pub struct NetworkSpec {
    pub name: String,
    /// `--subnet` (one per family at most).
    pub subnets: Vec<String>,
    /// `--gateway`, matched to the subnets in order.
    pub gateways: Vec<String>,
    /// `--ip-range`, matched to the subnets in order.
    pub ranges: Vec<String>,
    pub internal: bool,
    pub ipv6: bool,
    /// `--opt KEY=VALUE` (`mtu`, `com.docker.network.bridge.name`).
    pub options: Vec<String>,
    pub labels: Vec<String>,
    /// The bridge's name (the default network's is fixed; user networks get `br-<id>`).
    pub bridge: Option<String>,
    /// Whether the network has embedded DNS (user-defined networks).
    pub dns: bool,
}

/// Network names follow docker's container name rule.
pub fn validate_name(name: &str) -> Result<(), NetworkError> {
    let mut b = name.bytes();
    let ok = b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok && name.len() <= 128 {
        Ok(())
    } else {
        Err(bad(
            "network name",
            name,
            "want [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters",
        ))
    }
}

fn key_value(flag: &'static str, s: &str) -> Result<(String, String), NetworkError> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        None if !s.is_empty() => Ok((s.to_string(), String::new())),
        _ => Err(bad(flag, s, "want KEY=VALUE")),
    }
}

/// A ULA /64 made from the network's id (RFC 4193: fd00::/8 and 40 random bits).
fn ula_subnet(id: &str) -> Ipv6Net {
    let hex = |i: usize| u16::from_str_radix(id.get(i..i + 4).unwrap_or("0"), 16).unwrap_or(0);
    let a = Ipv6Addr::new(0xfd00 | (hex(0) >> 8), hex(2), hex(6), 0, 0, 0, 0, 0);
    Ipv6Net::new_assert(a, 64)
}

/// The first host address of `net` (for IPv6, past the subnet-router anycast address).
fn first_host(net: IpNet) -> IpAddr {
    match net {
        IpNet::V4(n) => IpAddr::V4(u32::from(n.network()).saturating_add(1).into()),
        IpNet::V6(n) => IpAddr::V6(u128::from(n.network()).saturating_add(1).into()),
    }
}

impl NetworkSpec {
    /// Checks the spec against the networks that exist and makes the network's definition;
    /// without `--subnet`, an IPv4 /24 from `pool` that no other network uses.
    pub fn check(
        &self,
        id: &str,
        created: u64,
        existing: &[Network],
        pool: Ipv4Net,
    ) -> Result<Network, NetworkError> {
        validate_name(&self.name)?;
        if existing.iter().any(|n| n.name == self.name) {
            return Err(NetworkError::Exists(self.name.clone()));
        }
        let mut subnets = Vec::new();
        for (i, s) in self.subnets.iter().enumerate() {
            let net: IpNet = s
                .parse()
                .map_err(|_| bad("--subnet", s, "not a CIDR subnet (10.1.0.0/24, fd00::/64)"))?;
            if net.trunc() != net {
                return Err(bad(
                    "--subnet",
                    s,
                    format!("host bits are set (did you mean {}?)", net.trunc()),
                ));
            }
            if net.max_prefix_len() - net.prefix_len() < 2 {
                return Err(bad(
                    "--subnet",
                    s,
                    "too small for a gateway and a container",
                ));
            }
            let gateway = match self.gateways.get(i) {
                Some(g) => {
                    let ip: IpAddr = g
                        .parse()
                        .map_err(|_| bad("--gateway", g, "not an IP address"))?;
                    if !net.contains(&ip) || ip == net.network() || ip == net.broadcast() {
                        return Err(bad("--gateway", g, format!("not a host of subnet {net}")));
                    }
                    ip
                }
                None => first_host(net),
            };
            let range = match self.ranges.get(i) {
                Some(r) => {
                    let rn: IpNet = r
                        .parse()
                        .map_err(|_| bad("--ip-range", r, "not a CIDR range"))?;
                    if !net.contains(&rn) {
                        return Err(bad("--ip-range", r, format!("not inside subnet {net}")));
                    }
                    Some(rn.trunc())
                }
                None => None,
            };
            subnets.push(Subnet {
                subnet: net,
                gateway,
                range,
            });
        }
        if self.gateways.len() > subnets.len() || self.ranges.len() > subnets.len() {
            return Err(bad(
                "--gateway/--ip-range",
                self.gateways.join(","),
                "each needs its own --subnet",
            ));
        }
        for fam in [false, true] {
            if subnets
                .iter()
                .filter(|s| s.subnet.addr().is_ipv6() == fam)
                .count()
                > 1
            {
                return Err(bad(
                    "--subnet",
                    self.subnets.join(","),
                    "at most one subnet per address family",
                ));
            }
        }
        let has6 = subnets.iter().any(|s| s.subnet.addr().is_ipv6());
        if has6 && !self.ipv6 {
            return Err(bad(
                "--subnet",
                self.subnets.join(","),
                "an IPv6 subnet needs --ipv6",
            ));
        }
        let taken = |net: &IpNet| {
            existing
                .iter()
                .flat_map(|n| &n.subnets)
                .find(|s| s.subnet.contains(net) || net.contains(&s.subnet))
        };
        for s in &subnets {
            if let Some(other) = taken(&s.subnet) {
                let owner = existing
                    .iter()
                    .find(|n| n.subnets.contains(other))
                    .map_or("", |n| n.name.as_str());
                return Err(bad(
                    "--subnet",
                    s.subnet,
                    format!("overlaps subnet {} of network {owner}", other.subnet),
                ));
            }
        }
        if !subnets.iter().any(|s| s.subnet.addr().is_ipv4()) {
            let net = pool
                .subnets(24)
                .map_err(|_| NetworkError::PoolFull(IpNet::V4(pool)))?
                .map(IpNet::V4)
                .find(|n| taken(n).is_none())
                .ok_or(NetworkError::PoolFull(IpNet::V4(pool)))?;
            subnets.insert(
                0,
                Subnet {
                    subnet: net,
                    gateway: first_host(net),
                    range: None,
                },
            );
        }
        if self.ipv6 && !has6 {
            let net = IpNet::V6(ula_subnet(id));
            subnets.push(Subnet {
                subnet: net,
                gateway: first_host(net),
                range: None,
            });
        }
        let mut options = BTreeMap::new();
        let mut mtu = None;
        let mut bridge = self
            .bridge
            .clone()
            .unwrap_or_else(|| format!("br-{}", &id[..12.min(id.len())]));
        for o in &self.options {
            let (k, v) = key_value("--opt", o)?;
            match k.as_str() {
                "mtu" | "com.docker.network.driver.mtu" => {
                    mtu = Some(
                        v.parse::<u32>()
                            .ok()
                            .filter(|m| (68..=65535).contains(m))
                            .ok_or_else(|| bad("--opt", o, "mtu wants 68-65535"))?,
                    )
                }
                "com.docker.network.bridge.name" => {
                    if v.is_empty() || v.len() > 15 || v.contains(['/', ' ', ':']) {
                        return Err(bad("--opt", o, "not an interface name"));
                    }
                    bridge = v.clone();
                }
                _ => {
                    return Err(bad(
                        "--opt",
                        o,
                        "unknown option (mtu, com.docker.network.bridge.name)",
                    ))
                }
            }
            options.insert(k, v);
        }
        if let Some(n) = existing.iter().find(|n| n.bridge == bridge) {
            return Err(bad(
                "--opt",
                &bridge,
                format!("bridge used by network {}", n.name),
            ));
        }
        let labels = self
            .labels
            .iter()
            .map(|l| key_value("--label", l))
            .collect::<Result<_, _>>()?;
        Ok(Network {
            name: self.name.clone(),
            id: id.to_string(),
            created,
            bridge,
            subnets,
            internal: self.internal,
            dns: self.dns,
            mtu,
            labels,
            options,
        })
    }
}

/// The definitions under `ROOT/networks`: `<name>.json`.
#[derive(Clone, Debug)]
pub struct Definitions {
    dir: PathBuf,
}

impl Definitions {
    pub fn new(dir: &Path) -> Definitions {
        Definitions {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Every network, by name.
    pub fn list(&self) -> Result<Vec<Network>, NetworkError> {
        let mut out = Vec::new();
        for name in state::names_with_suffix(&self.dir, ".json")? {
            if let Some(n) = self.load(&name)? {
                out.push(n);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn load(&self, name: &str) -> Result<Option<Network>, NetworkError> {
        if validate_name(name).is_err() {
            return Ok(None);
        }
        Ok(state::read_json(&self.path(name))?)
    }

    /// The network `what` names: its name, its id, or a unique id prefix.
    pub fn find(&self, what: &str) -> Result<Network, NetworkError> {
        if let Some(n) = self.load(what)? {
            return Ok(n);
        }
        let all = self.list()?;
        let mut hits = all
            .into_iter()
            .filter(|n| !what.is_empty() && n.id.starts_with(what));
        match (hits.next(), hits.next()) {
            (Some(n), None) => Ok(n),
            _ => Err(NetworkError::NotFound(what.to_string())),
        }
    }

    /// Saves a new network; fails when the name is taken.
    pub fn add(&self, n: &Network) -> Result<(), NetworkError> {
        if !state::write_json_new(&self.path(&n.name), n)? {
            return Err(NetworkError::Exists(n.name.clone()));
        }
        Ok(())
    }

    pub fn remove(&self, name: &str) -> Result<(), NetworkError> {
        Ok(state::remove_file(&self.path(name))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> NetworkSpec {
        NetworkSpec {
            name: name.into(),
            dns: true,
            ..Default::default()
        }
    }

    fn pool() -> Ipv4Net {
        "10.90.0.0/23".parse().unwrap()
    }

    /// An id that starts with the name's bytes, so each network gets its own bridge.
    fn check(s: NetworkSpec, existing: &[Network]) -> Result<Network, String> {
        let hex: String = s.name.bytes().map(|b| format!("{b:02x}")).collect();
        s.check(&format!("{hex:a<64}"), 1, existing, pool())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_come_from_the_pool() {
        let a = check(spec("a"), &[]).unwrap();
        assert_eq!(a.subnets[0].subnet.to_string(), "10.90.0.0/24");
        assert_eq!(a.subnets[0].gateway.to_string(), "10.90.0.1");
        assert_eq!(a.bridge, "br-61aaaaaaaaaa");
        let mut b = check(spec("b"), std::slice::from_ref(&a)).unwrap();
        assert_eq!(b.subnets[0].subnet.to_string(), "10.90.1.0/24");
        b.bridge = "x".into();
        let e = check(spec("c"), &[a, b]).unwrap_err();
        assert!(e.contains("no free subnet"), "{e}");
    }

    #[test]
    fn given_subnets_gateways_ranges_and_ipv6() {
        let n = check(
            NetworkSpec {
                subnets: vec!["192.168.5.0/24".into(), "fd12::/64".into()],
                gateways: vec!["192.168.5.254".into()],
                ranges: vec!["192.168.5.128/25".into()],
                ipv6: true,
                options: vec!["mtu=1400".into()],
                labels: vec!["a=b".into()],
                internal: true,
                ..spec("n")
            },
            &[],
        )
        .unwrap();
        assert_eq!(n.subnets[0].gateway.to_string(), "192.168.5.254");
        assert_eq!(n.subnets[0].pool().to_string(), "192.168.5.128/25");
        assert_eq!(n.subnets[1].gateway.to_string(), "fd12::1");
        assert_eq!((n.mtu, n.internal, n.ipv6()), (Some(1400), true, true));
        assert_eq!(n.labels["a"], "b");
        let v6 = check(
            NetworkSpec {
                ipv6: true,
                ..spec("six")
            },
            &[],
        )
        .unwrap();
        assert_eq!(v6.subnets[1].subnet.to_string(), "fd73:6978:aaaa::/64");
    }

    #[test]
    fn bad_specs() {
        let a = check(
            NetworkSpec {
                subnets: vec!["10.1.0.0/16".into()],
                ..spec("a")
            },
            &[],
        )
        .unwrap();
        for (s, why) in [
            (
                NetworkSpec {
                    subnets: vec!["10.1.2.0/24".into()],
                    ..spec("b")
                },
                "overlaps subnet 10.1.0.0/16 of network a",
            ),
            (
                NetworkSpec {
                    subnets: vec!["10.2.0.0/24".into()],
                    gateways: vec!["10.3.0.1".into()],
                    ..spec("b")
                },
                "not a host of subnet",
            ),
            (
                NetworkSpec {
                    subnets: vec!["10.2.0.1/24".into()],
                    ..spec("b")
                },
                "host bits",
            ),
            (
                NetworkSpec {
                    subnets: vec!["10.2.0.0/24".into()],
                    ranges: vec!["10.2.1.0/25".into()],
                    ..spec("b")
                },
                "not inside subnet",
            ),
            (
                NetworkSpec {
                    subnets: vec!["fd00::/64".into()],
                    ..spec("b")
                },
                "needs --ipv6",
            ),
            (
                NetworkSpec {
                    gateways: vec!["10.0.0.1".into()],
                    ..spec("b")
                },
                "each needs its own --subnet",
            ),
            (spec("a"), "already exists"),
            (spec("-x"), "network name"),
            (
                NetworkSpec {
                    options: vec!["mtu=9".into()],
                    ..spec("b")
                },
                "mtu",
            ),
        ] {
            let e = check(s, std::slice::from_ref(&a)).unwrap_err();
            assert!(e.contains(why), "{e} lacks {why}");
        }
    }

    #[test]
    fn definitions_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let d = Definitions::new(tmp.path());
        let n = check(spec("one"), &[]).unwrap();
        d.add(&n).unwrap();
        assert!(matches!(d.add(&n), Err(NetworkError::Exists(_))));
        assert_eq!(d.list().unwrap(), std::slice::from_ref(&n));
        assert_eq!(d.find("6f6e").unwrap().name, "one");
        assert!(matches!(d.find("zz"), Err(NetworkError::NotFound(_))));
        d.remove("one").unwrap();
        assert!(d.list().unwrap().is_empty());
    }
}
