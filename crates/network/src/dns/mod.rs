//! Names for containers: berth's DNS server, one process per network (`berth dns-server`,
//! a hidden subcommand, started by the first container that needs it), listening on the
//! network's gateway. On user-defined networks it answers the containers' names and aliases;
//! everywhere it forwards the rest from the host's namespace, so a host resolver on loopback
//! (127.0.0.53) still works for containers.
//!
//! Its state is files: `ROOT/networks/<id>/dns/<owner>.json`, one entry per container
//! (names, addresses, its own `--dns` servers), written by `prepare` and removed by
//! `teardown`. The server holds `dns.lock` while it runs, rereads the entries when their
//! directory changes, and leaves once it is empty. `dns.gate` closes the gap between a
//! server deciding to leave and a container arriving: a starter takes it after writing its
//! entry and before looking for a server; a leaving server holds it while it checks that
//! no entry is left, and until it is gone.

pub mod message;
mod server;

use crate::state::{self, StateError};
use crate::{Error, Networks};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

pub use server::serve;

/// What the DNS server knows of one container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Names it answers to (empty on the default network: forwarding only).
    pub names: Vec<String>,
    pub addrs: Vec<IpAddr>,
    /// The container's own name servers (`--dns`), instead of the host's.
    pub upstream: Vec<IpAddr>,
}

pub(crate) fn entries_dir(net_dir: &Path) -> PathBuf {
    net_dir.join("dns")
}

pub(crate) fn entry_path(net_dir: &Path, owner: &str) -> PathBuf {
    entries_dir(net_dir).join(format!("{owner}.json"))
}

/// Every entry of a network, by owner.
pub(crate) fn entries(net_dir: &Path) -> Result<Vec<(String, Entry)>, StateError> {
    let dir = entries_dir(net_dir);
    let mut out = Vec::new();
    for owner in state::names_with_suffix(&dir, ".json")? {
        if let Some(e) = state::read_json(&dir.join(format!("{owner}.json")))? {
            out.push((owner, e));
        }
    }
    Ok(out)
}

/// A held `flock`.
pub struct Gate {
    _fd: OwnedFd,
}

/// Locks `path` exclusively; without `wait`, `None` when someone else holds it.
pub(crate) fn lock(path: &Path, wait: bool) -> Result<Option<Gate>, StateError> {
    let fd = berth_sys::fs::open(path, libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC, 0o600)
        .map_err(state::io_err(path))?;
    let op = if wait {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    match berth_sys::fs::flock(fd.as_fd(), op) {
        Ok(()) => Ok(Some(Gate { _fd: fd })),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(state::io_err(path)(e)),
    }
}

impl Networks {
    pub(crate) fn net_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Whether network `id` needs its DNS server started: `Some` (a gate to hold while
    /// starting it) when none runs.
    pub fn dns_gate(&self, id: &str) -> Result<Option<Gate>, Error> {
        let dir = self.net_dir(id);
        std::fs::create_dir_all(&dir).map_err(state::io_err(&dir))?;
        let gate = lock(&dir.join("dns.gate"), true)?;
        match lock(&dir.join("dns.lock"), false)? {
            // Nobody holds it: no server.
            Some(_free) => Ok(gate),
            None => Ok(None),
        }
    }

    /// Whether network `id` has a DNS server running (its lock is held).
    pub fn dns_running(&self, id: &str) -> Result<bool, Error> {
        let path = self.net_dir(id).join("dns.lock");
        Ok(path.exists() && lock(&path, false)?.is_none())
    }
}
