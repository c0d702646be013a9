//! The config's `mounts`, one by one, each attached through fds: the target is resolved inside
//! the root first, the new mount is built detached (`open_tree`/`fsmount`), its attributes are
//! set while detached, and only then is it moved onto the target.

use super::cgroupfs;
use super::error::{Context, InitError};
use super::mount_options::{self, Attrs, MountOptions};
use super::resolve;
use crate::mountinfo;
use berth_sys::mount::{self as sysmount, FsContext, MountAttr};
use oci_spec::runtime::Mount;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the mount step needs to know about the container being built.
pub struct Env<'a> {
    /// The container's root (an `O_PATH` fd on the rootfs mount).
    pub root: BorrowedFd<'a>,
    /// Relative bind sources are relative to the bundle.
    pub bundle: &'a Path,
    /// In a user namespace the kernel refuses some file systems; they are bind-mounted instead.
    pub in_userns: bool,
    /// The container has its own cgroup namespace.
    pub cgroupns: bool,
    /// The container's cgroup hierarchies, for `cgroup` mounts.
    pub cgroups: &'a [berth_cgroups::CgroupMount],
    /// Mounts and device nodes the runtime prepared (see `prepared`).
    pub prepared: &'a crate::prepared::PreparedMounts,
}

fn is_bind(m: &Mount, opts: &MountOptions) -> bool {
    opts.bind || m.typ().as_deref() == Some("bind")
}

/// Performs config mount number `index` inside the root.
pub fn mount(env: &Env<'_>, index: usize, m: &Mount) -> Result<(), InitError> {
    let opts = mount_options::parse(m.options().as_deref().unwrap_or_default()).map_err(|e| {
        InitError::check(
            format!("mount {}", m.destination().display()),
            e.to_string(),
        )
    })?;
    let dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("bind");
    // Opened by the runtime (idmapped, or any bind in a user namespace): the source may be
    // out of this process's reach, so its kind comes from the tree itself.
    if let Some(tree) = env.prepared.tree(index) {
        let source = source_path(env, m);
        let what = || format!("attach mount of {} on {}", source.display(), dest.display());
        let st = berth_sys::fs::fstat(tree).ctx(what)?;
        let target = target(env, dest, st.st_mode & libc::S_IFMT == libc::S_IFDIR)?;
        return attach(tree, target.as_fd(), &opts, Some(&source)).ctx(what);
    }
    if is_bind(m, &opts) {
        let source = source_path(env, m);
        return bind(env, &source, dest, &opts);
    }
    if typ == "cgroup" || typ == "cgroup2" {
        return cgroupfs::mount(env, dest, &opts);
    }
    match new_fs(env, typ, m.source().as_deref(), dest, &opts) {
        // sysfs and mqueue belong to the network and ipc namespaces' owners; in a user namespace
        // without its own of those, bind the host's instead (as runc does for rootless).
        Err(e)
            if env.in_userns
                && e.source.raw_os_error() == Some(libc::EPERM)
                && (typ == "sysfs" || typ == "mqueue") =>
        {
            let host = if typ == "sysfs" {
                "/sys"
            } else {
                "/dev/mqueue"
            };
            let mut o = opts.clone();
            o.recursive = true;
            bind(env, Path::new(host), dest, &o)
        }
        r => r,
    }
}

fn source_path(env: &Env<'_>, m: &Mount) -> PathBuf {
    let s = m.source().clone().unwrap_or_default();
    if s.is_absolute() {
        s
    } else {
        env.bundle.join(s)
    }
}

/// Creates the mount point for a source of the given kind: a directory, or a file.
pub(super) fn target(env: &Env<'_>, dest: &Path, dir: bool) -> Result<OwnedFd, InitError> {
    let r = if dir {
        resolve::mkdir_all(env.root, dest, 0o755)
    } else {
        resolve::ensure_file_via_links(env.root, dest, 0o644)
    };
    r.ctx(|| format!("create mount point {}", dest.display()))
}

/// Bind-mounts host `source` on `dest` with the options' attributes and propagation.
pub(super) fn bind(
    env: &Env<'_>,
    source: &Path,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), InitError> {
    let what = || format!("bind mount {} on {}", source.display(), dest.display());
    let meta = std::fs::metadata(source).ctx(what)?;
    let target = target(env, dest, meta.is_dir())?;
    let tree = sysmount::open_tree(None, source, true, opts.recursive).ctx(what)?;
    attach(tree.as_fd(), target.as_fd(), opts, Some(source)).ctx(what)
}

/// Sets the options' attributes on a detached mount, attaches it, then sets propagation.
/// `source` is a bind's source, whose submounts an `rbind` tree copied.
pub(super) fn attach(
    tree: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    opts: &MountOptions,
    source: Option<&Path>,
) -> io::Result<()> {
    set_attrs(tree, false, opts.attrs)?;
    set_attrs(tree, true, opts.recursive_attrs)?;
    clear_atime(tree, opts.atime_clear | opts.recursive_atime_clear)?;
    sysmount::move_mount(tree, target)?;
    // The kernel changes a submount of a detached tree only along with the whole tree.
    if let Some(source) = source.filter(|_| opts.recursive && opts.recursive_atime_clear != 0) {
        clear_atime_below(tree, source, opts.recursive_atime_clear)?;
    }
    for p in &opts.propagation {
        let attr = MountAttr {
            propagation: p.flag,
            ..MountAttr::default()
        };
        sysmount::mount_setattr(tree, p.recursive, &attr)?;
    }
    Ok(())
}

fn set_attrs(tree: BorrowedFd<'_>, recursive: bool, a: Attrs) -> io::Result<()> {
    if a.is_empty() {
        return Ok(());
    }
    let attr = MountAttr {
        set: a.set,
        clear: a.clear,
        ..MountAttr::default()
    };
    sysmount::mount_setattr(tree, recursive, &attr)
}

/// Makes the mount `fd` relatime if its atime mode is one of `modes`: an atime mode can
/// only be replaced, so clearing one is done mount by mount.
fn clear_atime(fd: BorrowedFd<'_>, modes: u64) -> io::Result<()> {
    if modes == 0 || modes & mount_options::atime_mode(berth_sys::fs::mount_flags(fd)?) == 0 {
        return Ok(());
    }
    let to = mount_options::TO_RELATIME;
    let attr = MountAttr {
        set: to.set,
        clear: to.clear,
        ..MountAttr::default()
    };
    sysmount::mount_setattr(fd, false, &attr)
}

/// [`clear_atime`] for each submount of a tree bound from `source`: they are where the
/// source's are.
fn clear_atime_below(tree: BorrowedFd<'_>, source: &Path, modes: u64) -> io::Result<()> {
    let source = std::fs::canonicalize(source)?;
    for m in mountinfo::read_self()? {
        let Ok(rel) = m.mount_point.strip_prefix(&source) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let sub = berth_sys::fs::openat2(
            tree,
            rel,
            libc::O_PATH,
            0,
            berth_sys::fs::Resolve::InRootNoSymlinks,
        )?;
        clear_atime(sub.as_fd(), modes)?;
    }
    Ok(())
}

/// procfs and sysfs carry files the runtime and the kernel trust; a destination reached
/// through a symlink could put them where the image says instead (CVE-2019-16884 class).
fn no_symlinks(env: &Env<'_>, dest: &Path, typ: &str) -> Result<(), InitError> {
    let rel = resolve::relative(dest);
    match berth_sys::fs::openat2(
        env.root,
        &rel,
        libc::O_PATH,
        0,
        berth_sys::fs::Resolve::InRootNoSymlinks,
    ) {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(InitError::check(
            format!("mount {typ} on {}", dest.display()),
            "the destination goes through a symlink; refusing",
        )),
        _ => Ok(()),
    }
}

/// Mounts a new instance of file system `typ` on `dest`.
pub(super) fn new_fs(
    env: &Env<'_>,
    typ: &str,
    source: Option<&Path>,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), InitError> {
    let what = || format!("mount {typ} on {}", dest.display());
    if (typ == "proc" || typ == "sysfs") && !crate::protection::off("proc-symlink-check") {
        no_symlinks(env, dest, typ)?;
    }
    let target = target(env, dest, true)?;
    let tree = match fs_tree(typ, source, opts) {
        // A user namespace that maps no tty group (a single-id map): devpts without gid=,
        // as runc and crun mount it.
        Err((e, _))
            if typ == "devpts"
                && e.raw_os_error() == Some(libc::EINVAL)
                && opts.data.iter().any(|(k, _)| k == "gid") =>
        {
            let mut without_gid = opts.clone();
            without_gid.data.retain(|(k, _)| k != "gid");
            fs_tree(typ, source, &without_gid)
        }
        r => r,
    }
    .map_err(|(source, msg)| InitError {
        what: match msg {
            Some(m) => format!("{} ({m})", what()),
            None => what(),
        },
        source,
    })?;
    attach(
        tree.as_fd(),
        target.as_fd(),
        &MountOptions {
            attrs: Attrs::default(),
            ..opts.clone()
        },
        None,
    )
    .ctx(what)
}

/// A detached mount of a new `typ` superblock configured from `opts`; on failure, the error
/// and the kernel's own explanation if it gave one.
pub(super) fn fs_tree(
    typ: &str,
    source: Option<&Path>,
    opts: &MountOptions,
) -> Result<OwnedFd, (io::Error, Option<String>)> {
    let ctx = FsContext::open(typ).map_err(|e| (e, None))?;
    let configure = || -> io::Result<()> {
        if let Some(s) = source.and_then(Path::to_str).filter(|s| !s.is_empty()) {
            ctx.set("source", Some(s))?;
        }
        for f in &opts.sb_flags {
            ctx.set(f, None)?;
        }
        for (k, v) in &opts.data {
            ctx.set(k, v.as_deref())?;
        }
        Ok(())
    };
    if let Err(e) = configure() {
        return Err((e, ctx.kernel_message()));
    }
    // Mount attributes given at fsmount time; clears are meaningless on a fresh mount.
    ctx.mount(opts.attrs.set)
        .map_err(|e| (e, ctx.kernel_message()))
}
