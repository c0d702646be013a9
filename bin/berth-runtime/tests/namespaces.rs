//! Namespaces: all eight created, joined by path, user namespaces with id maps, and time
//! namespace offsets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;

const KINDS: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Every namespace type new, the user namespace mapping 0..65536 to 100000.
fn all_namespaces(b: &mut Bundle) {
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
        {"type": "mount"}, {"type": "cgroup"}, {"type": "time"}
    ]);
    b.with_user_namespace(100000);
}

#[test]
fn all_eight_namespaces_are_new() {
    let script = KINDS
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{k}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        &format!("{script}; echo $$; cat /proc/self/uid_map /proc/self/gid_map; id -u"),
    ]);
    all_namespaces(&mut b);
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    for (i, k) in KINDS.iter().enumerate() {
        assert_ne!(lines[i], host_ns(k), "{k} namespace is the host's");
    }
    assert_eq!(lines[8], "1", "pid 1 in a new pid namespace");
    assert_eq!(
        lines[9].split_whitespace().collect::<Vec<_>>(),
        vec!["0", "100000", "65536"]
    );
    assert_eq!(
        lines[10].split_whitespace().collect::<Vec<_>>(),
        vec!["0", "100000", "65536"]
    );
    assert_eq!(lines[11], "0");
    b.assert_host_clean();
}

fn chown_tree(p: &std::path::Path, id: u32) {
    let st = std::process::Command::new("chown")
        .args(["-R", "-h", &format!("{id}:{id}")])
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn user_namespace_with_several_ranges_and_a_non_root_user() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map; id -u; id -g; ls -ln /etc/passwd",
    ]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": 200000, "size": 1000},
        {"containerID": 1000, "hostID": 300000, "size": 1}
    ]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 2000}]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    chown_tree(&b.rootfs(), 200000);
    let out = b.run_ok();
    assert!(out.contains("300000"), "{out}");
    assert!(out.lines().any(|l| l == "1000"), "{out}");
    // Files owned by host 200000 appear as the container's root.
    assert!(out.lines().last().unwrap().contains(" 0 "), "{out}");
    b.assert_host_clean();
}

#[test]
fn joining_namespaces_by_path() {
    // A first container holds namespaces; a second joins its uts, ipc and network ones.
    let mut a = Bundle::new(&["sleep", "60"]);
    a.config["hostname"] = json!("holder");
    let id = unique("holder");
    assert!(a.create(&id, &[]).status.success());
    let pid = a.state(&id)["pid"].as_i64().unwrap();
    let mut b = Bundle::new(&["sh", "-c", "hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid; echo $$"]);
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "mount"},
        {"type": "uts", "path": format!("/proc/{pid}/ns/uts")},
        {"type": "ipc", "path": format!("/proc/{pid}/ns/ipc")},
        {"type": "network", "path": format!("/proc/{pid}/ns/net")}
    ]);
    b.config.as_object_mut().unwrap().remove("hostname");
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "holder");
    let ns = |k: &str| {
        std::fs::read_link(format!("/proc/{pid}/ns/{k}"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    assert_eq!(lines[1], ns("net"));
    assert_eq!(lines[2], ns("ipc"));
    assert_ne!(lines[3], ns("pid"), "the pid namespace is new");
    assert_eq!(
        lines[4], "1",
        "joined namespaces still give a new pid namespace"
    );
    assert!(a.rt(&["delete", "--force", &id]).status.success());
    a.assert_host_clean();
    b.assert_host_clean();
}

#[test]
fn joining_a_namespace_that_does_not_exist_fails_cleanly() {
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "network", "path": "/proc/999999999/ns/net"}));
    let out = b.run(&unique("badjoin"));
    assert_fails_with(&out, "/proc/999999999/ns/net");
    b.assert_host_clean();
}

#[test]
fn time_namespace_offsets() {
    let mut b = Bundle::new(&["cat", "/proc/uptime"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] =
        json!({"boottime": {"secs": 1000000, "nanosecs": 0}, "monotonic": {"secs": 86400}});
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let out = b.run_ok();
    let inside: f64 = out.split(' ').next().unwrap().parse().unwrap();
    assert!(
        inside - host > 999_000.0 && inside - host < 1_001_000.0,
        "host {host} container {inside}"
    );
    b.assert_host_clean();
}
