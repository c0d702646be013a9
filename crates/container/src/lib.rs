//! berth's OCI runtime core: containers from OCI bundles, their process chain and their
//! lifecycle. The `berth-runtime` binary is a thin command line over this crate, and the
//! `berth` engine calls it directly.
//!
//! One module per lifecycle verb ([`create`], [`start`], [`run`], [`kill`], [`delete`],
//! [`state_cmd`], [`list`]; for cgroups [`update`], [`pause`], [`events`], [`ps`]); the
//! process chain in [`process`]; the steps inside the container in [`init`]; saved state in
//! [`state`].

pub mod cgroup;
pub mod create;
pub mod delete;
pub mod error;
pub mod events;
pub mod exec;
pub mod features;
mod foreground;
pub mod hooks;
pub mod init;
pub mod kill;
pub mod list;
pub mod mountinfo;
mod notify;
pub mod pause;
pub mod prepared;
pub mod process;
pub mod procfs;
mod protection;
pub mod ps;
pub mod run;
pub mod security;
pub mod spec;
pub mod start;
pub mod state;
pub mod state_cmd;
pub mod time;
pub mod update;

pub use error::Error;

/// The runtime-spec version this runtime implements: `spec`'s `ociVersion`, `features`'
/// `ociVersionMax`, `--version`'s `spec:` line.
pub const SPEC_VERSION: &str = "1.2.0";

use std::path::PathBuf;

/// The runtime's global settings (runc's global flags).
#[derive(Clone, Debug)]
pub struct Runtime {
    /// State root (`--root`).
    pub root: state::Root,
    /// `--rootless`: true when running without privileges on the host.
    pub rootless: bool,
    /// Who makes new containers' cgroups (`--systemd-cgroup`); later commands read it from
    /// the container's state.
    pub cgroup_driver: berth_cgroups::CgroupDriver,
    /// Where CDI specs are read for the devices a config's `cdi.k8s.io/*` annotations
    /// name, lowest priority first.
    pub cdi_spec_dirs: Vec<PathBuf>,
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>, rootless: bool) -> Self {
        Self {
            root: state::Root::new(root),
            rootless,
            cgroup_driver: berth_cgroups::CgroupDriver::Cgroupfs,
            cdi_spec_dirs: berth_cdi::DEFAULT_DIRS.iter().map(PathBuf::from).collect(),
        }
    }
}
