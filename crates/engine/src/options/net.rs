//! The network flags: `--network` (none, host, container:NAME, or networks, several at
//! once), `-p`/`-P`, `--ip`, `--ip6`, `--mac-address`, `--network-alias`, `--dns*`,
//! `--add-host`, `--network-opt bandwidth=`.

use super::{bad, Network, OptionsError, RunOptions};
use berth_network::attach::parse_mac;
use berth_network::ports::PortSpec;
use berth_network::{EndpointRequest, DEFAULT_NETWORK};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// An `/etc/hosts` line asked for with `--add-host`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEntry {
    pub name: String,
    /// An address, or `host-gateway` (the gateway of the container's first network).
    pub ip: String,
}

/// The checked network flags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NetSettings {
    /// With a bridge network: the networks, in order, each with its own `ip=`, `ip6=`,
    /// `mac-address=` and `alias=` (the first also gets `--ip`, `--ip6`, `--mac-address` and
    /// `--network-alias`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointRequest>,
    /// With `container:NAME`: the container whose network it joins (its id once created).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSpec>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub publish_all: bool,
    /// `--expose`: ports it offers besides the image's; `-P` publishes both.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<PortSpec>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_options: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_hosts: Vec<HostEntry>,
    /// Bits per second, each way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<u64>,
}

/// `10mbit`, `512kbit`, `1gbit`, `800bit`: bits per second, as tc writes rates.
fn rate(s: &str) -> Result<u64, OptionsError> {
    let lower = s.to_ascii_lowercase();
    let (num, mult) = [
        ("gbit", 1_000_000_000),
        ("mbit", 1_000_000),
        ("kbit", 1_000),
        ("bit", 1),
    ]
    .iter()
    .find_map(|(u, m)| lower.strip_suffix(u).map(|n| (n, *m)))
    .ok_or_else(|| bad("--network-opt", s, "bandwidth wants a rate like 10mbit"))?;
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|b| *b >= 8_000)
        .ok_or_else(|| {
            bad(
                "--network-opt",
                s,
                "bandwidth wants a rate of at least 8kbit",
            )
        })
}

fn ip(flag: &'static str, s: &str, v6: bool) -> Result<IpAddr, OptionsError> {
    match s.parse::<IpAddr>() {
        Ok(a) if a.is_ipv6() == v6 => Ok(a),
        _ => Err(bad(
            flag,
            s,
            if v6 {
                "not an IPv6 address"
            } else {
                "not an IPv4 address"
            },
        )),
    }
}

/// `NAME:IP` or `NAME=IP`; IP may be `host-gateway` or `[v6]`.
fn add_host(s: &str) -> Result<HostEntry, OptionsError> {
    let (name, addr) = s
        .split_once('=')
        .or_else(|| s.split_once(':'))
        .ok_or_else(|| bad("--add-host", s, "want NAME:IP"))?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad("--add-host", s, "no host name"));
    }
    if addr != "host-gateway" && addr.parse::<IpAddr>().is_err() {
        return Err(bad("--add-host", s, "not an IP address (or host-gateway)"));
    }
    Ok(HostEntry {
        name: name.to_string(),
        ip: addr.to_string(),
    })
}

/// One `--network` value: a network's name, or docker's long form
/// `name=NET[,alias=A...][,ip=IP][,ip6=IP][,mac-address=MAC]`.
fn endpoint(v: &str) -> Result<EndpointRequest, OptionsError> {
    let mut ep = EndpointRequest::default();
    if !v.contains('=') {
        ep.network = v.to_string();
        return Ok(ep);
    }
    for kv in v.split(',') {
        let (k, val) = kv
            .split_once('=')
            .ok_or_else(|| bad("--network", v, format!("{kv:?}: want KEY=VALUE")))?;
        let twice = || bad("--network", v, format!("{k}= given twice"));
        match k {
            "name" if ep.network.is_empty() => ep.network = val.to_string(),
            "alias" => ep.aliases.push(val.to_string()),
            "ip" if ep.ip.is_none() => ep.ip = Some(ip("--network", val, false)?),
            "ip6" if ep.ip6.is_none() => ep.ip6 = Some(ip("--network", val, true)?),
            "mac-address" if ep.mac.is_none() => ep.mac = Some(val.to_string()),
            "name" | "ip" | "ip6" | "mac-address" => return Err(twice()),
            _ => {
                return Err(bad(
                    "--network",
                    v,
                    format!("unknown option {k:?} (name, alias, ip, ip6, mac-address)"),
                ))
            }
        }
    }
    if ep.network.is_empty() {
        return Err(bad("--network", v, "no name=NETWORK"));
    }
    Ok(ep)
}

/// Puts flag `flag`'s value (`raw` as given, `value` parsed) into the first network's
/// request, unless its long form set it too.
fn merge<T>(
    flag: &'static str,
    raw: Option<&String>,
    into: &mut Option<T>,
    value: Option<T>,
) -> Result<(), OptionsError> {
    if let (Some(raw), true) = (raw, into.is_some()) {
        return Err(bad(
            flag,
            raw,
            "also given in the first --network's options",
        ));
    }
    if value.is_some() {
        *into = value;
    }
    Ok(())
}

impl RunOptions {
    /// The network mode and its settings.
    pub(super) fn network_settings(&self) -> Result<(Network, NetSettings), OptionsError> {
        let mut s = NetSettings::default();
        let mut eps = self
            .network
            .iter()
            .map(|v| endpoint(v))
            .collect::<Result<Vec<_>, _>>()?;
        let long = |n: &EndpointRequest| {
            n.ip.is_some() || n.ip6.is_some() || n.mac.is_some() || !n.aliases.is_empty()
        };
        let given: Vec<String> = eps.iter().map(|e| e.network.clone()).collect();
        let names: Vec<&str> = given.iter().map(String::as_str).collect();
        let mode = match names.as_slice() {
            // Without root there is no bridge to the host's network: pasta carries it, or
            // slirp4netns where only that is installed.
            [] if crate::rootless::active() => crate::rootless::default_network(),
            [] => Network::Bridge,
            ["none"] => Network::None,
            ["host"] => Network::Host,
            ["pasta"] => Network::Pasta,
            ["slirp4netns"] => Network::Slirp4netns,
            [one] if one.starts_with("container:") => {
                let target = &one["container:".len()..];
                if target.is_empty() {
                    return Err(bad("--network", one, "container: needs a container's name"));
                }
                s.join = Some(target.to_string());
                Network::Container
            }
            many => {
                if let Some(m) = many.iter().find(|m| {
                    matches!(**m, "none" | "host" | "pasta" | "slirp4netns")
                        || m.starts_with("container:")
                }) {
                    return Err(bad(
                        "--network",
                        m,
                        "none, host, pasta, slirp4netns and container: cannot be combined with other networks",
                    ));
                }
                Network::Bridge
            }
        };
        let bridge_only = |flag: &'static str, v: &str| {
            bad(
                flag,
                v,
                format!("needs a bridge network (not --network {})", given.join(",")),
            )
        };
        if !matches!(mode, Network::Bridge) && mode.user_net().is_none() {
            let no_ports = |flag: &'static str, v: &str| {
                let why = format!(
                    "needs a bridge network, pasta or slirp4netns (not --network {})",
                    given.join(",")
                );
                bad(flag, v, why)
            };
            if let Some(v) = self.publish.first() {
                return Err(no_ports("--publish", v));
            }
            if self.publish_all {
                return Err(no_ports("--publish-all", "true"));
            }
        }
        if mode != Network::Bridge {
            let flags: [(&'static str, Option<&String>); 4] = [
                ("--ip", self.ip.as_ref()),
                ("--ip6", self.ip6.as_ref()),
                ("--mac-address", self.mac_address.as_ref()),
                ("--network-alias", self.network_alias.first()),
            ];
            if let Some((flag, Some(v))) = flags.iter().find(|(_, v)| v.is_some()) {
                return Err(bridge_only(flag, v));
            }
            if let Some(i) = eps.iter().position(long) {
                return Err(bridge_only("--network", &self.network[i]));
            }
        }
        if mode == Network::Bridge {
            if eps.is_empty() {
                eps.push(EndpointRequest {
                    network: DEFAULT_NETWORK.into(),
                    ..Default::default()
                });
            }
            for ep in &mut eps {
                if ep.network == "default" {
                    ep.network = DEFAULT_NETWORK.into();
                }
            }
            for (i, ep) in eps.iter().enumerate() {
                if eps[..i].iter().any(|e| e.network == ep.network) {
                    return Err(bad("--network", &ep.network, "given twice"));
                }
            }
            // The plain flags are the first network's, as docker has them.
            let first = &mut eps[0];
            let flag_ip =
                |flag, v: &Option<String>, v6| v.as_deref().map(|v| ip(flag, v, v6)).transpose();
            merge(
                "--ip",
                self.ip.as_ref(),
                &mut first.ip,
                flag_ip("--ip", &self.ip, false)?,
            )?;
            merge(
                "--ip6",
                self.ip6.as_ref(),
                &mut first.ip6,
                flag_ip("--ip6", &self.ip6, true)?,
            )?;
            merge(
                "--mac-address",
                self.mac_address.as_ref(),
                &mut first.mac,
                self.mac_address.clone(),
            )?;
            first.aliases.extend(self.network_alias.iter().cloned());
            for ep in &mut eps {
                if let Some(m) = &mut ep.mac {
                    parse_mac(m)
                        .ok_or_else(|| bad("--mac-address", m, "not a unicast MAC address"))?;
                    *m = m.to_lowercase();
                }
                if let Some(a) = ep.aliases.first().filter(|_| ep.network == DEFAULT_NETWORK) {
                    return Err(bad(
                        "--network-alias",
                        a,
                        "aliases need a user-defined network (berth network create)",
                    ));
                }
                for a in &ep.aliases {
                    super::values::hostname(a).map_err(|_| {
                        bad("--network-alias", a, "want letters, digits, '-' and '.'")
                    })?;
                }
            }
            s.endpoints = eps;
        }
        for p in &self.publish {
            s.ports
                .push(PortSpec::parse(p).map_err(|e| bad("--publish", p, e.reason))?);
        }
        s.publish_all = self.publish_all;
        for p in &self.expose {
            s.exposed
                .push(PortSpec::exposed(p).map_err(|e| bad("--expose", p, e.reason))?);
        }
        for d in &self.dns {
            s.dns.push(
                d.parse()
                    .map_err(|_| bad("--dns", d, "not an IP address"))?,
            );
        }
        for d in &self.dns_search {
            if d.is_empty() || d.contains(char::is_whitespace) {
                return Err(bad("--dns-search", d, "not a domain"));
            }
        }
        s.dns_search = self.dns_search.clone();
        for o in &self.dns_option {
            if o.is_empty() || o.contains(char::is_whitespace) {
                return Err(bad("--dns-option", o, "not a resolver option"));
            }
        }
        s.dns_options = self.dns_option.clone();
        s.add_hosts = self
            .add_host
            .iter()
            .map(|h| add_host(h))
            .collect::<Result<_, _>>()?;
        for o in &self.network_opt {
            match o.split_once('=') {
                Some(("bandwidth", r)) => s.bandwidth = Some(rate(r)?),
                _ => return Err(bad("--network-opt", o, "unknown option (bandwidth=RATE)")),
            }
        }
        if s.bandwidth.is_some() && mode != Network::Bridge {
            return Err(bridge_only("--network-opt", "bandwidth"));
        }
        Ok((mode, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(o: RunOptions) -> Result<(Network, NetSettings), String> {
        o.network_settings().map_err(|e| e.to_string())
    }

    #[test]
    fn modes() {
        let (m, s) = net(RunOptions::default()).unwrap();
        assert_eq!(
            (m, s.endpoints[0].network.as_str()),
            (Network::Bridge, "bridge")
        );
        let (m, s) = net(RunOptions {
            network: vec!["container:web".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!((m, s.join.as_deref()), (Network::Container, Some("web")));
        let (m, s) = net(RunOptions {
            network: vec!["a".into(), "b".into()],
            ip: Some("10.1.0.5".into()),
            network_alias: vec!["db".into()],
            mac_address: Some("02:42:AA:00:00:01".into()),
            publish: vec!["8080:80".into()],
            publish_all: true,
            expose: vec!["7000-7001/udp".into()],
            dns: vec!["1.1.1.1".into()],
            add_host: vec!["gw:host-gateway".into(), "six=[::1]".into()],
            network_opt: vec!["bandwidth=10mbit".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(m, Network::Bridge);
        assert_eq!(s.endpoints.len(), 2);
        assert_eq!(s.endpoints[0].aliases, ["db"]);
        assert_eq!(s.endpoints[0].mac.as_deref(), Some("02:42:aa:00:00:01"));
        assert_eq!(s.endpoints[0].ip, Some("10.1.0.5".parse().unwrap()));
        assert_eq!(s.add_hosts[1].ip, "::1");
        assert_eq!(s.bandwidth, Some(10_000_000));
        assert!(s.publish_all);
        assert_eq!(s.exposed, [PortSpec::exposed("7000-7001/udp").unwrap()]);
    }

    #[test]
    fn long_network_form_sets_each_networks_endpoint() {
        let (m, s) = net(RunOptions {
            network: vec![
                "name=front,alias=web,alias=www,ip=10.1.0.5,mac-address=02:42:AA:00:00:02".into(),
                "name=back,ip6=fd00::5".into(),
                "default".into(),
            ],
            network_alias: vec!["site".into()],
            ip6: Some("fd01::9".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(m, Network::Bridge);
        let [front, back, bridge] = &s.endpoints[..] else {
            panic!("{:?}", s.endpoints)
        };
        assert_eq!(front.network, "front");
        assert_eq!(front.aliases, ["web", "www", "site"]);
        assert_eq!(front.ip, Some("10.1.0.5".parse().unwrap()));
        assert_eq!(front.ip6, Some("fd01::9".parse().unwrap()));
        assert_eq!(front.mac.as_deref(), Some("02:42:aa:00:00:02"));
        assert_eq!(
            (back.network.as_str(), back.ip6),
            ("back", Some("fd00::5".parse().unwrap()))
        );
        assert_eq!(bridge.network, DEFAULT_NETWORK);
    }

    #[test]
    fn bad_network_flags() {
        for (o, why) in [
            (
                RunOptions {
                    network: vec!["none".into(), "x".into()],
                    ..Default::default()
                },
                "cannot be combined",
            ),
            (
                RunOptions {
                    network: vec!["host".into()],
                    publish: vec!["80".into()],
                    ..Default::default()
                },
                "--publish \"80\": needs a bridge network, pasta or slirp4netns",
            ),
            (
                RunOptions {
                    publish: vec!["80:80/icmp".into()],
                    ..Default::default()
                },
                "unknown protocol",
            ),
            (
                RunOptions {
                    ip: Some("::1".into()),
                    ..Default::default()
                },
                "not an IPv4",
            ),
            (
                RunOptions {
                    network_alias: vec!["x".into()],
                    ..Default::default()
                },
                "user-defined network",
            ),
            (
                RunOptions {
                    add_host: vec!["h:nowhere".into()],
                    ..Default::default()
                },
                "--add-host",
            ),
            (
                RunOptions {
                    network_opt: vec!["bandwidth=fast".into()],
                    ..Default::default()
                },
                "bandwidth",
            ),
            (
                RunOptions {
                    network: vec!["a".into(), "a".into()],
                    ..Default::default()
                },
                "given twice",
            ),
            (
                RunOptions {
                    network: vec!["name=a,ip=10.0.0.1".into()],
                    ip: Some("10.0.0.2".into()),
                    ..Default::default()
                },
                "--ip \"10.0.0.2\": also given in the first --network's options",
            ),
            (
                RunOptions {
                    network: vec!["name=a,speed=fast".into()],
                    ..Default::default()
                },
                "unknown option \"speed\"",
            ),
            (
                RunOptions {
                    network: vec!["ip=10.0.0.1".into()],
                    ..Default::default()
                },
                "no name=NETWORK",
            ),
            (
                RunOptions {
                    network: vec!["name=a,ip=10.0.0.1,ip=10.0.0.2".into()],
                    ..Default::default()
                },
                "ip= given twice",
            ),
            (
                RunOptions {
                    network: vec!["name=host,alias=x".into()],
                    ..Default::default()
                },
                "needs a bridge network",
            ),
            (
                RunOptions {
                    network: vec!["name=bridge,alias=x".into()],
                    ..Default::default()
                },
                "user-defined network",
            ),
        ] {
            let e = net(o).unwrap_err();
            assert!(e.contains(why), "{e} lacks {why}");
        }
    }
}
