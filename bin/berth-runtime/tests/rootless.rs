//! Rootless: berth-runtime run by an unprivileged user, with `spec --rootless` and a
//! multi-range id mapping through newuidmap/newgidmap and /etc/subuid.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use std::process::Command;

const USER: &str = "berth-rootless";

/// The test user (created once; it gets a subordinate id range from useradd). Once per
/// process: a test that looks the user up while another's useradd writes /etc/passwd can
/// read ids that are not yet the user's.
fn user() -> (u32, u32) {
    static USER_IDS: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    *USER_IDS.get_or_init(create_user)
}

fn create_user() -> (u32, u32) {
    if Command::new("id").arg(USER).output().unwrap().status.code() != Some(0) {
        let st = Command::new("useradd").args(["-m", USER]).status().unwrap();
        assert!(st.success() || Command::new("id").arg(USER).status().unwrap().success());
    }
    let id = |flag: &str| -> u32 {
        text(
            &Command::new("id")
                .args([flag, USER])
                .output()
                .unwrap()
                .stdout,
        )
        .trim()
        .parse()
        .unwrap()
    };
    (id("-u"), id("-g"))
}

fn subid(file: &str) -> (u32, u32) {
    let line = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .find(|l| l.starts_with(&format!("{USER}:")))
        .unwrap()
        .to_string();
    let f: Vec<&str> = line.split(':').collect();
    (f[1].parse().unwrap(), f[2].parse().unwrap())
}

/// Runs `berth-runtime ARGS` as the test user with its own XDG_RUNTIME_DIR.
fn as_user(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let xdg = dir.join("xdg");
    let mut c = Command::new("runuser");
    c.args([
        "-u",
        USER,
        "--",
        "env",
        &format!("XDG_RUNTIME_DIR={}", xdg.display()),
        BIN,
    ])
    .args(args)
    .current_dir(dir);
    run_with_timeout(c, std::time::Duration::from_secs(30))
}

/// A bundle owned by the test user, with the config `spec --rootless` wrote for it.
fn rootless_bundle(uid: u32, gid: u32) -> (tempfile::TempDir, serde_json::Value) {
    let dir = tempfile::Builder::new()
        .prefix("berth-rootless-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    busybox_rootfs(&dir.path().join("rootfs"));
    std::fs::create_dir(dir.path().join("xdg")).unwrap();
    let st = Command::new("chown")
        .args(["-R", &format!("{uid}:{gid}")])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let out = as_user(dir.path(), &["spec", "--rootless", "-b", "."]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    (dir, config)
}

#[test]
fn an_unprivileged_user_runs_a_container_with_a_multi_range_mapping() {
    let (uid, gid) = user();
    let (sub_u, n_u) = subid("/etc/subuid");
    let (sub_g, n_g) = subid("/etc/subgid");
    let (dir, mut config) = rootless_bundle(uid, gid);
    config["process"]["terminal"] = serde_json::json!(false);
    config["process"]["args"] = serde_json::json!(["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; chown 1000:1000 /tmp && stat -c %u /tmp; echo $$"]);
    config["root"]["readonly"] = serde_json::json!(false);
    for set in ["bounding", "effective", "permitted"] {
        config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!("CAP_CHOWN"));
    }
    config["linux"]["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}, {"containerID": 1, "hostID": sub_u, "size": n_u}]);
    config["linux"]["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}, {"containerID": 1, "hostID": sub_g, "size": n_g}]);
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    let out = as_user(dir.path(), &["run", "-b", ".", "rl1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = text(&out.stdout);
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[0], "0");
    assert!(
        got.contains(&sub_u.to_string()) && got.contains(&uid.to_string()),
        "{got}"
    );
    assert!(
        got.contains("\n1000\n"),
        "chown to a subordinate id works: {got}"
    );
    assert_eq!(lines.last().unwrap(), &"1");
    // State lives under $XDG_RUNTIME_DIR; the lifecycle works the same.
    let out = as_user(dir.path(), &["create", "-b", ".", "rl2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("xdg/berth-runtime/rl2/status").exists());
    assert!(as_user(dir.path(), &["delete", "-f", "rl2"])
        .status
        .success());
    assert_no_leftovers(dir.path(), &dir.path().join("xdg/berth-runtime"));
    for id in ["rl1", "rl2"] {
        assert_no_cgroup(id);
    }
}

#[test]
fn what_an_unprivileged_user_cannot_do_is_a_clear_error() {
    let (uid, gid) = user();
    let (dir, mut config) = rootless_bundle(uid, gid);
    config["process"]["terminal"] = serde_json::json!(false);
    config["process"]["args"] = serde_json::json!(["true"]);
    // Memory limits need a cgroup the user may write: none is delegated here.
    config["linux"]["resources"] = serde_json::json!({"memory": {"limit": 67108864}});
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    let out = as_user(dir.path(), &["run", "-b", ".", "rl3"]);
    assert_fails_with(&out, "cgroup");
    // A mapping outside the user's subordinate ranges is refused by newuidmap.
    config["linux"].as_object_mut().unwrap().remove("resources");
    config["linux"]["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}, {"containerID": 1, "hostID": 5000, "size": 10}]);
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    let out = as_user(dir.path(), &["run", "-b", ".", "rl4"]);
    assert_fails_with(&out, "newuidmap");
    assert_no_leftovers(dir.path(), &dir.path().join("xdg/berth-runtime"));
}

#[test]
fn an_unprivileged_users_cdi_device_is_bound_from_the_host() {
    let (uid, gid) = user();
    let (dir, mut config) = rootless_bundle(uid, gid);
    // A stand-in node with /dev/null's numbers where the user can reach it, and a spec
    // naming it by another path inside.
    let node = dir.path().join("standin");
    let st = Command::new("mknod")
        .args(["-m", "0666"])
        .arg(&node)
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(st.success());
    let specs = dir.path().join("cdi");
    std::fs::create_dir(&specs).unwrap();
    let spec = serde_json::json!({
        "cdiVersion": "0.5.0", "kind": "example.com/dev",
        "devices": [{"name": "null", "containerEdits": {
            "deviceNodes": [{"path": "/dev/standin", "hostPath": node}]}}]
    });
    std::fs::write(specs.join("standin.json"), spec.to_string()).unwrap();
    config["process"]["terminal"] = serde_json::json!(false);
    config["process"]["args"] = serde_json::json!([
        "sh",
        "-c",
        "stat -c '%F %t:%T' /dev/standin; echo written > /dev/standin && echo ok"
    ]);
    config["annotations"] = serde_json::json!({"cdi.k8s.io/dev": "example.com/dev=null"});
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    let specs = specs.display().to_string();
    let out = as_user(
        dir.path(),
        &["--cdi-spec-dir", &specs, "run", "-b", ".", "rl-cdi"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "character special file 1:3\nok\n");
    assert_no_leftovers(dir.path(), &dir.path().join("xdg/berth-runtime"));
}
