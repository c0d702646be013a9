//! containerd through `ctr`, with berth-runtime as the runc shim's binary (`--runc-binary`).

use crate::common::text;
use crate::{env, runtime, sh, sh_ok, wait_for, IMAGE};
use std::process::Output;

const NS: &str = "berth";

fn ctr(args: &[&str]) -> Output {
    let sock = env("BERTH_INTEROP_CONTAINERD");
    let mut all = vec!["--address", sock.as_str(), "-n", NS];
    all.extend(args);
    sh("ctr", &all)
}

fn ctr_ok(args: &[&str]) -> String {
    let out = ctr(args);
    assert!(
        out.status.success(),
        "ctr {args:?}: {}{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    text(&out.stdout)
}

/// The status column of `ctr task ls` for `id`.
fn task_status(id: &str) -> Option<String> {
    ctr_ok(&["task", "ls"])
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .and_then(|l| l.split_whitespace().nth(2).map(String::from))
}

/// Removes what a failed run left under `id`.
fn forget(id: &str) {
    let _ = ctr(&["task", "kill", "-s", "KILL", id]);
    let _ = ctr(&["task", "delete", "-f", id]);
    let _ = ctr(&["container", "delete", id]);
}

#[test]
#[ignore = "run by scripts/test.d/60-interop.sh"]
fn ctr_run_rm() {
    let rt = runtime();
    forget("ctr-rm");
    let out = ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        &rt,
        IMAGE,
        "ctr-rm",
        "sh",
        "-c",
        "echo hello; id -u; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\n0\n");
    assert!(!ctr_ok(&["container", "ls", "-q"])
        .lines()
        .any(|l| l == "ctr-rm"));
}

#[test]
#[ignore = "run by scripts/test.d/60-interop.sh"]
fn ctr_task_exec_pause_kill_delete() {
    let rt = runtime();
    let id = "ctr-long";
    forget(id);
    let script = "trap 'exit 0' TERM; while :; do sleep 0.1; done";
    ctr_ok(&[
        "run",
        "-d",
        "--runc-binary",
        &rt,
        IMAGE,
        id,
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(task_status(id).as_deref(), Some("RUNNING"));
    // The shim keeps the runtime's state under /run/containerd/runc/<namespace>.
    let state = sh_ok(
        &rt,
        &["--root", &format!("/run/containerd/runc/{NS}"), "state", id],
    );
    assert!(state.contains("\"running\""), "{state}");

    let out = ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        id,
        "sh",
        "-c",
        "echo in exec; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "in exec\n");
    assert!(ctr_ok(&["task", "ps", id]).lines().count() >= 2);

    ctr_ok(&["task", "pause", id]);
    assert_eq!(task_status(id).as_deref(), Some("PAUSED"));
    ctr_ok(&["task", "resume", id]);
    assert_eq!(task_status(id).as_deref(), Some("RUNNING"));

    ctr_ok(&["task", "kill", id]);
    wait_for("the task to stop", 20, || {
        (task_status(id).as_deref() == Some("STOPPED")).then_some(())
    });
    ctr_ok(&["task", "delete", id]);
    ctr_ok(&["container", "delete", id]);
    let gone = sh(
        &rt,
        &["--root", &format!("/run/containerd/runc/{NS}"), "state", id],
    );
    assert!(!gone.status.success());
}
