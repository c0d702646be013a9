//! nf_tables rule expressions as data, and their netlink encoding (`NFTA_LIST_ELEM` →
//! `NFTA_EXPR_NAME` + `NFTA_EXPR_DATA`). Only what berth's table uses.

use crate::netlink::MsgBuf;

// enum nft_list_attributes / nft_expr_attributes
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;

/// Registers: 0 is the verdict; 1 is the first 16-byte register; 8 + n is the n-th 4-byte
/// register, so 8 aliases the start of 1 and 9 the second word of 1.
pub(crate) const REG_VERDICT: u32 = 0;
pub(crate) const REG_1: u32 = 1;
pub(crate) const REG_2: u32 = 2;

/// The 4-byte register `n` words after the start of [`REG_1`].
pub(crate) const fn reg32(n: u32) -> u32 {
    8 + n
}

// enum nft_meta_keys
pub(crate) const META_IIFNAME: u32 = 6;
pub(crate) const META_OIFNAME: u32 = 7;
pub(crate) const META_NFPROTO: u32 = 15;
pub(crate) const META_L4PROTO: u32 = 16;

// enum nft_payload_bases
pub(crate) const NETWORK_HEADER: u32 = 1;
pub(crate) const TRANSPORT_HEADER: u32 = 2;

// enum nft_ct_keys
pub(crate) const CT_STATUS: u32 = 2;
/// IPS_DST_NAT: the connection's destination was translated.
pub(crate) const IPS_DST_NAT: u32 = 0x20;

// enum nft_fib_result / nft_fib_flags, and the RTN_LOCAL address type
pub(crate) const FIB_RESULT_ADDRTYPE: u32 = 3;
pub(crate) const FIB_F_DADDR: u32 = 1 << 1;
pub(crate) const RTN_LOCAL: u32 = 2;

// enum nft_cmp_ops
pub(crate) const CMP_EQ: u32 = 0;
pub(crate) const CMP_NEQ: u32 = 1;

/// What a rule decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Accept,
    Drop,
    Jump(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    Meta {
        key: u32,
        dreg: u32,
    },
    Payload {
        base: u32,
        offset: u32,
        len: u32,
        dreg: u32,
    },
    Cmp {
        sreg: u32,
        op: u32,
        data: Vec<u8>,
    },
    /// `dreg = (sreg & mask) ^ 0`.
    And {
        reg: u32,
        mask: Vec<u8>,
    },
    /// A set lookup; with `dreg`, a map lookup that loads the value.
    Lookup {
        sreg: u32,
        set: &'static str,
        dreg: Option<u32>,
        invert: bool,
    },
    Ct {
        key: u32,
        dreg: u32,
    },
    Fib {
        flags: u32,
        result: u32,
        dreg: u32,
    },
    /// Destination NAT to the address in `addr` and the port in `port`.
    Dnat {
        family: u8,
        addr: u32,
        port: u32,
    },
    Masquerade,
    Verdict(Verdict),
}

impl Expr {
    fn name(&self) -> &'static str {
        match self {
            Expr::Meta { .. } => "meta",
            Expr::Payload { .. } => "payload",
            Expr::Cmp { .. } => "cmp",
            Expr::And { .. } => "bitwise",
            Expr::Lookup { .. } => "lookup",
            Expr::Ct { .. } => "ct",
            Expr::Fib { .. } => "fib",
            Expr::Dnat { .. } => "nat",
            Expr::Masquerade => "masq",
            Expr::Verdict(_) => "immediate",
        }
    }

    /// Appends the expression as one list element.
    pub(crate) fn emit(&self, b: &mut MsgBuf) {
        b.nest(NFTA_LIST_ELEM).str(NFTA_EXPR_NAME, self.name());
        b.nest(NFTA_EXPR_DATA);
        match self {
            // NFTA_META_DREG, NFTA_META_KEY
            Expr::Meta { key, dreg } => {
                b.be32(1, *dreg).be32(2, *key);
            }
            // NFTA_PAYLOAD_DREG, _BASE, _OFFSET, _LEN
            Expr::Payload {
                base,
                offset,
                len,
                dreg,
            } => {
                b.be32(1, *dreg)
                    .be32(2, *base)
                    .be32(3, *offset)
                    .be32(4, *len);
            }
            // NFTA_CMP_SREG, _OP, _DATA { NFTA_DATA_VALUE }
            Expr::Cmp { sreg, op, data } => {
                b.be32(1, *sreg).be32(2, *op).nest(3).attr(1, data).end();
            }
            // NFTA_BITWISE_SREG, _DREG, _LEN, _MASK { value }, _XOR { value }
            Expr::And { reg, mask } => {
                b.be32(1, *reg).be32(2, *reg).be32(3, mask.len() as u32);
                b.nest(4).attr(1, mask).end();
                b.nest(5).attr(1, &vec![0; mask.len()]).end();
            }
            // NFTA_LOOKUP_SET, _SREG, _DREG, _FLAGS (NFT_LOOKUP_F_INV)
            Expr::Lookup {
                sreg,
                set,
                dreg,
                invert,
            } => {
                b.str(1, set).be32(2, *sreg);
                if let Some(d) = dreg {
                    b.be32(3, *d);
                }
                if *invert {
                    b.be32(5, 1);
                }
            }
            // NFTA_CT_DREG, NFTA_CT_KEY
            Expr::Ct { key, dreg } => {
                b.be32(1, *dreg).be32(2, *key);
            }
            // NFTA_FIB_DREG, _RESULT, _FLAGS
            Expr::Fib {
                flags,
                result,
                dreg,
            } => {
                b.be32(1, *dreg).be32(2, *result).be32(3, *flags);
            }
            // NFTA_NAT_TYPE (NFT_NAT_DNAT), _FAMILY, _REG_ADDR_MIN, _REG_PROTO_MIN
            Expr::Dnat { family, addr, port } => {
                b.be32(1, 1)
                    .be32(2, u32::from(*family))
                    .be32(3, *addr)
                    .be32(5, *port);
            }
            Expr::Masquerade => {}
            // NFTA_IMMEDIATE_DREG, _DATA { NFTA_DATA_VERDICT { _CODE, _CHAIN } }
            Expr::Verdict(v) => {
                b.be32(1, REG_VERDICT).nest(2).nest(2);
                match v {
                    Verdict::Accept => b.be32(1, libc::NF_ACCEPT as u32),
                    Verdict::Drop => b.be32(1, libc::NF_DROP as u32),
                    // NFT_JUMP = -3
                    Verdict::Jump(chain) => b.be32(1, (-3i32) as u32).str(2, chain),
                };
                b.end().end();
            }
        }
        b.end().end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::attributes;

    fn encode(e: &Expr) -> Vec<u8> {
        let mut b = MsgBuf::default();
        e.emit(&mut b);
        b.finish()
    }

    /// (name, data attributes) of one encoded expression.
    fn decode(bytes: &[u8]) -> (String, Vec<(u16, Vec<u8>)>) {
        let (kind, elem) = attributes(bytes).next().unwrap();
        assert_eq!(kind, NFTA_LIST_ELEM);
        let mut it = attributes(elem);
        let (_, name) = it.next().unwrap();
        let (_, data) = it.next().unwrap();
        let name = String::from_utf8(name[..name.len() - 1].to_vec()).unwrap();
        (
            name,
            attributes(data).map(|(k, v)| (k, v.to_vec())).collect(),
        )
    }

    #[test]
    fn meta_and_lookup() {
        let (name, attrs) = decode(&encode(&Expr::Meta {
            key: META_OIFNAME,
            dreg: REG_1,
        }));
        assert_eq!(name, "meta");
        assert_eq!(attrs, [(1, vec![0, 0, 0, 1]), (2, vec![0, 0, 0, 7])]);
        let (name, attrs) = decode(&encode(&Expr::Lookup {
            sreg: REG_1,
            set: "bridges",
            dreg: None,
            invert: true,
        }));
        assert_eq!(name, "lookup");
        assert_eq!(
            attrs,
            [
                (1, b"bridges\0".to_vec()),
                (2, vec![0, 0, 0, 1]),
                (5, vec![0, 0, 0, 1])
            ]
        );
    }

    #[test]
    fn jump_verdict() {
        let (name, attrs) = decode(&encode(&Expr::Verdict(Verdict::Jump("publish"))));
        assert_eq!(name, "immediate");
        assert_eq!(attrs[0], (1, vec![0; 4]));
        let (_, verdict) = attributes(&attrs[1].1).next().unwrap();
        let v: Vec<_> = attributes(verdict).collect();
        assert_eq!(
            v,
            [(1, &[0xff, 0xff, 0xff, 0xfd][..]), (2, &b"publish\0"[..])]
        );
    }

    #[test]
    fn dnat_names_its_registers() {
        let (name, attrs) = decode(&encode(&Expr::Dnat {
            family: libc::NFPROTO_IPV4 as u8,
            addr: REG_1,
            port: reg32(1),
        }));
        assert_eq!(name, "nat");
        assert_eq!(
            attrs,
            [
                (1, vec![0, 0, 0, 1]),
                (2, vec![0, 0, 0, 2]),
                (3, vec![0, 0, 0, 1]),
                (5, vec![0, 0, 0, 9])
            ]
        );
    }
}
