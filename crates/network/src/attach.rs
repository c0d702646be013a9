//! Attaching an owner (a container) to networks, in three steps, with one record of what was
//! made, written before the things it lists are made:
//!
//! 1. [`Networks::prepare`], before the container's namespaces exist: addresses leased,
//!    host ports claimed, the record written. Its answer gives the `/etc` files their
//!    addresses.
//! 2. [`Networks::connect`], once the namespace exists: bridges made where missing, a veth
//!    pair per network (made straight into the namespace), addresses, routes, loopback,
//!    a bandwidth limit, and the firewall's elements for the published ports.
//! 3. [`Networks::teardown`]: everything the record lists, then the record. `rm`, a crashed
//!    container's recovery and a failed start all call it; it is safe to call again. The
//!    veth pairs go with the container's namespace.

use crate::hostports::{HostPort, HostPorts};
use crate::ipam::Leases;
use crate::link::{self, Rtnl};
use crate::networks::Network;
use crate::nft::Entry;
use crate::ports::{Mapping, PortSpec};
use crate::resolv::Resolv;
use crate::{dns, netlink, netns, state, Error, Networks};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::os::fd::BorrowedFd;
use std::path::Path;

/// What the crate needs of its caller (the engine): which owners still hold what they were
/// given, where their records are, and how to start a network's DNS server.
pub trait Caller {
    /// Whether `owner` still holds what it made (its container runs or is starting).
    fn live(&self, owner: &str) -> bool;
    /// Every record of every owner, for rebuilding the firewall.
    fn records(&self) -> Vec<std::path::PathBuf>;
    /// Starts the DNS server of network `name` (see [`crate::dns`]) and returns once it
    /// listens.
    fn start_dns(&self, name: &str) -> std::io::Result<()>;
}

/// One network a container asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointRequest {
    pub network: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// What a container asks of the network.
#[derive(Clone, Debug, Default)]
pub struct Request<'a> {
    pub owner: &'a str,
    /// The names it answers to on user-defined networks (name, host name, short id); each
    /// network adds the endpoint's aliases.
    pub names: &'a [String],
    /// Its own name servers (`--dns`), which berth's DNS server forwards to.
    pub dns: &'a [IpAddr],
    pub endpoints: &'a [EndpointRequest],
    pub ports: &'a [PortSpec],
    /// Egress and ingress limit in bits per second.
    pub bandwidth: Option<u64>,
    /// Connected through a user-mode network (rootless) rather than to bridges: no
    /// endpoints, the ports are its sockets.
    pub user_net: Option<UserNet>,
}

/// What carries a rootless container's traffic through the user's own sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserNet {
    Pasta,
    Slirp4netns,
}

impl UserNet {
    /// The name server the container is given: the tool's own, which forwards to the
    /// host's resolvers (loopback stubs included).
    pub fn dns(self) -> IpAddr {
        match self {
            UserNet::Pasta => crate::pasta::DNS,
            UserNet::Slirp4netns => crate::slirp4netns::DNS,
        }
    }
}

/// A container's interface on one network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub network: String,
    pub network_id: String,
    pub bridge: String,
    /// The interface in the container (`eth0`, `eth1`, ...).
    pub ifname: String,
    /// Its peer on the host, on the bridge.
    pub veth: String,
    pub mac: String,
    /// Addresses with their prefix.
    #[serde(default)]
    pub addresses: Vec<IpNet>,
    /// The default routes this interface carries.
    #[serde(default)]
    pub gateways: Vec<IpAddr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// berth's DNS server for it, on the gateway, when the network has one for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<IpAddr>,
}

impl Endpoint {
    pub fn ip(&self, v6: bool) -> Option<IpAddr> {
        self.addresses
            .iter()
            .map(IpNet::addr)
            .find(|a| a.is_ipv6() == v6)
    }
}

/// A container's record of what the network made for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub owner: String,
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub ports: Vec<Mapping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<u64>,
    /// Connected through a user-mode network ([`Request::user_net`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_net: Option<UserNet>,
    /// False until the addresses and ports are all taken: a teardown of an incomplete
    /// record looks for the owner's leases and ports instead of trusting the lists.
    #[serde(default)]
    pub complete: bool,
}

impl Attachment {
    /// The record at `path`, if there is one.
    pub fn load(path: &Path) -> Result<Option<Attachment>, Error> {
        Ok(state::read_json(path)?)
    }

    /// The firewall elements the container owns: its published ports, on the address of
    /// its first network that has one of each family.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for m in &self.ports {
            for v6 in [false, true] {
                if m.host_ip.is_some_and(|h| h.is_ipv6() != v6) {
                    continue;
                }
                if let Some(ip) = self.endpoints.iter().find_map(|e| e.ip(v6)) {
                    out.push(Entry::Port {
                        proto: m.proto,
                        host_ip: m.host_ip,
                        host_port: m.host_port,
                        ip,
                        port: m.port,
                    });
                }
            }
        }
        out
    }
}

/// The firewall elements of a network.
pub fn network_entries(n: &Network) -> Vec<Entry> {
    let mut v = vec![Entry::Bridge {
        name: n.bridge.clone(),
        internal: n.internal,
    }];
    v.extend(n.subnets.iter().map(|s| Entry::Subnet { net: s.subnet }));
    v
}

/// A MAC address: docker's `02:42` and the IPv4 address, or random bits with the local bit.
fn mac_for(ip: Option<IpAddr>) -> Result<[u8; 6], Error> {
    if let Some(IpAddr::V4(a)) = ip {
        let o = a.octets();
        return Ok([0x02, 0x42, o[0], o[1], o[2], o[3]]);
    }
    let mut m = [0u8; 6];
    m.copy_from_slice(&random_bytes(6)?);
    m[0] = (m[0] & 0xfe) | 0x02;
    Ok(m)
}

pub(crate) fn random_bytes(n: usize) -> Result<Vec<u8>, Error> {
    let mut b = vec![0u8; n];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").map_err(Error::kernel("/dev/urandom"))?,
        &mut b,
    )
    .map_err(Error::kernel("/dev/urandom"))?;
    Ok(b)
}

/// Parses `aa:bb:cc:dd:ee:ff`: a unicast address.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| {
            (p.len() == 2)
                .then(|| u8::from_str_radix(p, 16).ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    let m: [u8; 6] = parts.try_into().ok()?;
    (m[0] & 1 == 0 && m != [0; 6]).then_some(m)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An endpoint about to be made on `n` (interface `ifname`): named, nothing taken yet.
fn intent(n: &Network, want: &EndpointRequest, ifname: String) -> Result<Endpoint, Error> {
    Ok(Endpoint {
        network: n.name.clone(),
        network_id: n.id.clone(),
        bridge: n.bridge.clone(),
        ifname,
        veth: format!("veth{}", hex(&random_bytes(4)?)),
        mac: String::new(),
        addresses: Vec::new(),
        gateways: Vec::new(),
        aliases: want.aliases.clone(),
        dns: None,
    })
}

impl Networks {
    /// Leases addresses and claims host ports for `req`, keeping the record at `record`.
    /// On failure nothing of it is left.
    pub fn prepare(
        &self,
        req: &Request<'_>,
        record: &Path,
        caller: &dyn Caller,
    ) -> Result<Attachment, Error> {
        let mut nets = Vec::new();
        for e in req.endpoints {
            nets.push(self.definitions().find(&e.network)?);
        }
        let mut a = Attachment {
            owner: req.owner.to_string(),
            bandwidth: req.bandwidth,
            user_net: req.user_net,
            ..Default::default()
        };
        for (n, want) in nets.iter().zip(req.endpoints) {
            let ifname = format!("eth{}", a.endpoints.len());
            a.endpoints.push(intent(n, want, ifname)?);
        }
        state::write_json(record, &a)?;
        self.take(req, &nets, &mut a, caller, 0)
            .and_then(|()| {
                a.complete = true;
                Ok(state::write_json(record, &a)?)
            })
            .map(|()| a)
            .inspect_err(|_| {
                let _ = self.teardown(record);
            })
    }

    /// Leases and claims for the endpoints from `first` on (`nets` and `req.endpoints` are
    /// theirs), filling in the attachment; the ports with the first endpoints.
    fn take(
        &self,
        req: &Request<'_>,
        nets: &[Network],
        a: &mut Attachment,
        caller: &dyn Caller,
        first: usize,
    ) -> Result<(), Error> {
        let live = |o: &str| caller.live(o);
        // One default route per family, on the first network that has one.
        let mut routed = [false, true].map(|v6| {
            a.endpoints[..first]
                .iter()
                .any(|e| e.gateways.iter().any(|g| g.is_ipv6() == v6))
        });
        for (k, n) in nets.iter().enumerate() {
            let i = first + k;
            let want = &req.endpoints[k];
            let leases = Leases::new(&self.leases_dir(&n.id));
            let ep = &mut a.endpoints[i];
            for s in &n.subnets {
                let v6 = s.subnet.addr().is_ipv6();
                let ip = leases.lease(s, req.owner, if v6 { want.ip6 } else { want.ip }, &live)?;
                ep.addresses
                    .push(IpNet::new_assert(ip, s.subnet.prefix_len()));
                if !n.internal && !routed[usize::from(v6)] {
                    routed[usize::from(v6)] = true;
                    ep.gateways.push(s.gateway);
                }
            }
            for (flag, ip) in [("--ip", want.ip), ("--ip6", want.ip6)] {
                if let Some(ip) = ip {
                    if n.subnet_for(ip.is_ipv6()).is_none() {
                        return Err(Error::Bad {
                            flag,
                            value: ip.to_string(),
                            reason: format!("network {} has no subnet of its family", n.name),
                        });
                    }
                }
            }
            let mac = match &want.mac {
                Some(m) => parse_mac(m).ok_or_else(|| Error::Bad {
                    flag: "--mac-address",
                    value: m.clone(),
                    reason: "not a unicast MAC address".into(),
                })?,
                None => mac_for(ep.ip(false))?,
            };
            ep.mac = mac_text(mac);
            if n.dns || (i == 0 && self.forwarder_needed(req)) {
                let Some(gw) = n.subnets.first().map(|s| s.gateway) else {
                    continue;
                };
                ep.dns = Some(gw);
                let mut names = Vec::new();
                if n.dns {
                    names.extend(req.names.iter().chain(&ep.aliases).cloned());
                }
                let entry = dns::Entry {
                    names,
                    addrs: ep.addresses.iter().map(IpNet::addr).collect(),
                    upstream: req.dns.to_vec(),
                };
                state::write_json(&dns::entry_path(&self.net_dir(&n.id), req.owner), &entry)?;
            }
        }
        if first > 0 {
            return Ok(());
        }
        let host = HostPorts::new(&self.ports_dir());
        for spec in req.ports {
            for (port, range) in spec.wants() {
                let mine: Vec<HostPort> = a.ports.iter().map(Mapping::host).collect();
                let host_port =
                    host.claim(spec.proto, spec.host_ip, range, req.owner, &live, &mine)?;
                a.ports.push(Mapping {
                    proto: spec.proto,
                    host_ip: spec.host_ip,
                    host_port,
                    port,
                });
            }
        }
        Ok(())
    }

    /// Makes the kernel objects of `a`, whose record is `record`, for the container whose
    /// network namespace is `netns`: its endpoints and ports, or pasta or slirp4netns for a rootless one
    /// (ended by [`Self::teardown`]). On failure the caller tears the attachment down.
    pub fn connect(
        &self,
        a: &Attachment,
        record: &Path,
        netns: BorrowedFd<'_>,
        caller: &dyn Caller,
    ) -> Result<(), Error> {
        match a.user_net {
            Some(UserNet::Pasta) => {
                let pid_file = crate::pasta::pid_file(record);
                return Ok(crate::pasta::start(netns, &a.ports, &pid_file)?);
            }
            Some(UserNet::Slirp4netns) => {
                return Ok(crate::slirp4netns::start(netns, &a.ports, record)?);
            }
            None => {}
        }
        self.plug(a, 0, netns, caller)?;
        self.firewall()
            .add(&a.entries(), &|| self.all_entries(caller))?;
        Ok(())
    }

    /// The kernel objects of the endpoints from `first` on: bridges where missing, veth
    /// pairs, the container's side (and its loopback, with the first), bandwidth limits,
    /// DNS servers.
    fn plug(
        &self,
        a: &Attachment,
        first: usize,
        netns: BorrowedFd<'_>,
        caller: &dyn Caller,
    ) -> Result<(), Error> {
        let eps = &a.endpoints[first..];
        let mut rt = Rtnl::open().map_err(Error::kernel("rtnetlink"))?;
        let mut reqs = Vec::new();
        let mut bridges = Vec::new();
        for ep in eps {
            let n = self.definitions().find(&ep.network)?;
            let bridge = self.bridge(&mut rt, &n, caller)?;
            if !bridges.contains(&bridge) {
                bridges.push(bridge);
            }
            let mac = parse_mac(&ep.mac).ok_or_else(|| Error::Bad {
                flag: "--mac-address",
                value: ep.mac.clone(),
                reason: "not a unicast MAC address".into(),
            })?;
            reqs.push((
                link::veth(&ep.veth, &ep.ifname, netns, bridge, n.mtu, mac),
                netlink::CREATE | netlink::EXCL,
            ));
        }
        // The bridges' packet size rides in the same datagram. A bridge that refuses it (a
        // port of someone else's with a lower limit) keeps working at 64 KiB.
        reqs.extend(bridges.into_iter().map(|b| (link::bridge_gso(b), 0)));
        if let Some((i, r)) = rt.send(reqs).map_err(Error::kernel("connect"))? {
            if i < eps.len() {
                return Err(Error::kernel("connect")(std::io::Error::new(
                    r.error().kind(),
                    format!("create veth {}: {}", eps[i].veth, r.error()),
                )));
            }
        }
        netns::run_in(netns, || inside(eps, first == 0, a.bandwidth))
            .map_err(Error::kernel("configure the container's interfaces"))?;
        if let Some(bits) = a.bandwidth {
            let mut limits = Vec::new();
            for ep in eps {
                let l = rt.link(&ep.veth).map_err(Error::kernel("bandwidth"))?;
                let l = l.ok_or_else(|| {
                    Error::kernel("bandwidth")(std::io::Error::other(format!(
                        "{} is missing",
                        ep.veth
                    )))
                })?;
                limits.push((link::tbf(l.index, bits), netlink::CREATE | netlink::EXCL));
            }
            rt.apply(limits, &|i| format!("limit {}", eps[i].veth))
                .map_err(Error::kernel("bandwidth"))?;
        }
        for ep in eps.iter().filter(|e| e.dns.is_some()) {
            if let Some(_gate) = self.dns_gate(&ep.network_id)? {
                caller
                    .start_dns(&ep.network)
                    .map_err(Error::kernel(format!(
                        "DNS server of network {}",
                        ep.network
                    )))?;
            }
        }
        Ok(())
    }

    /// Attaches the running owner of `record` (namespace `netns`) to one more network, as
    /// `req.endpoints[0]` asks; `req.ports` are not looked at. Returns the attachment.
    pub fn join(
        &self,
        record: &Path,
        req: &Request<'_>,
        netns: BorrowedFd<'_>,
        caller: &dyn Caller,
    ) -> Result<Attachment, Error> {
        let mut a = Attachment::load(record)?.unwrap_or_else(|| Attachment {
            owner: req.owner.to_string(),
            complete: true,
            ..Default::default()
        });
        let want = req.endpoints.first().ok_or_else(|| Error::Bad {
            flag: "network connect",
            value: String::new(),
            reason: "no network".into(),
        })?;
        let n = self.definitions().find(&want.network)?;
        if a.endpoints.iter().any(|e| e.network_id == n.id) {
            return Err(Error::Bad {
                flag: "network connect",
                value: n.name,
                reason: format!("container {} is already on it", a.owner),
            });
        }
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|f| !a.endpoints.iter().any(|e| &e.ifname == f))
            .unwrap_or_default();
        let first = a.endpoints.len();
        a.endpoints.push(intent(&n, want, ifname)?);
        a.complete = false;
        state::write_json(record, &a)?;
        let made = self
            .take(req, std::slice::from_ref(&n), &mut a, caller, first)
            .and_then(|()| {
                a.complete = true;
                state::write_json(record, &a)?;
                self.plug(&a, first, netns, caller)
            });
        if let Err(e) = made {
            let _ = self.leave(record, &n.name, caller);
            return Err(e);
        }
        Ok(a)
    }

    /// Detaches the running owner of `record` from network `name`: its interface there
    /// (deleted now: the container lives on), its addresses, its DNS entry; its published
    /// ports move to what its other networks give.
    pub fn leave(
        &self,
        record: &Path,
        name: &str,
        caller: &dyn Caller,
    ) -> Result<Attachment, Error> {
        let mut a = Attachment::load(record)?.unwrap_or_default();
        let Some(i) = a.endpoints.iter().position(|e| e.network == name) else {
            return Err(Error::Bad {
                flag: "network disconnect",
                value: name.to_string(),
                reason: format!("container {} is not on it", a.owner),
            });
        };
        let before = a.entries();
        let ep = a.endpoints.remove(i);
        let after = a.entries();
        let fw = self.firewall();
        fw.remove(
            &before
                .iter()
                .filter(|e| !after.contains(e))
                .cloned()
                .collect::<Vec<_>>(),
        )?;
        fw.add(&after, &|| self.all_entries(caller))?;
        Rtnl::open()
            .and_then(|mut rt| rt.delete(&ep.veth))
            .map_err(Error::kernel(format!("delete {}", ep.veth)))?;
        self.release(&a.owner, &ep, a.complete)?;
        state::write_json(record, &a)?;
        Ok(a)
    }

    /// Whether a container on the default network needs berth's DNS server to forward its
    /// questions: the host's name servers are all on its loopback, out of the container's
    /// reach, and neither berth's configuration nor `--dns` names others.
    fn forwarder_needed(&self, req: &Request<'_>) -> bool {
        req.dns.is_empty() && self.config.dns.is_empty() && {
            let host = self.host_resolv();
            !host.nameservers.is_empty() && host.reachable().is_empty()
        }
    }

    fn host_resolv(&self) -> Resolv {
        std::fs::read_to_string(&self.config.resolv_conf)
            .map(|t| Resolv::parse(&t))
            .unwrap_or_default()
    }

    /// The container's `resolv.conf`: berth's DNS server where it has one; else `--dns`,
    /// berth's configured servers, or the host's that a container can reach. The host's
    /// search domains and options unless given.
    pub fn resolv_conf(
        &self,
        a: &Attachment,
        dns: &[IpAddr],
        search: &[String],
        options: &[String],
    ) -> String {
        let host = self.host_resolv();
        let pick = |given: &[String], host: Vec<String>| {
            if given.is_empty() {
                host
            } else {
                given.to_vec()
            }
        };
        let nameservers = match a.endpoints.iter().find_map(|e| e.dns) {
            Some(server) => vec![server],
            None => [dns, &self.config.dns]
                .into_iter()
                .find(|d| !d.is_empty())
                .map(<[IpAddr]>::to_vec)
                .unwrap_or_else(|| host.reachable()),
        };
        Resolv {
            nameservers,
            search: pick(search, host.search.clone()),
            options: pick(options, host.options.clone()),
        }
        .render()
    }

    /// Makes the network's bridge if it is missing: addresses, forwarding on, 127.0.0.1
    /// routable to it (for published ports), the network's firewall elements, and last
    /// "up", so that a bridge that is up has all of these. Its index.
    pub(crate) fn bridge(
        &self,
        rt: &mut Rtnl,
        n: &Network,
        caller: &dyn Caller,
    ) -> Result<u32, Error> {
        if let Some(l) = rt.link(&n.bridge).map_err(Error::kernel("rtnetlink"))? {
            if l.up {
                return Ok(l.index);
            }
        }
        let kernel = || Error::kernel(format!("bridge {} of network {}", n.bridge, n.name));
        let addrs: Vec<IpNet> = n.subnets.iter().map(|s| s.gateway_net()).collect();
        let index = (|| {
            netns::sysctl("net/ipv4/ip_forward", "1")?;
            if n.ipv6() {
                netns::sysctl("net/ipv6/conf/all/forwarding", "1")?;
            }
            let index = rt.ensure_bridge(&n.bridge, n.mtu, &addrs)?;
            netns::sysctl(&format!("net/ipv4/conf/{}/route_localnet", n.bridge), "1")?;
            Ok(index)
        })()
        .map_err(kernel())?;
        self.firewall()
            .add(&network_entries(n), &|| self.all_entries(caller))?;
        rt.apply(vec![(link::set_up(index), 0)], &|_| {
            format!("set {} up", n.bridge)
        })
        .map_err(kernel())?;
        Ok(index)
    }

    /// Removes everything the record at `record` lists, then the record; safe to repeat.
    /// The veth pairs are left to the kernel, which removes both ends when the container's
    /// namespace is freed: an explicit delete waits for RCU grace periods (about 30 ms here)
    /// where the owner is gone anyway.
    pub fn teardown(&self, record: &Path) -> Result<(), Error> {
        let Some(a) = state::read_json::<Attachment>(record)? else {
            return Ok(());
        };
        let ended = match a.user_net {
            Some(UserNet::Pasta) => crate::pasta::stop(&crate::pasta::pid_file(record)),
            Some(UserNet::Slirp4netns) => crate::slirp4netns::stop(record),
            None => crate::forward::stop(&crate::forward::pid_file(record)),
        };
        ended.map_err(|source| Error::Kernel {
            what: format!("ending the user-mode network of {}", record.display()),
            source,
        })?;
        let mut first_err = self.firewall().remove(&a.entries()).err().map(Error::from);
        let release = || -> Result<(), Error> {
            for ep in &a.endpoints {
                self.release(&a.owner, ep, a.complete)?;
            }
            let host = HostPorts::new(&self.ports_dir());
            let ports: Vec<HostPort> = if a.complete {
                a.ports.iter().map(Mapping::host).collect()
            } else {
                host.held_by(&a.owner)?
            };
            for p in &ports {
                host.release(p, &a.owner)?;
            }
            Ok(())
        };
        if let Err(e) = release() {
            first_err.get_or_insert(e);
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(state::remove_file(record)?),
        }
    }

    /// Gives back what `owner` holds on endpoint `ep`'s network: its DNS entry and its
    /// addresses (those the endpoint lists, or with an incomplete record all of the
    /// owner's there).
    fn release(&self, owner: &str, ep: &Endpoint, complete: bool) -> Result<(), Error> {
        state::remove_file(&dns::entry_path(&self.net_dir(&ep.network_id), owner))?;
        let leases = Leases::new(&self.leases_dir(&ep.network_id));
        let ips: Vec<IpAddr> = if complete {
            ep.addresses.iter().map(IpNet::addr).collect()
        } else {
            leases
                .all()?
                .into_iter()
                .filter(|(_, o)| o == owner)
                .map(|(ip, _)| ip)
                .collect()
        };
        for ip in ips {
            leases.release(ip, owner)?;
        }
        Ok(())
    }

    /// Every firewall element that should exist: each network's, and each owner's.
    pub(crate) fn all_entries(&self, caller: &dyn Caller) -> Vec<Entry> {
        let mut out: Vec<Entry> = self
            .definitions()
            .list()
            .unwrap_or_default()
            .iter()
            .flat_map(network_entries)
            .collect();
        for r in caller.records() {
            if let Ok(Some(a)) = state::read_json::<Attachment>(&r) {
                out.extend(a.entries());
            }
        }
        out
    }
}

/// Inside the container's namespace: loopback (with `lo`) and each interface's addresses
/// up, then the default routes (which need the addresses' subnets) and bandwidth limits.
fn inside(eps: &[Endpoint], lo: bool, bandwidth: Option<u64>) -> std::io::Result<()> {
    let mut rt = Rtnl::open()?;
    let mut reqs = Vec::new();
    if lo {
        reqs.push((link::set_up(1), 0));
    }
    let mut routes = Vec::new();
    for ep in eps {
        let index = rt
            .link(&ep.ifname)?
            .ok_or_else(|| std::io::Error::other(format!("{} is missing", ep.ifname)))?
            .index;
        for addr in &ep.addresses {
            reqs.push((link::address(index, *addr), netlink::CREATE | netlink::EXCL));
        }
        reqs.push((link::set_up(index), 0));
        for gw in &ep.gateways {
            routes.push((
                link::default_route(index, *gw),
                netlink::CREATE | netlink::EXCL,
            ));
        }
        if let Some(bits) = bandwidth {
            routes.push((link::tbf(index, bits), netlink::CREATE | netlink::EXCL));
        }
    }
    reqs.extend(routes);
    rt.apply(reqs, &|i| format!("request {i}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Proto;

    #[test]
    fn macs() {
        assert_eq!(
            mac_text(mac_for(Some("10.88.0.2".parse().unwrap())).unwrap()),
            "02:42:0a:58:00:02"
        );
        let m = mac_for(None).unwrap();
        assert_eq!(m[0] & 3, 2);
        assert_eq!(
            parse_mac("02:42:0A:58:00:02"),
            Some([2, 0x42, 10, 0x58, 0, 2])
        );
        for bad in [
            "01:00:00:00:00:01",
            "00:00:00:00:00:00",
            "1:2:3:4:5:6",
            "02:42:0a:58:00",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn ports_go_to_the_first_address_of_their_family() {
        let ep = |addrs: &[&str]| Endpoint {
            network: "n".into(),
            network_id: "i".into(),
            bridge: "b".into(),
            ifname: "eth0".into(),
            veth: "v".into(),
            mac: String::new(),
            addresses: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            gateways: vec![],
            aliases: vec![],
            dns: None,
        };
        let a = Attachment {
            owner: "o".into(),
            endpoints: vec![ep(&["10.0.0.2/24"]), ep(&["10.1.0.2/24", "fd00::2/64"])],
            ports: vec![
                Mapping {
                    proto: Proto::Tcp,
                    host_ip: None,
                    host_port: 8080,
                    port: 80,
                },
                Mapping {
                    proto: Proto::Udp,
                    host_ip: Some("127.0.0.1".parse().unwrap()),
                    host_port: 53,
                    port: 53,
                },
            ],
            ..Default::default()
        };
        let ips: Vec<String> = a
            .entries()
            .iter()
            .map(|e| match e {
                Entry::Port { ip, .. } => ip.to_string(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(ips, ["10.0.0.2", "fd00::2", "10.0.0.2"]);
    }
}
