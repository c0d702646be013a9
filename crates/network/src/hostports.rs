//! Host ports: claimed per protocol and port (`ROOT/networks/ports/<proto>-<port>` → owner),
//! after checking that no process of the host listens on them. There is no proxy holding the
//! port: the kernel's NAT forwards it, so the check is made once, before the container starts.

use crate::ports::{Proto, Range};
use crate::state::{self, StateError};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("port {port}/{proto} is already published by container {owner}")]
    Published {
        proto: Proto,
        port: u16,
        owner: String,
    },
    #[error("port {port}/{proto} is already in use on the host ({source})")]
    InUse {
        proto: Proto,
        port: u16,
        source: io::Error,
    },
    #[error("no free host port for {proto} in {first}-{last}")]
    NoneFree { proto: Proto, first: u16, last: u16 },
    #[error("host port {port}/{proto} is published twice")]
    Twice { proto: Proto, port: u16 },
    #[error("no free host port: {0}")]
    Ephemeral(io::Error),
    #[error(transparent)]
    State(#[from] StateError),
}

pub(crate) struct HostPorts {
    dir: PathBuf,
}

/// Binds `port` (0: any) on the host, as a listener would; returns the port it got.
fn probe(proto: Proto, ip: Option<IpAddr>, port: u16) -> io::Result<u16> {
    let addr = SocketAddr::new(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), port);
    match proto {
        // std sets SO_REUSEADDR: old connections in TIME_WAIT do not count, listeners do.
        Proto::Tcp => Ok(TcpListener::bind(addr)?.local_addr()?.port()),
        Proto::Udp => Ok(UdpSocket::bind(addr)?.local_addr()?.port()),
        // No SCTP probe: the claim alone keeps berth's containers apart.
        Proto::Sctp if port != 0 => Ok(port),
        Proto::Sctp => Ok(TcpListener::bind(addr)?.local_addr()?.port()),
    }
}

impl HostPorts {
    pub fn new(dir: &Path) -> HostPorts {
        HostPorts {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, proto: Proto, port: u16) -> PathBuf {
        self.dir.join(format!("{proto}-{port}"))
    }

    /// Claims one host port: any free one of `range`, or with no range one the kernel picks
    /// from its ephemeral range. `mine` are the ports the owner already took for other
    /// container ports.
    pub fn claim(
        &self,
        proto: Proto,
        ip: Option<IpAddr>,
        range: Option<Range>,
        owner: &str,
        live: &dyn Fn(&str) -> bool,
        mine: &[u16],
    ) -> Result<u16, PublishError> {
        let Some(r) = range else {
            for _ in 0..64 {
                let p = probe(proto, ip, 0).map_err(PublishError::Ephemeral)?;
                if mine.contains(&p) {
                    continue;
                }
                if state::claim_live(&self.path(proto, p), owner, live)?.is_none() {
                    return Ok(p);
                }
            }
            return Err(PublishError::Ephemeral(io::Error::from_raw_os_error(
                libc::EADDRINUSE,
            )));
        };
        let mut last_err = None;
        for p in r.first..=r.last {
            if mine.contains(&p) {
                last_err = Some(PublishError::Twice { proto, port: p });
                continue;
            }
            if let Some(holder) = state::claim_live(&self.path(proto, p), owner, live)? {
                last_err = Some(PublishError::Published {
                    proto,
                    port: p,
                    owner: holder,
                });
                continue;
            }
            match probe(proto, ip, p) {
                Ok(_) => return Ok(p),
                Err(source) => {
                    self.release(proto, p, owner)?;
                    last_err = Some(PublishError::InUse {
                        proto,
                        port: p,
                        source,
                    });
                }
            }
        }
        match last_err {
            Some(e) if r.count() == 1 => Err(e),
            _ => Err(PublishError::NoneFree {
                proto,
                first: r.first,
                last: r.last,
            }),
        }
    }

    pub fn release(&self, proto: Proto, port: u16, owner: &str) -> Result<(), StateError> {
        state::release(&self.path(proto, port), owner)
    }

    /// The ports `owner` holds (to clean up after a crash before its record listed them).
    pub fn held_by(&self, owner: &str) -> Result<Vec<(Proto, u16)>, StateError> {
        let mut out = Vec::new();
        for name in state::entries(&self.dir)? {
            let Some((proto, port)) = name.split_once('-') else {
                continue;
            };
            let (Ok(proto), Ok(port)) = (
                serde_json::from_value::<Proto>(serde_json::Value::String(proto.into())),
                port.parse::<u16>(),
            ) else {
                continue;
            };
            if state::claimant(&self.path(proto, port))?.as_deref() == Some(owner) {
                out.push((proto, port));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_and_listeners() {
        let tmp = tempfile::tempdir().unwrap();
        let h = HostPorts::new(tmp.path());
        let live = |_: &str| true;
        // A port some process listens on is refused.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = l.local_addr().unwrap().port();
        let r = Range {
            first: busy,
            last: busy,
        };
        let e = h
            .claim(Proto::Tcp, None, Some(r), "a", &live, &[])
            .unwrap_err();
        assert!(matches!(e, PublishError::InUse { .. }), "{e}");
        assert!(h.held_by("a").unwrap().is_empty());
        drop(l);
        // Free now; a second owner is refused; any free port is picked without a range.
        assert_eq!(
            h.claim(Proto::Tcp, None, Some(r), "a", &live, &[]).unwrap(),
            busy
        );
        let e = h
            .claim(Proto::Tcp, None, Some(r), "b", &live, &[])
            .unwrap_err();
        assert!(
            e.to_string().contains("already published by container a"),
            "{e}"
        );
        let any = h.claim(Proto::Udp, None, None, "a", &live, &[]).unwrap();
        assert!(any > 0);
        let mut held = h.held_by("a").unwrap();
        held.sort();
        assert_eq!(held, [(Proto::Tcp, busy), (Proto::Udp, any)]);
        let e = h
            .claim(Proto::Tcp, None, Some(r), "a", &live, &[busy])
            .unwrap_err();
        assert!(matches!(e, PublishError::Twice { .. }), "{e}");
        // A dead owner's port is taken over.
        assert_eq!(
            h.claim(Proto::Tcp, None, Some(r), "b", &|_| false, &[])
                .unwrap(),
            busy
        );
    }
}
