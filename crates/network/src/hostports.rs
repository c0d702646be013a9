//! Host ports: claimed per protocol, port and host address (`ROOT/networks/ports/
//! <proto>-<port>` → owner on every address, `<proto>-<port>@<ip>` on one), after checking
//! that no process of the host listens on them. A claim on every address excludes all others
//! of its port; claims on different addresses coexist, as docker allows. There is no proxy
//! holding the port: the kernel's NAT forwards it, so the check is made once, before the
//! container starts.

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
    #[error("port {port}/{proto} on {ip} is already published by container {owner}")]
    PublishedAt {
        proto: Proto,
        ip: IpAddr,
        port: u16,
        owner: String,
    },
    #[error("port {port}/{proto} is already in use on the host ({source})")]
    InUse {
        proto: Proto,
        port: u16,
        source: io::Error,
    },
    #[error(
        "port {port}/{proto} is privileged: without root, publish a port of at least {start} \
         (net.ipv4.ip_unprivileged_port_start)"
    )]
    Privileged { proto: Proto, port: u16, start: u16 },
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

/// The lowest port an unprivileged process may bind (1024 where unreadable).
fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1024)
}

/// One host port on one address (`None`: every address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPort {
    pub proto: Proto,
    pub ip: Option<IpAddr>,
    pub port: u16,
}

impl HostPort {
    fn name(&self) -> String {
        match self.ip {
            None => format!("{}-{}", self.proto, self.port),
            Some(ip) => format!("{}-{}@{ip}", self.proto, self.port),
        }
    }

    fn parse(name: &str) -> Option<HostPort> {
        let (key, ip) = match name.split_once('@') {
            Some((k, ip)) => (k, Some(ip.parse().ok()?)),
            None => (name, None),
        };
        let (proto, port) = key.split_once('-')?;
        Some(HostPort {
            proto: serde_json::from_value(serde_json::Value::String(proto.into())).ok()?,
            ip,
            port: port.parse().ok()?,
        })
    }

    /// Whether the two cannot both be published: one port, and one address or either on all.
    pub fn clashes(&self, other: &HostPort) -> bool {
        self.proto == other.proto
            && self.port == other.port
            && (self.ip.is_none() || other.ip.is_none() || self.ip == other.ip)
    }

    fn taken(self, owner: String) -> PublishError {
        match self.ip {
            None => PublishError::Published {
                proto: self.proto,
                port: self.port,
                owner,
            },
            Some(ip) => PublishError::PublishedAt {
                proto: self.proto,
                ip,
                port: self.port,
                owner,
            },
        }
    }
}

impl HostPorts {
    pub fn new(dir: &Path) -> HostPorts {
        HostPorts {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, p: &HostPort) -> PathBuf {
        self.dir.join(p.name())
    }

    /// Claims one host port on `ip` (`None`: every address): any free one of `range`, or
    /// with no range one the kernel picks from its ephemeral range. `mine` are the ports the
    /// owner already took for other container ports.
    pub fn claim(
        &self,
        proto: Proto,
        ip: Option<IpAddr>,
        range: Option<Range>,
        owner: &str,
        live: &dyn Fn(&str) -> bool,
        mine: &[HostPort],
    ) -> Result<u16, PublishError> {
        let at = |port| HostPort { proto, ip, port };
        let Some(r) = range else {
            for _ in 0..64 {
                let p = at(probe(proto, ip, 0).map_err(PublishError::Ephemeral)?);
                if mine.iter().any(|m| m.clashes(&p)) {
                    continue;
                }
                if self.claim_one(&p, owner, live)?.is_none() {
                    return Ok(p.port);
                }
            }
            return Err(PublishError::Ephemeral(io::Error::from_raw_os_error(
                libc::EADDRINUSE,
            )));
        };
        let mut last_err = None;
        for port in r.first..=r.last {
            let p = at(port);
            if mine.iter().any(|m| m.clashes(&p)) {
                last_err = Some(PublishError::Twice { proto, port });
                continue;
            }
            if let Some(e) = self.claim_one(&p, owner, live)? {
                last_err = Some(e);
                continue;
            }
            match probe(proto, ip, port) {
                Ok(_) => return Ok(port),
                Err(source) => {
                    self.release(&p, owner)?;
                    last_err = Some(match source.raw_os_error() {
                        Some(libc::EACCES) => PublishError::Privileged {
                            proto,
                            port,
                            start: unprivileged_port_start(),
                        },
                        _ => PublishError::InUse {
                            proto,
                            port,
                            source,
                        },
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

    /// Claims `p` for `owner`; the error that says who holds it or a port it clashes with.
    /// Each claimer makes its own claim before it looks for clashing ones, and looks and
    /// gives up under the directory's lock: of two clashing claimers, the one that looks
    /// second sees the other's claim, and the first gives its own up before the second looks.
    fn claim_one(
        &self,
        p: &HostPort,
        owner: &str,
        live: &dyn Fn(&str) -> bool,
    ) -> Result<Option<PublishError>, PublishError> {
        if let Some(h) = state::claim_live(&self.path(p), owner, live)? {
            return Ok(Some(p.taken(h)));
        }
        let _lock = state::lock_dir(&self.dir)?;
        for name in state::entries(&self.dir)? {
            let Some(other) = HostPort::parse(&name).filter(|o| o != p && o.clashes(p)) else {
                continue;
            };
            let path = self.path(&other);
            match state::claimant(&path)? {
                Some(h) if h != owner && live(&h) => {
                    state::remove_file(&self.path(p))?;
                    return Ok(Some(other.taken(h)));
                }
                Some(h) if h != owner => state::remove_file(&path)?,
                _ => {}
            }
        }
        Ok(None)
    }

    pub fn release(&self, p: &HostPort, owner: &str) -> Result<(), StateError> {
        state::release(&self.path(p), owner)
    }

    /// The ports `owner` holds (to clean up after a crash before its record listed them).
    pub fn held_by(&self, owner: &str) -> Result<Vec<HostPort>, StateError> {
        let mut out = Vec::new();
        for name in state::entries(&self.dir)? {
            let Some(p) = HostPort::parse(&name) else {
                continue;
            };
            if state::claimant(&self.path(&p))?.as_deref() == Some(owner) {
                out.push(p);
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
        let at = |proto, port| HostPort {
            proto,
            ip: None,
            port,
        };
        let mut held = h.held_by("a").unwrap();
        held.sort();
        assert_eq!(held, [at(Proto::Tcp, busy), at(Proto::Udp, any)]);
        let e = h
            .claim(
                Proto::Tcp,
                None,
                Some(r),
                "a",
                &live,
                &[at(Proto::Tcp, busy)],
            )
            .unwrap_err();
        assert!(matches!(e, PublishError::Twice { .. }), "{e}");
        // A dead owner's port is taken over.
        assert_eq!(
            h.claim(Proto::Tcp, None, Some(r), "b", &|_| false, &[])
                .unwrap(),
            busy
        );
    }

    #[test]
    fn claims_on_one_address_clash_with_all_addresses_not_with_others() {
        let tmp = tempfile::tempdir().unwrap();
        let h = HostPorts::new(tmp.path());
        let live = |_: &str| true;
        // A port no one listens on: bound and dropped; the claims never bind it for long.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let one = Some(Range {
            first: port,
            last: port,
        });
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let lo2: IpAddr = "127.0.0.2".parse().unwrap();
        let lo6: IpAddr = "::1".parse().unwrap();
        assert_eq!(
            h.claim(Proto::Tcp, Some(lo), one, "a", &live, &[]).unwrap(),
            port
        );
        // Another address, and the other protocol, are free; every address is not.
        assert_eq!(
            h.claim(Proto::Tcp, Some(lo2), one, "b", &live, &[])
                .unwrap(),
            port
        );
        assert_eq!(
            h.claim(Proto::Udp, None, one, "c", &live, &[]).unwrap(),
            port
        );
        let e = h.claim(Proto::Tcp, None, one, "d", &live, &[]).unwrap_err();
        assert!(
            e.to_string().contains("already published by container"),
            "{e}"
        );
        let e = h
            .claim(Proto::Tcp, Some(lo), one, "d", &live, &[])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("port {port}/tcp on 127.0.0.1 is already published by container a")
        );
        // The one that failed left no claim behind.
        assert!(h.held_by("d").unwrap().is_empty());
        // Once a and b are gone, every address can be had, and then no single one.
        h.release(
            &HostPort {
                proto: Proto::Tcp,
                ip: Some(lo),
                port,
            },
            "a",
        )
        .unwrap();
        assert_eq!(
            h.claim(Proto::Tcp, None, one, "d", &|o: &str| o != "b", &[])
                .unwrap(),
            port
        );
        assert!(h.held_by("b").unwrap().is_empty(), "b's stale claim stays");
        let e = h
            .claim(Proto::Tcp, Some(lo6), one, "e", &live, &[])
            .unwrap_err();
        assert!(e.to_string().contains("container d"), "{e}");
        // The same container cannot have one port on all addresses and on one.
        let mine = [HostPort {
            proto: Proto::Tcp,
            ip: None,
            port,
        }];
        let e = h
            .claim(Proto::Tcp, Some(lo6), one, "d", &live, &mine)
            .unwrap_err();
        assert!(matches!(e, PublishError::Twice { .. }), "{e}");
    }
}
