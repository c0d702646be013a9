//! NAT, publishing and isolation through nftables, in berth's own table only (see
//! [`table`]). Messages are built here and sent as one nfnetlink batch, in-process: a
//! container's ports are one batch of set elements, and the table itself (chains, rules,
//! sets) is rebuilt in one atomic batch when it is missing (say after `nft flush ruleset`),
//! from the entries the caller finds on disk.

mod expr;
mod table;

use crate::netlink::{self, MsgBuf, Refused};
use crate::ports::Proto;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::io;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;
use table::{CHAINS, SETS, TABLE};

/// nftables failed.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("nftables: {what}: {source}")]
    Kernel { what: String, source: io::Error },
    #[error("{path}: {source}")]
    Lock { path: PathBuf, source: io::Error },
}

fn kernel(what: impl Into<String>) -> impl FnOnce(io::Error) -> NftError {
    let what = what.into();
    move |source| NftError::Kernel { what, source }
}

/// An element berth adds to its table at run time; networks and containers own them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Entry {
    /// A network's bridge: forwards to itself; with `internal`, to nothing else.
    Bridge { name: String, internal: bool },
    /// A network's subnet: masqueraded on the way out and in hairpin connections.
    Subnet { net: IpNet },
    /// A published port: `host_ip` (any local address when absent) and `host_port` lead to
    /// `ip` and `port`.
    #[serde(rename_all = "camelCase")]
    Port {
        proto: Proto,
        host_ip: Option<IpAddr>,
        host_port: u16,
        ip: IpAddr,
        port: u16,
    },
}

/// One set element as the kernel sees it.
#[derive(Debug, PartialEq, Eq)]
struct Element {
    set: &'static str,
    key: Vec<u8>,
    data: Option<Vec<u8>>,
    /// `NFT_SET_ELEM_INTERVAL_END`: the first address after an interval.
    end: bool,
}

fn ifname(name: &str) -> Vec<u8> {
    let mut v = name.as_bytes().to_vec();
    v.resize(16, 0);
    v
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// A port as a concatenation component: big-endian in a 4-byte word.
fn port_word(p: u16) -> [u8; 4] {
    let b = p.to_be_bytes();
    [b[0], b[1], 0, 0]
}

impl Entry {
    fn elements(&self) -> Vec<Element> {
        let el = |set, key, data| Element {
            set,
            key,
            data,
            end: false,
        };
        match self {
            Entry::Bridge { name, internal } => {
                let mut v = vec![
                    el("bridges", ifname(name), None),
                    el("same", [ifname(name), ifname(name)].concat(), None),
                ];
                if *internal {
                    v.push(el("internal", ifname(name), None));
                }
                v
            }
            Entry::Subnet { net } => {
                let set = if net.addr().is_ipv4() {
                    "nets4"
                } else {
                    "nets6"
                };
                let mut v = vec![el(set, ip_bytes(net.network()), None)];
                // The end is the first address past the subnet (none past the last one).
                let after = match net.broadcast() {
                    IpAddr::V4(a) => u32::from(a)
                        .checked_add(1)
                        .map(|n| n.to_be_bytes().to_vec()),
                    IpAddr::V6(a) => u128::from(a)
                        .checked_add(1)
                        .map(|n| n.to_be_bytes().to_vec()),
                };
                if let Some(key) = after {
                    v.push(Element {
                        end: true,
                        ..el(set, key, None)
                    });
                }
                v
            }
            Entry::Port {
                proto,
                host_ip,
                host_port,
                ip,
                port,
            } => {
                let proto_word = [proto.number(), 0, 0, 0];
                let data = [ip_bytes(*ip), port_word(*port).to_vec()].concat();
                let set = match (ip.is_ipv6(), host_ip.is_some()) {
                    (false, false) => "ports4",
                    (false, true) => "ports4at",
                    (true, false) => "ports6",
                    (true, true) => "ports6at",
                };
                let mut key = host_ip.map(ip_bytes).unwrap_or_default();
                key.extend(proto_word);
                key.extend(port_word(*host_port));
                vec![el(set, key, Some(data))]
            }
        }
    }
}

// nf_tables message types
const NEWTABLE: u8 = 0;
const NEWCHAIN: u8 = 3;
const NEWRULE: u8 = 6;
const DELRULE: u8 = 8;
const NEWSET: u8 = 9;
const NEWSETELEM: u8 = 12;
const DELSETELEM: u8 = 14;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const BATCH_BEGIN: u16 = 0x10;
const BATCH_END: u16 = 0x11;

/// One nfnetlink transaction: everything in it applies, or nothing.
struct Batch {
    b: MsgBuf,
    seq: u32,
}

impl Batch {
    fn new(first_seq: u32) -> Batch {
        let mut b = MsgBuf::default();
        let res_id = NFNL_SUBSYS_NFTABLES.to_be_bytes();
        b.begin(BATCH_BEGIN, 0, first_seq)
            .raw(&[libc::AF_UNSPEC as u8, 0, res_id[0], res_id[1]])
            .end();
        Batch {
            b,
            seq: first_seq + 1,
        }
    }

    /// Starts an nf_tables message on table `inet berth`.
    fn msg(&mut self, kind: u8, flags: u16) -> &mut MsgBuf {
        let ty = (NFNL_SUBSYS_NFTABLES << 8) | u16::from(kind);
        self.b
            .begin(ty, flags | netlink::ACK, self.seq)
            .raw(&[libc::NFPROTO_INET as u8, 0, 0, 0]);
        self.seq += 1;
        self.b.str(1, TABLE)
    }

    fn elements(&mut self, kind: u8, flags: u16, set: &str, elements: &[&Element]) {
        // NFTA_SET_ELEM_LIST_TABLE (written by msg), _SET, _ELEMENTS
        let b = self.msg(kind, flags);
        b.str(2, set).nest(3);
        for e in elements {
            // NFTA_LIST_ELEM { NFTA_SET_ELEM_KEY { value }, _DATA { value }, _FLAGS }
            b.nest(1).nest(1).attr(1, &e.key).end();
            if let Some(d) = &e.data {
                b.nest(2).attr(1, d).end();
            }
            if e.end {
                b.be32(3, 1);
            }
            b.end();
        }
        b.end().end();
    }

    /// Adds (or with `remove`, deletes) elements, one message per set.
    fn entries(&mut self, entries: &[Entry], remove: bool) {
        let all: Vec<Element> = entries.iter().flat_map(Entry::elements).collect();
        for s in &SETS {
            let mine: Vec<&Element> = all.iter().filter(|e| e.set == s.name).collect();
            if mine.is_empty() {
                continue;
            }
            if remove {
                self.elements(DELSETELEM, 0, s.name, &mine);
            } else {
                self.elements(NEWSETELEM, netlink::CREATE, s.name, &mine);
            }
        }
    }

    /// The whole table with exactly `entries` in its sets: made where missing, its chains'
    /// rules and its sets' elements replaced.
    fn table(&mut self, entries: &[Entry]) {
        self.msg(NEWTABLE, netlink::CREATE).be32(2, 0).end();
        for (id, s) in SETS.iter().enumerate() {
            // NFTA_SET_NAME, _FLAGS, _KEY_TYPE, _KEY_LEN, [_DATA_TYPE, _DATA_LEN], _ID
            let b = self.msg(NEWSET, netlink::CREATE);
            b.str(2, s.name)
                .be32(3, s.flags)
                .be32(4, s.key_type)
                .be32(5, s.key_len);
            if let Some((ty, len)) = s.data {
                b.be32(6, ty).be32(7, len);
            }
            b.be32(10, id as u32 + 1);
            if s.key_type == table::IFNAME {
                // NFTA_SET_USERDATA: nft(8) shows interface names only when told their
                // byte order (NFTNL_UDATA_SET_KEYBYTEORDER: host).
                let mut ud = vec![0, 4];
                ud.extend(1u32.to_ne_bytes());
                b.attr(13, &ud);
            }
            b.end();
            // A delete without elements flushes the set.
            self.msg(DELSETELEM, 0).str(2, s.name).end();
        }
        self.entries(entries, false);
        for c in &CHAINS {
            // NFTA_CHAIN_NAME, _HOOK { _HOOKNUM, _PRIORITY }, _POLICY, _TYPE
            let b = self.msg(NEWCHAIN, netlink::CREATE);
            b.str(3, c.name);
            if let Some((ty, hook, prio)) = c.hook {
                b.nest(4).be32(1, hook).be32(2, prio as u32).end();
                b.be32(5, libc::NF_ACCEPT as u32).str(7, ty);
            }
            b.end();
            // A delete of a chain's rules without a handle flushes the chain.
            self.msg(DELRULE, 0).str(2, c.name).end();
        }
        for (chain, exprs) in table::rules() {
            // NFTA_RULE_CHAIN, NFTA_RULE_EXPRESSIONS
            let b = self.msg(NEWRULE, netlink::CREATE | netlink::APPEND);
            b.str(2, chain).nest(4);
            for e in &exprs {
                e.emit(b);
            }
            b.end().end();
        }
    }

    fn finish(mut self) -> Vec<u8> {
        let res_id = NFNL_SUBSYS_NFTABLES.to_be_bytes();
        self.b
            .begin(BATCH_END, 0, self.seq)
            .raw(&[libc::AF_UNSPEC as u8, 0, res_id[0], res_id[1]])
            .end();
        self.b.finish()
    }
}

/// berth's table, changed under a lock: shared for element changes, exclusive for a rebuild,
/// so a rebuild never loses an element added while it read the entries from disk.
pub struct Firewall {
    lock: PathBuf,
}

/// The messages of a batch, for counting.
fn message_count(bytes: &[u8]) -> u32 {
    netlink::messages(bytes).count() as u32
}

impl Firewall {
    /// A firewall whose changes are serialised by a lock file at `lock`.
    pub fn new(lock: PathBuf) -> Firewall {
        Firewall { lock }
    }

    fn locked(&self, exclusive: bool) -> Result<std::os::fd::OwnedFd, NftError> {
        let err = |source| NftError::Lock {
            path: self.lock.clone(),
            source,
        };
        let fd = berth_sys::fs::open(
            &self.lock,
            libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC,
            0o600,
        )
        .map_err(err)?;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        berth_sys::fs::flock(fd.as_fd(), op).map_err(err)?;
        Ok(fd)
    }

    fn send(build: impl FnOnce(&mut Batch)) -> io::Result<Vec<Refused>> {
        let mut sock = netlink::Socket::open(libc::NETLINK_NETFILTER as isize)?;
        let first = sock.next_seq(0);
        let mut batch = Batch::new(first);
        build(&mut batch);
        let bytes = batch.finish();
        sock.next_seq(message_count(&bytes));
        sock.transact(&bytes)
    }

    /// Adds `entries`. When the table is missing or holds a clashing element, it is rebuilt
    /// from `all` (every entry on disk, these included).
    pub fn add(&self, entries: &[Entry], all: &dyn Fn() -> Vec<Entry>) -> Result<(), NftError> {
        if entries.is_empty() {
            return Ok(());
        }
        let lock = self.locked(false)?;
        let refused = Self::send(|b| b.entries(entries, false)).map_err(kernel("add"))?;
        match refused.first() {
            None => Ok(()),
            Some(r) if r.errno == libc::ENOENT || r.errno == libc::EEXIST => {
                drop(lock);
                self.reload(&all())
            }
            Some(r) => Err(kernel("add elements")(r.error())),
        }
    }

    /// Removes `entries`; those already gone are no error.
    pub fn remove(&self, entries: &[Entry]) -> Result<(), NftError> {
        if entries.is_empty() {
            return Ok(());
        }
        let _lock = self.locked(false)?;
        let refused = Self::send(|b| b.entries(entries, true)).map_err(kernel("remove"))?;
        let Some(first) = refused.first() else {
            return Ok(());
        };
        if first.errno != libc::ENOENT {
            return Err(kernel("remove elements")(first.error()));
        }
        // One is gone already (or the whole table): the others one at a time.
        for e in entries {
            let refused = Self::send(|b| b.entries(std::slice::from_ref(e), true))
                .map_err(kernel("remove"))?;
            match refused.first() {
                Some(r) if r.errno != libc::ENOENT => {
                    return Err(kernel("remove elements")(r.error()))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Puts the whole table back with exactly `all` in its sets, in one transaction.
    pub fn reload(&self, all: &[Entry]) -> Result<(), NftError> {
        let _lock = self.locked(true)?;
        let refused = Self::send(|b| b.table(all)).map_err(kernel("load table inet berth"))?;
        match refused.first() {
            None => Ok(()),
            Some(r) => Err(kernel("load table inet berth")(r.error())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_elements_are_concatenations_of_words() {
        let e = Entry::Port {
            proto: Proto::Tcp,
            host_ip: None,
            host_port: 8080,
            ip: "10.88.0.2".parse().unwrap(),
            port: 80,
        };
        assert_eq!(
            e.elements(),
            [Element {
                set: "ports4",
                key: vec![6, 0, 0, 0, 0x1f, 0x90, 0, 0],
                data: Some(vec![10, 88, 0, 2, 0, 80, 0, 0]),
                end: false
            }]
        );
        let e = Entry::Port {
            proto: Proto::Udp,
            host_ip: Some("::1".parse().unwrap()),
            host_port: 53,
            ip: "fd00::2".parse().unwrap(),
            port: 53,
        };
        let el = &e.elements()[0];
        assert_eq!(el.set, "ports6at");
        assert_eq!(el.key.len(), 24);
        assert_eq!(el.data.as_ref().unwrap().len(), 20);
    }

    #[test]
    fn subnets_are_intervals() {
        let e = Entry::Subnet {
            net: "10.88.0.0/16".parse().unwrap(),
        };
        let els = e.elements();
        assert_eq!(
            (els[0].key.as_slice(), els[0].end),
            (&[10, 88, 0, 0][..], false)
        );
        assert_eq!(
            (els[1].key.as_slice(), els[1].end),
            (&[10, 89, 0, 0][..], true)
        );
        let last = Entry::Subnet {
            net: "255.255.255.0/24".parse().unwrap(),
        };
        assert_eq!(last.elements().len(), 1);
    }

    #[test]
    fn bridges_go_to_their_sets() {
        let e = Entry::Bridge {
            name: "br-1".into(),
            internal: true,
        };
        let sets: Vec<_> = e.elements().iter().map(|e| e.set).collect();
        assert_eq!(sets, ["bridges", "same", "internal"]);
    }

    #[test]
    fn a_batch_is_framed_and_numbered() {
        let mut b = Batch::new(10);
        b.table(&[Entry::Bridge {
            name: "berth0".into(),
            internal: false,
        }]);
        let bytes = b.finish();
        let msgs: Vec<_> = netlink::messages(&bytes).collect();
        assert_eq!(msgs.first().map(|m| m.kind), Some(BATCH_BEGIN));
        assert_eq!(msgs.last().map(|m| m.kind), Some(BATCH_END));
        let seqs: Vec<u32> = msgs.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (10..10 + msgs.len() as u32).collect::<Vec<_>>());
        // table, 9 sets and their flushes, 2 element messages, 5 chains and their flushes,
        // 15 rules, framed.
        assert_eq!(msgs.len(), 2 + 1 + 18 + 2 + 10 + 15);
    }
}
