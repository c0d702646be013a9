//! The runtime's own attack surface: its binary (/proc/self/exe), its file descriptors and
//! working directory, the init's /proc entries, /dev/null and /dev/console targets, procfs
//! and mount destinations planted by a hostile image. Each attack runs twice: with its
//! protection switched off (debug builds honour BERTH_TEST_DISABLE_PROTECTION) it must
//! succeed, which proves the test can fail; with the protection on it must not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;

#[test]
fn the_container_can_never_execute_the_runtime_binary() {
    let before = std::fs::read(BIN).unwrap();
    let b = Bundle::new(&["/proc/self/exe", "--version"]);
    // The runtime's shared libraries, so that it could run in there if it ever were executed.
    let ldd = std::process::Command::new("ldd").arg(BIN).output().unwrap();
    for lib in text(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let dst = b.rootfs().join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(lib, dst).unwrap();
    }
    // Unprotected, /proc/self/exe is the runtime itself: the host binary runs in the container
    // (the first step of CVE-2019-5736).
    b.protection_off(Some("exec-trampoline"));
    let out = b.run(&unique("selfexe-off"));
    assert!(
        text(&out.stdout).contains("berth-runtime"),
        "{}",
        text(&out.stdout)
    );
    b.protection_off(None);
    let out = b.run(&unique("selfexe"));
    assert_eq!(
        out.status.code(),
        Some(127),
        "stdout: {}",
        text(&out.stdout)
    );
    assert!(!text(&out.stdout).contains("berth-runtime"));
    // Through a script whose interpreter is /proc/self/exe, too.
    let mut b = Bundle::new(&["/evil"]);
    std::fs::write(b.rootfs().join("evil"), "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(
        b.rootfs().join("evil"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    b.config["root"]["readonly"] = json!(false);
    assert_eq!(b.run(&unique("shebang")).status.code(), Some(127));
    assert_eq!(
        std::fs::read(BIN).unwrap(),
        before,
        "the runtime binary changed"
    );
    b.assert_host_clean();
}

#[test]
fn a_waiting_init_is_not_inspectable_from_its_pid_namespace() {
    let probe = "readlink /proc/1/exe || echo exe-denied; readlink /proc/1/fd/0 >/dev/null 2>&1 || echo fd-denied; cat /proc/1/environ >/dev/null 2>&1 || echo environ-denied";
    for off in [true, false] {
        // Container A's init waits for start; container B shares A's pid namespace.
        let a = Bundle::new(&["sleep", "60"]);
        a.protection_off(off.then_some("dumpable"));
        let id = unique("victim");
        assert!(a.create(&id, &[]).status.success());
        let pid = a.state(&id)["pid"].as_i64().unwrap();
        let mut b = Bundle::new(&["sh", "-c", probe]);
        let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
        ns.push(json!({"type": "pid", "path": format!("/proc/{pid}/ns/pid")}));
        let out = b.run_ok();
        if off {
            assert!(
                out.contains("berth-runtime") && !out.contains("exe-denied"),
                "unprotected, the runtime binary is reachable: {out}"
            );
        } else {
            assert!(
                out.contains("exe-denied")
                    && out.contains("fd-denied")
                    && out.contains("environ-denied"),
                "{out}"
            );
        }
        assert!(a.rt(&["delete", "--force", &id]).status.success());
        a.assert_host_clean();
        b.assert_host_clean();
    }
}

/// Runs `berth-runtime run` with fd 7 open (not close-on-exec) on a host directory.
fn run_with_leaked_fd(b: &Bundle, id: &str, host_dir: &std::path::Path) -> std::process::Output {
    b.write();
    let dir = std::fs::File::open(host_dir).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&dir);
    let mut c = b.cmd(&["run", "--bundle", b.path().to_str().unwrap(), id]);
    pass_fd(&mut c, raw, 7);
    let out = run_with_timeout(c, std::time::Duration::from_secs(30));
    drop(dir);
    out
}

#[test]
fn no_host_fd_or_directory_leaks_into_the_container() {
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("host-secret"), "s").unwrap();
    let b = Bundle::new(&["sh", "-c", "echo $(ls /proc/self/fd | sort -n); readlink /proc/self/cwd; ls /proc/self/fd/7/ 2>&1 | head -1"]);
    b.protection_off(Some("close-fds"));
    let out = run_with_leaked_fd(&b, &unique("leak-off"), host.path());
    assert!(
        text(&out.stdout).contains("host-secret"),
        "unprotected, the host directory leaks: {}",
        text(&out.stdout)
    );
    b.protection_off(None);
    let out = run_with_leaked_fd(&b, &unique("leak"), host.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = text(&out.stdout);
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(
        lines[0], "0 1 2 3",
        "only stdio (and ls's own directory fd): {got}"
    );
    assert_eq!(lines[1], "/", "{got}");
    assert!(lines[2].contains("No such file"), "{got}");
    // The working directory cannot be pointed at a leaked fd either (CVE-2024-21626).
    let mut b = Bundle::new(&["pwd"]);
    b.config["process"]["cwd"] = json!("/proc/self/fd/7");
    let out = run_with_leaked_fd(&b, &unique("cwdleak"), host.path());
    assert!(!out.status.success(), "{}", text(&out.stdout));
    b.assert_host_clean();
}

#[test]
fn masking_never_uses_a_planted_dev_null() {
    // The image brings its own /dev (bound from the bundle, so the runtime creates no nodes
    // there), whose `null` points at a host-global procfs file (CVE-2025-31133 class).
    let mut b = Bundle::new(&["sh", "-c", "cat /proc/timer_list | head -1"]);
    let fakedev = b.path().join("fakedev");
    std::fs::create_dir(&fakedev).unwrap();
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", fakedev.join("null")).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
    mounts.insert(
        1,
        json!({"destination": "/dev", "type": "bind", "source": fakedev, "options": ["rbind"]}),
    );
    b.config["linux"]["maskedPaths"] = json!(["/proc/timer_list"]);
    let core = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    b.protection_off(Some("null-check"));
    let out = b.run_ok();
    assert_eq!(
        out, core,
        "unprotected, the masked file became core_pattern"
    );
    b.protection_off(None);
    assert_fails_with(&b.run(&unique("null")), "not the null device");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core
    );
    b.assert_host_clean();
}

#[test]
fn the_console_is_never_mounted_through_a_planted_symlink() {
    let mut b = Bundle::new(&["stat", "-c", "%F", "/victim"]);
    b.config["process"]["terminal"] = json!(true);
    b.config["root"]["readonly"] = json!(false);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    std::fs::write(b.rootfs().join("victim"), "secret\n").unwrap();
    std::os::unix::fs::symlink("/victim", b.rootfs().join("dev/console")).unwrap();
    let attempt = |off: Option<&str>| {
        b.protection_off(off);
        let sock = b.path().join(format!("c-{}.sock", unique("s")));
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let rx = std::thread::spawn(move || {
            let (conn, _) = listener.accept().ok()?;
            let mut buf = [0u8; 64];
            berth_sys::socket::recv(std::os::fd::AsFd::as_fd(&conn), &mut buf)
                .ok()?
                .1
                .pop()
        });
        let id = unique("console");
        let out = b.create(&id, &["--console-socket", sock.to_str().unwrap()]);
        let master = if out.status.success() {
            rx.join().unwrap()
        } else {
            None
        };
        (id, out, master)
    };
    let (id, out, master) = attempt(Some("console-check"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(b.rt(&["start", &id]).status.success());
    let mut got = String::new();
    let _ = std::io::Read::read_to_string(&mut std::fs::File::from(master.unwrap()), &mut got);
    assert!(
        got.contains("character special file"),
        "unprotected, the pty covers the link's target: {got}"
    );
    assert!(b.rt(&["delete", "-f", &id]).status.success());
    let (_, out, _) = attempt(None);
    assert_fails_with(&out, "/dev/console");
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("victim")).unwrap(),
        "secret\n"
    );
    b.assert_host_clean();
}

#[test]
fn proc_is_never_mounted_through_a_symlink() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "ls /elsewhere/self/ >/dev/null && echo proc-at-elsewhere",
    ]);
    std::fs::remove_dir(b.rootfs().join("proc")).unwrap();
    std::fs::create_dir(b.rootfs().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("/elsewhere", b.rootfs().join("proc")).unwrap();
    b.config["root"]["readonly"] = json!(false);
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    b.protection_off(Some("proc-symlink-check"));
    assert_eq!(
        b.run_ok(),
        "proc-at-elsewhere\n",
        "unprotected, procfs lands where the image says"
    );
    b.protection_off(None);
    assert_fails_with(&b.run(&unique("procsym")), "mount proc on /proc");
    b.assert_host_clean();
}

#[test]
fn a_symlink_cannot_send_a_mount_outside_the_rootfs() {
    let host_target = tempfile::tempdir().unwrap();
    let mut b = Bundle::new(&["true"]);
    std::os::unix::fs::symlink(host_target.path(), b.rootfs().join("abs")).unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/abs/sub", "type": "tmpfs", "source": "tmpfs"}));
    b.protection_off(Some("resolve-in-root"));
    let _ = b.run(&unique("escape-off"));
    assert!(
        host_target.path().join("sub").exists(),
        "unprotected, the mount point is made on the host"
    );
    std::fs::remove_dir(host_target.path().join("sub")).unwrap();
    b.protection_off(None);
    // Protected, the link resolves inside the rootfs, where its target does not exist.
    let out = b.run(&unique("escape"));
    assert_fails_with(&out, "dangling symlink");
    assert_eq!(
        std::fs::read_dir(host_target.path()).unwrap().count(),
        0,
        "host dir touched"
    );
    b.assert_host_clean();
}

#[test]
fn a_create_killed_halfway_is_cleaned_by_delete() {
    let mut b = Bundle::new(&["true"]);
    let marker = b.path().join("hook-started");
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", format!("echo $$ > {}; exec sleep 30", marker.display())]}]});
    b.write();
    let id = unique("killed");
    let mut c = b.cmd(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    c.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    eventually("the hook to start", || {
        std::fs::read_to_string(&marker).is_ok_and(|s| s.ends_with('\n'))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // The init dies with its runtime; what is left is recoverable.
    assert_eq!(b.state(&id)["status"], "creating");
    assert!(b.rt(&["delete", &id]).status.success());
    // The hook was the runtime's own child, not the container's: stop it here.
    let hook: i32 = std::fs::read_to_string(&marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: plain kill(2).
    unsafe { libc::kill(hook, libc::SIGKILL) };
    b.assert_host_clean();
}

/// Swaps `a` (a directory inside the rootfs) with a symlink to `target` as fast as it can,
/// until `stop` is set.
fn swapper(
    rootfs: std::path::PathBuf,
    target: std::path::PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::os::unix::fs::symlink(&target, rootfs.join("a-link")).unwrap();
    std::fs::create_dir(rootfs.join("a")).unwrap();
    std::thread::spawn(move || {
        let a = berth_sys::cpath(&rootfs.join("a")).unwrap();
        let l = berth_sys::cpath(&rootfs.join("a-link")).unwrap();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            // SAFETY: valid C strings; RENAME_EXCHANGE swaps the two entries atomically.
            unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    a.as_ptr(),
                    libc::AT_FDCWD,
                    l.as_ptr(),
                    libc::RENAME_EXCHANGE,
                )
            };
        }
    })
}

#[test]
fn a_destination_swapped_during_setup_never_escapes() {
    // CVE-2021-30465 class: while the runtime sets mounts up, the image's /a flips between a
    // directory and a symlink to a host directory. Unprotected, a mount point soon lands on
    // the host; protected, never.
    for off in [true, false] {
        let host = tempfile::tempdir().unwrap();
        let mut b = Bundle::new(&["true"]);
        b.config["root"]["readonly"] = json!(false);
        b.config["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/a/sub", "type": "tmpfs", "source": "tmpfs"}));
        b.protection_off(off.then_some("resolve-in-root"));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let t = swapper(b.rootfs(), host.path().to_path_buf(), stop.clone());
        let mut escaped = false;
        for _ in 0..40 {
            let _ = b.run(&unique("race"));
            if host.path().join("sub").exists() {
                escaped = true;
                break;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        t.join().unwrap();
        assert_eq!(
            escaped, off,
            "escaped to the host: {escaped} (protection off: {off})"
        );
        b.protection_off(None);
        b.assert_host_clean();
    }
}

#[test]
fn no_new_privileges_stops_setuid_escalation() {
    // A setuid-root program in the image that reports its effective uid (busybox drops its
    // setuid privileges by itself, so a tiny static C program stands in).
    let mut b = Bundle::new(&["/bin/euid"]);
    let src = b.path().join("euid.c");
    std::fs::write(&src, "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"%d\\n\", (int)geteuid());return 0;}\n").unwrap();
    let bin = b.rootfs().join("bin/euid");
    let cc = std::process::Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap();
    assert!(cc.status.success(), "gcc: {}", text(&cc.stderr));
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.config["process"]["noNewPrivileges"] = json!(false);
    assert_eq!(
        b.run_ok(),
        "0\n",
        "without no_new_privs the setuid bit escalates"
    );
    b.config["process"]["noNewPrivileges"] = json!(true);
    assert_eq!(b.run_ok(), "1000\n");
    b.assert_host_clean();
}

#[test]
fn device_nodes_the_config_did_not_ask_for_cannot_be_opened() {
    // The image's own /dev (no tmpfs over it) carries a fuse node the config never granted.
    let mut b = Bundle::new(&["sh", "-c", "(exec 3<>/dev/fuse) 2>&1 && echo opened"]);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    let node = b.rootfs().join("dev/fuse");
    assert!(std::process::Command::new("mknod")
        .arg(&node)
        .args(["c", "10", "229"])
        .status()
        .unwrap()
        .success());
    std::fs::set_permissions(&node, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    // With every device allowed in the cgroup, it opens.
    b.config["linux"]["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
    assert!(b.run_ok().contains("opened"));
    b.config["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}]);
    let out = text(&b.run(&unique("nodev")).stdout);
    assert!(
        out.contains("Operation not permitted") && !out.contains("opened"),
        "{out}"
    );
    b.assert_host_clean();
}
