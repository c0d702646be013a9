//! One file per command: parse its arguments, call the library, print the result.

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod resume;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use crate::cli::{Cli, Command, Global};
use anyhow::{bail, Result};
use berth_cgroups::{Bus, CgroupDriver};
use berth_container::Runtime;
use std::path::PathBuf;

/// Runs the command; returns the process exit status.
pub fn dispatch(cli: &Cli) -> Result<i32> {
    match &cli.command {
        Command::Spec(a) => spec::run(a, cli.global.rootless == "true").map(|()| 0),
        Command::Features => features::run().map(|()| 0),
        Command::Create(a) => create::run(&runtime(&cli.global)?, a).map(|()| 0),
        Command::Start(a) => start::run(&runtime(&cli.global)?, a).map(|()| 0),
        Command::State(a) => state::run(&runtime(&cli.global)?, a).map(|()| 0),
        Command::Kill(a) => kill::run(&runtime(&cli.global)?, a).map(|()| 0),
        Command::Delete(a) => delete::run(&runtime(&cli.global)?, a).map(|()| 0),
        Command::Run(a) => run::run(&runtime(&cli.global)?, a),
        Command::Exec(a) => exec::run(&runtime(&cli.global)?, a),
        Command::List(a) => list::run(&runtime(&cli.global)?, a).map(|()| 0),
        Command::Update(a) => update::run(&runtime(&cli.global)?, a).map(|()| 0),
        Command::Pause(a) => pause::run(&runtime(&cli.global)?, a).map(|()| 0),
        Command::Resume(a) => resume::run(&runtime(&cli.global)?, a).map(|()| 0),
        Command::Events(a) => events::run(&runtime(&cli.global)?, a).map(|()| 0),
        Command::Ps(a) => ps::run(&runtime(&cli.global)?, a).map(|()| 0),
    }
}

/// systemd socket activation: `LISTEN_FDS` meant for this process (no `LISTEN_PID`, or ours),
/// passed on into the container as crun does.
fn listen_fds() -> u32 {
    let ours = std::env::var("LISTEN_PID").map_or(true, |p| p.parse() == Ok(std::process::id()));
    if !ours {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Fills the closed fds among 3..3+n with close-on-exec placeholders on /dev/null, so that
/// none of the runtime's own files lands there and passes into the container: preserved fds
/// are the ones that are open and not close-on-exec.
fn hold_gaps(n: u32) -> Result<()> {
    let end = 3 + n as i32;
    let gaps: Vec<i32> = (3..end)
        // SAFETY: F_GETFD only queries a descriptor number.
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1)
        .collect();
    if gaps.is_empty() {
        return Ok(());
    }
    let null = std::fs::File::open("/dev/null")?;
    // The source above the range, so that it is not itself one of the gaps.
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we own, closed below.
    let src = unsafe {
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&null),
            libc::F_DUPFD_CLOEXEC,
            end,
        )
    };
    drop(null);
    if src == -1 {
        return Err(std::io::Error::last_os_error().into());
    }
    let mut result = Ok(());
    for fd in gaps {
        // SAFETY: dup3 onto a closed descriptor number, kept for the process's lifetime.
        if unsafe { libc::dup3(src, fd, libc::O_CLOEXEC) } == -1 {
            result = Err(std::io::Error::last_os_error().into());
            break;
        }
    }
    // SAFETY: `src` is ours and used no more.
    unsafe { libc::close(src) };
    result
}

/// The runtime from the global flags.
fn runtime(g: &Global) -> Result<Runtime> {
    let systemd = match g.cgroup_manager.as_deref() {
        None | Some("cgroupfs") => g.systemd_cgroup,
        Some("systemd") => true,
        Some(other) => bail!("--cgroup-manager {other:?}: expected cgroupfs or systemd"),
    };
    let euid = berth_sys::ids::geteuid();
    let rootless = match g.rootless.as_str() {
        "true" => true,
        "false" => false,
        // Root of a user namespace (rootless podman's) has no cgroupfs or device nodes.
        _ => euid != 0 || berth_sys::ids::in_user_namespace(),
    };
    let root = match &g.root {
        Some(r) => r.clone(),
        None if euid != 0 => match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(d) => PathBuf::from(d).join("berth-runtime"),
            None => bail!("--root is required when not root and $XDG_RUNTIME_DIR is unset"),
        },
        None => PathBuf::from("/run/berth-runtime"),
    };
    let mut rt = Runtime::new(root, rootless);
    if !g.cdi_spec_dirs.is_empty() {
        rt.cdi_spec_dirs = g.cdi_spec_dirs.clone();
    }
    if systemd {
        // Without root, the user's own manager, as runc does with --rootless.
        let bus = if euid == 0 { Bus::System } else { Bus::User };
        rt.cgroup_driver = CgroupDriver::Systemd(bus);
    }
    Ok(rt)
}
