//! Commands that lock the same container, run at the same moment, over and over: none may
//! hang, each says truthfully what it did, and afterwards the container is in one consistent
//! state (and `rm -f` leaves nothing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::{output_within, Engine};
use std::process::{Output, Stdio};
use std::time::Duration;

/// Rounds per racing pair.
const ROUNDS: u32 = 50;
/// A command that takes longer is taken to hang.
const HANG: Duration = Duration::from_secs(20);

fn run(e: &Engine, args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = e.cmd(&args);
    c.stdin(Stdio::null());
    output_within(c, HANG, &format!("berth {args:?} (a hang)"))
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// What `ps -a` says of container `name`: its status column, or None when it is gone.
fn status(e: &Engine, name: &str) -> Option<String> {
    let out = e.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .map(str::to_string)
}

/// Runs `first` and, after a delay that varies by round, `second`, both with `{}` replaced
/// by the round's container name; `setup` prepares each round's container. `check` sees both
/// outputs and the container's status afterwards; then the container is removed.
fn race(
    setup: &[&str],
    first: &str,
    second: &str,
    check: impl Fn(&Engine, &Output, &Output, Option<String>),
) {
    let e = Engine::new();
    for round in 0..ROUNDS {
        let name = format!("c{round}");
        let fill = |t: &str| words(&t.replace("{}", &name));
        for step in setup {
            e.ok(&fill(step).iter().map(String::as_str).collect::<Vec<_>>());
        }
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| run(&e, &fill(first)));
            std::thread::sleep(Duration::from_millis(u64::from(round % 10) * 3));
            let b = run(&e, &fill(second));
            (a.join().unwrap(), b)
        });
        let st = status(&e, &name);
        check(&e, &a, &b, st);
        let _ = e.run(&["rm", "-f", &name]);
    }
    e.assert_clean();
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A successful `rm -f` removed the container; a failed one says why in one line.
fn rm_is_truthful(rm: &Output, status: &Option<String>) {
    if rm.status.success() {
        assert_eq!(*status, None, "rm -f succeeded, the container stays");
    } else {
        assert_eq!(err(rm).lines().count(), 1, "{}", err(rm));
    }
}

#[test]
fn run_detached_against_rm_force() {
    race(
        &[],
        "run -d --name {} busybox sleep 1000",
        "rm -f {}",
        |_, run, rm, status| {
            rm_is_truthful(rm, &status);
            if run.status.success() && !rm.status.success() {
                assert_eq!(status.as_deref(), Some("running"), "{}", err(rm));
            }
            if !run.status.success() {
                assert_eq!(run.status.code(), Some(125), "{}", err(run));
            }
        },
    );
}

#[test]
fn start_against_rm_force() {
    race(
        &["create --name {} busybox sleep 1000"],
        "start {}",
        "rm -f {}",
        |_, _, rm, status| {
            assert!(rm.status.success(), "{}", err(rm));
            rm_is_truthful(rm, &status);
        },
    );
}

#[test]
fn start_against_start() {
    race(
        &["create --name {} busybox sleep 1000"],
        "start {}",
        "start {}",
        |_, a, b, status| {
            assert!(a.status.success(), "{}", err(a));
            assert!(b.status.success(), "{}", err(b));
            assert_eq!(status.as_deref(), Some("running"));
        },
    );
}

#[test]
fn start_against_stop_and_kill() {
    for other in ["stop -t 1 {}", "kill {}"] {
        race(
            &["create --name {} busybox sleep 1000"],
            "start {}",
            other,
            |_, start, _, status| {
                assert!(start.status.success(), "{}", err(start));
                // Whatever the order, it started: running still, or stopped after.
                assert!(
                    matches!(status.as_deref(), Some("running" | "exited")),
                    "{status:?}"
                );
            },
        );
    }
}

#[test]
fn stop_exec_wait_against_rm_force() {
    for other in ["stop -t 1 {}", "exec {} true", "wait {}", "rm -f {}"] {
        race(
            &["run -d --name {} busybox sleep 1000"],
            other,
            "rm -f {}",
            |_, _, rm, status| {
                // One of two rm -f may find the container already gone.
                rm_is_truthful(rm, &status);
            },
        );
    }
}
