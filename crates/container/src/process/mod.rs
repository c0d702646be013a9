//! The process chain that turns a config into a running container:
//!
//! ```text
//! runtime (parent.rs) --clone3(all new namespaces)--> init (init.rs) --execve--> trampoline --> program
//!                      \--clone3()--> intermediate (intermediate.rs): join, unshare, fork --> init
//! ```
//!
//! The intermediate exists only when namespaces are joined by path or time offsets are set.
//! Parent and child talk over one typed channel (channel.rs).

pub mod channel;
mod finish;
pub mod init;
pub mod intermediate;
pub mod namespaces;
pub mod parent;
pub mod tenant;
pub mod userns;

use oci_spec::runtime::Spec;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// How the init learns that it may execute the container's process.
#[derive(Debug)]
pub enum StartSignal {
    /// `create`: `start` (another process) opens this fifo.
    Fifo(PathBuf),
    /// `run`: the parent says so on the channel.
    Channel,
}

/// What the process chain needs of the cgroup driver: the child starts in the cgroup2
/// directory, and moves itself into the v1 hierarchies' (`Manager::tasks_files`); the
/// runtime never writes its pid to `cgroup.procs`, which costs an RCU grace period.
pub trait CgroupJoin {
    /// A cgroup v2 directory to start the child in (`CLONE_INTO_CGROUP`), when there is one.
    fn clone_into(&self) -> Option<BorrowedFd<'_>>;
    /// cgroup v1 `tasks` files, open for writing, for [`join_self`].
    fn tasks_files(&self) -> Vec<BorrowedFd<'_>>;
    /// Puts the forked child, which waits, in the cgroup, where a driver needs its pid for
    /// that (systemd's scopes); nothing otherwise.
    fn place(&self, _pid: i32) -> Result<(), berth_cgroups::Error> {
        Ok(())
    }
}

/// Moves the calling child into the cgroups whose `tasks` files are `files`. "0" moves the
/// writing thread, and a freshly forked child has only that one.
pub(crate) fn join_self(files: &[BorrowedFd<'_>]) -> std::io::Result<()> {
    files
        .iter()
        .try_for_each(|f| berth_sys::fs::write_all(*f, b"0"))
}

/// Everything the chain needs to build one container, prepared by the parent before forking:
/// the children read it from their copy of the parent's memory.
pub struct Launch<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    /// Absolute bundle path.
    pub bundle: &'a Path,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    pub start: StartSignal,
    /// Connected `--console-socket`.
    pub console_socket: Option<OwnedFd>,
    /// Foreground `run` with a terminal: the init sends the pty master to the parent.
    pub relay_terminal: bool,
    /// Fds 3..3+N pass into the container (`--preserve-fds`).
    pub preserve_fds: u32,
    pub no_pivot: bool,
    /// Set `lo` up in a network namespace the chain creates (`CreateOptions::loopback_up`).
    pub loopback_up: bool,
    /// The runtime runs without the host's privileges (`Runtime::rootless`): device nodes
    /// and kernel file systems are bound from the host even without a user namespace of
    /// the container's own.
    pub rootless: bool,
    /// Give the container a session keyring of its own (runc's default; `--no-new-keyring`).
    pub new_keyring: bool,
    /// The state directory's lock, which a forked child must not keep.
    pub lock_fd: Option<std::os::fd::RawFd>,
    pub cgroup: Option<&'a dyn CgroupJoin>,
    /// Mounts and device nodes, prepared before the fork.
    pub prepared: &'a crate::prepared::PreparedMounts,
    /// The compiled `linux.seccomp` filter.
    pub seccomp: Option<&'a crate::security::Seccomp>,
    /// How the container's cgroups appear at a `cgroup` mount inside it.
    pub cgroup_mounts: Vec<berth_cgroups::CgroupMount>,
}
