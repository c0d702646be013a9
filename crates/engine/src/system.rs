//! What `berth info`, `system df` and the prune commands show and do: the engine as a whole.

use crate::record::{Record, State};
use crate::{Engine, Error};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Bytes of the files under `dir` (a file with several links counted once): what docker's
/// `system df` and prunes report.
pub(crate) fn disk_usage(dir: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() && (m.nlink() == 1 || seen.insert((m.dev(), m.ino()))) {
                total += m.len();
            }
        }
    }
    total
}

/// `berth info`, with docker's field names.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    pub containers: usize,
    pub containers_running: usize,
    pub containers_paused: usize,
    pub containers_stopped: usize,
    pub images: usize,
    pub driver: &'static str,
    pub docker_root_dir: String,
    pub logging_driver: &'static str,
    pub cgroup_driver: &'static str,
    pub cgroup_version: String,
    pub default_runtime: &'static str,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSType")]
    pub os_type: &'static str,
    pub architecture: &'static str,
    #[serde(rename = "NCPU")]
    pub ncpu: usize,
    pub mem_total: u64,
    pub name: String,
    pub server_version: &'static str,
    pub security_options: Vec<String>,
    pub rootless: bool,
    /// How rootless berth runs (absent for root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rootless_setup: Option<RootlessSetup>,
}

/// What rootless berth runs with: `berth info` says it, as the issue of a user's setup
/// is usually one of these.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootlessSetup {
    /// The user namespace's maps, `inside host count` each.
    pub uid_map: String,
    pub gid_map: String,
    /// The root filesystems' mount.
    pub storage: &'static str,
    /// What carries the default network, or why nothing does.
    pub network: String,
}

/// One line of `system df`: what there is of a kind, and how much of it is unused.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Usage {
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// `system df`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    pub images: Usage,
    pub containers: Usage,
    pub local_volumes: Usage,
    /// By image ID: how many containers use it.
    #[serde(skip)]
    pub image_containers: BTreeMap<String, usize>,
    /// By container ID: the bytes of its changes.
    #[serde(skip)]
    pub container_sizes: BTreeMap<String, u64>,
    /// By volume name: the bytes of its data.
    #[serde(skip)]
    pub volume_sizes: BTreeMap<String, u64>,
}

impl Engine {
    /// Bytes of container `id`'s changes (its root filesystem's upper directory).
    fn changes_size(&self, id: &str) -> u64 {
        self.store
            .rootfs_upper(id)
            .map_or(0, |upper| disk_usage(&upper))
    }

    /// The engine, the host and what berth holds, as `docker info` tells them.
    pub fn info(&self) -> Result<Info, Error> {
        let list = self.list(true)?;
        let running = list.iter().filter(|c| c.state == State::Running).count();
        let paused = list.iter().filter(|c| c.paused).count();
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|s| s.trim_matches('"').to_string())
            .unwrap_or_else(|| "Linux".into());
        let mem_kib: u64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let rootless = crate::rootless::active();
        let v2 = berth_cgroups::Layout::detect().is_ok_and(|l| l.kind() == berth_cgroups::Kind::V2);
        Ok(Info {
            containers: list.len(),
            containers_running: running - paused,
            containers_paused: paused,
            containers_stopped: list.len() - running,
            images: self.store.records()?.len(),
            driver: "overlay",
            docker_root_dir: self
                .containers
                .base()
                .parent()
                .map_or(String::new(), |p| p.display().to_string()),
            logging_driver: "json-file",
            // The default for new containers (docker's field): systemd where it is PID 1.
            cgroup_driver: match crate::options::CgroupManager::choose(
                None,
                crate::rootless::active(),
            ) {
                Ok(crate::options::CgroupManager::Systemd) => "systemd",
                _ => "cgroupfs",
            },
            cgroup_version: if v2 { "2".into() } else { "1".into() },
            default_runtime: "berth",
            kernel_version: read("/proc/sys/kernel/osrelease").trim().to_string(),
            operating_system: os,
            os_type: "linux",
            architecture: std::env::consts::ARCH,
            ncpu: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_total: mem_kib * 1024,
            name: read("/proc/sys/kernel/hostname").trim().to_string(),
            server_version: env!("CARGO_PKG_VERSION"),
            security_options: if rootless {
                vec![
                    "name=seccomp,profile=builtin".into(),
                    "name=rootless".into(),
                ]
            } else {
                vec!["name=seccomp,profile=builtin".into()]
            },
            rootless,
            rootless_setup: rootless.then(|| RootlessSetup {
                uid_map: crate::rootless::id_map("uid_map"),
                gid_map: crate::rootless::id_map("gid_map"),
                storage: "overlay (userxattr)",
                network: crate::rootless::network_tool(),
            }),
        })
    }

    /// The space images, containers and volumes take, and what a prune would give back.
    pub fn disk_usage(&self) -> Result<DiskUsage, Error> {
        let records: Vec<Record> = self
            .containers
            .ids()?
            .iter()
            .filter_map(|id| self.refresh(id).ok().flatten())
            .collect();
        let mut images = Usage::default();
        let mut image_containers = BTreeMap::new();
        let mut seen = HashSet::new();
        for rec in self.store.records()? {
            let Ok(img) = self.store.image_by_manifest(&rec.manifest) else {
                continue;
            };
            if !seen.insert(img.id.to_string()) {
                continue;
            }
            let size: u64 = img.manifest.layers().iter().map(|l| l.size()).sum();
            let id = img.id.to_string();
            let users = records.iter().filter(|r| r.image_id == id).count();
            image_containers.insert(id, users);
            let used = users > 0;
            images.total += 1;
            images.size += size;
            match used {
                true => images.active += 1,
                false => images.reclaimable += size,
            }
        }
        let mut containers = Usage::default();
        let mut container_sizes = BTreeMap::new();
        for r in &records {
            let size = self.changes_size(&r.id);
            container_sizes.insert(r.id.clone(), size);
            containers.total += 1;
            containers.size += size;
            match r.state {
                State::Running | State::Restarting => containers.active += 1,
                _ => containers.reclaimable += size,
            }
        }
        let mut local_volumes = Usage::default();
        let mut volume_sizes = BTreeMap::new();
        for v in self.volumes()? {
            let size = disk_usage(&v.mountpoint);
            volume_sizes.insert(v.volume.name.clone(), size);
            local_volumes.total += 1;
            local_volumes.size += size;
            match v.containers.is_empty() {
                true => local_volumes.reclaimable += size,
                false => local_volumes.active += 1,
            }
        }
        Ok(DiskUsage {
            images,
            containers,
            local_volumes,
            image_containers,
            container_sizes,
            volume_sizes,
        })
    }

    /// Removes every container that does not run and that `keep` picks; returns their ids
    /// and the bytes their changes took.
    pub fn prune_containers(
        &self,
        keep: &dyn Fn(&Record) -> bool,
    ) -> Result<Vec<(String, u64)>, Error> {
        let mut out = Vec::new();
        for id in self.containers.ids()? {
            let Some(r) = self.refresh(&id)? else {
                continue;
            };
            if matches!(r.state, State::Running | State::Restarting) || !keep(&r) {
                continue;
            }
            let size = self.changes_size(&id);
            match self.remove(&id, false, false) {
                Ok(_) => out.push((id, size)),
                // Started meanwhile: it stays.
                Err(Error::WrongState { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Removes the images no container uses (with `all`; berth keeps no untagged images, so
    /// without it there is nothing), then the content no image needs; returns the names.
    pub fn prune_images(&self, all: bool) -> Result<Vec<String>, Error> {
        if !all {
            return Ok(Vec::new());
        }
        let used: HashSet<String> = self
            .containers
            .ids()?
            .iter()
            .filter_map(|id| self.refresh(id).ok().flatten())
            .map(|r| r.image_id)
            .collect();
        let mut names = Vec::new();
        for rec in self.store.records()? {
            let Ok(img) = self.store.image_by_manifest(&rec.manifest) else {
                continue;
            };
            let in_use = used.contains(&img.id.to_string())
                || !self.store.containers_using(&rec.manifest)?.is_empty();
            if !in_use {
                names.push(rec.reference);
            }
        }
        let removed = self.store.remove_names(&names)?;
        self.store.gc()?;
        Ok(removed.iter().map(|r| r.reference.to_string()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_linked_files_once() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("d")).unwrap();
        std::fs::write(tmp.path().join("d/a"), "12345").unwrap();
        std::fs::hard_link(tmp.path().join("d/a"), tmp.path().join("b")).unwrap();
        std::fs::write(tmp.path().join("c"), "xy").unwrap();
        std::os::unix::fs::symlink("c", tmp.path().join("l")).unwrap();
        assert_eq!(disk_usage(tmp.path()), 7);
    }
}
