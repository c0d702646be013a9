//! Restart policies, applied by each container's monitor, and `start --all-restartable`,
//! which brings containers back when no monitor survived (a reboot).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::{eventually, Engine};

fn field(e: &Engine, name: &str, template: &str) -> String {
    e.ok(&["inspect", "-f", template, name]).trim().to_string()
}

fn runs(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log).map_or(0, |s| s.lines().count())
}

#[test]
fn on_failure_restarts_up_to_its_count() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    eventually("two restarts, then exited", || {
        field(&e, "flaky", "{{.RestartCount}} {{.State.Status}}") == "2 exited"
    });
    assert_eq!(field(&e, "flaky", "{{.State.ExitCode}}"), "3");
    assert_eq!(
        field(
            &e,
            "flaky",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:2"
    );
    // A clean exit is not a failure.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "clean",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]);
    eventually("exited", || {
        field(&e, "clean", "{{.State.Status}}") == "exited"
    });
    assert_eq!(field(&e, "clean", "{{.RestartCount}}"), "0");
    e.ok(&["rm", "flaky", "clean"]);
    e.assert_clean();
}

#[test]
fn a_killed_worker_comes_back_and_its_data_stays() {
    let e = Engine::new();
    let data = e.b.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let volume = format!("{}:/data", data.display());
    // A database-like loop: appends a line per run, then works until killed.
    let script = "echo started >> /data/journal; while true; do sleep 0.1; done";
    e.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--restart",
        "on-failure",
        "-v",
        &volume,
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let journal = data.join("journal");
    eventually("first run", || runs(&journal) == 1);
    let pid: i32 = field(&e, "db", "{{.State.Pid}}").parse().unwrap();
    // SAFETY: SIGKILL to the container's main process, as a crash would.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    eventually("restarted after the kill", || runs(&journal) == 2);
    eventually("running again", || {
        field(&e, "db", "{{.State.Status}}") == "running"
    });
    assert_eq!(field(&e, "db", "{{.RestartCount}}"), "1");
    // Stopped by hand: it stays stopped.
    e.ok(&["stop", "-t", "1", "db"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(field(&e, "db", "{{.State.Status}}"), "exited");
    assert_eq!(runs(&journal), 2);
    e.ok(&["rm", "db"]);
    // The data outlives the container; a new one on the same volume carries on.
    e.ok(&[
        "run",
        "--rm",
        "-v",
        &volume,
        "busybox",
        "sh",
        "-c",
        "echo again >> /data/journal",
    ]);
    assert_eq!(
        std::fs::read_to_string(&journal).unwrap(),
        "started\nstarted\nagain\n"
    );
    e.assert_clean();
}

#[test]
fn always_restarts_until_stopped_and_rm_ends_a_pending_restart() {
    let e = Engine::new();
    let data = e.b.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let volume = format!("{}:/data", data.display());
    e.ok(&[
        "run",
        "-d",
        "--name",
        "loop",
        "--restart",
        "always",
        "-v",
        &volume,
        "busybox",
        "sh",
        "-c",
        "echo run >> /data/runs",
    ]);
    let log = data.join("runs");
    eventually("several runs", || runs(&log) >= 3);
    assert!(
        field(&e, "loop", "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap()
            >= 2
    );
    // rm -f while it pauses between runs: nothing of it stays, its monitor neither.
    e.ok(&["rm", "-f", "loop"]);
    e.assert_clean();
    assert!(e
        .fail(
            125,
            &["run", "--rm", "--restart", "always", "busybox", "true"]
        )
        .contains("--restart"));
    assert!(e
        .fail(125, &["run", "--restart", "sometimes", "busybox", "true"])
        .contains("--restart"));
    assert!(e
        .fail(
            125,
            &["run", "--restart", "on-failure:0", "busybox", "true"]
        )
        .contains("--restart"));
}

#[test]
fn after_a_reboot_start_all_restartable_brings_back_what_its_policy_says() {
    let e = Engine::new();
    let start = |name: &str, policy: &str| {
        e.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            "busybox",
            "sleep",
            "1000",
        ]);
    };
    start("always", "always");
    start("unless", "unless-stopped");
    start("stopped", "unless-stopped");
    start("never", "no");
    e.ok(&[
        "run",
        "-d",
        "--name",
        "done",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]);
    eventually("done exited", || {
        field(&e, "done", "{{.State.Status}}") == "exited"
    });
    e.ok(&["stop", "-t", "0", "stopped"]);
    // The reboot: every monitor and every container process dies at once.
    for name in ["always", "unless", "never"] {
        let state = e.inspect(name)["State"].clone();
        for pid in [&state["MonitorPid"], &state["Pid"]] {
            // SAFETY: SIGKILL to this test's container processes.
            unsafe { libc::kill(pid.as_i64().unwrap() as i32, libc::SIGKILL) };
        }
    }
    eventually("all down", || e.ok(&["ps", "-q"]).is_empty());
    let started = e.ok(&["start", "--all-restartable"]);
    let mut started: Vec<&str> = started.lines().collect();
    started.sort();
    assert_eq!(started, ["always", "unless"]);
    for name in ["always", "unless"] {
        assert_eq!(field(&e, name, "{{.State.Status}}"), "running");
    }
    let unit = e.ok(&["generate", "systemd", "always"]);
    let id = field(&e, "always", "{{.Id}}");
    assert!(
        unit.contains(&format!("start {id}\n")) && unit.contains("[Install]"),
        "{unit}"
    );
    e.ok(&["rm", "-f", "always", "unless", "stopped", "never", "done"]);
    e.assert_clean();
}
