//! The cgroup v1 driver: one directory per mounted hierarchy (plus, on a hybrid host, one on
//! the cgroup2 mount for the controllers that live there).

mod blkio;
mod cpu;
mod memory;
mod other;

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::freezer::{self, FreezerState};
use crate::fs::{self, Dir};
use crate::layout::{Hierarchy, Unified};
use crate::path::{self, CgroupsPath, OwnCgroups};
use crate::v2::V2;

/// The container's directory in one v1 hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct V1Dir {
    pub controllers: Vec<String>,
    pub mount_point: PathBuf,
    pub path: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct V1 {
    pub dirs: Vec<V1Dir>,
    /// The hybrid host's cgroup2 side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unified: Option<V2>,
}

impl V1 {
    pub fn new(
        hierarchies: &[Hierarchy],
        unified: Option<&Unified>,
        cgroups_path: &CgroupsPath,
        own: &OwnCgroups,
    ) -> Result<V1> {
        let dirs = hierarchies
            .iter()
            .map(|h| {
                Ok(V1Dir {
                    controllers: h.controllers.clone(),
                    mount_point: h.mount_point.clone(),
                    path: path::v1_dir(h, cgroups_path, own)?,
                })
            })
            .collect::<Result<_>>()?;
        let unified = unified.map(|u| V2::new(u, cgroups_path, own)).transpose()?;
        Ok(V1 { dirs, unified })
    }

    pub fn dir(&self, controller: &str) -> Option<Dir<'_>> {
        self.dirs
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
            .map(|d| Dir(&d.path))
    }

    /// The directory of `controller`, or an error naming the resource that needs it.
    pub fn need(&self, resource: &'static str, controller: &'static str) -> Result<Dir<'_>> {
        self.dir(controller).ok_or(Error::NoController {
            resource,
            controller,
        })
    }

    /// Every directory of the container, v1 and cgroup2.
    pub fn all_paths(&self) -> impl Iterator<Item = &Path> {
        self.dirs
            .iter()
            .map(|d| d.path.as_path())
            .chain(self.unified.iter().map(|u| u.path.as_path()))
    }

    /// One directory that holds every process of the container; the freezer's when mounted,
    /// since kill_all freezes there.
    pub fn procs_dir(&self) -> Option<&Path> {
        ["freezer", "pids", "memory", "cpu"]
            .iter()
            .find_map(|c| self.dir(c))
            .map(|d| d.0)
            .or_else(|| self.all_paths().next())
    }

    pub fn create(&self) -> Result<()> {
        let mut made = Vec::new();
        let result = self.create_into(&mut made);
        if result.is_err() {
            fs::remove_made(&made);
        }
        result
    }

    /// Makes the directories, recording each one it made in `made`.
    fn create_into(&self, made: &mut Vec<PathBuf>) -> Result<()> {
        for d in &self.dirs {
            made.extend(fs::mkdir_below(&d.mount_point, &d.path)?);
            if d.controllers.iter().any(|c| c == "cpuset") {
                init_cpuset(&d.mount_point, &d.path)?;
            }
        }
        if let Some(u) = &self.unified {
            made.extend(fs::mkdir_below(&u.mount_point, &u.path)?);
        }
        Ok(())
    }

    pub fn apply(&self, r: &LinuxResources, update: bool) -> Result<()> {
        if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(Error::Unsupported {
                resource: "unified",
                reason: "cgroup v2 files cannot be set on a cgroup v1 host",
            });
        }
        if let Some(m) = r.memory() {
            memory::apply(self, m, update)?;
        }
        if let Some(c) = r.cpu() {
            cpu::apply(self, c)?;
        }
        if let Some(p) = r.pids() {
            other::pids(self, p)?;
        }
        if let Some(b) = r.block_io() {
            blkio::apply(self, b)?;
        }
        if let Some(h) = r.hugepage_limits() {
            other::hugetlb(self, h)?;
        }
        if let Some(n) = r.network() {
            other::network(self, n)?;
        }
        if let Some(rdma) = r.rdma() {
            other::rdma(self, rdma)?;
        }
        if let Some(d) = r.devices() {
            other::devices(self, d)?;
        }
        Ok(())
    }

    pub fn add_process(&self, pid: i32) -> Result<()> {
        self.all_paths().try_for_each(|p| Dir(p).write_pid(pid))
    }

    pub fn freeze(&self) -> Result<()> {
        let d = self.need("freezer", "freezer")?;
        d.write("freezer", "freezer.state", "FROZEN")?;
        let mut polls = 0u32;
        fs::wait_until("freeze", d.0, freezer::TIMEOUT, || {
            polls += 1;
            match self.freezer_state()? {
                FreezerState::Frozen => Ok(true),
                // Tasks forked while freezing can leave it stuck in FREEZING; asking again
                // freezes the newcomers.
                _ if polls.is_multiple_of(16) => {
                    d.write("freezer", "freezer.state", "FROZEN").map(|_| false)
                }
                _ => Ok(false),
            }
        })
    }

    pub fn thaw(&self) -> Result<()> {
        let d = self.need("freezer", "freezer")?;
        d.write("freezer", "freezer.state", "THAWED")?;
        fs::wait_until("thaw", d.0, freezer::TIMEOUT, || {
            Ok(self.freezer_state()? == FreezerState::Thawed)
        })
    }

    pub fn freezer_state(&self) -> Result<FreezerState> {
        let d = self.need("freezer", "freezer")?;
        let s = d.read("freezer.state")?;
        match s.trim() {
            "THAWED" => Ok(FreezerState::Thawed),
            "FREEZING" => Ok(FreezerState::Freezing),
            "FROZEN" => Ok(FreezerState::Frozen),
            other => Err(Error::Parse {
                file: "freezer.state",
                reason: "unknown state",
                line: other.to_string(),
            }),
        }
    }
}

/// A new v1 cpuset starts with no cpus and no mems (unless its parent has clone_children),
/// and no task can join it then: fill each empty level below the mount with its parent's.
fn init_cpuset(mount_point: &Path, dir: &Path) -> Result<()> {
    let mut levels: Vec<&Path> = dir
        .ancestors()
        .take_while(|p| *p != mount_point && p.starts_with(mount_point))
        .collect();
    levels.reverse();
    for level in levels {
        let parent = Dir(level.parent().unwrap_or(level));
        let d = Dir(level);
        for (resource, file) in [("cpu.cpus", "cpuset.cpus"), ("cpu.mems", "cpuset.mems")] {
            if d.read(file)?.trim().is_empty() {
                d.write(resource, file, parent.read(file)?.trim())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
