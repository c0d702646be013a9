//! The systemd cgroup driver (`--systemd-cgroup`) against a real systemd as PID 1: the
//! container's cgroup is a transient scope in the slice `linux.cgroupsPath` names, its limits
//! are in the cgroup files and in the unit's properties, `update`, `pause`/`resume` and
//! `delete` work on it, and no unit or cgroup is left after failures. Runs in the VM that
//! boots systemd (scripts/test.d/42-systemd-vm.sh); elsewhere each test says it is skipped,
//! unless BERTH_TEST_SYSTEMD=1 demands systemd.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "systemd_host/mod.rs"]
mod systemd_host;
use common::*;
use systemd_host::{show, systemd_here};

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Waits until systemd has unloaded `unit` (it stops and unloads an emptied scope by itself,
/// a moment after the cgroup empties).
fn unloaded(unit: &str) {
    eventually(&format!("{unit} unloaded"), || {
        show(unit, "LoadState") == "not-found"
    });
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

/// A container under the systemd driver, with its scope in `slice`.
struct Scoped {
    b: Bundle,
    id: String,
    unit: String,
    dir: PathBuf,
}

impl Scoped {
    fn new(slice: &str, slice_dir: &str, resources: Value) -> Scoped {
        let mut b = Bundle::new(&["sleep", "600"]);
        let id = unique("sd");
        b.config["linux"]["cgroupsPath"] = json!(format!("{slice}:berth-test:{id}"));
        b.config["linux"]["resources"] = resources;
        let unit = format!("berth-test-{id}.scope");
        let dir = Path::new("/sys/fs/cgroup").join(slice_dir).join(&unit);
        Scoped { b, id, unit, dir }
    }

    fn rt(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--systemd-cgroup"];
        all.extend_from_slice(args);
        self.b.rt(&all)
    }

    fn create(&self) -> std::process::Output {
        self.rt(&[
            "create",
            "--bundle",
            self.b.path().to_str().unwrap(),
            &self.id,
        ])
    }

    /// Ends the container and checks that neither the unit nor the cgroup is left.
    fn delete_and_check(&self) {
        let out = self.rt(&["delete", "--force", &self.id]);
        assert!(out.status.success(), "delete: {}", text(&out.stderr));
        assert!(!self.dir.exists(), "{} is left", self.dir.display());
        unloaded(&self.unit);
        self.b.assert_host_clean();
    }
}

#[test]
fn the_scope_carries_the_limits_and_goes_with_the_container() {
    if !systemd_here() {
        return;
    }
    let s = Scoped::new(
        "system.slice",
        "system.slice",
        json!({"memory": {"limit": 67108864}, "pids": {"limit": 50},
               "cpu": {"shares": 512, "quota": 25000, "period": 100000}}),
    );
    let out = s.create();
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let pid = s.b.state(&s.id)["pid"].as_i64().unwrap();
    // The init is in the scope systemd made, with the limits in its files and properties.
    let procs = read(&s.dir.join("cgroup.procs"));
    assert!(procs.lines().any(|p| p == pid.to_string()), "{procs}");
    assert_eq!(read(&s.dir.join("memory.max")), "67108864");
    assert_eq!(read(&s.dir.join("pids.max")), "50");
    assert_eq!(read(&s.dir.join("cpu.max")), "25000 100000");
    assert_eq!(show(&s.unit, "MemoryMax"), "67108864");
    assert_eq!(show(&s.unit, "TasksMax"), "50");
    assert_eq!(show(&s.unit, "Delegate"), "yes");
    assert_eq!(show(&s.unit, "Slice"), "system.slice");
    assert_eq!(show(&s.unit, "ActiveState"), "active");

    // update: the unit's property and the file.
    let out = s.rt(&[
        "update",
        "--memory",
        "134217728",
        "--pids-limit",
        "80",
        &s.id,
    ]);
    assert!(out.status.success(), "update: {}", text(&out.stderr));
    assert_eq!(read(&s.dir.join("memory.max")), "134217728");
    assert_eq!(show(&s.unit, "MemoryMax"), "134217728");
    assert_eq!(show(&s.unit, "TasksMax"), "80");

    // start, pause and resume through the cgroup's freezer.
    let out = s.rt(&["start", &s.id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    let out = s.rt(&["pause", &s.id]);
    assert!(out.status.success(), "pause: {}", text(&out.stderr));
    assert_eq!(read(&s.dir.join("cgroup.freeze")), "1");
    assert_eq!(s.b.state(&s.id)["status"], "paused");
    let out = s.rt(&["resume", &s.id]);
    assert!(out.status.success(), "resume: {}", text(&out.stderr));
    assert_eq!(s.b.state(&s.id)["status"], "running");
    s.delete_and_check();
}

#[test]
fn nested_slices_annotations_and_run() {
    if !systemd_here() {
        return;
    }
    // kubelet's pod slices nest by their dashes.
    let mut s = Scoped::new(
        "berthtest-pods-pod1.slice",
        "berthtest.slice/berthtest-pods.slice/berthtest-pods-pod1.slice",
        json!({"memory": {"limit": 33554432}}),
    );
    s.b.config["annotations"] = json!({"org.systemd.property.TimeoutStopSec": "uint64 7",
                                       "org.systemd.property.CollectMode": "'inactive-or-failed'"});
    s.b.config["process"]["args"] = json!([
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory.max; cat /proc/self/cgroup"
    ]);
    // Twice with one id, back to back: the second finds the first's scope, emptied, maybe
    // not yet stopped by systemd, and replaces it.
    for _ in 0..2 {
        let out = s.rt(&["run", "--bundle", s.b.path().to_str().unwrap(), &s.id]);
        assert!(out.status.success(), "run: {}", text(&out.stderr));
        // The container sees its own cgroup (a cgroup namespace rooted at the scope).
        assert_eq!(text(&out.stdout), "33554432\n0::/\n");
    }
    // systemd stops and unloads the emptied scope, and removes its directory, by itself.
    unloaded(&s.unit);
    assert!(!s.dir.exists());

    // The annotations reach the unit while it lives.
    s.b.config["process"]["args"] = json!(["sleep", "600"]);
    let out = s.create();
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    assert_eq!(show(&s.unit, "TimeoutStopUSec"), "7s");
    assert_eq!(show(&s.unit, "CollectMode"), "inactive-or-failed");
    assert!(s.dir.is_dir());
    s.delete_and_check();
    let _ = Command::new("systemctl")
        .args(["stop", "berthtest.slice"])
        .status();
}

#[test]
fn refusals_leave_no_unit() {
    if !systemd_here() {
        return;
    }
    // A property systemd does not know: its error, and nothing left.
    let mut s = Scoped::new("system.slice", "system.slice", json!({}));
    s.b.config["annotations"] = json!({"org.systemd.property.NoSuchProperty": "uint64 1"});
    let out = s.create();
    assert_fails_with(&out, "NoSuchProperty");
    unloaded(&s.unit);
    assert!(!s.dir.exists());
    s.b.assert_host_clean();

    // The same container id under another runtime root and in another slice: the scope's
    // name is a live container's, which is left running.
    let live = Scoped::new("system.slice", "system.slice", json!({}));
    let out = live.create();
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let mut other = Scoped::new("berthtest2.slice", "berthtest2.slice", json!({}));
    other.id = live.id.clone();
    other.b.config["linux"]["cgroupsPath"] =
        json!(format!("berthtest2.slice:berth-test:{}", live.id));
    let out = other.create();
    assert_fails_with(&out, "UnitExists");
    assert_eq!(show(&live.unit, "ActiveState"), "active");
    assert_eq!(show(&live.unit, "Slice"), "system.slice");
    live.delete_and_check();
    other.b.assert_host_clean();
    let _ = Command::new("systemctl")
        .args(["stop", "berthtest2.slice"])
        .status();

    // Malformed slice:prefix:name values, before anything is made.
    for (path, why) in [
        ("system.slice:x", "slice:prefix:name"),
        ("bad--name.slice:p:x", "slice name"),
        ("system.slice:p:x.slice", "slice"),
    ] {
        let mut b = Bundle::new(&["true"]);
        b.config["linux"]["cgroupsPath"] = json!(path);
        let id = unique("sdbad");
        let out = b.rt(&[
            "--systemd-cgroup",
            "run",
            "--bundle",
            b.path().to_str().unwrap(),
            &id,
        ]);
        assert_fails_with(&out, why);
        b.assert_host_clean();
    }
}

#[test]
fn a_runtime_killed_after_the_scope_started_leaves_what_delete_removes() {
    if !systemd_here() {
        return;
    }
    // A createRuntime hook runs after the scope exists and before create returns: it kills
    // the runtime (its parent) with SIGKILL.
    let mut s = Scoped::new(
        "system.slice",
        "system.slice",
        json!({"pids": {"limit": 20}}),
    );
    s.b.config["hooks"] = json!({"createRuntime": [
        {"path": "/bin/sh", "args": ["sh", "-c", "kill -9 $PPID"]}
    ]});
    let out = s.create();
    assert!(!out.status.success(), "the runtime was to be killed");
    // The init may still hold the scope, or systemd dropped it once the init went.
    s.delete_and_check();
}

/// systemd's hybrid layout (v1 controllers, cgroup2 for systemd's own tracking), which runc
/// supports too: the scope in every hierarchy, the v1 property names, the v1 files. The
/// stage boots the VM that way for this test alone (BERTH_TEST_CGROUP_LAYOUT=hybrid).
#[test]
fn the_hybrid_layout_gets_v1_properties_and_files() {
    if !systemd_here() {
        return;
    }
    let hybrid = Path::new("/sys/fs/cgroup/unified").is_dir();
    if std::env::var("BERTH_TEST_CGROUP_LAYOUT").as_deref() == Ok("hybrid") {
        assert!(
            hybrid,
            "BERTH_TEST_CGROUP_LAYOUT=hybrid but systemd runs cgroup v2 alone"
        );
    }
    if !hybrid {
        eprintln!("skipped: systemd runs cgroup v2 alone here (stage 42 boots a hybrid VM too)");
        return;
    }
    let s = Scoped::new(
        "system.slice",
        "memory/system.slice",
        json!({"memory": {"limit": 67108864}, "pids": {"limit": 40}, "cpu": {"shares": 512}}),
    );
    let out = s.create();
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let pid = s.b.state(&s.id)["pid"].as_i64().unwrap();
    // The init is in the scope in every hierarchy, systemd's and the others.
    let own = read(Path::new(&format!("/proc/{pid}/cgroup")));
    for line in own.lines() {
        assert!(
            line.ends_with(&format!("/system.slice/{}", s.unit)),
            "{own}"
        );
    }
    let cg = |controller: &str, file: &str| {
        read(
            &Path::new("/sys/fs/cgroup")
                .join(controller)
                .join("system.slice")
                .join(&s.unit)
                .join(file),
        )
    };
    assert_eq!(cg("memory", "memory.limit_in_bytes"), "67108864");
    assert_eq!(cg("pids", "pids.max"), "40");
    assert_eq!(cg("cpu,cpuacct", "cpu.shares"), "512");
    assert_eq!(show(&s.unit, "MemoryLimit"), "67108864");
    assert_eq!(show(&s.unit, "CPUShares"), "512");
    let out = s.rt(&["update", "--memory", "134217728", &s.id]);
    assert!(out.status.success(), "update: {}", text(&out.stderr));
    assert_eq!(cg("memory", "memory.limit_in_bytes"), "134217728");
    assert_eq!(show(&s.unit, "MemoryLimit"), "134217728");
    s.delete_and_check();
    for controller in [
        "memory",
        "pids",
        "cpu,cpuacct",
        "freezer",
        "systemd",
        "unified",
    ] {
        let dir = Path::new("/sys/fs/cgroup")
            .join(controller)
            .join("system.slice")
            .join(&s.unit);
        assert!(!dir.exists(), "{} is left", dir.display());
    }
}

/// Rootless: an unprivileged user's berth-runtime, started by the user's own manager (as a
/// login session's processes are), asks that manager over the user's bus for the scope,
/// below `user@UID.service`, with the limits systemd delegated (memory, pids).
#[test]
fn a_users_manager_makes_rootless_scopes() {
    if !systemd_here() || Path::new("/sys/fs/cgroup/unified").is_dir() {
        return;
    }
    const USER: &str = "berth-sd-user";
    if !Command::new("id")
        .arg(USER)
        .output()
        .unwrap()
        .status
        .success()
    {
        assert!(Command::new("useradd")
            .args(["-m", USER])
            .status()
            .unwrap()
            .success());
    }
    let uid = text(
        &Command::new("id")
            .args(["-u", USER])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_string();
    let st = Command::new("systemctl")
        .args(["start", &format!("user@{uid}.service")])
        .status()
        .unwrap();
    assert!(st.success(), "the user's manager did not start");
    let xdg = format!("/run/user/{uid}");
    eventually("the user's bus", || Path::new(&xdg).join("bus").exists());
    let as_user = |args: &[&str]| {
        let mut c = Command::new("runuser");
        c.args(["-u", USER, "--", "env"])
            .arg(format!("XDG_RUNTIME_DIR={xdg}"))
            .arg(format!("DBUS_SESSION_BUS_ADDRESS=unix:path={xdg}/bus"))
            .args(args);
        run_with_timeout(c, std::time::Duration::from_secs(60))
    };

    let b = Bundle::new(&["true"]);
    let dir = b.path().to_str().unwrap().to_string();
    let st = Command::new("chown")
        .args(["-R", USER, &dir])
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::set_permissions(
        b.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::remove_file(b.path().join("config.json")).unwrap();
    let out = as_user(&[BIN, "spec", "--rootless", "-b", &dir]);
    assert!(out.status.success(), "spec: {}", text(&out.stderr));
    let path = b.path().join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(["sleep", "600"]);
    config["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 30}});
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    let state = format!("{dir}/state");
    let rt = |verb: &[&str]| -> Vec<String> {
        [BIN, "--systemd-cgroup", "--root", &state]
            .iter()
            .chain(verb)
            .map(|s| s.to_string())
            .collect()
    };
    // Started by the user's manager, so that the runtime runs below user@UID.service.
    let mut create: Vec<String> = ["systemd-run", "--user", "--wait", "--pipe", "--quiet", "--"]
        .map(String::from)
        .to_vec();
    create.extend(rt(&["create", "-b", &dir, "rl"]));
    let out = as_user(&create.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "create: {}{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    let scope = Path::new("/sys/fs/cgroup/user.slice").join(format!(
        "user-{uid}.slice/user@{uid}.service/user.slice/berth-rl.scope"
    ));
    assert_eq!(read(&scope.join("memory.max")), "67108864");
    assert_eq!(read(&scope.join("pids.max")), "30");
    let show = as_user(&[
        "systemctl",
        "--user",
        "show",
        "berth-rl.scope",
        "-p",
        "MemoryMax",
        "--value",
    ]);
    assert_eq!(text(&show.stdout).trim(), "67108864");
    let delete = rt(&["delete", "-f", "rl"]);
    let out = as_user(&delete.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    assert!(!scope.exists(), "{} is left", scope.display());
    eventually("the user's scope unloaded", || {
        let o = as_user(&[
            "systemctl",
            "--user",
            "show",
            "berth-rl.scope",
            "-p",
            "LoadState",
            "--value",
        ]);
        text(&o.stdout).trim() == "not-found"
    });
    let _ = Command::new("systemctl")
        .args(["stop", &format!("user@{uid}.service")])
        .status();
}
