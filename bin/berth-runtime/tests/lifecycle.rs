//! The lifecycle verbs against the real kernel: create, start, state, kill, delete, run, list.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

#[test]
fn run_returns_the_exit_code() {
    let b = Bundle::new(&["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let out = b.run(&unique("exit"));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), "out\n");
    assert!(text(&out.stderr).contains("err"));
    b.assert_host_clean();
}

#[test]
fn run_reports_a_signal_as_128_plus() {
    // Without a pid namespace: a namespace's pid 1 cannot be killed from inside it.
    let mut b = Bundle::new(&["sh", "-c", "kill -9 $$"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    assert_eq!(b.run(&unique("sig")).status.code(), Some(137));
    b.assert_host_clean();
}

#[test]
fn create_start_state_kill_delete() {
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique("lc");
    let pid_file = b.path().join("init.pid");
    let out = b.create(&id, &["--pid-file", pid_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let st = b.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["ociVersion"], "1.2.0");
    assert_eq!(st["bundle"], b.path().to_str().unwrap());
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    // The init is already in the container, waiting: its root is the rootfs.
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata(format!("/proc/{pid}/root/")).unwrap();
    let rootfs = std::fs::metadata(b.rootfs()).unwrap();
    assert_eq!((root.dev(), root.ino()), (rootfs.dev(), rootfs.ino()));
    // The state file records the init's stdio (crun's `external_descriptors`, a JSON list
    // in a string); `create` ran with stdin from /dev/null.
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.state_root().join(&id).join("status")).unwrap())
            .unwrap();
    let fds: Vec<String> =
        serde_json::from_str(saved["external_descriptors"].as_str().unwrap()).unwrap();
    assert_eq!(fds.len(), 3);
    assert_eq!(fds[0], "/dev/null");

    assert!(b.rt(&["start", &id]).status.success());
    assert_eq!(b.state(&id)["status"], "running");
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, "sleep\x0060\x00");
    // A running container is not deleted without --force.
    assert_fails_with(&b.rt(&["delete", &id]), "running");
    assert_fails_with(&b.rt(&["start", &id]), "running");

    assert!(b.rt(&["kill", &id, "KILL"]).status.success());
    eventually("the container to stop", || {
        b.state(&id)["status"] == "stopped"
    });
    assert_eq!(b.state(&id)["pid"], 0);
    assert_fails_with(&b.rt(&["kill", &id, "TERM"]), "stopped");
    assert!(b.rt(&["delete", &id]).status.success());
    assert_fails_with(&b.rt(&["state", &id]), "does not exist");
    b.assert_host_clean();
}

#[test]
fn kill_accepts_names_and_numbers_and_delete_force_kills() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "trap 'exit 0' USR1; while :; do sleep 0.05; done",
    ]);
    let id = unique("kill");
    assert!(b.create(&id, &[]).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    assert_fails_with(&b.rt(&["kill", &id, "NOSUCHSIG"]), "unknown signal");
    assert!(b.rt(&["kill", &id, "SIGUSR1"]).status.success());
    eventually("exit on USR1", || b.state(&id)["status"] == "stopped");
    assert!(b.rt(&["delete", &id]).status.success());

    let id = unique("force");
    assert!(b.create(&id, &[]).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    b.assert_host_clean();
}

#[test]
fn delete_of_a_created_container_kills_its_init() {
    let b = Bundle::new(&["true"]);
    let id = unique("created");
    assert!(b.create(&id, &[]).status.success());
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    assert!(b.rt(&["delete", &id]).status.success());
    let gone = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
    };
    eventually("the init to die", gone);
    b.assert_host_clean();
}

#[test]
fn duplicate_id_is_refused_and_list_shows_containers() {
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique("dup");
    assert!(b.create(&id, &[]).status.success());
    assert_fails_with(&b.create(&id, &[]), "already exists");
    let out = b.rt(&["list", "-q"]);
    assert_eq!(text(&out.stdout).trim(), id);
    let out = b.rt(&["list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["status"], "created");
    let out = b.rt(&["list"]);
    assert!(text(&out.stdout).lines().nth(1).unwrap().starts_with(&id));
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    b.assert_host_clean();
}

#[test]
fn run_detached_then_delete() {
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique("detach");
    b.write();
    let mut c = b.cmd(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    c.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    assert!(c.status().unwrap().success());
    assert_eq!(b.state(&id)["status"], "running");
    assert!(b.rt(&["delete", "-f", &id]).status.success());
    b.assert_host_clean();
}

#[test]
fn run_forwards_signals_to_the_container() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done",
    ]);
    b.write();
    let id = unique("fwd");
    let mut c = b.cmd(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
    c.stdout(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "got TERM\n");
    assert_eq!(status.code(), Some(7));
    b.assert_host_clean();
}

#[test]
fn preserve_fds_pass_into_the_container() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "echo through-fd3 >&3; ls /proc/self/fd | sort -n | tr '\\n' ' '",
    ]);
    b.write();
    let (r, w) = std::io::pipe().unwrap();
    let mut c = b.cmd(&[
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        b.path().to_str().unwrap(),
        &unique("fds"),
    ]);
    let w_fd = std::os::fd::OwnedFd::from(w);
    // Place the pipe at fd 3 in the runtime's process.
    pass_fd(&mut c, std::os::fd::AsRawFd::as_raw_fd(&w_fd), 3);
    let out = run_with_timeout(c, std::time::Duration::from_secs(30));
    drop(w_fd);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut got = String::new();
    std::io::Read::read_to_string(&mut std::io::BufReader::new(r), &mut got).unwrap();
    assert_eq!(got, "through-fd3\n");
    // Only stdio, the preserved fd and ls's own directory fd.
    assert_eq!(text(&out.stdout).trim(), "0 1 2 3 4");
}

#[test]
fn spec_and_features() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["spec", "-b", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let again = std::process::Command::new(BIN)
        .args(["spec", "-b", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_fails_with(&again, "already exists");
    let out = std::process::Command::new(BIN)
        .arg("features")
        .output()
        .unwrap();
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "time"));
    assert!(f["hooks"].as_array().unwrap().len() == 6);
}

#[test]
fn errors_go_to_the_log_file_as_json_lines() {
    let b = Bundle::new(&["/no/such/program"]);
    let log = b.path().join("runtime.log");
    b.write();
    let mut c = b.cmd(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        &unique("log"),
    ]);
    c.stdout(std::process::Stdio::null());
    let out = run_with_timeout(c, std::time::Duration::from_secs(20));
    assert!(!out.status.success());
    let line = std::fs::read_to_string(&log).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(v["level"], "error");
    assert!(
        v["msg"].as_str().unwrap().contains("/no/such/program"),
        "{v}"
    );
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
    b.assert_host_clean();
}
