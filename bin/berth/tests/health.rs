//! Health checks run by a container's attendant: statuses as docker keeps them, shown by `ps`
//! and `inspect`, with timeouts and events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::{eventually, Engine};

fn health(e: &Engine, name: &str) -> serde_json::Value {
    e.inspect(name)["State"]["Health"].clone()
}

#[test]
fn a_check_turns_a_container_unhealthy_then_healthy() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "svc",
        "--health-cmd",
        "test -e /tmp/ready && echo fine",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert!(e.ok(&["ps"]).contains("(health: starting)"));
    eventually("unhealthy", || health(&e, "svc")["Status"] == "unhealthy");
    assert!(health(&e, "svc")["FailingStreak"].as_u64().unwrap() >= 2);
    e.ok(&["exec", "svc", "touch", "/tmp/ready"]);
    eventually("healthy", || health(&e, "svc")["Status"] == "healthy");
    let h = health(&e, "svc");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["ExitCode"].as_i64(), last["Output"].as_str()),
        (Some(0), Some("fine\n"))
    );
    assert!(h["Log"].as_array().unwrap().len() <= 5);
    assert!(e
        .ok(&["ps", "--format", "{{.Status}}"])
        .contains("(healthy)"));
    let events = e.ok(&[
        "events",
        "--since",
        "1m",
        "--until",
        "0s",
        "--format",
        "{{.Action}}",
    ]);
    assert!(
        events.contains("health_status: unhealthy\n")
            && events.contains("health_status: healthy\n"),
        "{events}"
    );
    e.ok(&["rm", "-f", "svc"]);
    e.assert_clean();
}

#[test]
fn a_check_that_takes_too_long_fails_and_none_is_none() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 30",
        "--health-interval",
        "300ms",
        "--health-timeout",
        "1s",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]);
    eventually("unhealthy after the timeout", || {
        health(&e, "slow")["Status"] == "unhealthy"
    });
    let last = health(&e, "slow")["Log"].as_array().unwrap()[0].clone();
    assert_ne!(last["ExitCode"].as_i64(), Some(0));
    e.ok(&[
        "run",
        "-d",
        "--name",
        "plain",
        "--no-healthcheck",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert!(health(&e, "plain").is_null());
    assert!(e
        .fail(
            125,
            &[
                "run",
                "--no-healthcheck",
                "--health-cmd",
                "true",
                "busybox",
                "true"
            ]
        )
        .contains("--no-healthcheck"));
    assert!(e
        .fail(
            125,
            &[
                "run",
                "--health-cmd",
                "true",
                "--health-interval",
                "soon",
                "busybox",
                "true"
            ]
        )
        .contains("--health-interval"));
    e.ok(&["rm", "-f", "slow", "plain"]);
    e.assert_clean();
}
