//! berth under systemd as PID 1: the cgroup manager is systemd by default there, each
//! container's cgroup a transient scope `berth-<id>.scope` in `machine.slice` (or the slice
//! `--cgroup-parent` names) with `-m` in the unit and in memory.max; `--cgroup-manager
//! cgroupfs` still works beside it. Runs in the VM that boots systemd
//! (scripts/test.d/42-systemd-vm.sh); elsewhere each test says it is skipped, unless
//! BERTH_TEST_SYSTEMD=1 demands systemd.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../berth-runtime/tests/systemd_host/mod.rs"]
mod systemd_host;
use common::engine::{eventually, output_within, Engine, TIMEOUT};
use systemd_host::{show, systemd_here};

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `berth ARGS` as given (no test cgroup parent added).
fn berth(e: &Engine, args: &[&str]) -> Output {
    let mut c = e.b.cmd(args);
    c.stdin(Stdio::null());
    output_within(c, TIMEOUT, &format!("berth {args:?}"))
}

fn ok(e: &Engine, args: &[&str]) -> String {
    let o = berth(e, args);
    assert!(
        o.status.success(),
        "berth {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn containers_get_scopes_with_their_limits() {
    if !systemd_here() {
        return;
    }
    let e = Engine::new();
    // The default manager here is systemd: -m lands in the scope's memory.max.
    let out = ok(
        &e,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-m",
            "64m",
            "busybox",
            "cat",
            "/sys/fs/cgroup/memory.max",
        ],
    );
    assert_eq!(out, "67108864\n");

    let id = ok(
        &e,
        &[
            "run",
            "-d",
            "--name",
            "sd",
            "--network",
            "none",
            "-m",
            "64m",
            "busybox",
            "sleep",
            "600",
        ],
    )
    .trim()
    .to_string();
    let unit = format!("berth-{id}.scope");
    assert_eq!(show(&unit, "ActiveState"), "active");
    assert_eq!(show(&unit, "Slice"), "machine.slice");
    assert_eq!(show(&unit, "MemoryMax"), "67108864");
    let dir = Path::new("/sys/fs/cgroup/machine.slice").join(&unit);
    let pid = ok(&e, &["inspect", "-f", "{{.State.Pid}}", "sd"]);
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|p| p == pid.trim()), "{procs}");
    ok(&e, &["update", "--memory", "128m", "sd"]);
    assert_eq!(show(&unit, "MemoryMax"), "134217728");
    assert_eq!(
        std::fs::read_to_string(dir.join("memory.max"))
            .unwrap()
            .trim(),
        "134217728"
    );
    ok(&e, &["rm", "-f", "sd"]);
    eventually(&format!("{unit} unloaded"), || {
        show(&unit, "LoadState") == "not-found"
    });
    assert!(!dir.exists());

    // A slice of one's own, and berth's own manager beside systemd's.
    let out = ok(
        &e,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--cgroup-parent",
            "berthtest.slice",
            "busybox",
            "cat",
            "/proc/1/cgroup",
        ],
    );
    assert_eq!(out, "0::/\n");
    let out = ok(
        &e,
        &[
            "--cgroup-manager",
            "cgroupfs",
            "run",
            "--rm",
            "--network",
            "none",
            "--cgroup-parent",
            "/berthtest-fs",
            "-m",
            "32m",
            "busybox",
            "cat",
            "/sys/fs/cgroup/memory.max",
        ],
    );
    assert_eq!(out, "33554432\n");
    // A path where systemd wants a slice: one line naming the flag.
    let o = berth(
        &e,
        &["run", "--rm", "--cgroup-parent", "/x", "busybox", "true"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--cgroup-parent") && err.contains("slice"),
        "{err}"
    );
    e.assert_clean();
    let _ = Command::new("systemctl")
        .args(["stop", "berthtest.slice"])
        .status();
    let _ = std::fs::remove_dir("/sys/fs/cgroup/berthtest-fs");
}
