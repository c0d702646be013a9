//! berth-engine: containers from images, without a daemon. Each container is a directory
//! under `ROOT/containers/` (see [`record`]); the OCI config is generated from the image and
//! the flags ([`config`]); the runtime core (`berth-container`) runs it as a library, with
//! its state under `ROOT/runtime`. A detached container is attended by a small monitor
//! process (the `berth` binary re-executed, see [`monitor`]) that is its parent and
//! subreaper, keeps its output in a log and records its exit. Volumes live under
//! `ROOT/volumes/` ([`volumes`]).
//!
//! One module per verb: [`create`], [`start`], [`run`], [`stop`], [`kill`], [`remove`],
//! [`exec`], [`logs`], [`list`], [`inspect`], [`wait`], [`top`], [`cp`], [`diff`],
//! [`commit`], and [`volume`]'s.

pub mod attach;
mod attend;
pub mod commit;
pub mod config;
pub mod cp;
pub mod create;
pub mod diff;
pub mod error;
pub mod exec;
pub mod export;
pub mod filters;
pub mod health;
pub mod images;
pub mod inspect;
pub mod journal;
pub mod kill;
pub mod list;
pub mod logging;
pub mod logs;
pub mod monitor;
pub mod names;
mod network;
pub mod networks;
pub mod options;
pub mod pause;
mod process;
pub mod record;
pub mod remove;
pub mod rename;
mod restart;
mod restart_cmd;
pub mod rootless;
pub mod run;
pub mod start;
pub mod stats;
mod status;
pub mod stop;
pub mod system;
pub mod time;
pub mod top;
pub mod update;
pub mod volume;
pub mod volumes;
pub mod wait;
mod workdir;

pub use error::Error;
pub use network::{dns_server, port_forwarder};
pub use options::RunOptions;
pub use record::{Record, State};

use berth_container::Runtime;
use berth_image::store::Store;
use record::Containers;
use std::path::Path;
use volumes::Volumes;

/// The engine over one `--root`: the image store, the containers, the volumes and the
/// runtime's state.
pub struct Engine {
    store: Store,
    containers: Containers,
    volumes: Volumes,
    runtime: Runtime,
    networks: berth_network::Networks,
    /// berth's configuration directory, when given (a DNS server is started with it).
    config_dir: Option<std::path::PathBuf>,
    journal: journal::Journal,
}

impl Engine {
    /// Opens the engine under `root` (berth's `--root`, shared with the image store).
    pub fn open(root: &Path) -> Result<Engine, Error> {
        if berth_sys::ids::geteuid() != 0 {
            return Err(Error::NeedsRoot);
        }
        Ok(Engine {
            store: Store::open(root)?,
            containers: Containers::new(root),
            volumes: Volumes::new(root),
            runtime: Runtime::new(root.join("runtime"), rootless::active()),
            networks: berth_network::Networks::new(
                &root.join("networks"),
                network::rootless_defaults(berth_network::Config::default()),
            ),
            config_dir: None,
            journal: journal::Journal::new(root),
        })
    }

    /// The runtime that makes a container with `s`: its cgroup made by systemd or by berth.
    /// Reads CDI specs from `dirs` (lowest priority first) instead of /etc/cdi and
    /// /var/run/cdi; none given keeps those.
    pub fn with_cdi_spec_dirs(mut self, dirs: &[std::path::PathBuf]) -> Engine {
        if !dirs.is_empty() {
            self.runtime.cdi_spec_dirs = dirs.to_vec();
        }
        self
    }

    pub(crate) fn runtime_for(&self, s: &options::Settings) -> Runtime {
        let mut rt = self.runtime.clone();
        rt.cgroup_driver = match s.cgroup_manager {
            options::CgroupManager::Systemd if rootless::active() => {
                berth_cgroups::CgroupDriver::Systemd(berth_cgroups::Bus::User)
            }
            options::CgroupManager::Systemd => {
                berth_cgroups::CgroupDriver::Systemd(berth_cgroups::Bus::System)
            }
            options::CgroupManager::Cgroupfs => berth_cgroups::CgroupDriver::Cgroupfs,
        };
        rt
    }

    /// The image store the engine makes containers from (one per command: opening it
    /// again costs a start time).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The up-to-date record of the container `what` names (id, name or id prefix).
    pub fn container(&self, what: &str) -> Result<Record, Error> {
        let id = self.containers.resolve(what)?;
        self.refresh(&id)?
            .ok_or_else(|| Error::NoSuchContainer(what.to_string()))
    }

    /// Records a container event (docker's actions: create, start, die, ...) with the
    /// container's name and image among its attributes.
    pub(crate) fn event(&self, r: &Record, action: &str, more: &[(&str, &str)]) {
        let mut attrs = vec![("name", r.name.as_str()), ("image", r.image.as_str())];
        attrs.extend_from_slice(more);
        self.journal.record("container", action, &r.id, &attrs);
    }

    /// The OCI config generated for container `r` (its bundle's `config.json`).
    pub(crate) fn oci_config(&self, r: &Record) -> Result<serde_json::Value, Error> {
        let path = self.containers.dir(&r.id).join("config.json");
        let data = std::fs::read(&path).map_err(Error::path(&path))?;
        serde_json::from_slice(&data).map_err(|e| Error::Failed {
            name: r.name.clone(),
            reason: format!("{}: {e}", path.display()),
        })
    }

    /// Replaces container `id`'s generated config (atomically: a start reads it whole).
    pub(crate) fn save_oci_config(
        &self,
        id: &str,
        config: &serde_json::Value,
    ) -> Result<(), Error> {
        let path = self.containers.dir(id).join("config.json");
        let bytes = serde_json::to_vec(config).map_err(|e| Error::Config {
            field: "(document)".into(),
            reason: e.to_string(),
        })?;
        berth_container::state::write_atomic(&path, &bytes).map_err(Error::path(&path))
    }

    /// Changes container `id`'s record under its lock; `None` when the container is gone.
    pub(crate) fn update(
        &self,
        id: &str,
        change: impl FnOnce(&mut Record),
    ) -> Result<Option<Record>, Error> {
        let Some(_lock) = self.containers.lock(id, true)? else {
            return Ok(None);
        };
        let Some(mut r) = self.containers.load(id)? else {
            return Ok(None);
        };
        change(&mut r);
        self.containers.save(&r)?;
        Ok(Some(r))
    }
}
