//! rtnetlink requests (netlink-packet-route messages over one socket): bridges, veth pairs
//! made straight into a container's namespace, addresses, routes, and a TBF qdisc. Requests
//! that do not depend on each other's answers go out in one `send`.

use crate::netlink::{self, Refused};
use ipnet::IpNet;
use netlink_packet_core::{DefaultNla, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage, TcOption};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// An rtnetlink socket in the namespace of the thread that opened it.
pub(crate) struct Rtnl {
    sock: netlink::Socket,
}

/// The largest IPv4 packet the host's side of a container's network (the bridge and the
/// veth ends on it) hands on whole: 256 KiB instead of the kernel's 64 KiB ("BIG TCP",
/// kernel 6.3), so the host's connections to a container's address cross the stack in a
/// quarter of the packets. (A connection to a published port on one of the host's own
/// addresses is routed through `lo`, whose limit is the host's business.) Only the host's
/// side: what a container sends keeps 64 KiB packets, which a NIC segments in hardware; a
/// bigger packet bound for a NIC with a lower limit would be cut in software. Kernels
/// before 6.3 ignore the attribute.
pub(crate) const HOST_GSO_MAX: u32 = 256 * 1024;

/// A link's index and whether it is up.
pub(crate) struct Link {
    pub index: u32,
    pub up: bool,
}

fn encode(msg: RouteNetlinkMessage, flags: u16, seq: u32) -> Vec<u8> {
    let mut nl = NetlinkMessage::from(msg);
    nl.header.flags = flags | netlink::REQUEST;
    nl.header.sequence_number = seq;
    nl.finalize();
    let mut buf = vec![0; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

fn family(ip: IpAddr) -> AddressFamily {
    if ip.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

fn route_addr(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

/// Sets `IFF_UP` with the change mask that says so.
fn up(m: &mut LinkMessage) {
    m.header.flags = LinkFlags::Up;
    m.header.change_mask = LinkFlags::Up;
}

/// `ip addr add NET dev INDEX` (IPv6 without duplicate address detection, so it works at
/// once).
pub(crate) fn address(index: u32, net: IpNet) -> RouteNetlinkMessage {
    let mut m = AddressMessage::default();
    m.header.family = family(net.addr());
    m.header.prefix_len = net.prefix_len();
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(net.addr()));
    m.attributes.push(AddressAttribute::Address(net.addr()));
    match net {
        IpNet::V4(n) => m
            .attributes
            .push(AddressAttribute::Broadcast(n.broadcast())),
        IpNet::V6(_) => m
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad)),
    }
    RouteNetlinkMessage::NewAddress(m)
}

/// `ip route add default via GATEWAY dev INDEX`.
pub(crate) fn default_route(index: u32, gateway: IpAddr) -> RouteNetlinkMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = family(gateway);
    m.header.table = libc::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Boot;
    m.header.scope = RouteScope::Universe;
    m.header.kind = RouteType::Unicast;
    m.attributes
        .push(RouteAttribute::Gateway(route_addr(gateway)));
    m.attributes.push(RouteAttribute::Oif(index));
    RouteNetlinkMessage::NewRoute(m)
}

/// A veth pair: `host` on bridge `bridge` in this namespace and up, `peer` made straight
/// inside the namespace `netns` with address `mac` (down: a veth opened before its pair is
/// linked fails with ENOTCONN, so the peer is set up from inside).
pub(crate) fn veth(
    host: &str,
    peer: &str,
    netns: BorrowedFd<'_>,
    bridge: u32,
    mtu: Option<u32>,
    mac: [u8; 6],
) -> RouteNetlinkMessage {
    let mut p = LinkMessage::default();
    p.attributes.push(LinkAttribute::IfName(peer.to_string()));
    p.attributes.push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
    p.attributes.push(LinkAttribute::Address(mac.to_vec()));
    let mut m = LinkMessage::default();
    up(&mut m);
    m.attributes.push(LinkAttribute::IfName(host.to_string()));
    m.attributes.push(LinkAttribute::Controller(bridge));
    m.attributes
        .push(LinkAttribute::GsoIpv4MaxSize(HOST_GSO_MAX));
    if let Some(mtu) = mtu {
        m.attributes.push(LinkAttribute::Mtu(mtu));
        p.attributes.push(LinkAttribute::Mtu(mtu));
    }
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
    ]));
    RouteNetlinkMessage::NewLink(m)
}

/// Raises bridge `index`'s IPv4 packet size to [`HOST_GSO_MAX`]. The kernel refuses it
/// while the bridge has no port (a portless bridge allows 64 KiB), so it follows a veth.
pub(crate) fn bridge_gso(index: u32) -> RouteNetlinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes
        .push(LinkAttribute::GsoIpv4MaxSize(HOST_GSO_MAX));
    RouteNetlinkMessage::SetLink(m)
}

/// `ip link set INDEX up`.
pub(crate) fn set_up(index: u32) -> RouteNetlinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    up(&mut m);
    RouteNetlinkMessage::SetLink(m)
}

const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
const TC_LINKLAYER_ETHERNET: u8 = 1;

/// A token bucket on `index`'s egress at `bits` per second: a burst of 20 ms of traffic (at
/// least 32 KiB) and a queue of 50 ms more.
pub(crate) fn tbf(index: u32, bits: u64) -> RouteNetlinkMessage {
    let bytes = bits / 8;
    let burst = (bytes / 50).max(32 * 1024).min(u64::from(u32::MAX)) as u32;
    let limit = (bytes / 20 + u64::from(burst)).min(u64::from(u32::MAX)) as u32;
    // struct tc_tbf_qopt: rate and peak tc_ratespec (cell_log, linklayer, overhead,
    // cell_align, mpu, rate), limit, buffer, mtu.
    let mut qopt = vec![0u8; 36];
    qopt[1] = TC_LINKLAYER_ETHERNET;
    qopt[8..12].copy_from_slice(&(bytes.min(u64::from(u32::MAX)) as u32).to_ne_bytes());
    qopt[24..28].copy_from_slice(&limit.to_ne_bytes());
    let mut m = TcMessage::with_index(index as i32);
    m.header.parent = TcHandle::ROOT;
    m.header.handle = TcHandle { major: 1, minor: 0 };
    m.attributes.push(TcAttribute::Kind("tbf".into()));
    m.attributes.push(TcAttribute::Options(vec![
        TcOption::Other(DefaultNla::new(TCA_TBF_PARMS, qopt)),
        TcOption::Other(DefaultNla::new(
            TCA_TBF_RATE64,
            bytes.to_ne_bytes().to_vec(),
        )),
        TcOption::Other(DefaultNla::new(TCA_TBF_BURST, burst.to_ne_bytes().to_vec())),
    ]));
    RouteNetlinkMessage::NewQueueDiscipline(m)
}

impl Rtnl {
    pub fn open() -> io::Result<Rtnl> {
        Ok(Rtnl {
            sock: netlink::Socket::open(libc::NETLINK_ROUTE as isize)?,
        })
    }

    /// Sends every request in one datagram; the first refusal, with the request it refused.
    pub fn send(
        &mut self,
        reqs: Vec<(RouteNetlinkMessage, u16)>,
    ) -> io::Result<Option<(usize, Refused)>> {
        let first = self.sock.next_seq(reqs.len() as u32);
        let mut bytes = Vec::new();
        for (i, (m, flags)) in reqs.into_iter().enumerate() {
            bytes.extend(encode(m, flags | netlink::ACK, first + i as u32));
        }
        let refused = self.sock.transact(&bytes)?;
        Ok(refused
            .into_iter()
            .map(|r| (r.seq.wrapping_sub(first) as usize, r))
            .min_by_key(|(i, _)| *i))
    }

    /// Sends requests that must all succeed; `what` names them in the error.
    pub fn apply(
        &mut self,
        reqs: Vec<(RouteNetlinkMessage, u16)>,
        what: &dyn Fn(usize) -> String,
    ) -> io::Result<()> {
        match self.send(reqs)? {
            None => Ok(()),
            Some((i, r)) => Err(io::Error::new(
                r.error().kind(),
                format!("{}: {}", what(i), r.error()),
            )),
        }
    }

    /// The link called `name`, if there is one.
    pub fn link(&mut self, name: &str) -> io::Result<Option<Link>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        let seq = self.sock.next_seq(1);
        let bytes = encode(RouteNetlinkMessage::GetLink(m), 0, seq);
        let reply = match self.sock.query(&bytes) {
            Ok(r) => r,
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(None),
            Err(e) => return Err(e),
        };
        if let Some(r) = reply {
            let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&r)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            if let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) = msg.payload {
                return Ok(Some(Link {
                    index: l.header.index,
                    up: l.header.flags.contains(LinkFlags::Up),
                }));
            }
        }
        Ok(None)
    }

    /// Makes bridge `name` with addresses `addrs` and sets it up (last, so "up" means
    /// "done"); a bridge already up is left as it is. Returns its index.
    pub fn ensure_bridge(
        &mut self,
        name: &str,
        mtu: Option<u32>,
        addrs: &[IpNet],
    ) -> io::Result<u32> {
        if let Some(l) = self.link(name)? {
            if l.up {
                return Ok(l.index);
            }
        } else {
            let mut m = LinkMessage::default();
            m.attributes.push(LinkAttribute::IfName(name.to_string()));
            if let Some(mtu) = mtu {
                m.attributes.push(LinkAttribute::Mtu(mtu));
            }
            m.attributes
                .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                    InfoKind::Bridge,
                )]));
            // Another berth may make it at the same moment: EEXIST is fine.
            match self.send(vec![(
                RouteNetlinkMessage::NewLink(m),
                netlink::CREATE | netlink::EXCL,
            )])? {
                Some((_, r)) if r.errno != libc::EEXIST => {
                    return Err(io::Error::new(
                        r.error().kind(),
                        format!("create bridge {name}: {}", r.error()),
                    ))
                }
                _ => {}
            }
        }
        let index = self
            .link(name)?
            .ok_or_else(|| io::Error::other(format!("bridge {name} vanished")))?
            .index;
        let reqs: Vec<_> = addrs
            .iter()
            .map(|a| (address(index, *a), netlink::CREATE | netlink::REPLACE))
            .collect();
        self.apply(reqs, &|i| format!("add address {} to {name}", addrs[i]))?;
        Ok(index)
    }

    /// Deletes link `name`; one already gone is no error.
    pub fn delete(&mut self, name: &str) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.send(vec![(RouteNetlinkMessage::DelLink(m), 0)])? {
            Some((_, r)) if r.errno != libc::ENODEV => Err(io::Error::new(
                r.error().kind(),
                format!("delete {name}: {}", r.error()),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tbf_options_carry_rate_and_burst() {
        let RouteNetlinkMessage::NewQueueDiscipline(m) = tbf(7, 10_000_000) else {
            panic!("not a qdisc");
        };
        assert_eq!(m.header.index, 7);
        let Some(TcAttribute::Options(opts)) = m.attributes.get(1) else {
            panic!("no options");
        };
        let TcOption::Other(parms) = &opts[0] else {
            panic!("no parms");
        };
        let mut v = vec![0; netlink_packet_core::Nla::value_len(parms)];
        netlink_packet_core::Nla::emit_value(parms, &mut v);
        assert_eq!(v.len(), 36);
        assert_eq!(u32::from_ne_bytes(v[8..12].try_into().unwrap()), 1_250_000);
        assert_eq!(v[1], TC_LINKLAYER_ETHERNET);
    }

    #[test]
    fn messages_encode_with_flags_and_sequence() {
        let bytes = encode(
            default_route(3, "10.0.0.1".parse().unwrap()),
            netlink::ACK,
            9,
        );
        let m: Vec<_> = netlink::messages(&bytes).collect();
        assert_eq!((m.len(), m[0].seq, m[0].kind), (1, 9, libc::RTM_NEWROUTE));
    }
}
