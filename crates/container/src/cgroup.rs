//! The container's cgroup: made and limited before the init exists, joined by the init at
//! clone time (v2, and the cgroup2 side of a hybrid host) or by itself right after (v1),
//! removed with the container. With the systemd driver, systemd makes it for the init
//! (which waits) before the init proceeds.

use crate::process::CgroupJoin;
use crate::state::{ContainerDir, Saved, Status};
use crate::{Error, Runtime};
use berth_cgroups::{Manager, UnitProperties};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources, Spec};
use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// A created cgroup, the cgroup2 directory fd the init is cloned into, and the v1 `tasks`
/// files it writes itself into; or, with the systemd driver, what the scope is made with.
pub struct ContainerCgroup {
    pub manager: Manager,
    clone_fd: Option<OwnedFd>,
    tasks: Vec<OwnedFd>,
    scope: Option<Scope>,
}

/// What systemd's scope is made with once the init's pid is known.
struct Scope {
    resources: LinuxResources,
    annotations: HashMap<String, String>,
}

fn requests_resources(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .is_some_and(|r| {
            r.memory().is_some()
                || r.cpu().is_some()
                || r.pids().is_some()
                || r.block_io().is_some()
                || r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
                || r.unified().as_ref().is_some_and(|u| !u.is_empty())
                || r.rdma().as_ref().is_some_and(|m| !m.is_empty())
                || r.network().is_some()
        })
}

impl ContainerCgroup {
    /// Creates the container's cgroup and applies `linux.resources`. Without privileges and
    /// without a writable (delegated) cgroup, a container that asks for no limits runs without
    /// a cgroup of its own; one that asks for limits fails. With the systemd driver, only
    /// checks what the scope is to be made with ([`CgroupJoin::place`] makes it).
    pub fn setup(spec: &Spec, id: &str, rt: &Runtime) -> Result<Option<ContainerCgroup>, Error> {
        let path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
        let manager = Manager::for_container_with(rt.cgroup_driver, path.as_deref(), id)?;
        if manager.is_systemd() {
            let annotations = spec.annotations().clone().unwrap_or_default();
            UnitProperties::from_annotations(&annotations)?;
            return Ok(Some(ContainerCgroup {
                manager,
                clone_fd: None,
                tasks: Vec::new(),
                scope: Some(Scope {
                    resources: resources(spec, rt.rootless),
                    annotations,
                }),
            }));
        }
        let rootless = rt.rootless;
        if let Err(e) = manager.create() {
            let refused = matches!(
                e.raw_os_error(),
                Some(libc::EACCES | libc::EPERM | libc::EROFS)
            );
            if rootless && refused && !requests_resources(spec) {
                tracing::debug!("no cgroup for {id}: {e}");
                return Ok(None);
            }
            if rootless && refused {
                return Err(Error::Usage(format!(
                    "resource limits need a cgroup this user may write, and none is delegated \
                     to it ({e}): on cgroup v2, log in through systemd (its user manager \
                     delegates) or run berth in a leaf of a delegated subtree; cgroup v1 \
                     delegates nothing to users; without limits the container runs"
                )));
            }
            return Err(e.into());
        }
        let ready = || -> Result<ContainerCgroup, Error> {
            manager.apply(&resources(spec, rootless))?;
            Ok(ContainerCgroup {
                manager: manager.clone(),
                clone_fd: manager.clone_into_fd()?,
                tasks: manager.tasks_files()?,
                scope: None,
            })
        };
        ready()
            .inspect_err(|_| {
                let _ = manager.destroy(true);
            })
            .map(Some)
    }
}

/// Device rules every container needs after the config's own (later rules win): the default
/// devices, ptys, and the config's `linux.devices`, as runc and crun allow them.
fn default_device_rules(spec: &Spec) -> Vec<LinuxDeviceCgroup> {
    let rule = |typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true);
        r.set_typ(Some(typ));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some("rwm".to_string()));
        r
    };
    let c = LinuxDeviceType::C;
    let mut rules: Vec<LinuxDeviceCgroup> = [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ]
    .into_iter()
    .map(|(ma, mi)| rule(c, Some(ma), Some(mi)))
    .collect();
    rules.push(rule(c, Some(136), None));
    for d in spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
        // A FIFO is no device: the device cgroup has nothing to allow.
        .filter(|d| d.typ() != LinuxDeviceType::P)
    {
        rules.push(rule(d.typ(), Some(d.major()), Some(d.minor())));
    }
    rules
}

/// The config's resources with the default device rules appended; without them when
/// `rootless`: the kernel lets no unprivileged user attach a device program (a delegated
/// cgroup v2), and a user namespace cannot make device nodes anyway (runc skips them too).
pub(crate) fn resources(spec: &Spec, rootless: bool) -> LinuxResources {
    let mut r = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    if rootless {
        r.set_devices(None);
        return r;
    }
    let mut devices = r.devices().clone().unwrap_or_default();
    devices.extend(default_device_rules(spec));
    r.set_devices(Some(devices));
    r
}

impl CgroupJoin for ContainerCgroup {
    fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        self.clone_fd.as_ref().map(|f| f.as_fd())
    }

    fn tasks_files(&self) -> Vec<BorrowedFd<'_>> {
        self.tasks.iter().map(AsFd::as_fd).collect()
    }

    fn place(&self, pid: i32) -> Result<(), berth_cgroups::Error> {
        match &self.scope {
            Some(s) => self.manager.start_scope(pid, &s.resources, &s.annotations),
            None => Ok(()),
        }
    }
}

/// Loads container `id` for a cgroup command and checks its status is one of `allowed`.
/// It does not wait for the container's lock: a foreground `run` holds that for the
/// container's whole life.
pub(crate) fn load(
    rt: &Runtime,
    id: &str,
    allowed: &[Status],
    action: &'static str,
) -> Result<(ContainerDir, Saved), Error> {
    let dir = rt.root.peek(id)?;
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref())?;
    match saved {
        Some(s) if allowed.contains(&status) => Ok((dir, s)),
        _ => Err(Error::WrongStatus {
            id: id.into(),
            status,
            action,
        }),
    }
}

/// The container's cgroup, or an error naming `action` when it has none of its own (a
/// rootless container without a delegated cgroup).
pub(crate) fn manager<'a>(saved: &'a Saved, action: &str) -> Result<&'a Manager, Error> {
    saved.cgroup.as_ref().ok_or_else(|| {
        Error::Usage(format!(
            "container {} has no cgroup of its own: cannot {action}",
            saved.id
        ))
    })
}

/// The cgroup an exec'd process joins: the container's, or with `--cgroup` a sub-cgroup of
/// it (cgroup v2 only, and it must exist).
pub struct SubCgroup {
    clone_fd: Option<OwnedFd>,
    tasks: Vec<OwnedFd>,
}

impl SubCgroup {
    pub fn open(manager: &Manager, sub: Option<&str>) -> Result<SubCgroup, Error> {
        let clone_fd = match sub.filter(|s| !s.is_empty()) {
            None => manager.clone_into_fd()?,
            Some(sub) => {
                let sub_path = std::path::Path::new(sub.trim_start_matches('/'));
                let base = match (manager.kind(), manager.paths().as_slice()) {
                    (berth_cgroups::Kind::V2, [base]) => base.to_path_buf(),
                    _ => {
                        return Err(Error::Usage(
                            "--cgroup: sub-cgroups are supported on cgroup v2 only".into(),
                        ))
                    }
                };
                if crate::spec::escapes_root(sub_path)
                    || sub_path
                        .components()
                        .any(|c| c == std::path::Component::ParentDir)
                {
                    return Err(Error::Usage(format!(
                        "--cgroup {sub:?}: must stay inside the container's cgroup"
                    )));
                }
                let p = base.join(sub_path);
                Some(
                    berth_sys::fs::open(&p, libc::O_PATH | libc::O_DIRECTORY, 0)
                        .map_err(Error::path(&p))?,
                )
            }
        };
        Ok(SubCgroup {
            clone_fd,
            tasks: manager.tasks_files()?,
        })
    }
}

impl CgroupJoin for SubCgroup {
    fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        self.clone_fd.as_ref().map(|f| f.as_fd())
    }

    fn tasks_files(&self) -> Vec<BorrowedFd<'_>> {
        self.tasks.iter().map(AsFd::as_fd).collect()
    }
}
