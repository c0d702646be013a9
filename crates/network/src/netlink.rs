//! Netlink: a socket per protocol that sends many requests in one `send` and collects their
//! answers, and [`MsgBuf`], a builder of raw netlink messages and attributes (for nf_tables
//! and tc options, which netlink-packet-route does not cover).
//!
//! The kernel handles rtnetlink and nfnetlink requests inside `sendmsg`, so every answer is
//! queued by the time `send` returns: the answers are read without waiting.

use std::io;

const NLMSG_HDRLEN: usize = 16;
const NLA_HDRLEN: usize = 4;
pub(crate) const NLA_F_NESTED: u16 = 0x8000;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

/// `NLM_F_*` flags.
pub(crate) const REQUEST: u16 = 0x1;
pub(crate) const ACK: u16 = 0x4;
pub(crate) const REPLACE: u16 = 0x100;
pub(crate) const EXCL: u16 = 0x200;
pub(crate) const CREATE: u16 = 0x400;
pub(crate) const APPEND: u16 = 0x800;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A netlink request that failed: the kernel's errno and the sequence number of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    pub seq: u32,
    pub errno: i32,
}

impl Refused {
    pub fn error(self) -> io::Error {
        io::Error::from_raw_os_error(self.errno)
    }
}

/// A netlink socket of one protocol, in the network namespace of the thread that opened it.
pub(crate) struct Socket {
    sock: netlink_sys::Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Socket {
    /// Opens a socket of `protocol` (`NETLINK_ROUTE`, `NETLINK_NETFILTER`).
    pub fn open(protocol: isize) -> io::Result<Socket> {
        let mut sock = netlink_sys::Socket::new(protocol)?;
        sock.bind_auto()?;
        // Acks without a copy of the request: an errno is all we read.
        sock.set_cap_ack(true)?;
        Ok(Socket {
            sock,
            seq: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    /// The sequence number the next message of a batch should carry; `count` are reserved.
    pub fn next_seq(&mut self, count: u32) -> u32 {
        let first = self.seq.wrapping_add(1);
        self.seq = self.seq.wrapping_add(count);
        first
    }

    /// Sends `bytes` (one or more messages, each with `ACK`), and returns the refusals among
    /// the answers. Replies other than errors and acks are ignored.
    pub fn transact(&mut self, bytes: &[u8]) -> io::Result<Vec<Refused>> {
        self.sock.send(bytes, 0)?;
        let mut refused = Vec::new();
        loop {
            let n = match self.recv(libc::MSG_DONTWAIT) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(refused),
                Err(e) => return Err(e),
            };
            for m in messages(&self.buf[..n]) {
                if let Some(r) = m.refusal() {
                    refused.push(r);
                }
            }
        }
    }

    /// Sends one request and returns its answer (the whole message; `None` for a bare
    /// ack), or the errno it was refused with.
    pub fn query(&mut self, bytes: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.sock.send(bytes, 0)?;
        let n = self.recv(0)?;
        let Some(m) = messages(&self.buf[..n]).next() else {
            return Ok(None);
        };
        match (m.kind, m.refusal()) {
            (_, Some(r)) => Err(r.error()),
            (NLMSG_DONE | NLMSG_ERROR, None) => Ok(None),
            _ => Ok(Some(m.whole.to_vec())),
        }
    }

    fn recv(&mut self, flags: libc::c_int) -> io::Result<usize> {
        loop {
            match self.sock.recv(&mut &mut self.buf[..], flags) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

/// One message of a datagram.
pub(crate) struct Message<'a> {
    pub kind: u16,
    pub seq: u32,
    /// The whole message, header included.
    pub whole: &'a [u8],
    pub payload: &'a [u8],
}

impl Message<'_> {
    /// For an `NLMSG_ERROR` with a non-zero code: the refusal (a zero code is an ack).
    fn refusal(&self) -> Option<Refused> {
        if self.kind != NLMSG_ERROR || self.payload.len() < 4 {
            return None;
        }
        let code = i32::from_ne_bytes([
            self.payload[0],
            self.payload[1],
            self.payload[2],
            self.payload[3],
        ]);
        (code != 0).then_some(Refused {
            seq: self.seq,
            errno: -code,
        })
    }
}

/// The messages of a datagram; a truncated tail is dropped.
pub(crate) fn messages(mut data: &[u8]) -> impl Iterator<Item = Message<'_>> {
    std::iter::from_fn(move || {
        if data.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if len < NLMSG_HDRLEN || len > data.len() {
            return None;
        }
        let m = Message {
            kind: u16::from_ne_bytes([data[4], data[5]]),
            seq: u32::from_ne_bytes([data[8], data[9], data[10], data[11]]),
            whole: &data[..len],
            payload: &data[NLMSG_HDRLEN..len],
        };
        data = &data[align4(len).min(data.len())..];
        Some(m)
    })
}

/// The attributes `(type without flags, value)` in `data`; a truncated tail is dropped.
#[cfg(test)]
pub(crate) fn attributes(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < NLA_HDRLEN {
            return None;
        }
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        if len < NLA_HDRLEN || len > data.len() {
            return None;
        }
        let kind = u16::from_ne_bytes([data[2], data[3]]) & 0x3fff;
        let value = &data[NLA_HDRLEN..len];
        data = &data[align4(len).min(data.len())..];
        Some((kind, value))
    })
}

enum Open {
    Message(usize),
    Nest(usize),
}

/// Raw netlink messages built front to back: [`MsgBuf::begin`] a message, add a fixed
/// header and attributes (nests with [`MsgBuf::nest`]), and [`MsgBuf::end`] each.
#[derive(Default)]
pub(crate) struct MsgBuf {
    buf: Vec<u8>,
    open: Vec<Open>,
}

impl MsgBuf {
    /// Starts a message of type `kind` with `flags` (`REQUEST` is added) and number `seq`.
    pub fn begin(&mut self, kind: u16, flags: u16, seq: u32) -> &mut Self {
        self.open.push(Open::Message(self.buf.len()));
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(&(flags | REQUEST).to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self
    }

    /// Bytes as they are (a message's fixed header), padded to 4.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    pub fn attr(&mut self, kind: u16, value: &[u8]) -> &mut Self {
        let len = (NLA_HDRLEN + value.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.pad();
        self
    }

    /// A NUL-terminated string.
    pub fn str(&mut self, kind: u16, s: &str) -> &mut Self {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(kind, &v)
    }

    /// A big-endian u32, as nf_tables wants its numbers.
    pub fn be32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.attr(kind, &v.to_be_bytes())
    }

    pub fn nest(&mut self, kind: u16) -> &mut Self {
        self.open.push(Open::Nest(self.buf.len()));
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    /// Closes the innermost open message or nest.
    pub fn end(&mut self) -> &mut Self {
        match self.open.pop() {
            Some(Open::Message(at)) => {
                let len = (self.buf.len() - at) as u32;
                self.buf[at..at + 4].copy_from_slice(&len.to_ne_bytes());
            }
            Some(Open::Nest(at)) => {
                let len = (self.buf.len() - at) as u16;
                self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
            }
            None => {}
        }
        self
    }

    fn pad(&mut self) {
        self.buf.resize(align4(self.buf.len()), 0);
    }

    /// The messages; anything left open is closed.
    pub fn finish(mut self) -> Vec<u8> {
        while !self.open.is_empty() {
            self.end();
        }
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_nests_have_their_lengths() {
        let mut b = MsgBuf::default();
        b.begin(0x0a0c, ACK, 7)
            .raw(&[1, 0, 0])
            .str(1, "ab")
            .nest(3)
            .be32(1, 5)
            .end()
            .end();
        let bytes = b.finish();
        assert_eq!(bytes.len(), 16 + 4 + 8 + 12);
        let m: Vec<_> = messages(&bytes).collect();
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].kind, m[0].seq), (0x0a0c, 7));
        assert_eq!(u16::from_ne_bytes([bytes[6], bytes[7]]), ACK | REQUEST);
        let attrs: Vec<_> = attributes(&m[0].payload[4..]).collect();
        assert_eq!(attrs[0], (1, &b"ab\0"[..]));
        assert_eq!(attrs[1].0, 3);
        let inner: Vec<_> = attributes(attrs[1].1).collect();
        assert_eq!(inner, [(1, &[0, 0, 0, 5][..])]);
    }

    #[test]
    fn errors_and_acks() {
        let mut b = MsgBuf::default();
        b.begin(NLMSG_ERROR, 0, 3)
            .raw(&(-17i32).to_ne_bytes())
            .end();
        b.begin(NLMSG_ERROR, 0, 4).raw(&0i32.to_ne_bytes()).end();
        let bytes = b.finish();
        let r: Vec<_> = messages(&bytes).filter_map(|m| m.refusal()).collect();
        assert_eq!(r, [Refused { seq: 3, errno: 17 }]);
    }

    #[test]
    fn garbage_never_panics() {
        for data in [
            &[][..],
            &[255; 3],
            &[20, 0, 0, 0, 1],
            &[4, 0, 0, 0, 0, 0, 0, 0],
        ] {
            assert_eq!(messages(data).count(), 0);
            let _ = attributes(data).count();
        }
    }
}
