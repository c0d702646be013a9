//! The default profile on the real kernel: it blocks what Docker's documentation says its
//! default blocks, busybox still runs under it, and capabilities open their syscalls.
//! To tell the filter's refusal from the kernel's, most checks compile the profile with
//! defaultErrnoRet 99 (EADDRNOTAVAIL): a blocked syscall answers 99, an allowed one reaches
//! the kernel, and every probe is harmless if it does (bad arguments, missing paths).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use berth_seccomp::{default_profile, default_profile_for, Filter};
use common::{cstr, run, sys, Outcome};
use libc::c_long;
use std::os::unix::process::CommandExt;
use std::process::Command;

const BLOCKED: i32 = libc::EADDRNOTAVAIL;

fn marked(caps: Option<&[&str]>) -> Filter {
    let mut p = match caps {
        None => default_profile().unwrap(),
        Some(caps) => default_profile_for(caps).unwrap(),
    };
    p.set_default_errno_ret(Some(BLOCKED as u32));
    Filter::compile(&p).unwrap()
}

/// (name, syscall number, arguments): probes whose unfiltered result is never 99.
fn probes() -> Vec<(&'static str, c_long, [c_long; 6])> {
    let nowhere = cstr(c"/nonexistent-berth");
    let tmpfs = cstr(c"tmpfs");
    let user = cstr(c"user");
    vec![
        ("mount", libc::SYS_mount, [tmpfs, nowhere, tmpfs, 0, 0, 0]),
        ("umount2", libc::SYS_umount2, [nowhere, 0, 0, 0, 0, 0]),
        (
            "pivot_root",
            libc::SYS_pivot_root,
            [nowhere, nowhere, 0, 0, 0, 0],
        ),
        ("keyctl", libc::SYS_keyctl, [0, -3, 0, 0, 0, 0]),
        ("add_key", libc::SYS_add_key, [user, 0, 0, 0, -3, 0]),
        (
            "request_key",
            libc::SYS_request_key,
            [user, nowhere, 0, -3, 0, 0],
        ),
        (
            "unshare(CLONE_NEWUSER)",
            libc::SYS_unshare,
            [libc::CLONE_NEWUSER as _, 0, 0, 0, 0, 0],
        ),
        (
            "unshare(CLONE_NEWNS)",
            libc::SYS_unshare,
            [libc::CLONE_NEWNS as _, 0, 0, 0, 0, 0],
        ),
        ("setns", libc::SYS_setns, [-1, 0, 0, 0, 0, 0]),
        ("bpf", libc::SYS_bpf, [-1, 0, 0, 0, 0, 0]),
        (
            "perf_event_open",
            libc::SYS_perf_event_open,
            [0, 0, -1, -1, 0, 0],
        ),
        (
            "open_by_handle_at",
            libc::SYS_open_by_handle_at,
            [-1, 0, 0, 0, 0, 0],
        ),
        ("init_module", libc::SYS_init_module, [0, 0, 0, 0, 0, 0]),
        ("finit_module", libc::SYS_finit_module, [-1, 0, 0, 0, 0, 0]),
        (
            "delete_module",
            libc::SYS_delete_module,
            [nowhere, 0, 0, 0, 0, 0],
        ),
        ("reboot", libc::SYS_reboot, [0, 0, 0, 0, 0, 0]),
        (
            "kexec_file_load",
            libc::SYS_kexec_file_load,
            [-1, -1, 0, 0, -1, 0],
        ),
        ("swapon", libc::SYS_swapon, [nowhere, 0, 0, 0, 0, 0]),
        ("swapoff", libc::SYS_swapoff, [nowhere, 0, 0, 0, 0, 0]),
        ("userfaultfd", libc::SYS_userfaultfd, [-1, 0, 0, 0, 0, 0]),
        ("acct", libc::SYS_acct, [nowhere, 0, 0, 0, 0, 0]),
        ("settimeofday", libc::SYS_settimeofday, [0, 0, 0, 0, 0, 0]),
        (
            "clock_settime",
            libc::SYS_clock_settime,
            [-1, 0, 0, 0, 0, 0],
        ),
        (
            "clock_adjtime",
            libc::SYS_clock_adjtime,
            [-1, 0, 0, 0, 0, 0],
        ),
        ("iopl", libc::SYS_iopl, [99, 0, 0, 0, 0, 0]),
        ("ioperm", libc::SYS_ioperm, [0, 0, 0, 0, 0, 0]),
        (
            "process_vm_readv",
            libc::SYS_process_vm_readv,
            [0, 0, 0, 0, 0, -1],
        ),
        ("kcmp", libc::SYS_kcmp, [0, 0, -1, 0, 0, 0]),
        ("mbind", libc::SYS_mbind, [0, 0, -1, 0, 0, 0]),
        ("move_pages", libc::SYS_move_pages, [0, 0, 0, 0, 0, -1]),
        (
            "lookup_dcookie",
            libc::SYS_lookup_dcookie,
            [0, 0, 0, 0, 0, 0],
        ),
        ("quotactl", libc::SYS_quotactl, [0, 0, 0, 0, 0, 0]),
        ("sethostname", libc::SYS_sethostname, [0, -1, 0, 0, 0, 0]),
        (
            "io_uring_setup",
            libc::SYS_io_uring_setup,
            [0, 0, 0, 0, 0, 0],
        ),
        (
            "personality(PER_BSD)",
            libc::SYS_personality,
            [6, 0, 0, 0, 0, 0],
        ),
        ("syslog", libc::SYS_syslog, [-1, 0, 0, 0, 0, 0]),
        ("fsopen", libc::SYS_fsopen, [0, -1, 0, 0, 0, 0]),
        ("open_tree", libc::SYS_open_tree, [-1, 0, -1, 0, 0, 0]),
    ]
}

#[test]
fn blocks_what_dockers_default_blocks() {
    let f = marked(None);
    let mut wrong = Vec::new();
    for (name, nr, args) in probes() {
        match run(&f, move || sys(nr, args)) {
            Outcome::Exited(BLOCKED) => {}
            other => wrong.push(format!("{name}: {other:?}")),
        }
        // Unfiltered, no probe answers 99: the filter is what refused it.
        let unfiltered = common::run_with(move || sys(nr, args));
        assert_ne!(unfiltered, Outcome::Exited(BLOCKED), "{name} unfiltered");
    }
    assert!(wrong.is_empty(), "not blocked: {wrong:#?}");
}

#[test]
fn the_real_profile_answers_eperm() {
    let f = Filter::compile(&default_profile().unwrap()).unwrap();
    let newuser = || sys(libc::SYS_unshare, [libc::CLONE_NEWUSER as _, 0, 0, 0, 0, 0]);
    assert_eq!(run(&f, newuser), Outcome::Exited(libc::EPERM));
    let keyctl = || sys(libc::SYS_keyctl, [0, -3, 0, 0, 0, 0]);
    assert_eq!(run(&f, keyctl), Outcome::Exited(libc::EPERM));
}

#[test]
fn clone_is_checked_and_clone3_falls_back() {
    let f = marked(None);
    let body = || {
        let newuser = (libc::CLONE_NEWUSER | libc::SIGCHLD) as c_long;
        // SAFETY: fork-like clone; if the filter let it through the child exits at once.
        let pid = unsafe { libc::syscall(libc::SYS_clone, newuser, 0, 0, 0, 0) };
        if pid == 0 {
            // SAFETY: the accidental child leaves at once.
            unsafe { libc::_exit(0) };
        }
        if common::errno_of(pid) != BLOCKED {
            return 1;
        }
        if sys(libc::SYS_clone3, [0, 0, 0, 0, 0, 0]) != libc::ENOSYS {
            return 2;
        }
        // unshare without a namespace flag is allowed.
        if sys(libc::SYS_unshare, [libc::CLONE_FILES as _, 0, 0, 0, 0, 0]) != 0 {
            return 3;
        }
        // Syscalls newer than the profile (mseal is 462; libseccomp 2.5.4 does not know it).
        if sys(462, [0, 0, 0, 0, 0, 0]) != libc::ENOSYS {
            return 4;
        }
        0
    };
    assert_eq!(run(&f, body), Outcome::Exited(0));
}

#[test]
fn capabilities_open_their_syscalls() {
    let f = marked(Some(&["CAP_SYS_ADMIN", "CAP_SYS_TIME"]));
    let body = || {
        // In a new mount namespace of this child only; the mount point does not exist.
        if sys(libc::SYS_unshare, [libc::CLONE_NEWNS as _, 0, 0, 0, 0, 0]) != 0 {
            return 1;
        }
        let nowhere = cstr(c"/nonexistent-berth");
        let tmpfs = cstr(c"tmpfs");
        if sys(libc::SYS_mount, [tmpfs, nowhere, tmpfs, 0, 0, 0]) != libc::ENOENT {
            return 2;
        }
        if sys(libc::SYS_clock_settime, [-1, 0, 0, 0, 0, 0]) == BLOCKED {
            return 3;
        }
        // Still blocked with CAP_SYS_ADMIN: the keyring is not namespaced.
        if sys(libc::SYS_keyctl, [0, -3, 0, 0, 0, 0]) != BLOCKED {
            return 4;
        }
        0
    };
    assert_eq!(run(&f, body), Outcome::Exited(0));
}

#[test]
fn busybox_runs_under_it() {
    let out = run_under_default(
        "/bin/busybox",
        &[
            "sh",
            "-c",
            "ls / >/dev/null && grep -q 'Seccomp:.2' /proc/self/status && echo ok",
        ],
    );
    assert_eq!(out, "ok");
}

#[test]
fn glibc_threads_fall_back_from_clone3() {
    // glibc's pthread_create tries clone3 first; ENOSYS sends it to clone, which the
    // profile checks. python3 is in .ci/packages.
    let script =
        "import threading; t = threading.Thread(target=print, args=('ok',)); t.start(); t.join()";
    assert_eq!(run_under_default("/usr/bin/python3", &["-c", script]), "ok");
}

/// Runs a program under the default profile (installed by pre_exec after no_new_privs) and
/// returns its trimmed stdout; panics if it fails.
fn run_under_default(program: &str, args: &[&str]) -> String {
    let f = Filter::compile(&default_profile().unwrap()).unwrap();
    let mut cmd = Command::new(program);
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
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{program}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
