//! What real clients (podman, containerd, dockerd, crun's test suite) send that the other
//! tests do not: each case here is one a client tripped over.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;

/// Docker 20.10 writes `blockIO.weight: 0` and `cpu.shares: 0` for "unset", as runc reads them.
#[test]
fn zero_weights_from_docker_mean_unset() {
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]
        .as_object_mut()
        .unwrap()
        .remove("cgroupsPath");
    b.config["linux"]["resources"]["blockIO"] = json!({"weight": 0, "leafWeight": 0});
    b.config["linux"]["resources"]["cpu"] = json!({"shares": 0});
    let out = b.run(&unique("zero"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    b.assert_host_clean();
}

/// containerd's shim treats a kill that fails with runc's "container not running" as done; with
/// `--all` (sent when a container without its own pid namespace ends) runc succeeds.
#[test]
fn kill_of_a_stopped_container_speaks_runc() {
    let b = Bundle::new(&["true"]);
    let id = unique("dead");
    assert!(b.create(&id, &[]).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    eventually("the container to stop", || {
        b.state(&id)["status"] == "stopped"
    });
    assert_fails_with(&b.rt(&["kill", &id, "KILL"]), "container not running");
    let out = b.rt(&["kill", "--all", &id, "KILL"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(b.rt(&["delete", &id]).status.success());
    b.assert_host_clean();
}

/// crun's test suite passes `run --config FILE` (relative to the current directory).
#[test]
fn run_reads_the_config_named_by_config() {
    let mut b = Bundle::new(&["echo", "from config.json"]);
    b.write();
    b.config["process"]["args"] = json!(["echo", "from alt"]);
    std::fs::create_dir(b.path().join("alt")).unwrap();
    std::fs::write(
        b.path().join("alt/conf.json"),
        serde_json::to_vec(&b.config).unwrap(),
    )
    .unwrap();
    let mut c = b.cmd(&["run", "--config", "alt/conf.json", &unique("cfg")]);
    c.current_dir(b.path());
    let out = run_with_timeout(c, std::time::Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "from alt\n");
    b.assert_host_clean();
}

/// Unknown capability names, in the config or in `exec --cap`, are skipped (runc, crun); and
/// `exec --cap` never fills the inheritable set (runc's CVE-2022-29162).
#[test]
fn unknown_capabilities_are_ignored_and_exec_cap_is_not_inheritable() {
    let mut b = Bundle::new(&["sh", "-c", "grep Cap /proc/self/status; sleep 60"]);
    let sets = [
        "bounding",
        "effective",
        "inheritable",
        "permitted",
        "ambient",
    ];
    for set in sets {
        b.config["process"]["capabilities"][set] = json!(["CAP_UNKNOWN", "CAP_CHOWN"]);
    }
    let id = unique("caps");
    assert!(b.create(&id, &[]).status.success(), "unknown names refused");
    assert!(b.rt(&["start", &id]).status.success());
    let out = b.rt(&[
        "exec",
        "--cap",
        "CAP_KILL",
        "--cap",
        "CAP_NOPE",
        &id,
        "grep",
        "Cap",
        "/proc/self/status",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status = text(&out.stdout);
    // CHOWN is bit 0, KILL bit 5.
    assert!(status.contains("CapInh:\t0000000000000001"), "{status}");
    assert!(status.contains("CapPrm:\t0000000000000021"), "{status}");
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    b.assert_host_clean();
}

/// A hook without `env` inherits the runtime's environment (runc, crun).
#[test]
fn a_hook_without_env_inherits_the_runtimes() {
    let mut b = Bundle::new(&["true"]);
    let out_file = b.path().join("hook.out");
    let script = format!("echo \"$BERTH_HOOK_TEST\" > {}", out_file.display());
    b.config["hooks"] = json!({"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    b.write();
    let id = unique("hookenv");
    let mut c = b.cmd(&["run", &id]);
    c.current_dir(b.path()).env("BERTH_HOOK_TEST", "inherited");
    let out = run_with_timeout(c, std::time::Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "inherited\n");
    b.assert_host_clean();
}

/// `kernel.hostname` would fight the `hostname` field: refused even with a uts namespace.
#[test]
fn the_hostname_sysctl_is_refused() {
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["sysctl"] = json!({"kernel.hostname": "foo"});
    assert_fails_with(&b.run(&unique("hn")), "linux.sysctl.kernel.hostname");
    b.assert_host_clean();
}

/// crun's `delete --regex`: every container whose id matches.
#[test]
fn delete_regex_removes_every_match() {
    let b = Bundle::new(&["sleep", "60"]);
    let (one, two, other) = (unique("rx-a"), unique("rx-b"), unique("keep"));
    for id in [&one, &two, &other] {
        assert!(b.create(id, &[]).status.success());
    }
    let out = b.rt(&["delete", "--force", "--regex", "^rx-"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let left = text(&b.rt(&["list", "-q"]).stdout);
    assert_eq!(left.trim(), other.as_str());
    assert!(b.rt(&["delete", "--force", &other]).status.success());
    b.assert_host_clean();
}

/// An agent at `listenerPath` gets the listener even when no rule notifies (as with crun).
#[test]
fn a_listener_path_without_notify_rules_still_gets_the_listener() {
    let mut b = Bundle::new(&["true"]);
    let sock = b.path().join("agent.sock");
    b.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock});
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let agent = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let (_, fds) = berth_sys::socket::recv(std::os::fd::AsFd::as_fd(&conn), &mut buf).unwrap();
        fds.len()
    });
    let out = b.run(&unique("listen"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(agent.join().unwrap(), 1);
    b.assert_host_clean();
}

/// The process that `exec` forks inside the container reports its pid before `ready`: the
/// shims' `exec --detach --pid-file` used to fail at random with "unexpected InitPid".
#[test]
fn exec_reports_the_pid_before_ready_every_time() {
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique("execpid");
    assert!(b.create(&id, &[]).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    let pid_file = b.path().join("exec.pid");
    for _ in 0..40 {
        let out = b.rt(&[
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
            "true",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
        assert!(pid > 0);
    }
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    b.assert_host_clean();
}

/// A file mount point that is a dangling symlink (an image's /etc/resolv.conf pointing into
/// an empty /run) gets its target created inside the root and mounted there, as runc and crun
/// do (podman and docker bind-mount resolv.conf).
#[test]
fn a_dangling_symlink_mount_point_is_created_inside_the_root() {
    let mut b = Bundle::new(&["cat", "/etc/resolv.conf", "/run/resolve/stub.conf"]);
    std::os::unix::fs::symlink(
        "../run/resolve/stub.conf",
        b.rootfs().join("etc/resolv.conf"),
    )
    .unwrap();
    let src = b.path().join("resolv.conf");
    std::fs::write(&src, "nameserver 127.0.0.53\n").unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/etc/resolv.conf", "type": "bind", "source": src, "options": ["rbind", "ro"]
    }));
    let out = b.run(&unique("dangling"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "nameserver 127.0.0.53\n".repeat(2));
    assert!(b.rootfs().join("run/resolve/stub.conf").is_file());
    b.assert_host_clean();
}

/// In a user namespace the runtime opens bind sources itself: the container's root need not
/// be able to reach them (a volume under a root-only directory, as podman's are).
#[test]
fn a_userns_container_binds_a_source_its_root_cannot_reach() {
    use std::os::unix::fs::PermissionsExt;
    let mut b = Bundle::new(&["cat", "/vol/data"]);
    b.with_user_namespace(200000);
    let private = b.path().join("private");
    std::fs::create_dir_all(private.join("vol")).unwrap();
    std::fs::write(private.join("vol/data"), "reached\n").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o000)).unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/vol", "type": "bind", "source": private.join("vol"), "options": ["rbind", "ro"]
    }));
    let out = b.run(&unique("usernsbind"));
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "reached\n");
    b.assert_host_clean();
}

#[test]
fn preserve_fds_with_gaps_and_socket_activation() {
    // fd 3 open, fd 4 closed: the gap is held, not filled by one of the runtime's own files.
    let b = Bundle::new(&[
        "sh",
        "-c",
        "echo $(ls /proc/self/fd | sort -n); echo $LISTEN_FDS:$LISTEN_PID",
    ]);
    b.write();
    let f = std::fs::File::open("/etc/hostname").unwrap();
    let mut c = b.cmd(&[
        "run",
        "--preserve-fds",
        "2",
        "--bundle",
        b.path().to_str().unwrap(),
        &unique("gaps"),
    ]);
    pass_fd(&mut c, std::os::fd::AsRawFd::as_raw_fd(&f), 3);
    let out = run_with_timeout(c, std::time::Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().next(),
        Some("0 1 2 3 4"),
        "fd 3 and ls's own: {}",
        text(&out.stdout)
    );
    // LISTEN_FDS meant for the runtime passes into the container, with LISTEN_PID=1.
    let mut c = b.cmd(&[
        "run",
        "--bundle",
        b.path().to_str().unwrap(),
        &unique("listen"),
    ]);
    c.env("LISTEN_FDS", "1").env_remove("LISTEN_PID");
    pass_fd(&mut c, std::os::fd::AsRawFd::as_raw_fd(&f), 3);
    let out = run_with_timeout(c, std::time::Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "0 1 2 3 4\n1:1\n");
    b.assert_host_clean();
}

#[test]
fn devices_anywhere_and_keep_original_groups() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "stat -c '%F %t:%T' /foo-dev /sub/dir/zero2; id -G",
    ]);
    b.config["root"]["readonly"] = json!(false);
    b.config["linux"]["devices"] = json!([
        {"path": "/foo-dev", "type": "c", "major": 1, "minor": 3},
        {"path": "/sub/dir/zero2", "type": "c", "major": 1, "minor": 5}
    ]);
    b.config["annotations"] = json!({"run.oci.keep_original_groups": "1"});
    b.config["process"]["user"]["additionalGids"] = json!([4242]);
    let out = b.run_ok();
    assert!(
        out.starts_with("character special file 1:3\ncharacter special file 1:5\n"),
        "{out}"
    );
    assert!(
        !out.contains("4242"),
        "the runtime's groups are kept, not additionalGids: {out}"
    );
    b.assert_host_clean();
}

#[test]
fn delete_force_kills_an_init_frozen_elsewhere() {
    // crun's case: the init is moved into a v1 freezer cgroup of the test's and frozen there,
    // where even SIGKILL waits. `delete --force` moves it back into the container's cgroup,
    // kills it and removes everything, leaving the test's frozen cgroup empty.
    let freezer = std::path::Path::new("/sys/fs/cgroup/freezer");
    if !freezer.join("freezer.state").exists() && !freezer.join("tasks").exists() {
        return; // no v1 freezer on this host
    }
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique("frozen");
    assert!(b.create(&id, &[]).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let cg = freezer.join(format!("berth-test-{id}"));
    std::fs::create_dir(&cg).unwrap();
    std::fs::write(cg.join("tasks"), pid.to_string()).unwrap();
    std::fs::write(cg.join("freezer.state"), "FROZEN").unwrap();
    let out = b.rt(&["delete", "--force", &id]);
    let dead = |pid: i64| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
    };
    let killed = dead(pid);
    // Whatever the outcome, thaw so a failure does not leave a frozen process behind.
    std::fs::write(cg.join("freezer.state"), "THAWED").unwrap();
    eventually("the init to die once thawed", || dead(pid));
    let removed = std::fs::remove_dir(&cg);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(killed, "delete --force returned with the init still alive");
    assert!(
        removed.is_ok(),
        "the test's freezer cgroup still holds a task"
    );
    b.assert_host_clean();
}

/// A capability the runtime itself lacks (this host's root has no CAP_SYS_RESOURCE) cannot be
/// granted: it is left out of every set with one warning, for the container and for `exec
/// --cap`, instead of `capset` failing with EPERM.
#[test]
fn capabilities_the_runtime_lacks_are_left_out_with_one_warning() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        let v = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim();
        u64::from_str_radix(v, 16).unwrap()
    };
    let held = field("CapBnd:") & field("CapPrm:");
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let Some(missing) = (0..=last).find(|c| held & (1 << c) == 0) else {
        eprintln!("skipped: the runtime holds every capability on this host");
        return;
    };
    let name = berth_sys::caps::NAMES[missing as usize];
    let mut b = Bundle::new(&["sh", "-c", "grep CapEff /proc/self/status; sleep 60"]);
    for set in [
        "bounding",
        "effective",
        "inheritable",
        "permitted",
        "ambient",
    ] {
        b.config["process"]["capabilities"][set] = json!([name, "CAP_CHOWN"]);
    }
    let id = unique("lackedcap");
    let out = b.create(&id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let warnings = text(&out.stderr);
    assert_eq!(warnings.matches(name).count(), 1, "one warning: {warnings}");
    assert!(b.rt(&["start", &id]).status.success());
    let out = b.rt(&[
        "exec",
        "--cap",
        name,
        &id,
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // CAP_CHOWN only: bit 0.
    assert_eq!(text(&out.stdout), "CapEff:\t0000000000000001\n");
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    b.assert_host_clean();
}

/// Without SELinux, `linux.mountLabel` has nothing to label with: it is ignored with one
/// warning, as crun does (with SELinux enabled it is still refused).
#[test]
fn a_mount_label_without_selinux_is_a_warning() {
    assert!(
        !std::path::Path::new("/sys/fs/selinux/enforce").exists(),
        "this test expects a host without SELinux"
    );
    let mut b = Bundle::new(&["echo", "ran"]);
    b.config["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0:c1,c2");
    let out = b.run(&unique("mountlabel"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ran\n");
    assert_eq!(
        text(&out.stderr).matches("linux.mountLabel").count(),
        1,
        "{}",
        text(&out.stderr)
    );
    b.assert_host_clean();
}
