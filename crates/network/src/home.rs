//! Where a rootless berth's bridges live. An ordinary user may make no interface in the
//! host's network namespace, so a rootless berth keeps its bridges, their firewall table and
//! their DNS servers in one network namespace of the user's own ("home", as podman's
//! rootless netns): made on first use, kept by a bind mount on `RUN/netns` in berth's mount
//! namespace, and given the host's address, routes and a way out by a pasta (`RUN/netns.pasta.pid`).
//! Containers on those networks get a veth to a bridge there, as root's do in the host's.

use crate::{pasta, usermode, Error};
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// `NSFS_MAGIC`: the file system of namespace files.
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// What a caller does in the home.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Attaches containers, or puts their rules back: they need the way out (pasta).
    Attach,
    /// Tears down or removes: no pasta is started, so a missing or failing pasta never
    /// keeps a container's addresses and records from being given back.
    Tidy,
}

/// The home namespace under `run` (the user's `$XDG_RUNTIME_DIR/berth`): made when missing,
/// and for [`Purpose::Attach`] its pasta started when it does not run. Serialized by
/// `RUN/netns.lock`.
pub fn open(run: &Path, purpose: Purpose) -> Result<File, Error> {
    let _lock = lock(run)?;
    let path = run.join("netns");
    let ns = match File::open(&path) {
        Ok(f) if is_namespace(&f) => f,
        _ => make(&path).map_err(Error::kernel(format!(
            "making the rootless network namespace {}",
            path.display()
        )))?,
    };
    let pid_file = run.join("netns.pasta.pid");
    if purpose == Purpose::Attach && !pasta_runs(&pid_file) {
        pasta::start(ns.as_fd(), &[], &pid_file)?;
    }
    Ok(ns)
}

/// Ends the home namespace under `run` (its pasta and its bind mount; its bridges go with
/// it) unless `in_use` finds a container on one of its networks; serialized with [`open`],
/// so a start that took its addresses first keeps it.
pub fn release(run: &Path, in_use: impl FnOnce() -> Result<bool, Error>) -> Result<(), Error> {
    let _lock = lock(run)?;
    let path = run.join("netns");
    let pid_file = run.join("netns.pasta.pid");
    if !path.exists() && !pid_file.exists() {
        return Ok(());
    }
    if in_use()? {
        return Ok(());
    }
    pasta::stop(&pid_file).map_err(Error::kernel("ending the rootless network's pasta"))?;
    let _ = berth_sys::mount::umount2(&path, libc::MNT_DETACH);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(Error::kernel(format!("{}", path.display()))(e))
        }
        _ => Ok(()),
    }
}

fn lock(run: &Path) -> Result<std::os::fd::OwnedFd, Error> {
    let path = run.join("netns.lock");
    let what = || format!("{}", path.display());
    let fd = berth_sys::fs::open(&path, libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC, 0o600)
        .map_err(Error::kernel(what()))?;
    berth_sys::fs::flock(fd.as_fd(), libc::LOCK_EX).map_err(Error::kernel(what()))?;
    Ok(fd)
}

/// The home namespace under `run`, if it exists (nothing is made).
pub fn existing(run: &Path) -> Option<File> {
    File::open(run.join("netns")).ok().filter(is_namespace)
}

fn is_namespace(f: &File) -> bool {
    berth_sys::fs::fs_magic(f.as_fd()).is_ok_and(|m| m == NSFS_MAGIC)
}

fn pasta_runs(pid_file: &Path) -> bool {
    std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .is_some_and(|pid| usermode::is_running(pid, &["pasta", "passt"]))
}

/// A new network namespace, bound on `path` (a thread of its own makes it: the namespace
/// is a per-thread attribute, and the caller's stays as it was).
fn make(path: &Path) -> io::Result<File> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            berth_sys::ns::unshare(libc::CLONE_NEWNET)?;
            berth_sys::mount::mount(
                Some(Path::new("/proc/thread-self/ns/net")),
                path,
                None,
                libc::MS_BIND,
                None,
            )
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")))
    })?;
    File::open(path)
}
