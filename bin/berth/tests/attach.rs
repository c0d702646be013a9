//! attach and start -a: a detached container's live output, its stdin with -i, its terminal
//! with -t (sized as the client's), the detach keys to leave it running, and signals passed
//! on without a terminal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::{eventually, on_pty_acting, type_on, Engine};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Stdio;
use std::time::Duration;

#[test]
fn start_attached_gets_all_the_output_and_the_status() {
    let e = Engine::new();
    e.ok(&[
        "create",
        "--name",
        "job",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    let o = e.run(&["start", "-a", "job"]);
    assert_eq!(
        (o.status.code(), o.stdout.as_slice(), o.stderr.as_slice()),
        (Some(3), &b"out\n"[..], &b"err\n"[..])
    );
    // -i: the terminal's input goes to the container.
    e.ok(&[
        "create",
        "-i",
        "--name",
        "reader",
        "busybox",
        "sh",
        "-c",
        "read l; echo got $l",
    ]);
    let mut c = e.cmd(&["start", "-a", "-i", "reader"]);
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"line\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(0), &b"got line\n"[..])
    );
    e.ok(&["rm", "job", "reader"]);
    e.assert_clean();
}

#[test]
fn attach_to_a_running_container_with_an_open_stdin() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "echoer",
        "busybox",
        "sh",
        "-c",
        "while read l; do echo got $l; done",
    ]);
    let mut child = e
        .cmd(&["attach", "echoer"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(b"one\ntwo\n").unwrap();
    // The input ending does not end the container; its end ends the attach.
    drop(input);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.State.Status}}", "echoer"]),
        "running\n"
    );
    e.ok(&["kill", "echoer"]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(137), &b"got one\ngot two\n"[..])
    );
    // A second attach after a first one left: the container still reads.
    e.ok(&["start", "echoer"]);
    let mut child = e
        .cmd(&["attach", "--no-stdin", "echoer"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    e.ok(&["stop", "-t", "0", "echoer"]);
    assert!(child.wait().unwrap().code().is_some());
    assert!(e.fail(1, &["attach", "echoer"]).contains("exited"));
    e.ok(&["rm", "echoer"]);
    e.assert_clean();
}

#[test]
fn attach_to_a_terminal_and_detach_with_ctrl_p_ctrl_q() {
    let e = Engine::new();
    e.ok(&["run", "-d", "-it", "--name", "shell", "busybox", "sh"]);
    // ctrl-p ctrl-q leaves the shell running.
    let (status, _) = e.on_pty(&["attach", "shell"], b"\x10\x11");
    assert_eq!(status, Some(0));
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.State.Status}}", "shell"]),
        "running\n"
    );
    // Typing at it: the shell answers, and its exit ends the attach with its status.
    let (status, out) = e.on_pty(&["attach", "shell"], b"echo sum=$((40+2)); exit 4\r");
    assert_eq!(status, Some(4), "{out}");
    assert!(out.contains("sum=42"), "{out:?}");
    eventually("exited", || {
        e.ok(&["inspect", "-f", "{{.State.Status}}", "shell"]) == "exited\n"
    });
    e.ok(&["rm", "shell"]);
    e.assert_clean();
}

#[test]
fn the_container_terminal_takes_the_client_size_and_follows_it() {
    let e = Engine::new();
    e.ok(&["run", "-d", "-it", "--name", "shell", "busybox", "sh"]);
    // On attach: the client's 33 rows and 111 columns.
    let (status, out) = e.on_pty(&["attach", "shell"], b"stty size; exit 5\r");
    assert_eq!(status, Some(5), "{out}");
    assert!(out.contains("33 111"), "{out:?}");
    // While attached: the window changes, and the client gets SIGWINCH as a terminal's
    // foreground process would.
    e.ok(&["start", "shell"]);
    let (status, out) = on_pty_acting(&e, &["attach", "shell"], |master, pid| {
        let ws = libc::winsize {
            ws_row: 50,
            ws_col: 132,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize; kill signals the berth we started.
        unsafe {
            assert_eq!(libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws), 0);
            libc::kill(pid as i32, libc::SIGWINCH);
        }
        std::thread::sleep(Duration::from_millis(200));
        type_on(master, b"stty size; exit 6\r");
    });
    assert_eq!(status, Some(6), "{out}");
    assert!(out.contains("50 132"), "{out:?}");
    e.ok(&["rm", "shell"]);
    e.assert_clean();
}

#[test]
fn detach_keys_are_the_clients_choice() {
    let e = Engine::new();
    e.ok(&["run", "-d", "-it", "--name", "shell", "busybox", "sh"]);
    let (status, out) = e.on_pty(&["attach", "--detach-keys", "ctrl-a,x", "shell"], b"\x01x");
    assert_eq!(status, Some(0), "{out}");
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.State.Status}}", "shell"]),
        "running\n"
    );
    // With detaching off, ctrl-p ctrl-q are input; the shell's exit ends the attach.
    let (status, out) = e.on_pty(
        &["attach", "--detach-keys=", "shell"],
        b"\x10\x11\x15exit 3\r",
    );
    assert_eq!(status, Some(3), "{out}");
    let err = e.fail(1, &["start", "-a", "--detach-keys", "ctrl-1", "shell"]);
    assert!(err.contains("--detach-keys \"ctrl-1\""), "{err}");
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.State.Status}}", "shell"]),
        "exited\n",
        "a bad flag starts nothing"
    );
    e.ok(&["rm", "shell"]);
    e.assert_clean();
}

#[test]
fn signals_reach_the_container_through_an_attached_client() {
    let e = Engine::new();
    let trapper = "trap 'echo got INT; exit 7' INT; while :; do sleep 0.1; done";
    for name in ["proxied", "kept"] {
        e.ok(&["run", "-d", "--name", name, "busybox", "sh", "-c", trapper]);
    }
    let attach = |args: &[&str], sig: i32| {
        let mut c = e.cmd(args);
        // SAFETY: the child only sets a disposition before exec. It starts ignoring SIGINT,
        // as a program started from a background shell does.
        unsafe {
            c.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                Ok(())
            });
        }
        let child = c.stdout(Stdio::piped()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        // SAFETY: signals the berth we started.
        unsafe { libc::kill(child.id() as i32, sig) };
        child.wait_with_output().unwrap()
    };
    // --sig-proxy (the default): passed on although ignored here (a blocked signal is queued
    // whatever its disposition); the container traps it, and its exit ends the attach.
    let out = attach(&["attach", "proxied"], libc::SIGINT);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(out.stdout, b"got INT\n");
    eventually("exited", || {
        e.ok(&["inspect", "-f", "{{.State.Status}}", "proxied"]) == "exited\n"
    });
    // --sig-proxy=false: the client dies of what ends it; the container runs on.
    let out = attach(&["attach", "--sig-proxy=false", "kept"], libc::SIGTERM);
    assert_eq!(out.status.signal(), Some(libc::SIGTERM));
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.State.Status}}", "kept"]),
        "running\n"
    );
    e.ok(&["rm", "-f", "proxied", "kept"]);
    e.assert_clean();
}
