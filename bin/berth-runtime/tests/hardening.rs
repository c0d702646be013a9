//! The runtime's own attack surface: its binary (/proc/self/exe), its file descriptors and
//! working directory, /dev/null and /dev/console targets, and procfs destinations planted by a
//! hostile image.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;
use std::os::unix::process::CommandExt;

fn digest(p: &str) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn the_container_can_never_execute_the_runtime_binary() {
    let before = digest(BIN);
    // Directly, and through a script whose interpreter is /proc/self/exe.
    let b = Bundle::new(&["/proc/self/exe", "--version"]);
    let out = b.run(&unique("selfexe"));
    assert_eq!(
        out.status.code(),
        Some(127),
        "stdout: {}",
        text(&out.stdout)
    );
    assert!(!text(&out.stdout).contains("berth-runtime"));
    let mut b = Bundle::new(&["/evil"]);
    std::fs::write(b.rootfs().join("evil"), "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(
        b.rootfs().join("evil"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    b.config["root"]["readonly"] = json!(false);
    let out = b.run(&unique("shebang"));
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(digest(BIN), before, "the runtime binary changed");
    b.assert_host_clean();
}

#[test]
fn a_waiting_init_is_not_inspectable_from_its_pid_namespace() {
    // Container A's init waits for start; container B shares A's pid namespace and tries to
    // reach the init's executable, memory and fds.
    let a = Bundle::new(&["sleep", "60"]);
    let id = unique("victim");
    assert!(a.create(&id, &[]).status.success());
    let pid = a.state(&id)["pid"].as_i64().unwrap();
    let mut b = Bundle::new(&["sh", "-c", "readlink /proc/1/exe || echo exe-denied; readlink /proc/1/fd/0 >/dev/null 2>&1 || echo fd-denied; cat /proc/1/environ >/dev/null 2>&1 || echo environ-denied"]);
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "pid");
    ns.push(json!({"type": "pid", "path": format!("/proc/{pid}/ns/pid")}));
    let out = b.run_ok();
    assert!(
        out.contains("exe-denied") && out.contains("fd-denied") && out.contains("environ-denied"),
        "{out}"
    );
    assert!(a.rt(&["delete", "--force", &id]).status.success());
    a.assert_host_clean();
    b.assert_host_clean();
}

/// Runs `berth-runtime run` with fd 7 open on the host's `/` (not close-on-exec).
fn run_with_leaked_fd(b: &Bundle, id: &str) -> std::process::Output {
    b.write();
    let host_root = std::fs::File::open("/").unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&host_root);
    let mut c = b.cmd(&["run", "--bundle", b.path().to_str().unwrap(), id]);
    // SAFETY: only dup2, which is async-signal-safe, runs in the child.
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = run_with_timeout(c, std::time::Duration::from_secs(30));
    drop(host_root);
    out
}

#[test]
fn no_host_fd_or_directory_leaks_into_the_container() {
    let b = Bundle::new(&["sh", "-c", "echo $(ls /proc/self/fd | sort -n); readlink /proc/self/cwd; ls /proc/self/fd/7/ 2>&1 | head -1"]);
    let out = run_with_leaked_fd(&b, &unique("leak"));
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
    let out = run_with_leaked_fd(&b, &unique("cwdleak"));
    assert!(!out.status.success(), "{}", text(&out.stdout));
    b.assert_host_clean();
}

#[test]
fn a_planted_dev_null_symlink_never_reaches_masked_paths() {
    // No /dev tmpfs: /dev is the image's, where a hostile image left /dev/null pointing at a
    // host-sensitive file. The runtime replaces it with the real node before masking with it.
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "wc -c < /proc/timer_list; stat -c '%F %t:%T' /dev/null",
    ]);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", b.rootfs().join("dev/null"))
        .unwrap();
    let core = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let out = b.run_ok();
    assert_eq!(out, "0\ncharacter special file 1:3\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core
    );
    b.assert_host_clean();
}

#[test]
fn a_planted_dev_console_symlink_is_refused() {
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["terminal"] = json!(true);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    let victim = b.path().join("victim");
    std::fs::write(&victim, "secret\n").unwrap();
    std::os::unix::fs::symlink(&victim, b.rootfs().join("dev/console")).unwrap();
    let sock = b.path().join("c.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        let _ = listener.accept();
    });
    let out = b.create(
        &unique("console"),
        &["--console-socket", sock.to_str().unwrap()],
    );
    assert_fails_with(&out, "/dev/console");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret\n");
    b.assert_host_clean();
}

#[test]
fn proc_is_never_mounted_through_a_symlink() {
    let mut b = Bundle::new(&["true"]);
    std::fs::remove_dir(b.rootfs().join("proc")).unwrap();
    std::fs::create_dir(b.rootfs().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("/elsewhere", b.rootfs().join("proc")).unwrap();
    b.config["root"]["readonly"] = json!(false);
    let out = b.create(&unique("procsym"), &[]);
    assert_fails_with(&out, "mount proc on /proc");
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
