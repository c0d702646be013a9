//! The intermediate stage, used only when namespaces are joined by path or time offsets are
//! set: it joins (user namespace first), creates the remaining namespaces, and forks the init
//! when a pid or time namespace only applies to children, and exits; the init reports its
//! pid.

use super::channel::ChildEnd;
use super::namespaces::{flag, Plan};
use crate::init::error::{Context, InitError};
use berth_sys::{fs as sysfs, ns, process as sysproc};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// Runs the intermediate's steps. Returns in the process that goes on as the init, once it
/// has reported its pid; the intermediate itself exits here.
pub fn enter(plan: &Plan, chan: &ChildEnd, proc: BorrowedFd<'_>) -> Result<(), InitError> {
    let _ = sysproc::set_name(c"berth:interm");
    for (t, path) in &plan.joins {
        let what = || format!("join {t} namespace {}", path.display());
        let fd = sysfs::open(path, libc::O_RDONLY, 0).ctx(what)?;
        ns::setns(fd.as_fd(), flag(*t)).ctx(what)?;
    }
    if plan.unshare_user {
        ns::unshare(libc::CLONE_NEWUSER).ctx(|| "create user namespace")?;
        chan.map_user_namespace(sysproc::getpid())
            .ctx(|| "wait for id maps")?;
    }
    if plan.unshare_flags != 0 {
        ns::unshare(plan.unshare_flags)
            .ctx(|| format!("unshare namespaces {:#x}", plan.unshare_flags))?;
    }
    if let Some(offsets) = &plan.time_offsets {
        let fd = sysfs::openat(
            Some(proc),
            Path::new("self/timens_offsets"),
            libc::O_WRONLY,
            0,
        )
        .ctx(|| "open /proc/self/timens_offsets")?;
        sysfs::write_all(fd.as_fd(), offsets.as_bytes())
            .ctx(|| format!("set time offsets {offsets:?}"))?;
    }
    if !plan.fork {
        return Ok(());
    }
    // SAFETY: the runtime is single-threaded, so the child may go on running Rust code.
    match unsafe { sysproc::clone3(&sysproc::CloneArgs::default()) }.ctx(|| "fork the init")? {
        // The init reports its own pid, so that the pid precedes everything else it sends.
        sysproc::Forked::Child => {
            let pid = crate::security::host_pid(proc)?;
            chan.init_pid(pid).ctx(|| "report the init's pid")
        }
        sysproc::Forked::Parent { .. } => sysproc::exit_now(0),
    }
}
