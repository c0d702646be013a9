//! Idmapped bind mounts (`idmap`/`ridmap`, `uidMappings`/`gidMappings` on a mount): the
//! runtime, which holds the privilege over the source file systems that the container's init
//! lacks, builds each one detached before the init exists; the init inherits the fds and
//! attaches them inside the container. In a container with a user namespace every other bind
//! mount is opened the same way, so that its source need not be reachable by the container's
//! root (runc 1.2 and crun do the same).

use crate::init::mount_options;
use crate::Error;
use berth_sys::mount::{self as sysmount, MountAttr};
use berth_sys::process::{self as sysproc, CloneArgs, Forked};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;

const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// Prepared idmapped trees, by index in the config's `mounts`.
#[derive(Default)]
pub struct IdmappedMounts {
    trees: Vec<(usize, OwnedFd)>,
}

impl IdmappedMounts {
    /// The prepared tree of mount `index`, if it is idmapped.
    pub fn tree(&self, index: usize) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.trees
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, fd)| fd.as_fd())
    }

    /// The fds a forked child must keep open.
    pub fn raw_fds(&self) -> Vec<RawFd> {
        self.trees.iter().map(|(_, fd)| fd.as_raw_fd()).collect()
    }
}

/// The mappings an idmapped mount uses: its own, else the container's.
fn mappings(spec: &Spec, m: &Mount) -> (Vec<LinuxIdMapping>, Vec<LinuxIdMapping>) {
    let linux = spec.linux().as_ref();
    let own = |v: &Option<Vec<LinuxIdMapping>>| v.clone().filter(|v| !v.is_empty());
    (
        own(m.uid_mappings())
            .or_else(|| linux.and_then(|l| own(l.uid_mappings())))
            .unwrap_or_default(),
        own(m.gid_mappings())
            .or_else(|| linux.and_then(|l| own(l.gid_mappings())))
            .unwrap_or_default(),
    )
}

/// Whether mount `m` asks for an idmapped mount.
pub fn is_idmapped(m: &Mount) -> bool {
    let opts = m.options().clone().unwrap_or_default();
    opts.iter().any(|o| o == "idmap" || o == "ridmap")
        || m.uid_mappings().is_some()
        || m.gid_mappings().is_some()
}

/// Whether the container gets a user namespace.
fn has_userns(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|n| n.typ() == LinuxNamespaceType::User))
}

/// A plain bind mount's source, opened detached. `None` when it cannot be (a rootless
/// runtime, a missing source): the init then binds it itself and reports any error.
fn plain_tree(m: &Mount, bundle: &Path) -> Option<OwnedFd> {
    let opts = mount_options::parse(m.options().as_deref().unwrap_or_default()).ok()?;
    if !opts.bind && m.typ().as_deref() != Some("bind") {
        return None;
    }
    let source = bundle.join(m.source().as_ref()?);
    sysmount::open_tree(None, &source, true, opts.recursive).ok()
}

/// Builds every idmapped mount of the config, detached; with a user namespace, opens the
/// other bind mounts too.
pub fn prepare(spec: &Spec, bundle: &Path) -> Result<IdmappedMounts, Error> {
    let mut out = IdmappedMounts::default();
    let userns = has_userns(spec);
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !is_idmapped(m) {
            if let Some(tree) = plain_tree(m, bundle).filter(|_| userns) {
                out.trees.push((i, tree));
            }
            continue;
        }
        let what = || {
            format!(
                "mounts[{i}] ({}): idmapped mount",
                m.destination().display()
            )
        };
        let opts = mount_options::parse(m.options().as_deref().unwrap_or_default())
            .map_err(|e| Error::Usage(format!("{}: {e}", what())))?;
        let (uids, gids) = mappings(spec, m);
        if uids.is_empty() || gids.is_empty() {
            return Err(Error::Usage(format!(
                "{}: no uid/gid mappings (on the mount or linux.*Mappings)",
                what()
            )));
        }
        let source = m.source().clone().unwrap_or_default();
        let source = if source.is_absolute() {
            source
        } else {
            bundle.join(source)
        };
        let userns = userns_with(&uids, &gids).map_err(Error::io(what()))?;
        let tree = sysmount::open_tree(None, &source, true, opts.recursive).map_err(Error::io(
            format!("{}: open_tree {}", what(), source.display()),
        ))?;
        let attr = MountAttr {
            set: MOUNT_ATTR_IDMAP,
            userns_fd: Some(userns.as_raw_fd()),
            ..MountAttr::default()
        };
        let recursive = opts.idmap == Some(true);
        sysmount::mount_setattr(tree.as_fd(), recursive, &attr).map_err(Error::io(format!(
            "{}: mount_setattr(MOUNT_ATTR_IDMAP)",
            what()
        )))?;
        out.trees.push((i, tree));
    }
    Ok(out)
}

/// A user namespace with the given maps, held by an fd: a child enters a new user namespace
/// and waits; its maps are written, its namespace opened, and the child dismissed.
fn userns_with(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> std::io::Result<OwnedFd> {
    let (r, w) = std::io::pipe()?;
    let args = CloneArgs {
        namespaces: libc::CLONE_NEWUSER as u64,
        pidfd: false,
        cgroup: None,
    };
    // SAFETY: the runtime is single-threaded; the child only blocks on a read and exits.
    match unsafe { sysproc::clone3(&args) }? {
        Forked::Child => {
            drop(w);
            let mut b = [0u8; 1];
            let _ = std::io::Read::read(&mut &r, &mut b);
            sysproc::exit_now(0)
        }
        Forked::Parent { pid, .. } => {
            drop(r);
            let result = (|| {
                let text = |m: &[LinuxIdMapping]| -> String {
                    m.iter()
                        .map(|x| format!("{} {} {}\n", x.container_id(), x.host_id(), x.size()))
                        .collect()
                };
                std::fs::write(format!("/proc/{pid}/uid_map"), text(uids))?;
                std::fs::write(format!("/proc/{pid}/gid_map"), text(gids))?;
                berth_sys::fs::open(
                    Path::new(&format!("/proc/{pid}/ns/user")),
                    libc::O_RDONLY,
                    0,
                )
            })();
            drop(w);
            let _ = sysproc::waitpid(pid, 0);
            result
        }
    }
}
