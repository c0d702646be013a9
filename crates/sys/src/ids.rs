//! Identity: user, group and supplementary groups of the calling thread.

use crate::{cvt, cvt_long};
use std::io;

/// `setresuid(uid, uid, uid)` through the raw syscall: glibc's wrapper would broadcast the
/// change to all threads, which needs no help in a single-threaded process.
pub fn setresuid(uid: u32) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt_long(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

/// `setresgid(gid, gid, gid)`.
pub fn setresgid(gid: u32) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt_long(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

/// `setgroups(groups)`.
pub fn setgroups(groups: &[u32]) -> io::Result<()> {
    // SAFETY: pointer and length describe `groups`.
    cvt_long(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) }).map(drop)
}

/// Effective uid of the caller.
pub fn geteuid() -> u32 {
    // SAFETY: cannot fail.
    unsafe { libc::geteuid() }
}

/// Effective gid of the caller.
pub fn getegid() -> u32 {
    // SAFETY: cannot fail.
    unsafe { libc::getegid() }
}

/// `fchown`-free check used by tests and callers: the caller's real uid.
pub fn getuid() -> u32 {
    // SAFETY: cannot fail.
    unsafe { libc::getuid() }
}

/// The caller's real gid.
pub fn getgid() -> u32 {
    // SAFETY: cannot fail.
    unsafe { libc::getgid() }
}

/// Sets the no_new_privs bit: execve can never grant privileges again.
pub fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: plain prctl with integer arguments.
    cvt(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(drop)
}

/// The login name of `uid` (through NSS, as newuidmap looks it up), if it has one.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: passwd is plain data; zero is a valid value of each field.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; buf's length is passed with it.
    let r = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found) };
    if r != 0 || found.is_null() || pw.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded: pw_name points at a NUL-terminated string inside buf.
    let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// Whether the caller's user namespace is not the initial one: its uid map is anything but
/// the identity over all ids. Root there owns nothing of the host (no cgroupfs, no device
/// nodes, `user.*` xattrs only), so callers apply rootless rules even with euid 0. Read
/// once per process: one that joins another user namespace executes itself again (berth
/// does) before it asks.
pub fn in_user_namespace() -> bool {
    static IN_USERNS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IN_USERNS.get_or_init(|| match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => !is_identity_map(&map),
        Err(_) => false,
    })
}

/// The caller's effective uid as the parent user namespace sees it: for rootless berth, the
/// user who made the namespace (whose systemd manager and bus it talks to). Outside a user
/// namespace, the effective uid itself. Read once per process, as [`in_user_namespace`].
pub fn outer_uid() -> u32 {
    static OUTER: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *OUTER.get_or_init(|| {
        let euid = geteuid();
        std::fs::read_to_string("/proc/self/uid_map")
            .ok()
            .and_then(|map| map_outward(&map, euid))
            .unwrap_or(euid)
    })
}

/// `id` through the `inside outside count` lines of a uid or gid map.
fn map_outward(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|line| {
        let f: Vec<u32> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        match f[..] {
            [inside, outside, count] if id >= inside && id - inside < count => {
                outside.checked_add(id - inside)
            }
            _ => None,
        }
    })
}

fn is_identity_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_outward_through_their_line() {
        let map = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(map_outward(map, 0), Some(1000));
        assert_eq!(map_outward(map, 33), Some(100032));
        assert_eq!(map_outward(map, 65537), None);
        assert_eq!(map_outward("0 4294967295 2\n", 1), None);
    }

    #[test]
    fn identity_map_is_the_initial_namespace() {
        assert!(is_identity_map("         0          0 4294967295\n"));
        assert!(!is_identity_map("0 1000 1\n1 100000 65536\n"));
        assert!(!is_identity_map(""));
    }
}
