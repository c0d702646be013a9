//! Bad input: each gets a one-line error naming the field or path, a non-zero exit, and leaves
//! nothing behind (no state, mount, process or cgroup).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;

fn fails(b: &Bundle, needle: &str) {
    let id = unique("bad");
    let out = b.create(&id, &[]);
    assert_fails_with(&out, needle);
    let out = b.run(&unique("badrun"));
    assert_fails_with(&out, needle);
    b.assert_host_clean();
}

#[test]
fn malformed_json() {
    let b = Bundle::new(&["true"]);
    let id = unique("malformed");
    std::fs::write(
        b.path().join("config.json"),
        b"{\"ociVersion\": \"1.2.0\", \"root\": ",
    )
    .unwrap();
    let mut c = b.cmd(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    c.stdout(std::process::Stdio::null());
    let out = run_with_timeout(c, std::time::Duration::from_secs(10));
    assert_fails_with(&out, "config.json");
    assert!(
        text(&out.stderr).contains("line 1"),
        "{}",
        text(&out.stderr)
    );
    b.assert_host_clean();
}

#[test]
fn unknown_namespace_type() {
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "bogus"}));
    fails(&b, "linux.namespaces[6].type");
}

#[test]
fn bad_rlimit() {
    // Unknown capability names are ignored, as runc and crun do (tests/compat.rs).
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]);
    fails(&b, "process.rlimits[0].type");
}

#[test]
fn missing_rootfs_and_missing_process() {
    let mut b = Bundle::new(&["true"]);
    b.config["root"]["path"] = json!("no-such-rootfs");
    fails(&b, "no-such-rootfs");
    let mut b = Bundle::new(&["true"]);
    b.config.as_object_mut().unwrap().remove("process");
    fails(&b, "process");
}

#[test]
fn escaping_mount_destination() {
    let mut b = Bundle::new(&["true"]);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/../../../etc/evil", "type": "tmpfs", "source": "tmpfs"}));
    fails(&b, "mounts[7].destination");
}

#[test]
fn missing_mount_source_and_bad_fs_option_fail_late_but_clean() {
    let mut b = Bundle::new(&["true"]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/x", "type": "bind", "source": "/no/such/source", "options": ["rbind"]}));
    fails(&b, "/no/such/source");
    let mut b = Bundle::new(&["true"]);
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["size=bogus"]}),
    );
    fails(&b, "mount tmpfs on /x");
}

#[test]
fn missing_program() {
    let b = Bundle::new(&["/bin/no-such-program"]);
    fails(&b, "/bin/no-such-program");
}

#[test]
fn bad_ids_and_flags() {
    let b = Bundle::new(&["true"]);
    b.write();
    for id in ["../escape", "a/b", ""] {
        let mut c = b.cmd(&["create", "--bundle", b.path().to_str().unwrap(), id]);
        c.stdout(std::process::Stdio::null());
        assert_fails_with(
            &run_with_timeout(c, std::time::Duration::from_secs(10)),
            "container id",
        );
    }
    let out = run_with_timeout(
        b.cmd(&["create", "--bogus-flag", "x"]),
        std::time::Duration::from_secs(10),
    );
    assert_fails_with(&out, "--bogus-flag");
    assert_fails_with(&b.rt(&["start", "no-such-container"]), "does not exist");
    assert_fails_with(&b.rt(&["kill", "no-such-container"]), "does not exist");
    assert_fails_with(&b.rt(&["delete", "no-such-container"]), "does not exist");
    assert!(b
        .rt(&["delete", "--force", "no-such-container"])
        .status
        .success());
    b.assert_host_clean();
}

#[test]
fn unsupported_features_are_refused_not_ignored() {
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["apparmorProfile"] = json!("docker-default");
    fails(&b, "process.apparmorProfile");
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
    fails(&b, "process.selinuxLabel");
}

/// Without systemd as PID 1 (this host), the systemd driver fails naming systemd and the
/// unit, and leaves nothing; a malformed slice:prefix:name fails before anything is made.
#[test]
fn systemd_driver_without_systemd_leaves_nothing() {
    if std::path::Path::new("/run/systemd/system").exists() {
        eprintln!("skipped: systemd runs here (the cgroup2 VM's systemd variant tests it)");
        return;
    }
    let b = Bundle::new(&["true"]);
    let out = b.rt(&["--systemd-cgroup", "create", "x"]);
    assert_fails_with(&out, "systemd: start the scope berth-x.scope");
    b.assert_host_clean();
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!("system.slice:x");
    let out = b.rt(&["--cgroup-manager", "systemd", "create", "x"]);
    assert_fails_with(&out, "slice:prefix:name");
    b.assert_host_clean();
}

/// An id above 2^31-1 means "unchanged" to setresuid and friends (4294967295 would leave the
/// process root): refused, naming the field.
#[test]
fn ids_above_the_signed_range_are_refused() {
    for field in ["uid", "gid"] {
        let mut b = Bundle::new(&["true"]);
        b.config["process"]["user"][field] = json!(4294967295u32);
        fails(&b, &format!("process.user.{field}"));
    }
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["user"]["additionalGids"] = json!([5, 2147483648u32]);
    fails(&b, "process.user.additionalGids[1]");
}
