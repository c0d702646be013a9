//! berth's nftables table, `inet berth`: fixed chains and rules that look everything up in
//! sets, so that containers and networks only ever add and remove set elements.
//!
//! ```text
//! prerouting (nat, dstnat) / output (nat, -100): fib daddr type local jump publish
//! publish: dnat to the value of ports4at/ports4/ports6at/ports6 (host address, protocol, port)
//! postrouting (nat, srcnat): masquerade from nets4/nets6 out of a non-bridge interface;
//!     masquerade dnat'ed connections from nets4/nets6 (hairpin) and from 127.0.0.0/8
//! forward (filter, 0): iifname . oifname in same: accept; to or from internal: drop;
//!     bridge to another bridge: drop
//! ```

use super::expr::*;

pub(crate) const TABLE: &str = "berth";

/// nft's datatype numbers (only for how `nft list` shows the keys) and their concatenation.
const IPV4: u32 = 7;
const IPV6: u32 = 8;
const INET_PROTO: u32 = 12;
const INET_SERVICE: u32 = 13;
pub(crate) const IFNAME: u32 = 41;
const fn cat(a: u32, b: u32) -> u32 {
    (a << 6) | b
}

/// `NFT_SET_INTERVAL`, `NFT_SET_MAP`.
pub(crate) const INTERVAL: u32 = 0x4;
pub(crate) const MAP: u32 = 0x8;

pub(crate) struct SetDef {
    pub name: &'static str,
    pub flags: u32,
    pub key_type: u32,
    pub key_len: u32,
    /// For maps: the value's type and length.
    pub data: Option<(u32, u32)>,
}

const fn set(name: &'static str, key_type: u32, key_len: u32) -> SetDef {
    SetDef {
        name,
        flags: 0,
        key_type,
        key_len,
        data: None,
    }
}

const fn map(name: &'static str, key: (u32, u32), data: (u32, u32)) -> SetDef {
    SetDef {
        name,
        flags: MAP,
        key_type: key.0,
        key_len: key.1,
        data: Some(data),
    }
}

pub(crate) const SETS: [SetDef; 9] = [
    set("bridges", IFNAME, 16),
    set("same", cat(IFNAME, IFNAME), 32),
    set("internal", IFNAME, 16),
    SetDef {
        flags: INTERVAL,
        ..set("nets4", IPV4, 4)
    },
    SetDef {
        flags: INTERVAL,
        ..set("nets6", IPV6, 16)
    },
    map(
        "ports4",
        (cat(INET_PROTO, INET_SERVICE), 8),
        (cat(IPV4, INET_SERVICE), 8),
    ),
    map(
        "ports4at",
        (cat(cat(IPV4, INET_PROTO), INET_SERVICE), 12),
        (cat(IPV4, INET_SERVICE), 8),
    ),
    map(
        "ports6",
        (cat(INET_PROTO, INET_SERVICE), 8),
        (cat(IPV6, INET_SERVICE), 20),
    ),
    map(
        "ports6at",
        (cat(cat(IPV6, INET_PROTO), INET_SERVICE), 24),
        (cat(IPV6, INET_SERVICE), 20),
    ),
];

pub(crate) struct ChainDef {
    pub name: &'static str,
    /// Base chains: type, hook number, priority.
    pub hook: Option<(&'static str, u32, i32)>,
}

pub(crate) const CHAINS: [ChainDef; 5] = [
    ChainDef {
        name: "publish",
        hook: None,
    },
    ChainDef {
        name: "prerouting",
        hook: Some(("nat", libc::NF_INET_PRE_ROUTING as u32, -100)),
    },
    ChainDef {
        name: "output",
        hook: Some(("nat", libc::NF_INET_LOCAL_OUT as u32, -100)),
    },
    ChainDef {
        name: "postrouting",
        hook: Some(("nat", libc::NF_INET_POST_ROUTING as u32, 100)),
    },
    ChainDef {
        name: "forward",
        hook: Some(("filter", libc::NF_INET_FORWARD as u32, 0)),
    },
];

fn meta(key: u32, dreg: u32) -> Expr {
    Expr::Meta { key, dreg }
}

fn eq(sreg: u32, data: &[u8]) -> Expr {
    Expr::Cmp {
        sreg,
        op: CMP_EQ,
        data: data.to_vec(),
    }
}

fn is_family(v6: bool) -> [Expr; 2] {
    let f = if v6 {
        libc::NFPROTO_IPV6
    } else {
        libc::NFPROTO_IPV4
    };
    [meta(META_NFPROTO, REG_1), eq(REG_1, &[f as u8])]
}

fn load(base: u32, offset: u32, len: u32, dreg: u32) -> Expr {
    Expr::Payload {
        base,
        offset,
        len,
        dreg,
    }
}

fn lookup(sreg: u32, set: &'static str) -> Expr {
    Expr::Lookup {
        sreg,
        set,
        dreg: None,
        invert: false,
    }
}

/// The source address into [`REG_1`].
fn saddr(v6: bool) -> Expr {
    if v6 {
        load(NETWORK_HEADER, 8, 16, REG_1)
    } else {
        load(NETWORK_HEADER, 12, 4, REG_1)
    }
}

fn dnat_rule(v6: bool, at: bool) -> Vec<Expr> {
    // Key: [address .] protocol . port, each component in 4-byte registers.
    let (family, addr_words) = if v6 {
        (libc::NFPROTO_IPV6 as u8, 4)
    } else {
        (libc::NFPROTO_IPV4 as u8, 1)
    };
    let mut r = is_family(v6).to_vec();
    let mut word = 0;
    if at {
        let (offset, len) = if v6 { (24, 16) } else { (16, 4) };
        r.push(load(NETWORK_HEADER, offset, len, REG_1));
        word = addr_words;
    }
    r.push(meta(META_L4PROTO, reg32(word)));
    r.push(load(TRANSPORT_HEADER, 2, 2, reg32(word + 1)));
    let set = match (v6, at) {
        (false, false) => "ports4",
        (false, true) => "ports4at",
        (true, false) => "ports6",
        (true, true) => "ports6at",
    };
    r.push(Expr::Lookup {
        sreg: REG_1,
        set,
        dreg: Some(REG_1),
        invert: false,
    });
    r.push(Expr::Dnat {
        family,
        addr: REG_1,
        port: reg32(addr_words),
    });
    r
}

fn dnat_done() -> [Expr; 3] {
    [
        Expr::Ct {
            key: CT_STATUS,
            dreg: REG_1,
        },
        Expr::And {
            reg: REG_1,
            mask: IPS_DST_NAT.to_ne_bytes().to_vec(),
        },
        Expr::Cmp {
            sreg: REG_1,
            op: CMP_NEQ,
            data: vec![0; 4],
        },
    ]
}

/// Every rule, by chain, in order.
pub(crate) fn rules() -> Vec<(&'static str, Vec<Expr>)> {
    let local = || {
        vec![
            Expr::Fib {
                flags: FIB_F_DADDR,
                result: FIB_RESULT_ADDRTYPE,
                dreg: REG_1,
            },
            eq(REG_1, &RTN_LOCAL.to_ne_bytes()),
            Expr::Verdict(Verdict::Jump("publish")),
        ]
    };
    let mut out = vec![("prerouting", local()), ("output", local())];
    for v6 in [false, true] {
        for at in [true, false] {
            out.push(("publish", dnat_rule(v6, at)));
        }
    }
    for (v6, nets) in [(false, "nets4"), (true, "nets6")] {
        let mut r = is_family(v6).to_vec();
        r.extend([
            saddr(v6),
            lookup(REG_1, nets),
            meta(META_OIFNAME, REG_1),
            Expr::Lookup {
                sreg: REG_1,
                set: "bridges",
                dreg: None,
                invert: true,
            },
            Expr::Masquerade,
        ]);
        out.push(("postrouting", r));
        let mut hairpin = dnat_done().to_vec();
        hairpin.extend(is_family(v6));
        hairpin.extend([saddr(v6), lookup(REG_1, nets), Expr::Masquerade]);
        out.push(("postrouting", hairpin));
    }
    let mut localhost = dnat_done().to_vec();
    localhost.extend(is_family(false));
    localhost.extend([
        load(NETWORK_HEADER, 12, 1, REG_1),
        eq(REG_1, &[127]),
        Expr::Masquerade,
    ]);
    out.push(("postrouting", localhost));
    out.push((
        "forward",
        vec![
            meta(META_IIFNAME, REG_1),
            meta(META_OIFNAME, REG_2),
            lookup(REG_1, "same"),
            Expr::Verdict(Verdict::Accept),
        ],
    ));
    for key in [META_OIFNAME, META_IIFNAME] {
        out.push((
            "forward",
            vec![
                meta(key, REG_1),
                lookup(REG_1, "internal"),
                Expr::Verdict(Verdict::Drop),
            ],
        ));
    }
    out.push((
        "forward",
        vec![
            meta(META_IIFNAME, REG_1),
            lookup(REG_1, "bridges"),
            meta(META_OIFNAME, REG_1),
            lookup(REG_1, "bridges"),
            Expr::Verdict(Verdict::Drop),
        ],
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_use_only_defined_sets_and_chains() {
        let rules = rules();
        for (chain, exprs) in &rules {
            assert!(CHAINS.iter().any(|c| c.name == *chain), "{chain}");
            for e in exprs {
                if let Expr::Lookup { set, .. } = e {
                    assert!(SETS.iter().any(|s| s.name == *set), "{set}");
                }
            }
        }
        assert_eq!(rules.len(), 2 + 4 + 5 + 4);
    }

    #[test]
    fn dnat_registers_follow_the_key() {
        // ip6 daddr (4 words) . l4proto . th dport → value ip6 . port: port in word 4.
        let r = dnat_rule(true, true);
        assert!(r.contains(&meta(META_L4PROTO, reg32(4))));
        assert!(r.contains(&load(TRANSPORT_HEADER, 2, 2, reg32(5))));
        assert_eq!(
            r.last(),
            Some(&Expr::Dnat {
                family: libc::NFPROTO_IPV6 as u8,
                addr: REG_1,
                port: reg32(4)
            })
        );
        let r = dnat_rule(false, false);
        assert!(r.contains(&meta(META_L4PROTO, reg32(0))));
        assert_eq!(
            r.last(),
            Some(&Expr::Dnat {
                family: libc::NFPROTO_IPV4 as u8,
                addr: REG_1,
                port: reg32(1)
            })
        );
    }
}
