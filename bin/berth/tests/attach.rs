//! attach and start -a: a detached container's live output, its stdin with -i, its terminal
//! with -t, and ctrl-p ctrl-q to leave it running.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::{eventually, Engine};
use std::io::Write;
use std::process::Stdio;

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
