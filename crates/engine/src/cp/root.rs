//! The container's file system as `cp` and `export` see it: an `O_PATH` fd on its root, from
//! which every path is resolved with `openat2(RESOLVE_IN_ROOT)`.
//!
//! * A running container: its init's `/proc/PID/root`, taken through a pidfd so a reused
//!   pid cannot give another process's root. A walk from that fd crosses the container's
//!   own mounts, so a copy reaches its volumes, bind mounts and tmpfs as it sees them.
//! * Otherwise: its overlay (`ROOT/image/rootfs/<id>/merged`), opened in a mount namespace
//!   of a helper thread's own, where its `-v` bind mounts are attached as the runtime would
//!   (read-only ones read-only) and, after a reboot, the overlay itself is mounted again.
//!   Nothing of that reaches the host's mount table, and it all goes when the namespace
//!   does, even if berth is killed.

use crate::options::UserMount;
use crate::record::{Lock, Record};
use crate::{Engine, Error};
use berth_image::store::Store;
use berth_sys::fs::{self as sysfs, Resolve};
use berth_sys::mount::{self, MountAttr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// The root of a container's file system, and what keeps it as it is while it is used.
pub(crate) struct View {
    root: OwnedFd,
    /// The helper thread whose mount namespace holds the mounts (none for a running one).
    namespace: Option<Namespace>,
    /// Held while the overlay was mounted for us: a `start` then waits.
    _lock: Option<Lock>,
}

impl View {
    pub(crate) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if let Some(ns) = self.namespace.take() {
            drop(ns.done);
            let _ = ns.thread.join();
        }
    }
}

struct Namespace {
    /// Dropped, it lets the thread end, and its namespace with it.
    done: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// Whether the view includes the container's mounts (`cp`) or only its root file system
/// (`export`, as docker's).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mounts {
    Included,
    Left,
}

impl Engine {
    /// The file system of container `r`.
    pub(crate) fn view(&self, r: &Record, mounts: Mounts) -> Result<View, Error> {
        let gone = || Error::NoSuchContainer(r.name.clone());
        let lock = self.containers.lock(&r.id, true)?.ok_or_else(gone)?;
        let r = self.refresh_locked(&r.id)?.ok_or_else(gone)?;
        if mounts == Mounts::Included {
            if let Some(init) = self.init(&r.id)? {
                let root = process_root(init.pid).map_err(|e| Error::Failed {
                    name: r.name.clone(),
                    reason: format!("open its root through /proc/{}/root: {e}", init.pid),
                })?;
                return Ok(View {
                    root,
                    namespace: None,
                    _lock: None,
                });
            }
        }
        let binds = match mounts {
            Mounts::Included => r.settings.mounts.clone(),
            Mounts::Left => Vec::new(),
        };
        let (root, remounted, namespace) = private_view(
            self.store.clone(),
            r.id.clone(),
            binds,
            r.settings.read_only,
        )
        .map_err(|reason| Error::Failed {
            name: r.name.clone(),
            reason,
        })?;
        Ok(View {
            root,
            namespace: Some(namespace),
            _lock: remounted.then_some(lock),
        })
    }
}

/// The root of the process `pid`, checked through a pidfd to be that process's.
fn process_root(pid: i32) -> std::io::Result<OwnedFd> {
    let pidfd = berth_sys::process::pidfd_open(pid)?;
    let root = sysfs::open(
        Path::new(&format!("/proc/{pid}/root")),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )?;
    // Still alive after the open: the pid was not reused, the root is the container's.
    berth_sys::process::pidfd_send_signal(pidfd.as_fd(), 0)?;
    Ok(root)
}

type Made = (OwnedFd, bool, Namespace);

/// Opens container `id`'s overlay in a new mount namespace of a helper thread, with
/// `binds` attached; the thread keeps the namespace until the returned [`Namespace`] goes.
fn private_view(
    store: Store,
    id: String,
    binds: Vec<UserMount>,
    read_only: bool,
) -> Result<Made, String> {
    let (tx, rx) = mpsc::channel();
    let (done, wait) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("berth-view".into())
        .spawn(move || {
            let _ = tx.send(set_up(&store, &id, &binds, read_only));
            // Blocks until the view is dropped; then the namespace ends with the thread.
            let _ = wait.recv();
        })
        .map_err(|e| format!("start a helper thread: {e}"))?;
    let made = rx
        .recv()
        .map_err(|_| "its helper thread ended early".to_string())
        .and_then(|r| r);
    let ns = Namespace { done, thread };
    match made {
        Ok((root, remounted)) => Ok((root, remounted, ns)),
        Err(e) => {
            drop(ns.done);
            let _ = ns.thread.join();
            Err(e)
        }
    }
}

/// In the calling thread: a private mount namespace with the container's overlay (mounted
/// again if needed) and its bind mounts; returns its root and whether it was mounted.
fn set_up(
    store: &Store,
    id: &str,
    binds: &[UserMount],
    read_only: bool,
) -> Result<(OwnedFd, bool), String> {
    // Only this thread moves: CLONE_NEWNS unshares its file system attributes from the
    // process's other threads, which stay in the host's namespace.
    berth_sys::ns::unshare(libc::CLONE_NEWNS)
        .map_err(|e| format!("unshare a mount namespace: {e}"))?;
    // Nothing mounted here may propagate to the host's namespace.
    mount::mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )
    .map_err(|e| format!("make the mount namespace private: {e}"))?;
    let remounted = store.ensure_rootfs(id).map_err(|e| e.to_string())?;
    let merged = store.rootfs(id).map_err(|e| e.to_string())?.path;
    let root = sysfs::open(&merged, libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(|e| format!("{}: {e}", merged.display()))?;
    for b in binds {
        if let UserMount::Bind {
            source,
            destination,
            read_only,
            ..
        } = b
        {
            attach(root.as_fd(), source, destination, *read_only)
                .map_err(|e| format!("volume {}:{destination}: {e}", source.display()))?;
        }
    }
    if read_only {
        let attr = MountAttr {
            set: libc::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        mount::mount_setattr(root.as_fd(), false, &attr)
            .map_err(|e| format!("make the root read-only (--read-only): {e}"))?;
    }
    Ok((root, remounted))
}

/// Binds `source` on `destination` (resolved inside `root`), as the runtime does when the
/// container starts. A destination the image lacks is left alone: the runtime makes it at
/// start, and until then nothing is mounted there.
fn attach(
    root: BorrowedFd<'_>,
    source: &Path,
    destination: &str,
    read_only: bool,
) -> std::io::Result<()> {
    let rel: PathBuf = Path::new(destination)
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    let at = match sysfs::openat2(root, &rel, libc::O_PATH, 0, Resolve::InRoot) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        r => r?,
    };
    let tree = mount::open_tree(None, source, true, true)?;
    if read_only {
        let attr = MountAttr {
            set: libc::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        mount::mount_setattr(tree.as_fd(), true, &attr)?;
    }
    mount::move_mount(tree.as_fd(), at.as_fd())
}
