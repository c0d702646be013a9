//! Mounts the runtime builds detached before the init exists, because it holds privileges
//! the container's init (in a user namespace) lacks; the init inherits the fds and attaches
//! them inside the container:
//! - idmapped bind mounts (`idmap`/`ridmap`, `uidMappings`/`gidMappings` on a mount);
//! - in a container with a user namespace, every other bind mount, so that its source need
//!   not be reachable by the container's root (runc 1.2 and crun do the same);
//! - in a container with a user namespace, its device nodes: the kernel refuses `mknod` there,
//!   so the runtime makes each node, with the config's numbers, mode and owner, on a private
//!   tmpfs of its own and hands over a bind of it (crun does the same). A rootless runtime
//!   cannot, and the init binds the host's node instead.

use crate::init::devices::Node;
use crate::init::mount_options::{self, CustomIdmap, IdRange};
use crate::Error;
use berth_sys::mount::{self as sysmount, MountAttr};
use berth_sys::process::{self as sysproc, CloneArgs, Forked};
use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespaceType, Mount, Spec};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const MOUNT_ATTR_NOEXEC: u64 = 0x0000_0008;

/// Prepared trees: mounts by index in the config's `mounts`, device nodes by path.
#[derive(Default)]
pub struct PreparedMounts {
    trees: Vec<(usize, OwnedFd)>,
    devices: Vec<(PathBuf, OwnedFd)>,
}

impl PreparedMounts {
    /// The prepared tree of mount `index`, if it is idmapped.
    pub fn tree(&self, index: usize) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.trees
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, fd)| fd.as_fd())
    }

    /// The prepared node for the device at `path` in the container, if any.
    pub fn device(&self, path: &Path) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.devices
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, fd)| fd.as_fd())
    }

    /// The fds a forked child must keep open.
    pub fn raw_fds(&self) -> Vec<RawFd> {
        self.trees
            .iter()
            .map(|(_, fd)| fd)
            .chain(self.devices.iter().map(|(_, fd)| fd))
            .map(|fd| fd.as_raw_fd())
            .collect()
    }
}

/// The mappings an idmapped mount uses, per kind: the mount's `uidMappings`/`gidMappings`,
/// else those in its `idmap=` option, else the container's.
fn mappings(
    spec: &Spec,
    m: &Mount,
    custom: Option<&CustomIdmap>,
) -> Result<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>), String> {
    let linux = spec.linux().as_ref();
    let own = |v: &Option<Vec<LinuxIdMapping>>| v.clone().filter(|v| !v.is_empty());
    let container_uids = linux
        .and_then(|l| own(l.uid_mappings()))
        .unwrap_or_default();
    let container_gids = linux
        .and_then(|l| own(l.gid_mappings()))
        .unwrap_or_default();
    let pick = |mount: &Option<Vec<LinuxIdMapping>>,
                option: Option<&Vec<IdRange>>,
                container: &[LinuxIdMapping]| {
        match (own(mount), option) {
            (Some(m), _) => Ok(m),
            (None, Some(ranges)) => ranges.iter().map(|r| range(r, container)).collect(),
            (None, None) => Ok(container.to_vec()),
        }
    };
    Ok((
        pick(
            m.uid_mappings(),
            custom.and_then(|c| c.uids.as_ref()),
            &container_uids,
        )?,
        pick(
            m.gid_mappings(),
            custom.and_then(|c| c.gids.as_ref()),
            &container_gids,
        )?,
    ))
}

/// One `idmap=` range as a mapping of the mount's user namespace (file-system id inside,
/// host id outside); an `@` range's target is a container id, taken through `container`.
fn range(r: &IdRange, container: &[LinuxIdMapping]) -> Result<LinuxIdMapping, String> {
    let to = if r.in_container {
        to_host(container, r.to).ok_or_else(|| {
            format!(
                "@{}-{}-{}: container id {} is not mapped",
                r.fs, r.to, r.size, r.to
            )
        })?
    } else {
        r.to
    };
    LinuxIdMappingBuilder::default()
        .container_id(r.fs)
        .host_id(to)
        .size(r.size)
        .build()
        .map_err(|e| e.to_string())
}

/// Whether mount `m` asks for an idmapped mount.
pub fn is_idmapped(m: &Mount) -> bool {
    let opts = m.options().clone().unwrap_or_default();
    opts.iter()
        .any(|o| mount_options::idmap_option(o).is_some())
        || m.uid_mappings().is_some()
        || m.gid_mappings().is_some()
}

/// Whether the container gets a user namespace.
pub(crate) fn has_userns(spec: &Spec) -> bool {
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
/// other bind mounts too and makes the device nodes.
pub fn prepare(spec: &Spec, bundle: &Path) -> Result<PreparedMounts, Error> {
    let mut out = PreparedMounts::default();
    let userns = has_userns(spec);
    if userns && crate::init::rootfs::sets_up_dev(spec) {
        let config = spec
            .linux()
            .as_ref()
            .and_then(|l| l.devices().clone())
            .unwrap_or_default();
        let linux = spec.linux().as_ref();
        let maps = |m: Option<&Vec<LinuxIdMapping>>| m.cloned().unwrap_or_default();
        let uids = maps(linux.and_then(|l| l.uid_mappings().as_ref()));
        let gids = maps(linux.and_then(|l| l.gid_mappings().as_ref()));
        let nodes = crate::init::devices::plan(&config)
            .into_iter()
            .map(|mut n| {
                // The config's owner is the container's; the runtime chowns from outside.
                n.uid = owner_on_host(&uids, n.uid).ok_or_else(|| unmapped(&n, "uid", n.uid))?;
                n.gid = owner_on_host(&gids, n.gid).ok_or_else(|| unmapped(&n, "gid", n.gid))?;
                Ok(n)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        match device_nodes(&nodes) {
            Ok(d) => out.devices = d,
            // A rootless runtime may not mount a tmpfs: the init binds the host's nodes.
            Err(e) => tracing::debug!("device nodes for the user namespace: {e}"),
        }
    }
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
        let (uids, gids) = mappings(spec, m, opts.custom_idmap.as_ref())
            .map_err(|e| Error::Usage(format!("{}: {e}", what())))?;
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

/// The host id of container id `id` under `maps`.
fn to_host(maps: &[LinuxIdMapping], id: u32) -> Option<u32> {
    maps.iter().find_map(|m| {
        let off = id.checked_sub(m.container_id())?;
        (off < m.size())
            .then(|| m.host_id().checked_add(off))
            .flatten()
    })
}

/// A device owner's host id: root, when the namespace does not map it, stays the host's
/// root (as a bind of the host's node would show it).
fn owner_on_host(maps: &[LinuxIdMapping], id: u32) -> Option<u32> {
    to_host(maps, id).or((id == 0).then_some(0))
}

fn unmapped(n: &Node, what: &str, id: u32) -> Error {
    Error::Usage(format!(
        "linux.devices ({}): {what} {id} is not mapped in the user namespace",
        n.path.display()
    ))
}

/// Each node (FIFOs aside: the init can make those) on a fresh tmpfs, then cloned into a
/// detached bind mount of its own; the tmpfs itself goes when the last clone does.
fn device_nodes(nodes: &[Node]) -> std::io::Result<Vec<(PathBuf, OwnedFd)>> {
    let ctx = sysmount::FsContext::open("tmpfs")?;
    ctx.set("mode", Some("0700"))?;
    let fs = ctx.mount(MOUNT_ATTR_NOEXEC)?;
    // The config's modes are meant exactly: no umask between them and mknod.
    let old_umask = berth_sys::fs::umask(0);
    let made = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind != libc::S_IFIFO)
        .map(|(i, n)| {
            let name = PathBuf::from(i.to_string());
            crate::init::devices::make_node(fs.as_fd(), &name, n)?;
            let tree = sysmount::open_tree(Some(fs.as_fd()), &name, true, false)?;
            Ok((n.path.clone(), tree))
        })
        .collect();
    berth_sys::fs::umask(old_umask);
    made
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

#[cfg(test)]
mod tests {
    use super::*;

    fn map(container: u32, host: u32, size: u32) -> LinuxIdMapping {
        LinuxIdMappingBuilder::default()
            .container_id(container)
            .host_id(host)
            .size(size)
            .build()
            .unwrap()
    }

    #[test]
    fn container_ids_map_to_host_ids() {
        let maps = [map(0, 100000, 1), map(1, 200000, 10)];
        assert_eq!(to_host(&maps, 0), Some(100000));
        assert_eq!(to_host(&maps, 1), Some(200000));
        assert_eq!(to_host(&maps, 10), Some(200009));
        assert_eq!(to_host(&maps, 11), None);
        assert_eq!(to_host(&[map(0, u32::MAX, 2)], 1), None);
        // A device owned by root stays the host's root when the namespace does not map it.
        assert_eq!(to_host(&[map(1, 5, 1)], 0), None);
        assert_eq!(owner_on_host(&[map(1, 5, 1)], 0), Some(0));
        assert_eq!(owner_on_host(&[map(1, 5, 1)], 2), None);
    }

    #[test]
    fn idmap_option_ranges_become_mount_mappings() {
        let container = [map(0, 100000, 65536)];
        let r = |fs, to, size, in_container| IdRange {
            fs,
            to,
            size,
            in_container,
        };
        let m = range(&r(0, 5, 10, false), &container).unwrap();
        assert_eq!((m.container_id(), m.host_id(), m.size()), (0, 5, 10));
        // `@`: the target is the container's id 7, host 100007.
        let m = range(&r(0, 7, 10, true), &container).unwrap();
        assert_eq!((m.container_id(), m.host_id(), m.size()), (0, 100007, 10));
        assert!(range(&r(0, 70000, 1, true), &container).is_err());
    }
}
