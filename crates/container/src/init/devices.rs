//! `/dev`: the default devices every container gets, the config's `linux.devices`, and the
//! standard links. Nodes are created with `mknod`, or, where the kernel forbids that (a user
//! namespace), bind-mounted from nodes the runtime made (see `prepared`) or, for a rootless
//! runtime, from the host's.

use super::error::{Context, InitError};
use super::resolve;
use crate::prepared::PreparedMounts;
use berth_sys::fs as sysfs;
use berth_sys::mount as sysmount;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A device node to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: libc::mode_t,
    pub major: u64,
    pub minor: u64,
    pub mode: libc::mode_t,
    pub uid: u32,
    pub gid: u32,
}

const DEFAULTS: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The nodes to create: the runtime-spec's defaults, then the config's devices (a config entry
/// with a default's path replaces it).
pub fn plan(config: &[LinuxDevice]) -> Vec<Node> {
    let mut nodes: Vec<Node> = DEFAULTS
        .iter()
        .filter(|(p, ..)| !config.iter().any(|d| d.path() == Path::new(p)))
        .map(|&(p, major, minor)| Node {
            path: PathBuf::from(p),
            kind: libc::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect();
    for d in config {
        let kind = match d.typ() {
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            _ => libc::S_IFCHR,
        };
        nodes.push(Node {
            path: d.path().clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    nodes
}

/// Creates `nodes` inside `root`. With `bind` (a user namespace, where `mknod` is refused)
/// they are bind mounts: of the nodes the runtime `prepared`, else of the host's.
pub fn create(
    root: BorrowedFd<'_>,
    nodes: &[Node],
    bind: bool,
    prepared: &PreparedMounts,
) -> Result<(), InitError> {
    let mut dirs = resolve::Dirs::new(root);
    // The config's modes are meant exactly: no umask between them and mknod.
    let old_umask = sysfs::umask(0);
    let result = nodes
        .iter()
        .try_for_each(|n| create_one(&mut dirs, root, n, bind, prepared));
    sysfs::umask(old_umask);
    result
}

fn create_one(
    dirs: &mut resolve::Dirs<'_>,
    root: BorrowedFd<'_>,
    n: &Node,
    bind: bool,
    prepared: &PreparedMounts,
) -> Result<(), InitError> {
    {
        let what = || format!("create device {}", n.path.display());
        if bind && n.kind != libc::S_IFIFO {
            return match prepared.device(&n.path) {
                // Already a detached mount of its own: attached as it is.
                Some(tree) => attach(root, n, tree),
                None => host_node(n)
                    .and_then(|host| {
                        sysmount::open_tree(Some(host.as_fd()), Path::new(""), true, false)
                    })
                    .and_then(|tree| attach(root, n, tree.as_fd())),
            }
            .ctx(what);
        }
        let (dir, name) = dirs.parent_and_name(&n.path).ctx(what)?;
        // Whatever the image put there (a file, or a symlink meant to redirect us) goes.
        match sysfs::unlinkat(dir, &name, 0) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e).ctx(what),
            _ => {}
        }
        make_node(dir, &name, n).ctx(what)
    }
}

/// `mknod` of `n` as `name` in `dir`, owned as the config says (the caller clears the umask).
pub fn make_node(dir: BorrowedFd<'_>, name: &Path, n: &Node) -> io::Result<()> {
    let dev = if n.kind == libc::S_IFIFO {
        0
    } else {
        sysfs::makedev(n.major, n.minor)
    };
    sysfs::mknodat(dir, name, n.kind | n.mode, dev)?;
    if n.uid != 0 || n.gid != 0 {
        sysfs::lchownat(dir, name, n.uid, n.gid)?;
    }
    Ok(())
}

/// Whether `fd` is a device node of `kind` with `dev`'s numbers.
fn is_node(fd: BorrowedFd<'_>, kind: libc::mode_t, dev: libc::dev_t) -> io::Result<bool> {
    let st = sysfs::fstat(fd)?;
    Ok(st.st_mode & libc::S_IFMT == kind && st.st_rdev == dev)
}

/// The host's node for `n`: at the same path, else any node in the host's `/dev` with the
/// same type and numbers (a config may name its device anything).
fn host_node(n: &Node) -> io::Result<OwnedFd> {
    let want = sysfs::makedev(n.major, n.minor);
    if let Ok(fd) = sysfs::open(&n.path, libc::O_PATH | libc::O_NOFOLLOW, 0) {
        if is_node(fd.as_fd(), n.kind, want)? {
            return Ok(fd);
        }
    }
    for e in std::fs::read_dir("/dev")?.flatten() {
        if let Ok(fd) = sysfs::open(&e.path(), libc::O_PATH | libc::O_NOFOLLOW, 0) {
            if is_node(fd.as_fd(), n.kind, want)? {
                return Ok(fd);
            }
        }
    }
    Err(io::Error::other(format!(
        "the host has no device {}:{} to bind (mknod is not allowed in a user namespace)",
        n.major, n.minor
    )))
}

/// Attaches `tree` (a detached mount of a device node) over a file at `n`'s path.
fn attach(root: BorrowedFd<'_>, n: &Node, tree: BorrowedFd<'_>) -> io::Result<()> {
    let target = resolve::ensure_file(root, &n.path, 0o644)?;
    let st = sysfs::fstat(target.as_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(io::Error::other("mount point is not a regular file"));
    }
    sysmount::move_mount(tree, target.as_fd())
}

/// The standard links of `/dev`: `fd`, `stdin`, `stdout`, `stderr`, `ptmx`, and `core` where
/// the kernel has `/proc/kcore`.
pub fn links(root: BorrowedFd<'_>) -> Result<(), InitError> {
    let mut dirs = resolve::Dirs::new(root);
    let mut links = vec![
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/ptmx", "pts/ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/dev/core", "/proc/kcore"));
    }
    for (link, target) in links {
        let what = || format!("create link {link}");
        let (dir, name) = dirs.parent_and_name(Path::new(link)).ctx(what)?;
        match sysfs::symlinkat(Path::new(target), dir, &name) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            r => r.ctx(what)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_devices_replace_defaults() {
        let d: LinuxDevice = serde_json::from_str(
            r#"{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":438,"uid":5}"#,
        )
        .unwrap();
        let fuse: LinuxDevice =
            serde_json::from_str(r#"{"path":"/dev/fuse","type":"c","major":10,"minor":229}"#)
                .unwrap();
        let nodes = plan(&[d, fuse]);
        assert_eq!(
            nodes
                .iter()
                .filter(|n| n.path == Path::new("/dev/null"))
                .count(),
            1
        );
        let null = nodes
            .iter()
            .find(|n| n.path == Path::new("/dev/null"))
            .unwrap();
        assert_eq!(null.uid, 5);
        assert!(nodes
            .iter()
            .any(|n| n.path == Path::new("/dev/fuse") && n.major == 10));
        assert_eq!(nodes.len(), 7);
    }
}
