//! The container's root: made a private mount point, filled with the config's mounts and
//! `/dev`, then pivoted into (or moved onto `/` with `--no-pivot`), and finally locked down
//! (masked and read-only paths, read-only root, root propagation).

use super::devices;
use super::error::{Context, InitError};
use super::mount_options::{self, Propagation};
use super::mounts::{self, Env};
use super::resolve;
use crate::mountinfo;
use berth_sys::fs as sysfs;
use berth_sys::mount::{self as sysmount, FsContext, MountAttr};
use oci_spec::runtime::Spec;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

const ATTR_RDONLY: u64 = 0x1;

/// The configured root propagation, runc's default (`rslave`) when unset.
fn root_propagation(spec: &Spec) -> Propagation {
    spec.linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(mount_options::propagation)
        .unwrap_or(Propagation {
            flag: libc::MS_SLAVE,
            recursive: true,
        })
}

fn rec(p: Propagation) -> libc::c_ulong {
    p.flag | if p.recursive { libc::MS_REC } else { 0 }
}

/// Cuts the container's mount namespace off from the host's propagation and makes the rootfs a
/// mount point of its own; returns an `O_PATH` fd on it.
pub fn prepare(spec: &Spec, rootfs: &Path) -> Result<OwnedFd, InitError> {
    let mut prop = root_propagation(spec);
    if prop.flag == libc::MS_UNBINDABLE {
        // Unbindable is private as well, but the rootfs could not be bound from it: it is
        // set after the pivot (lock_down), as crun does.
        prop.flag = libc::MS_PRIVATE;
    }
    sysmount::mount(None, Path::new("/"), None, rec(prop), None)
        .ctx(|| "set propagation of / in the container's mount namespace")?;
    if prop.flag == libc::MS_SHARED {
        // pivot_root refuses a root whose parent mount is shared.
        parent_mount_private(rootfs)?;
    }
    sysmount::mount(
        Some(rootfs),
        rootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .ctx(|| format!("bind mount rootfs {} on itself", rootfs.display()))?;
    sysfs::open(rootfs, libc::O_PATH | libc::O_DIRECTORY, 0)
        .ctx(|| format!("open rootfs {}", rootfs.display()))
}

fn parent_mount_private(rootfs: &Path) -> Result<(), InitError> {
    let mounts = mountinfo::read_self().ctx(|| "read /proc/self/mountinfo")?;
    let parent = mounts
        .iter()
        .filter(|m| rootfs.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len());
    if let Some(m) = parent {
        sysmount::mount(None, &m.mount_point, None, libc::MS_PRIVATE, None)
            .ctx(|| format!("make {} private", m.mount_point.display()))?;
    }
    Ok(())
}

/// Whether the config needs `/dev` populated: not when it binds the host's `/dev` itself.
pub(crate) fn sets_up_dev(spec: &Spec) -> bool {
    !spec.mounts().iter().flatten().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    })
}

/// Every config mount in order, then `/dev`'s nodes and links, then the working directory.
pub fn populate(spec: &Spec, env: &Env<'_>) -> Result<(), InitError> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        mounts::mount(env, i, m)?;
    }
    if sets_up_dev(spec) {
        let config = spec
            .linux()
            .as_ref()
            .and_then(|l| l.devices().clone())
            .unwrap_or_default();
        devices::create(
            env.root,
            &devices::plan(&config),
            env.in_userns,
            env.prepared,
        )?;
        devices::links(env.root)?;
    }
    if let Some(p) = spec.process() {
        resolve::mkdir_all(env.root, p.cwd(), 0o755)
            .ctx(|| format!("create cwd {}", p.cwd().display()))?;
    }
    Ok(())
}

/// Makes the root `/`: `pivot_root` and a detached unmount of the old root, or with
/// `no_pivot`, a move of the rootfs onto `/` and a `chroot`.
pub fn enter(root: BorrowedFd<'_>, rootfs: &Path, no_pivot: bool) -> Result<(), InitError> {
    sysfs::fchdir(root).ctx(|| format!("chdir to {}", rootfs.display()))?;
    if no_pivot {
        hide_host_mounts(rootfs)?;
        sysmount::mount(
            Some(Path::new(".")),
            Path::new("/"),
            None,
            libc::MS_MOVE,
            None,
        )
        .ctx(|| format!("move {} to /", rootfs.display()))?;
        sysfs::chroot(Path::new(".")).ctx(|| "chroot")?;
    } else {
        let old_root = sysfs::open(Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0)
            .ctx(|| "open the old root")?;
        let dot = Path::new(".");
        sysmount::pivot_root(dot, dot).ctx(|| format!("pivot_root into {}", rootfs.display()))?;
        // The old root is now stacked on the new one. Step onto it by fd (the kernel does not
        // promise what "." is after pivot_root), keep its unmount from propagating to the
        // host, and detach it.
        sysfs::fchdir(old_root.as_fd()).ctx(|| "chdir to the old root")?;
        sysmount::mount(None, dot, None, libc::MS_SLAVE | libc::MS_REC, None)
            .ctx(|| "make old root rslave")?;
        sysmount::umount2(dot, libc::MNT_DETACH).ctx(|| "detach old root")?;
    }
    sysfs::chdir(Path::new("/")).ctx(|| "chdir to /")
}

/// Makes `root` the root of this process only, for a container without a mount namespace
/// of its own: `pivot_root` would change it for every process in the namespace it shares.
pub fn chroot(root: BorrowedFd<'_>) -> Result<(), InitError> {
    sysfs::fchdir(root).ctx(|| "chdir to the container's root")?;
    sysfs::chroot(Path::new(".")).ctx(|| "chroot to the container's root")?;
    sysfs::chdir(Path::new("/")).ctx(|| "chdir to /")
}

/// Before a `MS_MOVE` root, unmounts every host mount outside the rootfs so the container
/// cannot reach them through the old tree.
fn hide_host_mounts(rootfs: &Path) -> Result<(), InitError> {
    let mut mounts = mountinfo::read_self().ctx(|| "read /proc/self/mountinfo")?;
    mounts.sort_by_key(|m| std::cmp::Reverse(m.mount_point.as_os_str().len()));
    for m in mounts {
        let p = &m.mount_point;
        if p == Path::new("/") || p.starts_with(rootfs) || rootfs.starts_with(p) {
            continue;
        }
        if sysmount::umount2(p, libc::MNT_DETACH).is_err() {
            // Cannot unmount (locked in a user namespace): cover it instead.
            let _ = sysmount::mount(
                Some(Path::new("tmpfs")),
                p,
                Some("tmpfs"),
                libc::MS_RDONLY,
                None,
            );
        }
    }
    Ok(())
}

/// After entering the root: masked paths, read-only paths, the read-only root, and the final
/// root propagation.
pub fn lock_down(spec: &Spec) -> Result<(), InitError> {
    let root = sysfs::open(Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0).ctx(|| "open /")?;
    let linux = spec.linux().as_ref();
    let masked = linux
        .and_then(|l| l.masked_paths().as_ref())
        .filter(|m| !m.is_empty());
    if let Some(masked) = masked {
        let null = null_device(root.as_fd())?;
        for p in masked {
            mask(root.as_fd(), Path::new(p), null.as_fd()).ctx(|| format!("mask {p}"))?;
        }
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        read_only(root.as_fd(), Path::new(p)).ctx(|| format!("make {p} read-only"))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        let attr = MountAttr {
            set: ATTR_RDONLY,
            ..MountAttr::default()
        };
        sysmount::mount_setattr(root.as_fd(), false, &attr).ctx(|| "make the root read-only")?;
    }
    if let Some(p) = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(mount_options::propagation)
    {
        sysmount::mount(None, Path::new("/"), None, rec(p), None).ctx(|| "set root propagation")?;
    }
    Ok(())
}

/// The container's `/dev/null`, opened without following any symlink and checked to really be
/// the null device: a planted link or look-alike node is never mounted over a masked file
/// (CVE-2025-31133 class).
fn null_device(root: BorrowedFd<'_>) -> Result<OwnedFd, InitError> {
    if crate::protection::off("null-check") {
        return resolve::handle(root, Path::new("/dev/null"), false).ctx(|| "open /dev/null");
    }
    let fd = sysfs::openat2(
        root,
        Path::new("dev/null"),
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
        sysfs::Resolve::InRootNoSymlinks,
    )
    .ctx(|| "open /dev/null")?;
    if !sysfs::is_char_device(fd.as_fd(), 1, 3).ctx(|| "stat /dev/null")? {
        return Err(InitError::check(
            "/dev/null",
            "is not the null device (1:3); refusing to use it for masking",
        ));
    }
    Ok(fd)
}

/// Covers `path`: a directory with an empty read-only tmpfs, anything else with `/dev/null`.
/// A path that does not exist, or is a symlink, is left alone: masking it could only ever
/// mask what the link points at, which the config did not name.
fn mask(root: BorrowedFd<'_>, path: &Path, null: BorrowedFd<'_>) -> io::Result<()> {
    let target = match resolve::handle(root, path, true) {
        Ok(fd) => fd,
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            return Ok(())
        }
        Err(e) => return Err(e),
    };
    let st = sysfs::fstat(target.as_fd())?;
    let tree = match st.st_mode & libc::S_IFMT {
        libc::S_IFLNK => return Ok(()),
        libc::S_IFDIR => {
            let ctx = FsContext::open("tmpfs")?;
            ctx.set("size", Some("0"))?;
            ctx.mount(ATTR_RDONLY)?
        }
        _ => sysmount::open_tree(Some(null), Path::new(""), true, false)?,
    };
    sysmount::move_mount(tree.as_fd(), target.as_fd())
}

/// Bind-mounts `path` on itself read-only (with its submounts).
fn read_only(root: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
    let target = match resolve::handle(root, path, false) {
        Ok(fd) => fd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let tree = sysmount::open_tree(Some(target.as_fd()), Path::new(""), true, true)?;
    let attr = MountAttr {
        set: ATTR_RDONLY,
        ..MountAttr::default()
    };
    sysmount::mount_setattr(tree.as_fd(), true, &attr)?;
    sysmount::move_mount(tree.as_fd(), target.as_fd())
}
