//! Logs as docker keeps them: stdout and stderr apart, each line with its time, for detached
//! and foreground runs, in json-file and k8s-file, rotated by size; none and passthrough keep
//! nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::{eventually, Engine};

fn exited(e: &Engine, name: &str) -> bool {
    e.ok(&["inspect", "-f", "{{.State.Status}}", name]).trim() == "exited"
}

#[test]
fn stdout_and_stderr_stay_apart_with_their_times() {
    let e = Engine::new();
    for driver in ["json-file", "k8s-file"] {
        let name = format!("apart-{driver}");
        e.ok(&[
            "run",
            "-d",
            "--name",
            &name,
            "--log-driver",
            driver,
            "busybox",
            "sh",
            "-c",
            "echo out1; echo err1 >&2; sleep 0.2; echo out2; printf 'no newline'",
        ]);
        eventually("exited", || exited(&e, &name));
        let o = e.run(&["logs", &name]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "out1\nout2\nno newline",
            "{driver}"
        );
        assert_eq!(String::from_utf8_lossy(&o.stderr), "err1\n", "{driver}");
        let o = e.run(&["logs", "-t", "--tail", "2", &name]);
        let lines = String::from_utf8_lossy(&o.stdout).into_owned();
        let first = lines.lines().next().unwrap();
        let (time, text) = first.split_once(' ').unwrap();
        assert!(time.ends_with('Z') && time.len() == 30, "{first}");
        assert_eq!(text, "out2");
        // A window in time: nothing is older than a minute ago, nothing written in the future.
        assert_eq!(
            e.run(&["logs", "--since", "1m", &name]).stdout,
            b"out1\nout2\nno newline"
        );
        assert!(e.run(&["logs", "--until", "1m", &name]).stdout.is_empty());
        assert!(e
            .run(&["logs", "--since", "2099-01-01T00:00:00Z", &name])
            .stdout
            .is_empty());
        e.ok(&["rm", &name]);
    }
    e.assert_clean();
}

#[test]
fn a_foreground_run_is_logged_and_shown() {
    let e = Engine::new();
    let o = e.run(&[
        "run",
        "--name",
        "fg",
        "-e",
        "TEAM=blue",
        "--log-opt",
        "env=TEAM",
        "busybox",
        "sh",
        "-c",
        "echo hello; echo oops >&2",
    ]);
    assert_eq!(
        (o.stdout.as_slice(), o.stderr.as_slice()),
        (&b"hello\n"[..], &b"oops\n"[..])
    );
    let o = e.run(&["logs", "fg"]);
    assert_eq!(
        (o.stdout.as_slice(), o.stderr.as_slice()),
        (&b"hello\n"[..], &b"oops\n"[..])
    );
    assert_eq!(e.ok(&["logs", "--details", "fg"]), "TEAM=blue hello\n");
    e.ok(&["rm", "fg"]);
    // With a terminal, the pty's output is logged.
    e.ok(&[
        "run", "-d", "-t", "--name", "tty", "busybox", "echo", "on a tty",
    ]);
    eventually("exited", || exited(&e, "tty"));
    assert_eq!(e.ok(&["logs", "tty"]), "on a tty\r\n");
    e.ok(&["rm", "tty"]);
    e.assert_clean();
}

#[test]
fn rotation_bounds_the_disk_a_loud_container_takes() {
    let e = Engine::new();
    // 20 MB of 1000-character lines.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "loud",
        "--log-opt",
        "max-size=1m",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        "head -c 20000000 /dev/zero | tr '\\0' x | fold -w 1000; echo; echo last line",
    ]);
    eventually("exited", || exited(&e, "loud"));
    let dir = e
        .containers_dir()
        .join(e.ok(&["inspect", "-f", "{{.Id}}", "loud"]).trim());
    let logs: Vec<u64> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|d| d.unwrap())
        .filter(|d| d.file_name().to_string_lossy().starts_with("container.log"))
        .map(|d| d.metadata().unwrap().len())
        .collect();
    assert_eq!(logs.len(), 3, "{logs:?}");
    assert!(logs.iter().all(|n| *n <= 1 << 20), "{logs:?}");
    let tail = e.ok(&["logs", "--tail", "1", "loud"]);
    assert_eq!(tail, "last line\n");
    e.ok(&["rm", "loud"]);
    e.assert_clean();
}

#[test]
fn none_and_passthrough_keep_nothing_and_journald_needs_a_journal() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "x",
    ]);
    eventually("exited", || exited(&e, "quiet"));
    assert!(e.fail(1, &["logs", "quiet"]).contains("none"));
    let o = e.run(&[
        "run",
        "--name",
        "pass",
        "--log-driver",
        "passthrough",
        "busybox",
        "echo",
        "seen",
    ]);
    assert_eq!(o.stdout, b"seen\n");
    assert!(e.fail(1, &["logs", "pass"]).contains("passthrough"));
    assert!(e
        .fail(
            125,
            &[
                "run",
                "-d",
                "--log-driver",
                "passthrough",
                "busybox",
                "true"
            ]
        )
        .contains("passthrough"));
    if !std::path::Path::new("/run/systemd/journal/socket").exists() {
        assert!(e
            .fail(125, &["run", "--log-driver", "journald", "busybox", "true"])
            .contains("no journal"));
    }
    for bad in [
        ["--log-driver", "syslog"],
        ["--log-opt", "max-size=1"],
        ["--log-opt", "colour=red"],
    ] {
        let mut args = vec!["run"];
        args.extend_from_slice(&bad);
        args.extend_from_slice(&["busybox", "true"]);
        assert!(e.fail(125, &args).contains("--log-"));
    }
    e.ok(&["rm", "quiet", "pass"]);
    e.assert_clean();
}
