//! The cgroup v2 driver: one directory on the cgroup2 mount.

mod cpu;
mod io;
mod memory;
pub(crate) mod other;

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::devices;
use crate::error::{Error, Result};
use crate::freezer::{self, FreezerState};
use crate::fs::{self, Dir};
use crate::layout::Unified;
use crate::path::{self, CgroupsPath, OwnCgroups};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct V2 {
    pub mount_point: PathBuf,
    pub path: PathBuf,
}

impl V2 {
    pub fn new(u: &Unified, cgroups_path: &CgroupsPath, own: &OwnCgroups) -> Result<V2> {
        Ok(V2 {
            mount_point: u.mount_point.clone(),
            path: path::v2_dir(u, cgroups_path, own)?,
        })
    }

    pub fn dir(&self) -> Dir<'_> {
        Dir(&self.path)
    }

    /// The cgroups from the mount point down to our parent: controllers are enabled in their
    /// cgroup.subtree_control, top first.
    fn ancestors(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self
            .path
            .ancestors()
            .skip(1)
            .take_while(|p| p.starts_with(&self.mount_point))
            .collect();
        v.reverse();
        v
    }

    /// Enables `controllers` for our cgroup, failing with `resource` named when the kernel
    /// refuses.
    pub fn enable(&self, resource: &'static str, controllers: &[&str]) -> Result<()> {
        for a in self.ancestors() {
            let d = Dir(a);
            let missing = not_enabled(
                &d.read("cgroup.subtree_control")?,
                controllers.iter().copied(),
            );
            if !missing.is_empty() {
                d.write(resource, "cgroup.subtree_control", &missing.join(" "))?;
            }
        }
        Ok(())
    }

    /// Enables every available controller, as runc and crun do, so stats and later updates
    /// find their files. Best effort: a controller that cannot be enabled (a parent holding
    /// processes, a delegation boundary) surfaces as a clear error when a resource needs it.
    fn enable_all(&self) {
        for a in self.ancestors() {
            let d = Dir(a);
            let (Ok(avail), Ok(on)) = (
                d.read("cgroup.controllers"),
                d.read("cgroup.subtree_control"),
            ) else {
                continue;
            };
            let missing = not_enabled(&on, avail.split_whitespace());
            if missing.is_empty() {
                continue;
            }
            if d.write("cgroup", "cgroup.subtree_control", &missing.join(" "))
                .is_err()
            {
                // One refusal fails the whole write; take the others one by one.
                for m in &missing {
                    let _ = d.write("cgroup", "cgroup.subtree_control", m);
                }
            }
        }
    }

    pub fn create(&self) -> Result<()> {
        fs::mkdir_below(&self.mount_point, &self.path)?;
        self.enable_all();
        Ok(())
    }

    pub fn apply(&self, r: &LinuxResources, update: bool) -> Result<()> {
        let d = self.dir();
        if let Some(m) = r.memory() {
            memory::apply(d, m, update)?;
        }
        if let Some(c) = r.cpu() {
            cpu::apply(d, c)?;
        }
        if let Some(p) = r.pids() {
            other::pids(d, p)?;
        }
        if let Some(b) = r.block_io() {
            io::apply(d, b)?;
        }
        if let Some(h) = r.hugepage_limits() {
            other::hugetlb(d, h)?;
        }
        if let Some(n) = r.network() {
            if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                return Err(Error::Unsupported {
                    resource: "network",
                    reason: "net_cls/net_prio do not exist on cgroup v2",
                });
            }
        }
        if let Some(rdma) = r.rdma() {
            other::rdma(d, rdma)?;
        }
        if let Some(list) = r.devices() {
            let rules = devices::rules(list)?;
            if !rules.is_empty() {
                devices::install_v2(&self.path, &rules)?;
            }
        }
        // Last, so that explicit v2 values override converted v1 ones.
        if let Some(u) = r.unified() {
            other::unified(d, u)?;
        }
        Ok(())
    }

    pub fn add_process(&self, pid: i32) -> Result<()> {
        self.dir().write_pid(pid)
    }

    pub fn freeze(&self) -> Result<()> {
        self.set_frozen(true)
    }

    pub fn thaw(&self) -> Result<()> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let d = self.dir();
        d.write("freezer", "cgroup.freeze", if frozen { "1" } else { "0" })?;
        let op = if frozen { "freeze" } else { "thaw" };
        fs::wait_until(op, &self.path, freezer::TIMEOUT, || {
            Ok(fs::keyed(&d.read_keyed("cgroup.events")?, "frozen") == u64::from(frozen))
        })
    }

    pub fn freezer_state(&self) -> Result<FreezerState> {
        let d = self.dir();
        let asked = d.read("cgroup.freeze")?.trim() == "1";
        let frozen = fs::keyed(&d.read_keyed("cgroup.events")?, "frozen") == 1;
        Ok(match (asked, frozen) {
            (true, true) => FreezerState::Frozen,
            (true, false) => FreezerState::Freezing,
            (false, _) => FreezerState::Thawed,
        })
    }

    /// cgroup.kill (Linux 5.14) SIGKILLs the whole tree atomically; false when absent.
    pub fn kill(&self) -> Result<bool> {
        let d = self.dir();
        if !d.has("cgroup.kill") {
            return Ok(false);
        }
        match d.write("kill", "cgroup.kill", "1") {
            // Removed meanwhile (systemd drops an empty scope's cgroup at once): nothing is
            // left to kill.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENODEV)) => Ok(true),
            r => r.map(|()| true),
        }
    }
}

/// `+controller` for each of `want` that subtree_control content `on` lacks.
fn not_enabled<'a>(on: &str, want: impl Iterator<Item = &'a str>) -> Vec<String> {
    want.filter(|c| !on.split_whitespace().any(|x| x == *c))
        .map(|c| format!("+{c}"))
        .collect()
}

#[cfg(test)]
mod tests;
