//! berth-network: container networking without a daemon, set up in-process.
//!
//! It knows nothing of containers: it takes "this owner, this network namespace, these
//! networks, these ports" ([`attach::Request`]) and writes down what it made
//! ([`attach::Attachment`]) before making it, so that `rm`, crash recovery and `network
//! reload` all end in the same [`Networks::teardown`] or rebuild.
//!
//! * [`networks`]: network definitions and their checks.
//! * [`ipam`]: address leases, one claim file per address.
//! * [`hostports`]: host ports, claimed and checked against the host's listeners.
//! * `link` and `netlink`: bridges, veth pairs, addresses, routes and tc over rtnetlink.
//! * [`nft`]: NAT, publishing and isolation in berth's own nftables table.
//!
//! On disk, under `ROOT/networks/`:
//!
//! ```text
//! <name>.json               a network's definition
//! <id>/leases/<ip>          -> owner: an address lease
//! <id>/dns/<owner>.json     a container's names for the network's DNS server
//! <id>/dns.lock, dns.gate   held by the running DNS server; see [`dns`]
//! ports/<proto>-<port>      -> owner: a published host port
//! lock, nft.lock            serialise network create/rm, and firewall rebuilds
//! ```

pub mod attach;
pub mod dns;
pub mod forward;
pub mod home;
pub mod hostports;
pub mod ipam;
mod link;
mod netlink;
mod netns;
pub mod networks;
pub mod nft;
pub mod pasta;
pub mod ports;
pub mod resolv;
pub mod slirp4netns;
pub mod state;
mod usermode;

pub use attach::{Attachment, Caller, Endpoint, EndpointRequest, Request, UserNet};
pub use networks::{Network, NetworkSpec};

use ipnet::Ipv4Net;
use networks::{Definitions, NetworkError};
use nft::Firewall;
use serde::Deserialize;
use std::io;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// The default network's name, as docker calls it.
pub const DEFAULT_NETWORK: &str = "bridge";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Ipam(#[from] ipam::IpamError),
    #[error(transparent)]
    Publish(#[from] hostports::PublishError),
    #[error(transparent)]
    Nft(#[from] nft::NftError),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Pasta(#[from] pasta::PastaError),
    #[error(transparent)]
    Slirp4netns(#[from] slirp4netns::Slirp4netnsError),
    #[error("{what}: {source}")]
    Kernel { what: String, source: io::Error },
    #[error("{flag} {value:?}: {reason}")]
    Bad {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("network {name} is in use by container {owner}")]
    InUse { name: String, owner: String },
    #[error("network {0}: its DNS server is still serving 2 s after its last container")]
    DnsStays(String),
    #[error("{path}: {reason}")]
    Config { path: PathBuf, reason: String },
}

impl Error {
    pub(crate) fn kernel(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let what = what.into();
        move |source| Error::Kernel { what, source }
    }
}

/// Settings from berth's configuration directory (`network.toml`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The default network's subnet.
    pub default_subnet: Ipv4Net,
    /// The default network's bridge.
    pub default_bridge: String,
    /// Where `network create` takes subnets from (a /24 each).
    pub pool: Ipv4Net,
    /// The default network's MTU (the kernel's default when absent).
    pub mtu: Option<u32>,
    /// Name servers for containers, instead of the host's.
    pub dns: Vec<IpAddr>,
    /// The host's resolver configuration.
    pub resolv_conf: PathBuf,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            default_subnet: Ipv4Net::new_assert([10, 87, 0, 0].into(), 16),
            default_bridge: "berth0".into(),
            pool: Ipv4Net::new_assert([10, 90, 0, 0].into(), 15),
            mtu: None,
            dns: Vec::new(),
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
        }
    }
}

impl Config {
    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        };
        toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            reason: e.to_string().replace('\n', " "),
        })
    }
}

/// The networks under one `ROOT/networks`.
pub struct Networks {
    dir: PathBuf,
    defs: Definitions,
    pub config: Config,
}

impl Networks {
    pub fn new(dir: &Path, config: Config) -> Networks {
        Networks {
            dir: dir.to_path_buf(),
            defs: Definitions::new(dir),
            config,
        }
    }

    pub fn definitions(&self) -> &Definitions {
        &self.defs
    }

    pub(crate) fn leases_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("leases")
    }

    pub(crate) fn ports_dir(&self) -> PathBuf {
        self.dir.join("ports")
    }

    pub(crate) fn firewall(&self) -> Firewall {
        Firewall::new(self.dir.join("nft.lock"))
    }

    /// Holds the networks' lock while `f` runs: creations and removals one at a time.
    fn locked<T>(&self, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        let path = self.dir.join("lock");
        std::fs::create_dir_all(&self.dir).map_err(state::io_err(&self.dir))?;
        let fd = berth_sys::fs::open(&path, libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC, 0o600)
            .map_err(state::io_err(&path))?;
        berth_sys::fs::flock(fd.as_fd(), libc::LOCK_EX).map_err(state::io_err(&path))?;
        f()
    }

    /// Creates a network.
    pub fn create(&self, spec: &NetworkSpec) -> Result<Network, Error> {
        let id = attach::random_bytes(32)?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.locked(|| {
            let n = spec.check(&id, created, &self.defs.list()?, self.config.pool)?;
            self.defs.add(&n)?;
            Ok(n)
        })
    }

    /// The default network, made from the configuration the first time it is asked for.
    pub fn default_network(&self) -> Result<Network, Error> {
        if let Some(n) = self.defs.load(DEFAULT_NETWORK)? {
            return Ok(n);
        }
        let spec = NetworkSpec {
            name: DEFAULT_NETWORK.into(),
            subnets: vec![self.config.default_subnet.to_string()],
            bridge: Some(self.config.default_bridge.clone()),
            options: self
                .config
                .mtu
                .map(|m| vec![format!("mtu={m}")])
                .unwrap_or_default(),
            ..Default::default()
        };
        match self.create(&spec) {
            Err(Error::Network(NetworkError::Exists(_))) => Ok(self.defs.find(DEFAULT_NETWORK)?),
            r => r,
        }
    }

    /// Removes network `n` (the caller checked that no container uses it): its DNS server
    /// (once it has left, a moment after its last container), its firewall elements, its
    /// bridge, its leases, its definition.
    pub fn remove(&self, n: &Network) -> Result<(), Error> {
        let gone = (0..100).any(|_| {
            let running = self.dns_running(&n.id).unwrap_or(true);
            if running {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            !running
        });
        if !gone {
            return Err(Error::DnsStays(n.name.clone()));
        }
        self.locked(|| {
            self.firewall().remove(&attach::network_entries(n))?;
            link::Rtnl::open()
                .and_then(|mut rt| rt.delete(&n.bridge))
                .map_err(Error::kernel(format!("delete bridge {}", n.bridge)))?;
            let dir = self.dir.join(&n.id);
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(state::io_err(&dir)(e).into())
                }
                _ => {}
            }
            Ok(self.defs.remove(&n.name)?)
        })
    }

    /// Whether a container holds an address on any network.
    pub fn any_in_use(&self) -> Result<bool, Error> {
        for n in self.defs.list()? {
            if !self.users(&n)?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The owners holding leases on network `n`.
    pub fn users(&self, n: &Network) -> Result<Vec<String>, Error> {
        let mut owners: Vec<String> = ipam::Leases::new(&self.leases_dir(&n.id))
            .all()?
            .into_iter()
            .map(|(_, o)| o)
            .collect();
        owners.sort();
        owners.dedup();
        Ok(owners)
    }

    /// Puts berth's whole firewall table back (after `nft flush ruleset`, say), makes
    /// missing bridges of networks in use, and starts DNS servers that died.
    pub fn reload(&self, caller: &dyn Caller) -> Result<(), Error> {
        let mut rt = link::Rtnl::open().map_err(Error::kernel("rtnetlink"))?;
        for n in self.defs.list()? {
            if !self.users(&n)?.is_empty() {
                self.bridge(&mut rt, &n, caller)?;
            }
        }
        self.firewall().reload(&self.all_entries(caller))?;
        for n in self.defs.list()? {
            if dns::entries(&self.net_dir(&n.id))?.is_empty() {
                continue;
            }
            if let Some(_gate) = self.dns_gate(&n.id)? {
                caller
                    .start_dns(&n.name)
                    .map_err(Error::kernel(format!("DNS server of network {}", n.name)))?;
            }
        }
        Ok(())
    }
}
