//! [`Manager`]: one container's cgroup, whichever driver the host calls for.

use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::freezer::FreezerState;
use crate::fs::{keyed, open_dir};
use crate::layout::{Kind, Layout};
use crate::oom::{self, OomWatcher};
use crate::path::{CgroupsPath, OwnCgroups};
use crate::stats::{self, Detail, Stats};
use crate::systemd::{self, Bus, Unit, UnitProperties};
use crate::v1::V1;
use crate::v2::V2;
use crate::{sys, tree};

/// A container's cgroup. Serialise it into the container's state file and deserialise it in
/// a later process; it holds only the resolved directories (and, for v1, each hierarchy's
/// mount point and controllers), and with the systemd driver the unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manager {
    #[serde(flatten)]
    driver: Driver,
    /// The scope systemd makes for the container (the systemd driver); the directories
    /// above are the ones it makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) systemd: Option<Unit>,
}

/// Who makes the container's cgroup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CgroupDriver {
    /// berth itself, in the cgroup filesystems (runc's and crun's default).
    #[default]
    Cgroupfs,
    /// systemd, as a transient scope, through the system's or the user's manager.
    Systemd(Bus),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "driver", rename_all = "lowercase")]
enum Driver {
    V1(V1),
    V2(V2),
}

/// How to show one hierarchy inside the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMount {
    /// The host's mount point, e.g. `/sys/fs/cgroup/memory` (the same path is the usual
    /// place inside the container).
    pub mount_point: PathBuf,
    /// `cgroup` (v1) or `cgroup2`.
    pub fstype: &'static str,
    /// Mount options naming the hierarchy: its controllers or `name=...`; empty for cgroup2.
    pub options: Vec<String>,
    /// The container's cgroup in this hierarchy, to bind-mount when there is no cgroup
    /// namespace.
    pub cgroup_dir: PathBuf,
}

impl Manager {
    /// The manager for `cgroups_path` (already resolved) on `layout`. `own` is only read for
    /// relative paths; pass `OwnCgroups::default()` for absolute ones.
    pub fn new(layout: &Layout, cgroups_path: &CgroupsPath, own: &OwnCgroups) -> Result<Manager> {
        let driver = match layout {
            Layout::V1 {
                hierarchies,
                unified,
            } => Driver::V1(V1::new(hierarchies, unified.as_ref(), cgroups_path, own)?),
            Layout::V2(u) => Driver::V2(V2::new(u, cgroups_path, own)?),
        };
        Ok(Manager {
            driver,
            systemd: None,
        })
    }

    /// The manager of `driver` for the OCI `linux.cgroupsPath`: the cgroupfs driver's rules
    /// ([`Manager::for_container`]), or the systemd driver's `slice:prefix:name` (absent or
    /// empty: `system.slice:berth:<id>`, `user.slice` for the user's manager).
    pub fn for_container_with(
        driver: CgroupDriver,
        cgroups_path: Option<&Path>,
        id: &str,
    ) -> Result<Manager> {
        let bus = match driver {
            CgroupDriver::Cgroupfs => return Manager::for_container(cgroups_path, id),
            CgroupDriver::Systemd(bus) => bus,
        };
        let unit = Unit::from_spec(cgroups_path, id, bus)?;
        let layout = Layout::detect()?;
        let mut below = unit.relative_path()?;
        if bus == Bus::User {
            let Layout::V2(u) = &layout else {
                return Err(Error::CgroupsPath {
                    path: unit.slice,
                    reason: "the user's systemd delegates cgroups on cgroup v2 only",
                });
            };
            let own = OwnCgroups::current()?;
            let root = systemd::user_manager_root(
                own.v2().unwrap_or(Path::new("/")),
                &u.mount_point,
                berth_sys::ids::outer_uid(),
            )?;
            below = root.strip_prefix("/").unwrap_or(&root).join(below);
        }
        let mut m = Manager::new(
            &layout,
            &CgroupsPath::Absolute(below),
            &OwnCgroups::default(),
        )?;
        m.systemd = Some(unit);
        Ok(m)
    }

    /// Whether systemd makes this cgroup: then it exists only once the container's first
    /// process is known, through [`Manager::start_scope`] instead of `create` and `apply`.
    pub fn is_systemd(&self) -> bool {
        self.systemd.is_some()
    }

    /// The systemd driver's `create` and `apply` in one: asks systemd for the scope holding
    /// `pid` (the container's first process, which waits), with the resources systemd has
    /// properties for and the `org.systemd.property.*` annotations; then places `pid` in the
    /// v1 hierarchies systemd leaves alone and writes every resource to the files, as the
    /// cgroupfs driver does. On failure, nothing of the unit is left.
    pub fn start_scope<'a>(
        &self,
        pid: i32,
        r: &LinuxResources,
        annotations: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<()> {
        let Some(unit) = &self.systemd else {
            return Err(Error::NoDirectory);
        };
        let mut props = UnitProperties::for_resources(r, self.kind() == Kind::V2)?;
        props
            .0
            .extend(UnitProperties::from_annotations(annotations)?.0);
        // A scope of this name in our slice without processes is one systemd has yet to
        // stop (this container id deleted a moment ago): it may be replaced.
        systemd::start_scope(unit, pid, props, || self.pids().is_ok_and(|p| p.is_empty()))?;
        let files = || -> Result<()> {
            if let Driver::V1(v) = &self.driver {
                v.create()?;
                v.add_process(pid)?;
            }
            self.set(r, false)
        };
        files().inspect_err(|_| {
            let _ = self.destroy(true);
        })
    }

    /// Detects the layout and resolves the OCI `linux.cgroupsPath` (None or empty: a cgroup
    /// named after `id` below the runtime's own, as runc's cgroupfs driver does).
    pub fn for_container(cgroups_path: Option<&Path>, id: &str) -> Result<Manager> {
        let path = CgroupsPath::from_spec(cgroups_path, id)?;
        let own = match path {
            CgroupsPath::Relative(_) => OwnCgroups::current()?,
            CgroupsPath::Absolute(_) => OwnCgroups::default(),
        };
        Manager::new(&Layout::detect()?, &path, &own)
    }

    /// v1, hybrid or v2.
    pub fn kind(&self) -> Kind {
        match &self.driver {
            Driver::V1(v) if v.unified.is_some() => Kind::Hybrid,
            Driver::V1(_) => Kind::V1,
            Driver::V2(_) => Kind::V2,
        }
    }

    /// The container's cgroup directories: one per v1 hierarchy (plus the cgroup2 one on a
    /// hybrid host), or the single v2 one.
    pub fn paths(&self) -> Vec<&Path> {
        match &self.driver {
            Driver::V1(v) => v.all_paths().collect(),
            Driver::V2(v) => vec![v.path.as_path()],
        }
    }

    /// Whether the cgroup directory exists (in the hierarchy that holds the processes).
    pub fn exists(&self) -> bool {
        self.procs_dir().is_ok_and(Path::exists)
    }

    fn procs_dir(&self) -> Result<&Path> {
        match &self.driver {
            Driver::V1(v) => v.procs_dir().ok_or(Error::NoDirectory),
            Driver::V2(v) => Ok(&v.path),
        }
    }

    /// Creates the cgroup in every hierarchy; directories that exist already are reused. On
    /// failure, removes what it made. On v2, enables the available controllers for it.
    pub fn create(&self) -> Result<()> {
        match &self.driver {
            Driver::V1(v) => v.create(),
            Driver::V2(v) => v.create(),
        }
    }

    /// Applies every resource in `r` at creation. A resource this host cannot apply is an
    /// error naming it and its file; none is skipped.
    pub fn apply(&self, r: &LinuxResources) -> Result<()> {
        self.set(r, false)
    }

    /// Applies `r` to a running container: as [`Manager::apply`], and honours
    /// `memory.checkBeforeUpdate`; on v2 the device program replaces the previous one.
    /// With the systemd driver, the unit's properties are updated first.
    pub fn update(&self, r: &LinuxResources) -> Result<()> {
        if let Some(unit) = &self.systemd {
            let props = UnitProperties::for_resources(r, self.kind() == Kind::V2)?;
            systemd::update_unit(unit, props)?;
        }
        self.set(r, true)
    }

    fn set(&self, r: &LinuxResources, update: bool) -> Result<()> {
        match &self.driver {
            Driver::V1(v) => v.apply(r, update),
            Driver::V2(v) => v.apply(r, update),
        }
    }

    /// Moves `pid` (all its threads) into the cgroup, in every hierarchy.
    pub fn add_process(&self, pid: i32) -> Result<()> {
        match &self.driver {
            Driver::V1(v) => v.add_process(pid),
            Driver::V2(v) => v.add_process(pid),
        }
    }

    /// The cgroup2 directory opened for clone3's `CLONE_INTO_CGROUP`: the child starts in
    /// it, no later move. On v2 the container's cgroup; on a hybrid host its cgroup on the
    /// cgroup2 side; `None` on plain v1, where the kernel has no such directory.
    pub fn clone_into_fd(&self) -> Result<Option<OwnedFd>> {
        match &self.driver {
            Driver::V1(v) => v.unified.as_ref().map(|u| open_dir(&u.path)).transpose(),
            Driver::V2(v) => open_dir(&v.path).map(Some),
        }
    }

    /// On v1, each hierarchy's `tasks` file, opened for writing, for a child that moves
    /// itself by writing "0" to each; none on v2.
    ///
    /// Writing a pid to `cgroup.procs` takes the kernel's global threadgroup lock for
    /// writing, which waits for an RCU grace period (5–23 ms of a `berth run` on the CI host,
    /// docs/CGROUPS.md); a thread that moves only itself skips that lock, and a child that
    /// has not started a thread is all of its process.
    pub fn tasks_files(&self) -> Result<Vec<OwnedFd>> {
        match &self.driver {
            Driver::V1(v) => v
                .dirs
                .iter()
                .map(|d| {
                    let path = d.path.join("tasks");
                    std::fs::OpenOptions::new()
                        .write(true)
                        .custom_flags(libc::O_CLOEXEC)
                        .open(&path)
                        .map(OwnedFd::from)
                        .map_err(|e| Error::io("open", &path, e))
                })
                .collect(),
            Driver::V2(_) => Ok(Vec::new()),
        }
    }

    /// Freezes every process and waits until the kernel reports the cgroup frozen.
    pub fn freeze(&self) -> Result<()> {
        match &self.driver {
            Driver::V1(v) => v.freeze(),
            Driver::V2(v) => v.freeze(),
        }
    }

    /// Thaws the cgroup and waits until it runs again.
    pub fn thaw(&self) -> Result<()> {
        match &self.driver {
            Driver::V1(v) => v.thaw(),
            Driver::V2(v) => v.thaw(),
        }
    }

    /// Where the freezer stands.
    pub fn freezer_state(&self) -> Result<FreezerState> {
        match &self.driver {
            Driver::V1(v) => v.freezer_state(),
            Driver::V2(v) => v.freezer_state(),
        }
    }

    /// Every pid in the cgroup and its descendants.
    pub fn pids(&self) -> Result<Vec<i32>> {
        tree::pids(self.procs_dir()?)
    }

    /// Sends `signal` to every process in the cgroup tree. SIGKILL on v2 uses cgroup.kill
    /// (atomic); otherwise the cgroup is frozen first, where a freezer exists, so nothing
    /// forks away between listing and signalling. It is thawed after unless it was paused
    /// before; SIGKILL always thaws, since v1 tasks only die once thawed. An empty cgroup
    /// (a container whose init has exited) is left alone: a v1 freeze and thaw of it take
    /// 0.4 ms on this idle 2-CPU machine and 3–10 ms when it is busy.
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        if let (Driver::V2(v), libc::SIGKILL) = (&self.driver, signal) {
            if v.kill()? {
                return Ok(());
            }
        }
        // No process in it, so none can fork into it while nothing is frozen.
        if self.pids()?.is_empty() {
            return Ok(());
        }
        let can_freeze = match &self.driver {
            Driver::V1(v) => v.dir("freezer").is_some(),
            Driver::V2(_) => true,
        };
        let was_paused = can_freeze && self.freezer_state()? == FreezerState::Frozen;
        if can_freeze {
            self.freeze()?;
        }
        let sent = self
            .pids()
            .and_then(|pids| pids.into_iter().try_for_each(|p| sys::kill(p, signal)));
        // Thaw even when a kill failed, but report the first error.
        let thaw = can_freeze && (!was_paused || signal == libc::SIGKILL);
        let thawed = if thaw { self.thaw() } else { Ok(()) };
        sent.and(thawed)
    }

    /// Removes the cgroup (and any cgroups below it) from every hierarchy, retrying while
    /// the kernel still counts exiting tasks. With `kill`, SIGKILLs what is left first.
    /// Parents of the cgroup are left alone. Removing a cgroup that is gone is not an error.
    /// With the systemd driver, a unit that still held processes is stopped too (systemd
    /// stops and unloads an emptied scope by itself; one it already dropped is no error).
    pub fn destroy(&self, kill: bool) -> Result<()> {
        let busy = self.exists() && !self.pids()?.is_empty();
        if kill && busy {
            self.kill_all(libc::SIGKILL)?;
        }
        // systemd stops a scope whose cgroup has emptied by itself, and unloads it
        // (CollectMode): only a scope that held processes here is stopped over D-Bus, and
        // waited for (a container that ended by itself costs no D-Bus call). The emptied
        // scope's directory is then left to systemd: it learns of the emptying by reading the
        // directory's cgroup.events, and one removed before it looked would leave the unit
        // active for good.
        let (mut first, leave) = match &self.systemd {
            Some(unit) if busy => (systemd::stop_unit(unit).err(), None),
            Some(_) => (None, self.watched_by_systemd()),
            None => (None, None),
        };
        let deadline = std::time::Instant::now() + tree::RMDIR_TIMEOUT;
        for p in self.paths() {
            let removed = if leave == Some(p) {
                tree::remove_below(p, deadline)
            } else {
                tree::remove(p, deadline)
            };
            if let Err(e) = removed {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// The directory whose emptying systemd watches: the cgroup2 one (on a hybrid host, the
    /// unified mount's), else the `name=systemd` hierarchy's.
    fn watched_by_systemd(&self) -> Option<&Path> {
        match &self.driver {
            Driver::V2(v) => Some(&v.path),
            Driver::V1(v) => match &v.unified {
                Some(u) => Some(&u.path),
                None => v.dir("name=systemd").map(|d| d.0),
            },
        }
    }

    /// Usage counters, shaped like runc's `events --stats`; with [`Detail::Summary`], only
    /// some of them.
    pub fn stats(&self, detail: Detail) -> Result<Stats> {
        let dir = self.procs_dir()?;
        if !dir.exists() {
            return Err(Error::io("stats", dir, std::io::ErrorKind::NotFound.into()));
        }
        match &self.driver {
            Driver::V1(v) => stats::read_v1(v, detail),
            Driver::V2(v) => stats::read_v2(v.dir(), detail),
        }
    }

    /// A watcher for OOM events in this cgroup.
    pub fn oom_watcher(&self) -> Result<OomWatcher> {
        match &self.driver {
            Driver::V1(v) => OomWatcher::v1(v.need("oom events", "memory")?.0),
            Driver::V2(v) => OomWatcher::v2(&v.path),
        }
    }

    /// How many of the cgroup's processes the kernel's OOM killer has killed.
    pub fn oom_kills(&self) -> Result<u64> {
        match &self.driver {
            Driver::V1(v) => {
                let control = v
                    .need("oom kills", "memory")?
                    .read_keyed("memory.oom_control")?;
                Ok(keyed(&control, "oom_kill"))
            }
            Driver::V2(v) => Ok(oom::oom_count(&v.path)?.1),
        }
    }

    /// What to mount at /sys/fs/cgroup inside the container: each v1 hierarchy (plus the
    /// cgroup2 mount of a hybrid host), or the one cgroup2 mount.
    pub fn mounts(&self) -> Vec<CgroupMount> {
        let v2 = |v: &V2| CgroupMount {
            mount_point: v.mount_point.clone(),
            fstype: "cgroup2",
            options: Vec::new(),
            cgroup_dir: v.path.clone(),
        };
        match &self.driver {
            Driver::V1(v) => v
                .dirs
                .iter()
                .map(|d| CgroupMount {
                    mount_point: d.mount_point.clone(),
                    fstype: "cgroup",
                    options: d.controllers.clone(),
                    cgroup_dir: d.path.clone(),
                })
                .chain(v.unified.iter().map(v2))
                .collect(),
            Driver::V2(v) => vec![v2(v)],
        }
    }
}
