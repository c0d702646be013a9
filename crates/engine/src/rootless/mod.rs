//! Rootless berth: an ordinary user's commands run as root of the user's own user namespace,
//! where the user is root and its subordinate ids (/etc/subuid, /etc/subgid) are ids 1 and up.
//! There the engine does what it does as root, with rootless rules where the host's
//! privileges would be needed: overlayfs with `userxattr`, no cgroups without a delegated
//! one, device nodes bound from the host, no bridge in the host's network namespace.
//!
//! One process, `berth-pause`, holds the namespace and a mount namespace made with it, so
//! that every command of the user shares them: a container's root filesystem, mounted by
//! `run`, is there for `exec`, `cp` and `rm`. Its pid is in `RUN/pause.pid`; the first
//! command that finds none alive makes a new one (under `RUN/pause.lock`). Each command joins
//! with two `setns` calls, while it is still single-threaded (docs/ROOTLESS.md).

pub mod subids;

use berth_container::process::userns::{self, MapError};
use berth_sys::{fs as sysfs, ids, ns, process};
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Whether this process is rootless berth: root of a user namespace, not of the host.
pub fn active() -> bool {
    ids::in_user_namespace()
}

/// Whether the caller's user namespace forbids `setgroups` (one that maps a single id).
pub fn setgroups_denied() -> bool {
    static DENIED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DENIED.get_or_init(|| {
        std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|t| t.trim() == "deny")
    })
}

/// The name the namespace's holder runs under (its `comm`).
const KEEPER: &std::ffi::CStr = c"berth-pause";

#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{path} is not a private directory of uid {uid} (owner {owner}, mode {mode:o}): \
         set XDG_RUNTIME_DIR to one"
    )]
    UnsafeRunDir {
        path: PathBuf,
        uid: u32,
        owner: u32,
        mode: u32,
    },
    #[error("XDG_RUNTIME_DIR {dir}: {source}: set it to a directory of yours (/run/user/UID)")]
    RunDir { dir: PathBuf, source: io::Error },
    #[error("making berth's user namespace: {0}")]
    Clone(io::Error),
    #[error("id maps of berth's user namespace: {0} (install uidmap, or fix /etc/subuid and /etc/subgid)")]
    Map(#[from] MapError),
    #[error("id maps of berth's user namespace: {0}")]
    Ids(String),
    #[error("joining berth's user namespace (process {pid}): {source}")]
    Join { pid: i32, source: io::Error },
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> RootlessError + '_ {
    move |source| RootlessError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a user's images and containers live: `$XDG_DATA_HOME/berth`, else
/// `~/.local/share/berth`.
pub fn data_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    match (var("XDG_DATA_HOME"), var("HOME")) {
        (Some(x), _) => Some(PathBuf::from(x).join("berth")),
        (_, Some(h)) => Some(PathBuf::from(h).join(".local/share/berth")),
        _ => None,
    }
}

/// Where the user's namespace holder is recorded: `$XDG_RUNTIME_DIR/berth`; without that
/// variable `/tmp/berth-run-UID`, which must be the user's own and private (a note says so).
pub fn run_dir() -> Result<(PathBuf, Option<String>), RootlessError> {
    let uid = ids::getuid();
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(&x).join("berth");
        return match private_dir(&dir, uid) {
            Err(RootlessError::Io { source, .. }) => Err(RootlessError::RunDir {
                dir: PathBuf::from(x),
                source,
            }),
            r => r.map(|()| (dir, None)),
        };
    }
    let dir = PathBuf::from(format!("/tmp/berth-run-{uid}"));
    private_dir(&dir, uid)?;
    let note = format!(
        "XDG_RUNTIME_DIR is unset: berth keeps its runtime files in {} (log in through a \
         session manager, or set XDG_RUNTIME_DIR, to use /run/user/{uid})",
        dir.display()
    );
    Ok((dir, Some(note)))
}

/// Makes `dir` (0700) if missing; refuses one someone else owns or others may enter.
fn private_dir(dir: &Path, uid: u32) -> Result<(), RootlessError> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(io_err(dir)(e)),
        _ => {}
    }
    let m = std::fs::symlink_metadata(dir).map_err(io_err(dir))?;
    let mode = m.permissions().mode() & 0o7777;
    if !m.is_dir() || m.uid() != uid || mode & 0o077 != 0 {
        return Err(RootlessError::UnsafeRunDir {
            path: dir.to_path_buf(),
            uid,
            owner: m.uid(),
            mode,
        });
    }
    Ok(())
}

/// What [`enter`] did.
#[derive(Debug, Default)]
pub struct Entered {
    /// The namespace was made by this call (no holder was alive).
    pub created: bool,
    /// Why the namespace maps only the user's own id, when it does (said once, when made).
    pub single_id: Option<String>,
}

/// Joins the user's berth namespaces (user and mount), making them first when their holder
/// is gone. Must be called while the process has one thread: the kernel refuses `setns`
/// into a user namespace otherwise. The working directory is kept.
pub fn enter(run: &Path) -> Result<Entered, RootlessError> {
    let lock_path = run.join("pause.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&lock_path)
        .map_err(io_err(&lock_path))?;
    sysfs::flock(lock.as_fd(), libc::LOCK_EX).map_err(io_err(&lock_path))?;
    let pid_file = run.join("pause.pid");
    let mut entered = Entered::default();
    let (pid, user, mnt) = match live_keeper(&pid_file) {
        Some(k) => k,
        None => {
            let (holder, user, mnt) = match monitors_namespaces() {
                // The holder was killed while containers ran: their namespaces are kept
                // (joined through the monitor's: the new holder may not be in them yet).
                Some((user, mnt)) => (adopt(&user, &mnt)?, user, mnt),
                None => {
                    let (holder, single_id) = start_keeper()?;
                    entered.single_id = single_id;
                    let pid = holder.pid;
                    match namespaces(pid) {
                        Ok((user, mnt)) => (holder, user, mnt),
                        Err(source) => {
                            holder.discard();
                            return Err(RootlessError::Join { pid, source });
                        }
                    }
                }
            };
            entered.created = true;
            let pid = holder.pid;
            let tmp = run.join("pause.pid.tmp");
            let recorded = std::fs::write(&tmp, pid.to_string())
                .and_then(|()| std::fs::rename(&tmp, &pid_file))
                .and_then(|()| holder.confirm());
            recorded.map_err(io_err(&pid_file))?;
            (pid, user, mnt)
        }
    };
    drop(lock);
    let cwd = std::env::current_dir().ok();
    let join =
        |f: &File, t| ns::setns(f.as_fd(), t).map_err(|source| RootlessError::Join { pid, source });
    join(&user, libc::CLONE_NEWUSER)?;
    join(&mnt, libc::CLONE_NEWNS)?;
    // Root there, or berth would execute itself again and again.
    if ids::geteuid() != 0 {
        return Err(RootlessError::Join {
            pid,
            source: io::Error::other("the namespace does not map this user to root"),
        });
    }
    // Joining a mount namespace moves the process to its root directory.
    if let Some(dir) = cwd {
        sysfs::chdir(&dir).map_err(io_err(&dir))?;
    }
    Ok(entered)
}

/// The recorded holder's pid and namespaces, if it is alive and is ours.
fn live_keeper(pid_file: &Path) -> Option<(i32, File, File)> {
    let pid: i32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse::<u32>()
        .ok()?;
    if comm.trim_end().as_bytes() != KEEPER.to_bytes() || uid != ids::getuid() {
        return None;
    }
    let (user, mnt) = namespaces(pid).ok()?;
    Some((pid, user, mnt))
}

fn namespaces(pid: i32) -> io::Result<(File, File)> {
    Ok((
        File::open(format!("/proc/{pid}/ns/user"))?,
        File::open(format!("/proc/{pid}/ns/mnt"))?,
    ))
}

/// The user and mount namespaces of a running monitor of the user's (`berth-monitor`),
/// when it is in a user namespace: those its containers were made in.
fn monitors_namespaces() -> Option<(File, File)> {
    let own = std::fs::read_link("/proc/self/ns/user").ok()?;
    let uid = ids::getuid();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        let meta = e.metadata().ok()?;
        if comm.trim_end() != "berth-monitor" || meta.uid() != uid {
            return None;
        }
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/user")).ok()?;
        (theirs != own).then(|| namespaces(pid).ok()).flatten()
    })
}

/// A holder forked but not yet recorded: it sleeps for good only once [`Self::confirm`]
/// says its pid is in the pid file. Should this command die first (kill -9), the holder
/// reads the end of the pipe and exits: no holder is left that no pid file names.
struct Unconfirmed {
    pid: i32,
    confirm: std::io::PipeWriter,
}

impl Unconfirmed {
    fn confirm(mut self) -> io::Result<()> {
        std::io::Write::write_all(&mut self.confirm, b"1")
    }

    fn discard(self) {
        let _ = process::kill(self.pid, libc::SIGKILL);
        let _ = process::waitpid(self.pid, 0);
    }
}

/// Forks a holder in new `namespaces` (`CLONE_NEW*`) that runs `join` first.
fn fork_holder(
    namespaces: libc::c_int,
    join: impl FnOnce() -> io::Result<()>,
) -> Result<Unconfirmed, RootlessError> {
    let (mut reader, confirm) = std::io::pipe().map_err(RootlessError::Clone)?;
    let args = process::CloneArgs {
        namespaces: namespaces as u64,
        ..Default::default()
    };
    // SAFETY: `enter` runs while the process has one thread; the child only makes system
    // calls and never returns.
    match unsafe { process::clone3(&args) }.map_err(RootlessError::Clone)? {
        process::Forked::Child => {
            drop(confirm);
            let mut byte = [0u8];
            let confirmed = join()
                .and_then(|()| std::io::Read::read_exact(&mut reader, &mut byte))
                .is_ok();
            match confirmed {
                true => keep(),
                false => process::exit_now(1),
            }
        }
        process::Forked::Parent { pid, .. } => Ok(Unconfirmed { pid, confirm }),
    }
}

/// Forks a holder that joins `user` and `mnt` (namespaces whose holder is gone).
fn adopt(user: &File, mnt: &File) -> Result<Unconfirmed, RootlessError> {
    fork_holder(0, || {
        ns::setns(user.as_fd(), libc::CLONE_NEWUSER)?;
        ns::setns(mnt.as_fd(), libc::CLONE_NEWNS)
    })
}

/// Forks the holder into new user and mount namespaces and maps its ids. Returns it and,
/// when only the user's own id could be mapped, why.
fn start_keeper() -> Result<(Unconfirmed, Option<String>), RootlessError> {
    let (uid, gid) = (ids::getuid(), ids::getgid());
    let name = ids::user_name(uid);
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let sub_u = subids::ranges(&read("/etc/subuid"), name.as_deref(), uid);
    let sub_g = subids::ranges(&read("/etc/subgid"), name.as_deref(), gid);
    let who = name.clone().unwrap_or_else(|| uid.to_string());
    let single_id = if sub_u.is_empty() || sub_g.is_empty() {
        Some(format!(
            "no subordinate ids for {who} in /etc/subuid and /etc/subgid: containers get only \
             uid and gid 0; as root, run: usermod --add-subuids 100000-165535 \
             --add-subgids 100000-165535 {who}"
        ))
    } else if !helpers_installed() {
        Some(
            "newuidmap and newgidmap are not installed (Debian: apt install uidmap): \
              containers get only uid and gid 0"
                .to_string(),
        )
    } else {
        None
    };
    let (sub_u, sub_g) = match single_id {
        Some(_) => (Vec::new(), Vec::new()),
        None => (sub_u, sub_g),
    };
    let maps =
        |id, ranges| subids::id_map(id, ranges).map_err(|e| RootlessError::Ids(e.to_string()));
    let (umap, gmap) = (maps(uid, &sub_u)?, maps(gid, &sub_g)?);
    let holder = fork_holder(libc::CLONE_NEWUSER | libc::CLONE_NEWNS, || Ok(()))?;
    match userns::write(holder.pid, &umap, &gmap) {
        Ok(()) => Ok((holder, single_id)),
        Err(e) => {
            holder.discard();
            Err(e.into())
        }
    }
}

fn helpers_installed() -> bool {
    in_path("newuidmap").is_some() && in_path("newgidmap").is_some()
}

/// Where `program` is in `$PATH`.
fn in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The holder: out of the caller's session, its files closed, asleep until killed.
fn keep() -> ! {
    let _ = process::setsid();
    if let Ok(null) = sysfs::open(Path::new("/dev/null"), libc::O_RDWR, 0) {
        for fd in 0..3 {
            let _ = sysfs::dup_onto(null.as_fd(), fd);
        }
    }
    let _ = sysfs::close_all_except(&[]);
    let _ = process::set_name(KEEPER);
    let _ = sysfs::chdir(Path::new("/"));
    loop {
        // SAFETY: pause has no preconditions; it returns only after a caught signal.
        unsafe { libc::pause() };
    }
}

/// The default network of rootless containers: pasta, or slirp4netns where only that is
/// installed (pasta's error, naming both packages, where neither is).
pub fn default_network() -> crate::options::Network {
    use crate::options::Network;
    match (in_path("pasta"), in_path("slirp4netns")) {
        (None, Some(_)) => Network::Slirp4netns,
        _ => Network::Pasta,
    }
}

/// What carries rootless containers' default network, for `berth info`.
pub fn network_tool() -> String {
    match (in_path("pasta"), in_path("slirp4netns")) {
        (Some(p), _) => format!("pasta ({})", p.display()),
        (None, Some(p)) => format!("slirp4netns ({})", p.display()),
        (None, None) => {
            "none: neither pasta nor slirp4netns is installed (Debian: apt install passt)".into()
        }
    }
}

/// An id map of the caller's user namespace (`uid_map` or `gid_map`), its lines as
/// `inside host count` joined by commas.
pub fn id_map(which: &str) -> String {
    std::fs::read_to_string(format!("/proc/self/{which}"))
        .map(|m| {
            m.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
