//! Faults an outside test found in the engine: what a detached container's monitor keeps of
//! its caller, ids that mean "unchanged" to the kernel, docker's exit statuses and flag
//! errors, absurd values, relative paths, read-only mounts with mounts below them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::Engine;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

/// A pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = std::io::pipe().unwrap();
    (r.into(), w.into())
}

#[test]
fn the_monitor_keeps_none_of_its_callers_files() {
    let e = Engine::new();
    let (r, w) = pipe();
    let mut c = e.cmd(&["run", "-d", "--name", "fds", "busybox", "sleep", "1000"]);
    let raw = w.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; `raw` is open in the parent and so in the child.
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = c.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{:?}", out);
    drop(w);
    // `( berth run -d ... ) 7>&1 | cat` ends when run -d does: nobody else holds the pipe.
    let mut pfd = libc::pollfd {
        fd: r.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 5000) };
    assert_eq!(n, 1, "the pipe stays open after run -d returned");
    let mut rest = Vec::new();
    std::fs::File::from(r).read_to_end(&mut rest).unwrap();
    let monitor = e.inspect("fds")["State"]["MonitorPid"].as_i64().unwrap();
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{monitor}/fd"))
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(fds.len() <= 8, "the monitor holds {fds:?}");
    e.ok(&["rm", "-f", "fds"]);
    e.assert_clean();
}
