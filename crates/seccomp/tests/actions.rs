//! Every action on the real kernel: a forked child installs the filter and makes the
//! syscall; the parent checks the errno it got or the signal that ended it. Run as root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{cstr, filter, run, sys, Outcome};
use libc::{SYS_getppid, SYS_mkdir, SYS_mkdirat};
use std::process::Command;

fn mkdir_errno() -> i32 {
    sys(
        SYS_mkdir,
        [cstr(c"/nonexistent-berth/a"), 0o700, 0, 0, 0, 0],
    )
}

#[test]
fn errno_action_returns_the_configured_errno() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":28}]}"#,
    );
    assert_eq!(run(&f, mkdir_errno), Outcome::Exited(libc::ENOSPC));
    // Unfiltered, the same call fails for its own reason.
    assert_eq!(common::run_with(mkdir_errno), Outcome::Exited(libc::ENOENT));
}

#[test]
fn errno_without_errno_ret_is_eperm() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(run(&f, mkdir_errno), Outcome::Exited(libc::EPERM));
}

#[test]
fn default_errno_ret_applies_to_unlisted_syscalls() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":77,"syscalls":[
            {"names":["exit_group","exit"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(run(&f, mkdir_errno), Outcome::Exited(77));
}

#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    // The newest syscall named is exit_group (231 on x86_64): getrandom (318) is newer.
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":77,"syscalls":[
            {"names":["exit_group","exit"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let getrandom = || sys(libc::SYS_getrandom, [0, 0, 0, 0, 0, 0]);
    assert_eq!(run(&f, getrandom), Outcome::Exited(libc::ENOSYS));
    assert_eq!(run(&f, || sys(1000, [0; 6])), Outcome::Exited(libc::ENOSYS));
    // A default that allows needs no such answer.
    let allow = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(run(&allow, getrandom), Outcome::Exited(0));
}

#[test]
fn kill_process_kills_the_whole_process_with_sigsys() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
    );
    assert_eq!(run(&f, getppid_in_thread), Outcome::Signaled(libc::SIGSYS));
    assert_eq!(
        run(&f, || sys(SYS_getppid, [0; 6])),
        Outcome::Signaled(libc::SIGSYS)
    );
}

#[test]
fn kill_thread_kills_only_the_calling_thread() {
    for action in ["SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL"] {
        let f = filter(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getppid"],"action":"{action}"}}]}}"#
        ));
        // The thread dies; the main thread joins it and exits normally.
        assert_eq!(run(&f, getppid_in_thread), Outcome::Exited(0), "{action}");
        // A single-threaded process is the thread.
        assert_eq!(
            run(&f, || sys(SYS_getppid, [0; 6])),
            Outcome::Signaled(libc::SIGSYS),
            "{action}"
        );
    }
}

/// Calls getppid in a second thread, joins it, returns 0.
fn getppid_in_thread() -> i32 {
    extern "C" fn start(_: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: getppid has no arguments.
        unsafe { libc::syscall(SYS_getppid) };
        std::ptr::null_mut()
    }
    // SAFETY: plain pthread create/join of a thread that only makes one syscall.
    unsafe {
        let mut t: libc::pthread_t = std::mem::zeroed();
        if libc::pthread_create(&mut t, std::ptr::null(), start, std::ptr::null_mut()) != 0 {
            return 90;
        }
        libc::pthread_join(t, std::ptr::null_mut());
    }
    0
}

#[test]
fn trap_delivers_sigsys_to_a_handler() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_TRAP"}]}"#,
    );
    // Without a handler SIGSYS ends the process.
    assert_eq!(
        run(&f, || sys(SYS_getppid, [0; 6])),
        Outcome::Signaled(libc::SIGSYS)
    );
    extern "C" fn on_sigsys(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        const SYS_SECCOMP: i32 = 1;
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
        let code = unsafe { (*info).si_code };
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(if code == SYS_SECCOMP { 77 } else { 78 }) };
    }
    let with_handler = || {
        // SAFETY: installs a handler for SIGSYS in the child.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigsys as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut());
        }
        sys(SYS_getppid, [0; 6]);
        0
    };
    assert_eq!(run(&f, with_handler), Outcome::Exited(77));
}

#[test]
fn log_allows_the_syscall() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_LOG"}]}"#,
    );
    let me = std::process::id() as libc::c_long;
    let body = move || {
        // The filter is there (mode 2), and the logged syscall still ran.
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if !status.lines().any(|l| l == "Seccomp:\t2") {
            return 1;
        }
        // SAFETY: getppid has no arguments.
        i32::from(unsafe { libc::syscall(SYS_getppid) } != me) * 2
    };
    assert_eq!(run(&f, body), Outcome::Exited(0));
}

#[test]
fn trace_without_a_tracer_fails_with_enosys() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir"],"action":"SCMP_ACT_TRACE","errnoRet":5}]}"#,
    );
    assert_eq!(run(&f, mkdir_errno), Outcome::Exited(libc::ENOSYS));
}

#[test]
fn allow_rules_open_a_denying_default() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["exit_group","exit","mkdir"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(run(&f, mkdir_errno), Outcome::Exited(libc::ENOENT));
    let rmdir = || {
        sys(
            libc::SYS_rmdir,
            [cstr(c"/nonexistent-berth/a"), 0, 0, 0, 0, 0],
        )
    };
    assert_eq!(run(&f, rmdir), Outcome::Exited(libc::EPERM));
    // mkdirat (258) is newer than anything named (exit_group, 231): ENOSYS, as runc does.
    let mkdirat = || {
        sys(
            SYS_mkdirat,
            [
                libc::AT_FDCWD as _,
                cstr(c"/nonexistent-berth/a"),
                0,
                0,
                0,
                0,
            ],
        )
    };
    assert_eq!(run(&f, mkdirat), Outcome::Exited(libc::ENOSYS));
}

#[test]
fn unknown_syscall_names_are_skipped() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["berth_no_such_syscall","mkdir","mseal_or_not"],"action":"SCMP_ACT_ERRNO","errnoRet":28}]}"#,
    );
    assert_eq!(
        f.skipped_syscalls(),
        ["berth_no_such_syscall", "mseal_or_not"]
    );
    assert_eq!(run(&f, mkdir_errno), Outcome::Exited(libc::ENOSPC));
}

#[test]
fn flags_log_spec_allow_tsync_install() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW",
            "flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_TSYNC",
                     "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":28}]}"#,
    );
    use berth_seccomp::kernel::{FLAG_LOG, FLAG_SPEC_ALLOW, FLAG_TSYNC};
    // WAIT_KILLABLE_RECV only means something with a listener: dropped here.
    assert_eq!(f.flags(), FLAG_LOG | FLAG_SPEC_ALLOW | FLAG_TSYNC);
    assert_eq!(run(&f, mkdir_errno), Outcome::Exited(libc::ENOSPC));
}

#[test]
fn busybox_under_pre_exec_sees_the_errno() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":28}]}"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("x");
    let out = common_command(&f, &["mkdir", target.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!target.exists());
}

/// Runs `/bin/busybox args` with the filter installed by pre_exec (after no_new_privs).
fn common_command(f: &berth_seccomp::Filter, args: &[&str]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let f = f.clone();
    let mut cmd = Command::new("/bin/busybox");
    cmd.args(args);
    // SAFETY: the closure makes two syscalls (prctl, seccomp) and allocates nothing on success.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            f.install()
                .map(drop)
                .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
        });
    }
    cmd.output().unwrap()
}

#[test]
fn install_without_no_new_privs_or_cap_sys_admin_is_a_clear_error() {
    let f = filter(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
    let body = move || {
        // SAFETY: drops this child (root in the test) to nobody; no_new_privs stays unset.
        if unsafe { libc::setresuid(65534, 65534, 65534) } != 0 {
            return 1;
        }
        match f.install() {
            Err(e) if e.to_string().contains("set no_new_privs first") => 0,
            _ => 2,
        }
    };
    assert_eq!(common::run_with(body), Outcome::Exited(0));
}
