//! SCMP_ACT_NOTIFY end to end: a test agent listens on a unix socket; the child connects
//! before installing (as the init does before pivot_root), installs, sends the listener with
//! the container process state, and its getppid and mkdir are answered by the agent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use berth_seccomp::{process_state, Filter, ListenerSocket};
use common::{cstr, run, sys, Outcome};
use oci_spec::runtime::State;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::sync::mpsc;
use std::time::Duration;

/// What the agent saw.
#[derive(Debug)]
struct Seen {
    state: serde_json::Value,
    answered: Vec<i32>,
}

/// Accepts one connection, reads the state and the fd, then answers notifications until the
/// child is gone: getppid → 4242, mkdir → ENOSPC, anything else → continue.
fn agent(listener: UnixListener) -> Seen {
    let (conn, _) = listener.accept().unwrap();
    let mut json = Vec::new();
    let mut fds: Vec<OwnedFd> = Vec::new();
    loop {
        let mut buf = [0u8; 4096];
        let (n, got) = berth_sys::socket::recv(std::os::fd::AsFd::as_fd(&conn), &mut buf).unwrap();
        fds.extend(got);
        if n == 0 {
            break;
        }
        json.extend_from_slice(&buf[..n]);
    }
    assert_eq!(fds.len(), 1, "exactly one fd");
    let state = serde_json::from_slice(&json).unwrap();
    let fd = fds.pop().unwrap();
    let mut answered = Vec::new();
    loop {
        // SAFETY: seccomp_notif is plain data; the kernel wants it zeroed.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: NOTIF_RECV fills `req`; the fd is the listener.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) };
        if r != 0 {
            break; // ENOENT: the filtered process is gone.
        }
        let nr = i64::from(req.data.nr);
        let mut resp = libc::seccomp_notif_resp {
            id: req.id,
            val: 0,
            error: 0,
            flags: 0,
        };
        if nr == libc::SYS_getppid {
            resp.val = 4242;
        } else if nr == libc::SYS_mkdir {
            resp.error = -libc::ENOSPC;
        } else {
            resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32;
        }
        // SAFETY: NOTIF_SEND reads `resp`.
        unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
        answered.push(req.data.nr);
    }
    Seen { state, answered }
}

fn notify_filter(sock: &std::path::Path, flags: &str) -> Filter {
    common::filter(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"{}","listenerMetadata":"MKDIR=answered",
            "flags":[{flags}],
            "syscalls":[{{"names":["getppid","mkdir"],"action":"SCMP_ACT_NOTIFY"}}]}}"#,
        sock.display()
    ))
}

fn run_with_agent(flags: &str) -> (Outcome, Seen) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(agent(listener)));
    let f = notify_filter(&sock, flags);
    assert!(f.uses_notify());
    let outcome = run_child(&f, &sock);
    let seen = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("agent finished");
    (outcome, seen)
}

/// The child: connect, install, send, then make the notified syscalls. Exit codes name the
/// first step that went wrong.
fn run_child(f: &Filter, sock: &std::path::Path) -> Outcome {
    let sock = sock.to_path_buf();
    // run() installs the filter, so connect in a wrapper that installs itself.
    common::run_with(move || {
        let Ok(agent) = ListenerSocket::connect(&sock) else {
            return 1;
        };
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return 2;
        }
        let Ok(Some(listener)) = f.install() else {
            return 3;
        };
        let mut st = State::default();
        st.set_id("berth-test".into());
        // SAFETY: getpid has no arguments and is not filtered.
        let pid = unsafe { libc::getpid() };
        let state = process_state(st, pid, Some("MKDIR=answered".into()));
        if agent.send(listener, &state).is_err() {
            return 4;
        }
        // SAFETY: getppid has no arguments.
        if unsafe { libc::syscall(libc::SYS_getppid) } != 4242 {
            return 5;
        }
        if sys(
            libc::SYS_mkdir,
            [cstr(c"/nonexistent-berth/a"), 0, 0, 0, 0, 0],
        ) != libc::ENOSPC
        {
            return 6;
        }
        0
    })
}

#[test]
fn the_agent_receives_the_listener_and_answers_syscalls() {
    let (outcome, seen) = run_with_agent("");
    assert_eq!(outcome, Outcome::Exited(0), "agent saw {seen:?}");
    assert_eq!(
        seen.answered,
        [libc::SYS_getppid as i32, libc::SYS_mkdir as i32]
    );
    let s = &seen.state;
    assert_eq!(s["fds"], serde_json::json!(["seccompFd"]));
    assert_eq!(s["metadata"], "MKDIR=answered");
    assert_eq!(s["state"]["id"], "berth-test");
    assert!(s["pid"].as_i64().unwrap() > 0);
    assert!(!s["ociVersion"].as_str().unwrap().is_empty());
}

#[test]
fn notify_with_tsync_and_wait_killable_recv() {
    use berth_seccomp::kernel::*;
    let flags = r#""SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV""#;
    let dir = tempfile::tempdir().unwrap();
    let f = notify_filter(&dir.path().join("x.sock"), flags);
    assert_eq!(
        f.flags(),
        FLAG_NEW_LISTENER | FLAG_TSYNC | FLAG_TSYNC_ESRCH | FLAG_WAIT_KILLABLE_RECV
    );
    let (outcome, seen) = run_with_agent(flags);
    assert_eq!(outcome, Outcome::Exited(0), "agent saw {seen:?}");
}

#[test]
fn without_an_agent_the_notified_syscall_fails_with_enosys() {
    // The listener is closed unused: the kernel answers notified syscalls with ENOSYS.
    let dir = tempfile::tempdir().unwrap();
    let f = notify_filter(&dir.path().join("unused.sock"), "");
    // Install returned the only listener; run() drops it, closing it.
    let body = || {
        sys(
            libc::SYS_mkdir,
            [cstr(c"/nonexistent-berth/a"), 0, 0, 0, 0, 0],
        )
    };
    assert_eq!(run(&f, body), Outcome::Exited(libc::ENOSYS));
}
