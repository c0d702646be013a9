//! `exec`: a second process in a running container shares all its namespaces and its cgroup,
//! and gets its own user, environment, capabilities and terminal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;
use std::os::fd::AsFd;

/// A running container: `sleep 60` with all namespaces the spec default has, plus user.
fn running(b: &Bundle) -> (String, i64) {
    let id = unique("exec");
    assert!(b.create(&id, &[]).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    (id, pid)
}

#[test]
fn exec_joins_every_namespace_and_the_cgroup() {
    let mut b = Bundle::new(&["sleep", "60"]);
    b.with_user_namespace(100000);
    let (id, pid) = running(&b);
    let kinds = ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"];
    let script = kinds
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{k}"))
        .collect::<Vec<_>>()
        .join("; ");
    let out = b.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        &format!("{script}; cat /proc/self/cgroup; echo $$; exit 3"),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let got = text(&out.stdout);
    let lines: Vec<&str> = got.lines().collect();
    for (i, k) in kinds.iter().enumerate() {
        let init_ns = std::fs::read_link(format!("/proc/{pid}/ns/{k}")).unwrap();
        assert_eq!(lines[i], init_ns.to_str().unwrap(), "{k}");
    }
    // The init's own view of its cgroups is the exec'd process's view too.
    let init_cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(got.contains(
        init_cg
            .lines()
            .find(|l| l.contains(":memory:"))
            .unwrap()
            .split(':')
            .nth(1)
            .unwrap()
    ));
    assert_ne!(
        lines.last().unwrap(),
        &"1",
        "a new pid in the container's pid namespace"
    );
    assert!(b.rt(&["delete", "-f", &id]).status.success());
    b.assert_host_clean();
}

#[test]
fn exec_applies_user_env_cwd_caps_and_no_new_privs() {
    let b = Bundle::new(&["sleep", "60"]);
    let (id, _) = running(&b);
    let out = b.rt(&[
        "exec",
        "--user",
        "1000:1000",
        "-g",
        "5",
        "--env",
        "FOO=bar",
        "--cwd",
        "/tmp",
        "--cap",
        "CAP_NET_ADMIN",
        "--no-new-privs",
        &id,
        "sh",
        "-c",
        "id; echo $FOO; pwd; grep -E 'CapBnd|NoNewPrivs' /proc/self/status",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = text(&out.stdout);
    assert!(
        got.contains("uid=1000(user) gid=1000(user) groups=5"),
        "{got}"
    );
    assert!(got.contains("\nbar\n/tmp\n"), "{got}");
    // Spec default bounding set plus NET_ADMIN (12).
    let want = format!("{:016x}", (1u64 << 29) | (1 << 5) | (1 << 10) | (1 << 12));
    assert!(got.contains(&format!("CapBnd:\t{want}")), "{got}");
    assert!(got.contains("NoNewPrivs:\t1"), "{got}");
    assert!(b.rt(&["delete", "-f", &id]).status.success());
    b.assert_host_clean();
}

#[test]
fn exec_keeps_the_containers_no_new_privs_unless_told() {
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["process"]["noNewPrivileges"] = json!(true);
    let (id, _) = running(&b);
    let nnp = |flags: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[&id, "grep", "NoNewPrivs", "/proc/self/status"]);
        let out = b.rt(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    // runc's rule: the container's setting, unless the flag says otherwise.
    assert_eq!(nnp(&[]), "NoNewPrivs:\t1\n");
    assert_eq!(nnp(&["--no-new-privs=false"]), "NoNewPrivs:\t0\n");
    assert_eq!(nnp(&["--no-new-privs"]), "NoNewPrivs:\t1\n");
    assert!(b.rt(&["delete", "-f", &id]).status.success());
    b.assert_host_clean();
}

#[test]
fn exec_with_a_process_file_detached_with_a_pid_file() {
    let b = Bundle::new(&["sleep", "60"]);
    let (id, _) = running(&b);
    let proc_file = b.path().join("process.json");
    let marker = "/dev/shm/exec-ran";
    std::fs::write(
        &proc_file,
        serde_json::to_vec(&json!({
            "args": ["sh", "-c", format!("echo from-process-file > {marker}; sleep 30")],
            "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]
        }))
        .unwrap(),
    )
    .unwrap();
    let pid_file = b.path().join("exec.pid");
    let mut c = b.cmd(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "-p",
        proc_file.to_str().unwrap(),
        &id,
    ]);
    c.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    let out = run_with_timeout(c, std::time::Duration::from_secs(20));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    // The pid is the process's (briefly still the exec trampoline's image; the shell then
    // execs its last command, the sleep).
    eventually("the program to run", || {
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        cmdline.starts_with("sh\0-c\0") || cmdline == "sleep\x0030\x00"
    });
    eventually("the marker", || {
        b.rt(&["exec", &id, "cat", marker]).stdout == b"from-process-file\n"
    });
    // `ps`-free check of membership: killing the container takes the exec'd process along.
    assert!(b.rt(&["delete", "-f", &id]).status.success());
    eventually("the exec'd process to die", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
    });
    b.assert_host_clean();
}

#[test]
fn exec_with_a_terminal_through_a_console_socket() {
    let b = Bundle::new(&["sleep", "60"]);
    let (id, _) = running(&b);
    let sock = b.path().join("exec.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let rx = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let (_, mut fds) = berth_sys::socket::recv(conn.as_fd(), &mut buf).unwrap();
        fds.pop().unwrap()
    });
    let mut c = b.cmd(&[
        "exec",
        "-t",
        "-d",
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
        "sh",
        "-c",
        "tty; sleep 1",
    ]);
    c.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    let out = run_with_timeout(c, std::time::Duration::from_secs(20));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut f = std::fs::File::from(rx.join().unwrap());
    let mut got = String::new();
    let mut buf = [0u8; 256];
    while !got.contains("/dev/pts/") {
        let n = std::io::Read::read(&mut f, &mut buf).unwrap();
        assert!(n > 0, "{got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(b.rt(&["delete", "-f", &id]).status.success());
    b.assert_host_clean();
}

#[test]
fn exec_refuses_stopped_containers_and_bad_input() {
    let b = Bundle::new(&["true"]);
    let id = unique("stopped");
    assert!(b.create(&id, &[]).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    eventually("exit", || b.state(&id)["status"] == "stopped");
    assert_fails_with(&b.rt(&["exec", &id, "true"]), "stopped");
    assert_fails_with(&b.rt(&["exec", "no-such", "true"]), "does not exist");
    assert!(b.rt(&["delete", &id]).status.success());
    let b = Bundle::new(&["sleep", "60"]);
    let (id, _) = running(&b);
    assert_fails_with(
        &b.rt(&["exec", &id, "/no/such/program"]),
        "/no/such/program",
    );
    assert_fails_with(&b.rt(&["exec", "--user", "abc", &id, "true"]), "--user");
    // -1 would mean "unchanged" to setresuid: the process would stay root.
    assert_fails_with(
        &b.rt(&["exec", "--user", "4294967295", &id, "true"]),
        "user.uid",
    );
    assert_fails_with(&b.rt(&["exec", "--apparmor", "x", &id, "true"]), "AppArmor");
    // The runtime's binary is out of reach for exec too: the trampoline refuses with 127.
    assert_eq!(
        b.rt(&["exec", &id, "/proc/self/exe", "--version"])
            .status
            .code(),
        Some(127)
    );
    assert!(b.rt(&["delete", "-f", &id]).status.success());
    b.assert_host_clean();
}

/// `exec` into a paused container is refused unless `--ignore-paused` (runc's flag) is given;
/// with it the process joins the frozen container and runs once it is resumed.
#[test]
fn exec_into_a_paused_container_needs_ignore_paused() {
    let b = Bundle::new(&["sleep", "60"]);
    let (id, _) = running(&b);
    assert!(b.rt(&["pause", &id]).status.success());
    assert_fails_with(&b.rt(&["exec", &id, "true"]), "--ignore-paused");
    let mut c = b.cmd(&["exec", "--ignore-paused", &id, "echo", "after resume"]);
    c.current_dir(b.path());
    let exec = std::thread::spawn(move || run_with_timeout(c, std::time::Duration::from_secs(30)));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!exec.is_finished(), "the process ran in a frozen container");
    assert!(b.rt(&["resume", &id]).status.success());
    let out = exec.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "after resume\n");
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    b.assert_host_clean();
}
