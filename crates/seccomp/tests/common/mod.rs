//! Helpers for the kernel tests: run a closure in a forked child under a filter, with a
//! timeout, and read how it ended.
#![allow(dead_code)]

use berth_seccomp::Filter;
use oci_spec::runtime::LinuxSeccomp;
use std::time::{Duration, Instant};

/// Exit codes the child uses for its own failures (above any errno we test).
pub const INSTALL_FAILED: i32 = 200;
pub const NNP_FAILED: i32 = 201;

/// How a child ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signaled(i32),
    TimedOut,
}

/// A seccomp object from JSON.
pub fn profile(json: &str) -> LinuxSeccomp {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("bad test profile: {e}\n{json}"))
}

/// Compiles a JSON profile.
pub fn filter(json: &str) -> Filter {
    Filter::compile(&profile(json)).unwrap_or_else(|e| panic!("compile: {e}"))
}

/// Forks; the child sets no_new_privs, installs `filter` and exits with `body()`'s value.
pub fn run(filter: &Filter, body: impl FnOnce() -> i32) -> Outcome {
    run_with(|| {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return NNP_FAILED;
        }
        if filter.install().is_err() {
            return INSTALL_FAILED;
        }
        body()
    })
}

/// Forks and exits the child with `body()`'s value; waits at most 20 s.
pub fn run_with(body: impl FnOnce() -> i32) -> Outcome {
    // SAFETY: the child only runs `body` (raw syscalls, glibc calls that are fork-safe) and _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = body();
        // SAFETY: leaves the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    wait(pid, Duration::from_secs(20))
}

/// Waits for `pid`, killing it after `limit`.
pub fn wait(pid: libc::pid_t, limit: Duration) -> Outcome {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if r == pid {
            if libc::WIFEXITED(status) {
                return Outcome::Exited(libc::WEXITSTATUS(status));
            }
            return Outcome::Signaled(libc::WTERMSIG(status));
        }
        if start.elapsed() > limit {
            // SAFETY: signalling and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Outcome::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A raw syscall's errno (0 on success).
pub fn errno_of(ret: libc::c_long) -> i32 {
    if ret == -1 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

/// `syscall(nr, args...)` returning its errno (0 on success).
pub fn sys(nr: libc::c_long, args: [libc::c_long; 6]) -> i32 {
    // SAFETY: tests call harmless syscalls with plain-integer or null/invalid arguments.
    let ret = unsafe { libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]) };
    errno_of(ret)
}

/// A NUL-terminated path as a syscall argument (the string is 'static).
pub fn cstr(s: &'static std::ffi::CStr) -> libc::c_long {
    s.as_ptr() as libc::c_long
}
