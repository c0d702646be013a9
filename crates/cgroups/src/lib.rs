//! berth's cgroup layer: puts a container in cgroups and applies the OCI
//! `linux.resources` on cgroup v1, hybrid (v1 controllers plus a cgroup2 mount) and pure
//! cgroup v2 hosts. Single-threaded, no background threads: the runtime forks around it.
//!
//! # How the runtime uses it
//!
//! ```no_run
//! # fn demo(spec_path: Option<&std::path::Path>, resources: &oci_spec::runtime::LinuxResources,
//! #         init_pid: i32) -> berth_cgroups::Result<()> {
//! use berth_cgroups::{Detail, Manager};
//!
//! // `create`: resolve linux.cgroupsPath for the container and make its cgroup.
//! let cg = Manager::for_container(spec_path, "my-container")?;
//! cg.create()?;                       // every hierarchy; undone on failure
//! cg.apply(resources)?;               // every resource, or a one-line error naming it
//! match cg.clone_into_fd()? {
//!     Some(_fd) => { /* v2: clone3(CLONE_INTO_CGROUP, fd) starts the init in place */ }
//!     None => cg.add_process(init_pid)?, // v1/hybrid: move it before it runs user code
//! }
//! let state = serde_json::to_string(&cg).unwrap(); // into the container's state file
//!
//! // A later `pause`, `events`, `update`, `kill --all` or `delete` process:
//! let cg: Manager = serde_json::from_str(&state).unwrap();
//! cg.freeze()?;                       // waits until really frozen
//! cg.thaw()?;
//! let _stats = cg.stats(Detail::Full)?; // runc's `events --stats` shape
//! let mut oom = cg.oom_watcher()?;    // pollable fd (AsFd) plus a blocking wait
//! let _ = oom.wait(Some(std::time::Duration::from_secs(5)))?;
//! cg.update(resources)?;
//! cg.kill_all(libc::SIGTERM)?;
//! cg.destroy(true)?;                  // SIGKILL stragglers, rmdir leaf-first
//! # Ok(()) }
//! ```
//!
//! The lower-level pieces are public too: [`Layout::detect`] reads /proc/self/mountinfo,
//! [`CgroupsPath::from_spec`] applies runc's cgroupfs rules to `linux.cgroupsPath`,
//! [`OwnCgroups`] is /proc/self/cgroup, and [`Manager::new`] combines them (tests point all
//! three at a temporary directory that stands in for /sys/fs/cgroup).
//! [`Manager::mounts`] tells the runtime how to show cgroups inside the container.
//!
//! # Paths
//!
//! Absolute `cgroupsPath` values land below each hierarchy's mount point; relative ones below
//! the runtime's own cgroup in each v1 hierarchy and below the parent of its own cgroup on
//! cgroup2; an empty one means the container id, relative. With the systemd driver
//! ([`Manager::for_container_with`]) the path is runc's `slice:prefix:name`, and the cgroup is
//! a transient scope that systemd makes for the container's first process
//! ([`Manager::start_scope`]). See docs/CGROUPS.md for the resource-to-file table and the
//! v1→v2 conversions (shares to weight with crun's curve, blkio weight to io.weight or
//! io.bfq.weight, memory+swap to swap alone, ...).
//!
//! # Errors
//!
//! Everything returns [`Error`], whose message names the resource, the file and the value.

#![warn(missing_docs)]

mod convert;
mod devices;
mod error;
mod freezer;
mod fs;
mod layout;
mod manager;
mod oom;
mod path;
mod stats;
mod sys;
mod systemd;
#[cfg(test)]
mod testfs;
mod tree;
mod v1;
mod v2;
mod values;

pub use error::{Error, Result};
pub use freezer::FreezerState;
pub use layout::{Hierarchy, Kind, Layout, Unified};
pub use manager::{CgroupDriver, CgroupMount, Manager};
pub use oom::{OomEvent, OomWatcher};
pub use path::{CgroupsPath, OwnCgroups};
pub use stats::{
    Blkio, BlkioEntry, Cpu, CpuUsage, Detail, Hugetlb, Memory, MemoryEntry, Pids, Stats, Throttling,
};
pub use systemd::{Bus, UnitProperties};
