//! The six OCI hooks: when they run, in which namespaces, with what state on stdin, and what a
//! failing hook does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;

/// A hook that appends `NAME <mount ns> <state json>` to `log`.
fn hook(name: &str, log: &Path) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("read -r state; echo \"{name} $(readlink /proc/self/ns/mnt) $state\" >> {}", log.display())]
    })
}

fn entries(log: &Path) -> Vec<(String, String, Value)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut it = l.splitn(3, ' ');
            let name = it.next().unwrap().to_string();
            let ns = it.next().unwrap().to_string();
            (name, ns, serde_json::from_str(it.next().unwrap()).unwrap())
        })
        .collect()
}

#[test]
fn all_hooks_run_in_order_with_state() {
    let mut b = Bundle::new(&["sleep", "60"]);
    let log = b.path().join("hooks.log");
    // createContainer runs in the container's namespaces but before the pivot, so host paths
    // still resolve; startContainer runs after it and reaches the log through a bind mount.
    let kinds = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    let mut hooks = serde_json::Map::new();
    for k in kinds {
        let mut h = hook(k, &log);
        if k == "startContainer" {
            h = hook(k, Path::new("/hooklog/hooks.log"));
        }
        hooks.insert(k.to_string(), json!([h]));
    }
    b.config["hooks"] = Value::Object(hooks);
    b.config["annotations"] = json!({"org.example/key": "value"});
    let dir = b.path().to_path_buf();
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/hooklog", "type": "bind", "source": dir, "options": ["rbind"]}),
    );
    let id = unique("hooks");
    let created = b.create(&id, &[]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    assert!(b.rt(&["start", &id]).status.success());
    assert!(b.rt(&["kill", &id, "KILL"]).status.success());
    eventually("stop", || b.state(&id)["status"] == "stopped");
    assert!(b.rt(&["delete", &id]).status.success());

    let e = entries(&log);
    let names: Vec<&str> = e.iter().map(|(n, ..)| n.as_str()).collect();
    assert_eq!(names, kinds.to_vec());
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt")
        .unwrap()
        .to_string_lossy()
        .into_owned();
    for (name, ns, state) in &e {
        let in_container = name == "createContainer" || name == "startContainer";
        assert_eq!(
            ns != &host_mnt,
            in_container,
            "{name} ran in the wrong mount namespace"
        );
        assert_eq!(state["id"], id.as_str(), "{name}");
        assert_eq!(state["ociVersion"], "1.2.0");
        assert_eq!(state["annotations"]["org.example/key"], "value", "{name}");
        assert_eq!(state["bundle"], b.path().to_str().unwrap());
        let want = match name.as_str() {
            "prestart" | "createRuntime" | "createContainer" => "creating",
            "startContainer" => "created",
            "poststart" => "running",
            _ => "stopped",
        };
        assert_eq!(state["status"], want, "{name}");
        if name == "prestart" || name == "createRuntime" || name == "poststart" {
            assert_eq!(state["pid"], pid, "{name} sees the init's host pid");
        }
    }
    b.assert_host_clean();
}

#[test]
fn a_failing_create_hook_fails_create_and_leaves_nothing() {
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let mut b = Bundle::new(&["true"]);
        b.config["hooks"] = json!({ kind: [{"path": "/bin/sh", "args": ["sh", "-c", "echo hook said no >&2; exit 9"]}] });
        let id = unique("badhook");
        let out = b.create(&id, &[]);
        assert_fails_with(&out, &format!("{kind} hook #0"));
        assert!(
            text(&out.stderr).contains("hook said no"),
            "{}",
            text(&out.stderr)
        );
        b.assert_host_clean();
    }
}

#[test]
fn hook_timeout_and_failing_poststart_is_only_a_warning() {
    let mut b = Bundle::new(&["true"]);
    b.config["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}]});
    let out = b.run(&unique("slowhook"));
    assert_fails_with(&out, "timed out");
    b.assert_host_clean();

    let mut b = Bundle::new(&["echo", "ran"]);
    b.config["hooks"] =
        json!({"poststart": [{"path": "/bin/false"}], "poststop": [{"path": "/bin/false"}]});
    let out = b.run(&unique("warnhook"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ran\n");
    assert!(
        text(&out.stderr).contains("poststart hook #0"),
        "{}",
        text(&out.stderr)
    );
    b.assert_host_clean();
}

#[test]
fn a_failing_start_container_hook_fails_start() {
    let mut b = Bundle::new(&["true"]);
    b.config["hooks"] = json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo not today >&2; exit 4"]}]});
    let id = unique("starthook");
    assert!(b.create(&id, &[]).status.success());
    let out = b.rt(&["start", &id]);
    assert_fails_with(&out, "startContainer hook #0");
    assert!(text(&out.stderr).contains("not today"));
    eventually("the init to exit", || b.state(&id)["status"] == "stopped");
    assert!(b.rt(&["delete", &id]).status.success());
    b.assert_host_clean();
}

#[test]
fn a_failing_start_container_hook_fails_run_detached_and_leaves_nothing() {
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
    let id = unique("rundhook");
    b.write();
    let mut c = b.cmd(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    c.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    let out = run_with_timeout(c, std::time::Duration::from_secs(30));
    assert_fails_with(&out, "startContainer hook #0");
    b.assert_host_clean();
    assert_no_cgroup(&id);
}

/// A failing poststart or poststop hook is a warning, and the hooks after it still run
/// (runtime-spec: the remaining hooks and the lifecycle continue).
#[test]
fn every_poststart_and_poststop_hook_runs_after_one_fails() {
    let mut b = Bundle::new(&["true"]);
    let log = b.path().join("ran.log");
    let ok = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} >> {}", log.display())]});
    let fail = json!({"path": "/bin/false"});
    b.config["hooks"] = json!({
        "poststart": [fail, ok("poststart-1"), fail, ok("poststart-3")],
        "poststop": [fail, ok("poststop-1")]
    });
    let out = b.run(&unique("allhooks"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "poststart-1\npoststart-3\npoststop-1\n"
    );
    let err = text(&out.stderr);
    for failed in ["poststart hook #0", "poststart hook #2", "poststop hook #0"] {
        assert!(err.contains(failed), "{failed}: {err}");
    }
    b.assert_host_clean();
}

/// createContainer and startContainer hooks without `env` run with the container process's
/// environment (runc and crun), not the runtime's.
#[test]
fn container_hooks_without_env_get_the_processes_environment() {
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["env"] = json!(["PATH=/bin", "BERTH_HOOK_VAR=process"]);
    let log = b.path().join("env.log");
    let hook = |name: &str, log: &Path| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} $BERTH_HOOK_VAR >> {}", log.display())]});
    b.config["hooks"] = json!({
        "createContainer": [hook("createContainer", &log)],
        "startContainer": [hook("startContainer", Path::new("/hooklog/env.log"))]
    });
    let dir = b.path().to_path_buf();
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/hooklog", "type": "bind", "source": dir, "options": ["rbind"]}),
    );
    b.write();
    let id = unique("hookprocenv");
    let mut c = b.cmd(&["run", &id]);
    c.current_dir(b.path()).env("BERTH_HOOK_VAR", "runtime");
    let out = run_with_timeout(c, std::time::Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "createContainer process\nstartContainer process\n"
    );
    b.assert_host_clean();
}
