//! Address leases: one claim per address, `ROOT/networks/<id>/leases/<ip>` → owner, made
//! with `symlink(2)`, so many `berth run` at once never get the same address and nobody
//! holds a lock while choosing. A lease whose owner is gone is taken over.

use crate::networks::Subnet;
use crate::state::{self, StateError};
use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    #[error("no free address left in {0}")]
    Full(ipnet::IpNet),
    #[error("address {ip} is in use by container {owner}")]
    InUse { ip: IpAddr, owner: String },
    #[error("address {ip} is not a host address of subnet {subnet}")]
    Outside { ip: IpAddr, subnet: ipnet::IpNet },
    #[error(transparent)]
    State(#[from] StateError),
}

/// The leases of one network.
pub(crate) struct Leases {
    dir: PathBuf,
}

impl Leases {
    pub fn new(dir: &Path) -> Leases {
        Leases {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, ip: IpAddr) -> PathBuf {
        self.dir.join(ip.to_string())
    }

    /// Every lease: address and owner.
    pub fn all(&self) -> Result<Vec<(IpAddr, String)>, IpamError> {
        let mut out = Vec::new();
        for name in state::entries(&self.dir)? {
            let Ok(ip) = name.parse::<IpAddr>() else {
                continue;
            };
            if let Some(owner) = state::claimant(&self.path(ip))? {
                out.push((ip, owner));
            }
        }
        Ok(out)
    }

    /// Leases an address of `s` to `owner`: `want`, or the first free one of its pool.
    /// `live` tells whether an owner still holds what it made.
    pub fn lease(
        &self,
        s: &Subnet,
        owner: &str,
        want: Option<IpAddr>,
        live: &dyn Fn(&str) -> bool,
    ) -> Result<IpAddr, IpamError> {
        if let Some(ip) = want {
            if !usable(s, ip) {
                return Err(IpamError::Outside {
                    ip,
                    subnet: s.subnet,
                });
            }
            return state::claim_live(&self.path(ip), owner, live)?
                .map_or(Ok(ip), |holder| Err(IpamError::InUse { ip, owner: holder }));
        }
        for sweep in [false, true] {
            let taken: HashSet<String> = state::entries(&self.dir)?.into_iter().collect();
            let pool = s.pool();
            for ip in pool.hosts().filter(|ip| usable(s, *ip)) {
                if taken.contains(&ip.to_string()) && !sweep {
                    continue;
                }
                if state::claim_live(&self.path(ip), owner, &|o| !sweep || live(o))?.is_none() {
                    return Ok(ip);
                }
            }
        }
        Err(IpamError::Full(s.pool()))
    }

    pub fn release(&self, ip: IpAddr, owner: &str) -> Result<(), IpamError> {
        Ok(state::release(&self.path(ip), owner)?)
    }
}

/// Whether `ip` may be given to a container: a host of the subnet, not its gateway.
fn usable(s: &Subnet, ip: IpAddr) -> bool {
    let net = s.subnet;
    net.contains(&ip)
        && ip != s.gateway
        && ip != net.network()
        && (ip != net.broadcast() || net.addr().is_ipv6())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(s: &str, gw: &str) -> Subnet {
        Subnet {
            subnet: s.parse().unwrap(),
            gateway: gw.parse().unwrap(),
            range: None,
        }
    }

    #[test]
    fn first_free_skips_the_gateway_and_sweeps_the_dead() {
        let tmp = tempfile::tempdir().unwrap();
        let l = Leases::new(tmp.path());
        let s = subnet("10.0.0.0/29", "10.0.0.1");
        let live = |o: &str| o != "dead";
        let got: Vec<String> = (0..5)
            .map(|i| {
                l.lease(&s, &format!("c{i}"), None, &live)
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            got,
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
        assert!(matches!(
            l.lease(&s, "c9", None, &live),
            Err(IpamError::Full(_))
        ));
        // A dead owner's lease is taken over, a live one's is not.
        l.release("10.0.0.4".parse().unwrap(), "c2").unwrap();
        assert!(state::claim(&tmp.path().join("10.0.0.4"), "dead").unwrap());
        assert_eq!(
            l.lease(&s, "c9", None, &live).unwrap().to_string(),
            "10.0.0.4"
        );
        let e = l.lease(&s, "c10", Some("10.0.0.2".parse().unwrap()), &live);
        assert!(matches!(e, Err(IpamError::InUse { .. })));
        let e = l.lease(&s, "c10", Some("10.0.0.1".parse().unwrap()), &live);
        assert!(matches!(e, Err(IpamError::Outside { .. })));
        let e = l.lease(&s, "c10", Some("10.0.1.9".parse().unwrap()), &live);
        assert!(matches!(e, Err(IpamError::Outside { .. })));
        assert_eq!(l.all().unwrap().len(), 5);
    }

    #[test]
    fn parallel_leases_are_distinct() {
        let tmp = tempfile::tempdir().unwrap();
        let s = subnet("10.1.0.0/24", "10.1.0.1");
        let got: Vec<IpAddr> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..50)
                .map(|i| {
                    let (dir, s) = (tmp.path(), &s);
                    sc.spawn(move || {
                        Leases::new(dir)
                            .lease(s, &format!("o{i}"), None, &|_| true)
                            .unwrap()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let distinct: HashSet<_> = got.iter().collect();
        assert_eq!(distinct.len(), 50);
    }
}
