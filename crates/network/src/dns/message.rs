//! DNS messages (RFC 1035): the question of a query, parsed; an answer with A, AAAA or PTR
//! records, built. Only what a container's resolver sends is understood; anything else is
//! forwarded as bytes, unparsed.

use std::net::IpAddr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DnsError {
    #[error("DNS message too short")]
    Short,
    #[error("not a query with one question")]
    NotAQuery,
    #[error("bad name in the question")]
    BadName,
}

pub const TYPE_A: u16 = 1;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;

pub const NOERROR: u8 = 0;
pub const SERVFAIL: u8 = 2;
pub const NXDOMAIN: u8 = 3;
pub const REFUSED: u8 = 5;

/// The seconds an answer may be cached: short, containers come and go.
const TTL: u32 = 10;

/// A query's header and its one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// The flags word as received (opcode, RD).
    flags: u16,
    /// The name, lowercase, without the trailing dot.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// The question's bytes, echoed in the answer.
    question: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, DnsError> {
    b.get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or(DnsError::Short)
}

/// Reads the name at `at`; returns it and the offset just past it (pointers followed, at
/// most 16 of them).
fn name_at(msg: &[u8], mut at: usize) -> Result<(String, usize), DnsError> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(at).ok_or(DnsError::Short)? as usize;
        match len {
            0 => {
                let end = end.unwrap_or(at + 1);
                let name = labels.join(".");
                if name.len() > 253 {
                    return Err(DnsError::BadName);
                }
                return Ok((name, end));
            }
            l if l & 0xc0 == 0xc0 => {
                let ptr = (u16_at(msg, at)? & 0x3fff) as usize;
                end.get_or_insert(at + 2);
                jumps += 1;
                if jumps > 16 {
                    return Err(DnsError::BadName);
                }
                at = ptr;
            }
            l if l < 64 => {
                let label = msg.get(at + 1..at + 1 + l).ok_or(DnsError::Short)?;
                labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
                at += 1 + l;
            }
            _ => return Err(DnsError::BadName),
        }
    }
}

impl Query {
    /// Parses a query: QR clear, opcode QUERY, exactly one question.
    pub fn parse(msg: &[u8]) -> Result<Query, DnsError> {
        if msg.len() < 12 {
            return Err(DnsError::Short);
        }
        let flags = u16_at(msg, 2)?;
        let opcode = (flags >> 11) & 0xf;
        if flags & 0x8000 != 0 || opcode != 0 || u16_at(msg, 4)? != 1 {
            return Err(DnsError::NotAQuery);
        }
        let (name, at) = name_at(msg, 12)?;
        let qtype = u16_at(msg, at)?;
        let qclass = u16_at(msg, at + 2)?;
        let mut question = encode_name(&name)?;
        question.extend(qtype.to_be_bytes());
        question.extend(qclass.to_be_bytes());
        Ok(Query {
            id: u16_at(msg, 0)?,
            flags,
            name,
            qtype,
            qclass,
            question,
        })
    }

    /// The answer: `rcode` and `records` (addresses for A/AAAA, a name for PTR).
    pub fn answer(&self, rcode: u8, records: &[Record]) -> Vec<u8> {
        // QR, the query's opcode and RD, AA (berth owns these names), RA.
        let flags = 0x8000 | (self.flags & 0x7900) | 0x0400 | 0x0080 | u16::from(rcode & 0xf);
        let mut out = Vec::with_capacity(64);
        out.extend(self.id.to_be_bytes());
        out.extend(flags.to_be_bytes());
        out.extend(1u16.to_be_bytes());
        out.extend((records.len() as u16).to_be_bytes());
        out.extend([0, 0, 0, 0]);
        out.extend(&self.question);
        for r in records {
            // The owner name: a pointer to the question's, at offset 12.
            out.extend([0xc0, 12]);
            let (ty, data) = match r {
                Record::Addr(IpAddr::V4(a)) => (TYPE_A, a.octets().to_vec()),
                Record::Addr(IpAddr::V6(a)) => (TYPE_AAAA, a.octets().to_vec()),
                Record::Ptr(name) => (TYPE_PTR, encode_name(name).unwrap_or(vec![0])),
            };
            out.extend(ty.to_be_bytes());
            out.extend(CLASS_IN.to_be_bytes());
            out.extend(TTL.to_be_bytes());
            out.extend((data.len() as u16).to_be_bytes());
            out.extend(data);
        }
        out
    }

    pub fn is_in(&self) -> bool {
        self.qclass == CLASS_IN
    }
}

/// An answer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Addr(IpAddr),
    Ptr(String),
}

fn encode_name(name: &str) -> Result<Vec<u8>, DnsError> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            return Err(DnsError::BadName);
        }
        out.push(label.len() as u8);
        out.extend(label.as_bytes());
    }
    out.push(0);
    Ok(out)
}

/// The address a reverse name (`4.3.2.1.in-addr.arpa`, `...ip6.arpa`) stands for.
pub fn reverse(name: &str) -> Option<IpAddr> {
    if let Some(v4) = name.strip_suffix(".in-addr.arpa") {
        let mut o: Vec<u8> = v4
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        o.reverse();
        let o: [u8; 4] = o.try_into().ok()?;
        return Some(IpAddr::from(o));
    }
    let v6 = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = v6
        .split('.')
        .rev()
        .map(|p| {
            u8::from_str_radix(p, 16)
                .ok()
                .filter(|n| p.len() == 1 && *n < 16)
        })
        .collect::<Option<_>>()?;
    let bytes: [u8; 16] = nibbles
        .chunks(2)
        .map(|c| (c[0] << 4) | c.get(1).copied().unwrap_or(0))
        .collect::<Vec<_>>()
        .try_into()
        .ok()?;
    (nibbles.len() == 32).then(|| IpAddr::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A query as a resolver sends it: id 0x1234, RD, one question, an EDNS OPT record.
    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        m.extend(encode_name(name).unwrap());
        m.extend(qtype.to_be_bytes());
        m.extend(CLASS_IN.to_be_bytes());
        m.extend([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        m
    }

    #[test]
    fn questions_and_answers() {
        let q = Query::parse(&query("Web.Example", TYPE_A)).unwrap();
        assert_eq!(
            (q.id, q.name.as_str(), q.qtype),
            (0x1234, "web.example", TYPE_A)
        );
        let a = q.answer(NOERROR, &[Record::Addr("10.0.0.2".parse().unwrap())]);
        assert_eq!(&a[..4], &[0x12, 0x34, 0x85, 0x80]);
        assert_eq!(u16_at(&a, 6).unwrap(), 1);
        // The record: pointer to the name, A, IN, TTL, 4 bytes.
        let rec = &a[12 + q.question.len()..];
        assert_eq!(&rec[..4], &[0xc0, 12, 0, 1]);
        assert_eq!(&rec[rec.len() - 4..], &[10, 0, 0, 2]);
        let nx = q.answer(NXDOMAIN, &[]);
        assert_eq!(nx[3] & 0xf, NXDOMAIN);
        let p = q.answer(NOERROR, &[Record::Ptr("web".into())]);
        assert!(p.ends_with(&[3, b'w', b'e', b'b', 0]));
    }

    #[test]
    fn what_is_not_a_query() {
        let mut r = query("a", TYPE_A);
        r[2] |= 0x80;
        assert_eq!(Query::parse(&r), Err(DnsError::NotAQuery));
        assert_eq!(Query::parse(&[0; 5]), Err(DnsError::Short));
        // A pointer loop.
        let mut l = query("a", TYPE_A);
        l.truncate(12);
        l.extend([0xc0, 12]);
        assert_eq!(Query::parse(&l), Err(DnsError::BadName));
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse("2.0.87.10.in-addr.arpa"),
            Some("10.87.0.2".parse().unwrap())
        );
        let six = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
        assert_eq!(reverse(six), Some("fd00::2".parse().unwrap()));
        assert_eq!(reverse("1.2.in-addr.arpa"), None);
        assert_eq!(reverse("example.com"), None);
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panic(data: Vec<u8>) {
            if let Ok(q) = Query::parse(&data) {
                let _ = q.answer(NOERROR, &[Record::Ptr(q.name.clone())]);
            }
        }

        #[test]
        fn names_round_trip(labels in proptest::collection::vec("[a-z0-9-]{1,20}", 1..5), ty in 0u16..300) {
            let name = labels.join(".");
            let q = Query::parse(&query(&name, ty)).unwrap();
            prop_assert_eq!(q.name, name);
            prop_assert_eq!(q.qtype, ty);
        }
    }
}
