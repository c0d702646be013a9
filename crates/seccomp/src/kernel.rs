//! The raw `seccomp(2)` calls: loading a program, and asking the running kernel which
//! actions and filter flags it knows. No libseccomp here: this is what the container's init
//! runs after fork.

use std::io;

/// `SECCOMP_FILTER_FLAG_TSYNC`.
pub const FLAG_TSYNC: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC as u32;
/// `SECCOMP_FILTER_FLAG_LOG` (Linux 4.14).
pub const FLAG_LOG: u32 = libc::SECCOMP_FILTER_FLAG_LOG as u32;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW` (Linux 4.17).
pub const FLAG_SPEC_ALLOW: u32 = libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32;
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER` (Linux 5.0).
pub const FLAG_NEW_LISTENER: u32 = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;
/// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH` (Linux 5.7): lets TSYNC be combined with NEW_LISTENER.
pub const FLAG_TSYNC_ESRCH: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH as u32;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 5.19).
pub const FLAG_WAIT_KILLABLE_RECV: u32 = libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV as u32;

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`: the raw return value (a listener fd with
/// NEW_LISTENER, a thread id when TSYNC fails, else 0). Does not allocate.
pub(crate) fn set_mode_filter(flags: u32, prog: *const libc::sock_fprog) -> io::Result<i64> {
    // SAFETY: seccomp(2) reads `prog` (a valid sock_fprog or null, for probing) and nothing else.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            prog,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Whether the kernel knows these filter flags. With a null program the kernel validates
/// the flags first and then fails to read the program: EFAULT means "flags known".
pub fn flags_supported(flags: u32) -> bool {
    matches!(
        set_mode_filter(flags, std::ptr::null()),
        Err(e) if e.raw_os_error() == Some(libc::EFAULT)
    )
}

/// Whether the kernel implements this `SECCOMP_RET_*` action (`SECCOMP_GET_ACTION_AVAIL`).
pub fn action_available(action: u32) -> bool {
    // Only the action part counts; the kernel rejects data bits here.
    let action = action & libc::SECCOMP_RET_ACTION_FULL;
    // SAFETY: the kernel reads one u32 from the pointer, which outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0 as libc::c_ulong,
            &action as *const u32,
        )
    };
    ret == 0
}

/// Names of the flags set in `flags`, for messages.
pub fn flag_names(flags: u32) -> Vec<&'static str> {
    const NAMES: [(u32, &str); 6] = [
        (FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"),
        (FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"),
        (FLAG_SPEC_ALLOW, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
        (FLAG_NEW_LISTENER, "SECCOMP_FILTER_FLAG_NEW_LISTENER"),
        (FLAG_TSYNC_ESRCH, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
        (
            FLAG_WAIT_KILLABLE_RECV,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        ),
    ];
    NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_kernel_knows_the_flags_and_actions_we_use() {
        for flags in [FLAG_TSYNC, FLAG_LOG, FLAG_SPEC_ALLOW, FLAG_NEW_LISTENER] {
            assert!(flags_supported(flags), "{:?}", flag_names(flags));
        }
        assert!(flags_supported(FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV));
        assert!(!flags_supported(1 << 30));
        for action in [
            libc::SECCOMP_RET_KILL_PROCESS,
            libc::SECCOMP_RET_USER_NOTIF,
            libc::SECCOMP_RET_LOG,
            libc::SECCOMP_RET_ERRNO | 5,
        ] {
            assert!(action_available(action), "{action:#x}");
        }
        assert!(!action_available(0x7ff8_0000));
    }

    #[test]
    fn flag_names_lists_set_bits() {
        assert_eq!(
            flag_names(FLAG_LOG | FLAG_NEW_LISTENER),
            [
                "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_NEW_LISTENER"
            ]
        );
    }
}
