//! The OCI names mapped to libseccomp's and the kernel's values: actions with their
//! `errnoRet`, architectures, filter flags.

use crate::error::{config, Result};
use crate::kernel;
use libseccomp::{ScmpAction, ScmpArch};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompFilterFlag as Flag,
};

pub(crate) const FIELD: &str = "linux.seccomp";

/// The default action; NOTIFY is refused there (runc refuses it too).
pub(crate) fn default_action(seccomp: &LinuxSeccomp) -> Result<ScmpAction> {
    let act = seccomp.default_action();
    if act == Act::ScmpActNotify {
        return Err(config(
            format!("{FIELD}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be the default action: the runtime's own syscalls would wait for an agent that has no listener yet",
        ));
    }
    action_with(
        act,
        seccomp.default_errno_ret(),
        &format!("{FIELD}.defaultErrnoRet"),
    )
}

/// A rule's action, with `errnoRet` (default EPERM) where the action takes one.
pub(crate) fn action(act: Act, errno: Option<u32>, field: &str) -> Result<ScmpAction> {
    action_with(act, errno, &format!("{field}.errnoRet"))
}

fn action_with(act: Act, errno: Option<u32>, errno_field: &str) -> Result<ScmpAction> {
    let eperm = libc::EPERM as u32;
    let value = |max: u32| match errno {
        Some(v) if v > max => Err(config(errno_field, format!("{v} is above {max}"))),
        v => Ok(v.unwrap_or(eperm)),
    };
    let plain = |a: ScmpAction| match errno {
        Some(_) => Err(config(
            errno_field,
            format!(
                "{act} does not return an errno; only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one"
            ),
        )),
        None => Ok(a),
    };
    match act {
        // The kernel caps errno values at MAX_ERRNO.
        Act::ScmpActErrno => Ok(ScmpAction::Errno(value(4095)? as i32)),
        Act::ScmpActTrace => Ok(ScmpAction::Trace(value(u32::from(u16::MAX))? as u16)),
        Act::ScmpActKill | Act::ScmpActKillThread => plain(ScmpAction::KillThread),
        Act::ScmpActKillProcess => plain(ScmpAction::KillProcess),
        Act::ScmpActTrap => plain(ScmpAction::Trap),
        Act::ScmpActAllow => plain(ScmpAction::Allow),
        Act::ScmpActLog => plain(ScmpAction::Log),
        Act::ScmpActNotify => plain(ScmpAction::Notify),
    }
}

/// The `SECCOMP_RET_*` value of an action, for `SECCOMP_GET_ACTION_AVAIL`.
pub(crate) fn ret_value(act: ScmpAction) -> u32 {
    match act {
        ScmpAction::KillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        ScmpAction::KillThread => libc::SECCOMP_RET_KILL_THREAD,
        ScmpAction::Trap => libc::SECCOMP_RET_TRAP,
        ScmpAction::Errno(_) => libc::SECCOMP_RET_ERRNO,
        ScmpAction::Trace(_) => libc::SECCOMP_RET_TRACE,
        ScmpAction::Notify => libc::SECCOMP_RET_USER_NOTIF,
        ScmpAction::Log => libc::SECCOMP_RET_LOG,
        // Allow, and whatever libseccomp may add later (the enum is non-exhaustive).
        _ => libc::SECCOMP_RET_ALLOW,
    }
}

/// libseccomp's token for an OCI architecture.
pub(crate) fn scmp_arch(arch: Arch) -> ScmpArch {
    match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// The `SECCOMP_FILTER_FLAG_*` bit of an OCI flag.
pub(crate) fn flag_bit(flag: Flag) -> u32 {
    match flag {
        Flag::SeccompFilterFlagTsync => kernel::FLAG_TSYNC,
        Flag::SeccompFilterFlagLog => kernel::FLAG_LOG,
        Flag::SeccompFilterFlagSpecAllow => kernel::FLAG_SPEC_ALLOW,
        Flag::SeccompFilterFlagWaitKillableRecv => kernel::FLAG_WAIT_KILLABLE_RECV,
    }
}

/// The flags for `seccomp(2)`. NEW_LISTENER when the program notifies; TSYNC then needs
/// TSYNC_ESRCH; WAIT_KILLABLE_RECV means nothing (and is refused) without a listener.
pub(crate) fn flags(seccomp: &LinuxSeccomp, notify: bool) -> u32 {
    let mut bits = seccomp
        .flags()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .fold(0, |acc, f| acc | flag_bit(*f));
    if notify {
        bits |= kernel::FLAG_NEW_LISTENER;
        if bits & kernel::FLAG_TSYNC != 0 {
            bits |= kernel::FLAG_TSYNC_ESRCH;
        }
    } else {
        bits &= !kernel::FLAG_WAIT_KILLABLE_RECV;
    }
    bits
}
