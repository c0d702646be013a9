//! The engine's container commands, driven through the real `berth` binary as root against a
//! busybox image made with `berth import`. Every test uses its own `--root` and cgroup parent
//! and ends by checking that nothing is left: no container, mount, process or cgroup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::{cgroup_dirs, eventually, output_within, Engine};
use common::mounts_under;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn code(e: &Engine, args: &[&str]) -> Option<i32> {
    e.run(args).status.code()
}

#[test]
fn run_passes_output_and_exit_status() {
    let e = Engine::new();
    let o = e.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]);
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");
    // Without -i the container reads nothing.
    assert_eq!(e.ok(&["run", "--rm", "busybox", "cat"]), "");
    let out = e.ok(&["run", "--rm", "busybox", "sh", "-c", "echo $$ $(hostname)"]);
    let (pid, host) = out.trim().split_once(' ').unwrap();
    assert_eq!((pid, host.len()), ("1", 12));
    e.assert_clean();
}

#[test]
fn image_config_and_overrides() {
    let e = Engine::new();
    let tar = e.busybox_tar();
    e.ok(&[
        "import",
        "-c",
        r#"ENTRYPOINT ["/bin/echo", "ep"]"#,
        "-c",
        r#"CMD ["default"]"#,
        "-c",
        "ENV GREETING=hi",
        "-c",
        "WORKDIR /tmp",
        "-c",
        "USER nobody",
        tar.to_str().unwrap(),
        "epimg",
    ]);
    assert_eq!(e.ok(&["run", "--rm", "epimg"]), "ep default\n");
    assert_eq!(e.ok(&["run", "--rm", "epimg", "a", "b"]), "ep a b\n");
    let sh = |extra: &[&str], script: &str| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--entrypoint", "/bin/sh", "epimg", "-c", script]);
        e.ok(&args)
    };
    assert_eq!(
        sh(&[], "echo $GREETING $(pwd) $(id -u) $HOME"),
        "hi /tmp 65534 /nonexistent\n"
    );
    let mut env = e.cmd(&[
        "run",
        "--rm",
        "-e",
        "GREETING=bye",
        "-e",
        "FROM_HOST",
        "-e",
        "UNSET_X",
        "-w",
        "/etc",
        "-u",
        "root",
        "--entrypoint",
        "",
        "epimg",
        "sh",
        "-c",
        "echo $GREETING $FROM_HOST ${UNSET_X-unset} $(pwd) $(id -u):$(id -g)",
    ]);
    env.env("FROM_HOST", "passed").env_remove("UNSET_X");
    let o = output_within(env, Duration::from_secs(60), "run -e");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "bye passed unset /etc 0:0\n"
    );
    assert_eq!(sh(&["-u", "1234:5678"], "id -u; id -g"), "1234\n5678\n");
    // A missing working directory is made, as docker does.
    assert_eq!(sh(&["-w", "/new/dir"], "pwd"), "/new/dir\n");
    e.ok(&["rmi", "epimg"]);
    e.assert_clean();
}

#[test]
fn bind_mounts_tmpfs_and_read_only_root() {
    let e = Engine::new();
    let host = e.b.dir.path().join("shared");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("in"), "from host\n").unwrap();
    let rw = format!("{}:/data", host.display());
    let ro = format!("{}:/ro:ro", host.display());
    let out = e.ok(&[
        "run",
        "--rm",
        "-v",
        &rw,
        "-v",
        &ro,
        "busybox",
        "sh",
        "-c",
        "cat /data/in; echo from container > /data/out; touch /ro/x 2>/dev/null || echo ro refused",
    ]);
    assert_eq!(out, "from host\nro refused\n");
    assert_eq!(
        std::fs::read_to_string(host.join("out")).unwrap(),
        "from container\n"
    );
    let out = e.ok(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch:size=1m",
        "busybox",
        "sh",
        "-c",
        "touch /x 2>/dev/null || echo root refused; touch /scratch/y && echo tmpfs ok",
    ]);
    assert_eq!(out, "root refused\ntmpfs ok\n");
    e.assert_clean();
}

#[test]
fn rm_flag_removes_everything() {
    let e = Engine::new();
    let ctl = e.b.dir.path().join("ctl");
    std::fs::create_dir(&ctl).unwrap();
    let vol = format!("{}:/ctl", ctl.display());
    let script = "touch /ctl/up; while [ ! -e /ctl/go ]; do sleep 0.02; done";
    let mut c = e.cmd(&[
        "run", "--rm", "--name", "brief", "-v", &vol, "busybox", "sh", "-c", script,
    ]);
    c.stdin(Stdio::null());
    let run = std::thread::spawn(move || output_within(c, Duration::from_secs(60), "run --rm"));
    eventually("running", || ctl.join("up").exists() || run.is_finished());
    assert!(!run.is_finished(), "{:?}", run.join().unwrap());
    // While it runs it has a record, an overlay mount, runtime state and a cgroup.
    let id = e.inspect("brief")["Id"].as_str().unwrap().to_string();
    assert!(!mounts_under(e.b.dir.path()).is_empty());
    assert!(e.b.root.join("runtime").join(&id).is_dir());
    assert!(!cgroup_dirs(&format!("{}/{id}", e.cgroup_parent)).is_empty());
    std::fs::write(ctl.join("go"), "").unwrap();
    assert!(run.join().unwrap().status.success());
    e.assert_clean();
}

#[test]
fn detached_logs_ps_stop_rm() {
    let e = Engine::new();
    let script = "trap 'echo got TERM; exit 3' TERM; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done";
    let id = e.ok(&[
        "run", "-d", "--name", "ticker", "busybox", "sh", "-c", script,
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    eventually("three lines logged", || {
        e.ok(&["logs", "ticker"]).lines().count() >= 3
    });
    assert!(e
        .ok(&["logs", "ticker"])
        .starts_with("line 0\nline 1\nline 2\n"));
    assert_eq!(e.ok(&["logs", "--tail", "1", "ticker"]).lines().count(), 1);
    let ps = e.ok(&["ps"]);
    let row = ps.lines().nth(1).unwrap();
    assert!(
        row.starts_with(&id[..12]) && row.contains("Up ") && row.ends_with("ticker"),
        "{ps}"
    );
    assert_eq!(e.ok(&["ps", "-q"]).trim(), &id[..12]);
    // docker's JSON lines: one object of strings per container.
    let json: serde_json::Value = serde_json::from_str(&e.ok(&["ps", "--format", "json"])).unwrap();
    assert_eq!(json["ID"], id[..12]);
    assert_eq!(json["State"], "running");
    assert!(e.inspect("ticker")["State"]["Pid"].as_i64().unwrap() > 1);
    // Running: rm without -f refuses.
    let err = e.fail(1, &["rm", "ticker"]);
    assert!(err.contains("running") && err.contains("rm -f"), "{err}");
    // The shell is PID 1 with a TERM trap: stop's SIGTERM ends it with its own status.
    let t = Instant::now();
    e.ok(&["stop", "ticker"]);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(e.ok(&["logs", "ticker"]).ends_with("got TERM\n"));
    assert_eq!(e.ok(&["ps", "-q"]), "");
    let ps = e.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited (3)"), "{ps}");
    assert_eq!(e.inspect("ticker")["State"]["ExitCode"], 3);
    assert_eq!(e.ok(&["wait", "ticker"]), "3\n");
    e.ok(&["rm", &id[..8]]);
    e.fail(1, &["logs", "ticker"]);
    e.assert_clean();
}

#[test]
fn stop_kills_after_the_timeout_and_logs_follow_ends() {
    let e = Engine::new();
    // PID 1 without a handler ignores SIGTERM: stop must fall back to SIGKILL.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "stubborn",
        "busybox",
        "sh",
        "-c",
        "echo up; exec sleep 1000",
    ]);
    eventually("started", || e.ok(&["logs", "stubborn"]) == "up\n");
    let follow = {
        let mut c = e.cmd(&["logs", "-f", "stubborn"]);
        c.stdin(Stdio::null());
        std::thread::spawn(move || output_within(c, Duration::from_secs(30), "logs -f"))
    };
    let t = Instant::now();
    e.ok(&["stop", "-t", "1", "stubborn"]);
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert_eq!(e.ok(&["wait", "stubborn"]), "137\n");
    let o = follow.join().unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "up\n");
    e.ok(&["rm", "stubborn"]);
    e.assert_clean();
}

#[test]
fn kill_sends_the_signal() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "k",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 12' USR1; while true; do sleep 0.1; done",
    ]);
    e.fail(1, &["kill", "-s", "NOPE", "k"]);
    e.ok(&["kill", "-s", "USR1", "k"]);
    assert_eq!(e.ok(&["wait", "k"]), "12\n");
    e.fail(1, &["kill", "k"]);
    e.ok(&["rm", "k"]);
    e.assert_clean();
}

#[test]
fn exec_joins_a_running_container() {
    let e = Engine::new();
    e.ok(&[
        "run", "-d", "--name", "box", "-e", "BASE=1", "busybox", "sleep", "1000",
    ]);
    let out = e.ok(&[
        "exec",
        "-e",
        "EXTRA=2",
        "-w",
        "/tmp",
        "box",
        "sh",
        "-c",
        "echo $BASE $EXTRA $(pwd) $(hostname); readlink /proc/1/exe; cat /proc/1/cmdline",
    ]);
    let host = e.inspect("box")["Config"]["Hostname"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(out, format!("1 2 /tmp {host}\n/bin/busybox\nsleep\01000\0"));
    assert_eq!(
        e.ok(&["exec", "-u", "nobody", "box", "id", "-u"]),
        "65534\n"
    );
    assert_eq!(code(&e, &["exec", "box", "sh", "-c", "exit 9"]), Some(9));
    let top = e.ok(&["top", "box"]);
    assert!(
        top.lines().count() >= 2 && top.contains("sleep 1000"),
        "{top}"
    );
    e.fail(125, &["exec", "nosuch", "true"]);
    e.fail(127, &["exec", "box", "/no/such/program"]);
    e.ok(&["rm", "-f", "box"]);
    e.fail(125, &["exec", "box", "true"]);
    e.assert_clean();
}

#[test]
fn tty_through_a_pty() {
    let e = Engine::new();
    let (status, out) = e.on_pty(
        &[
            "run",
            "--rm",
            "-t",
            "busybox",
            "sh",
            "-c",
            "tty; stty size; echo $TERM",
        ],
        b"",
    );
    assert_eq!(status, Some(0), "{out}");
    let out = out.replace('\r', "");
    assert!(out.contains("/dev/pts/0\n33 111\nxterm\n"), "{out:?}");
    let (status, out) = e.on_pty(
        &["run", "--rm", "-it", "busybox", "sh"],
        b"echo sum=$((40+2)); exit 5\n",
    );
    assert_eq!(status, Some(5), "{out}");
    assert!(out.contains("sum=42"), "{out:?}");
    e.assert_clean();
}

#[test]
fn memory_limit_is_enforced() {
    let e = Engine::new();
    let args = [
        "run",
        "--rm",
        "-m",
        "16m",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64M",
        "count=1",
    ];
    assert_eq!(code(&e, &args), Some(137));
    let ok = [
        "run",
        "--rm",
        "-m",
        "16m",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=1M",
        "count=1",
    ];
    assert_eq!(code(&e, &ok), Some(0));
    let limits = e.ok(&[
        "run",
        "--rm",
        "--pids-limit",
        "7",
        "--cpus",
        "0.5",
        "busybox",
        "sh",
        "-c",
        "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null \
         || cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max",
    ]);
    assert!(
        limits.starts_with("7\n") && limits.contains("50000"),
        "{limits}"
    );
    e.assert_clean();
}

#[test]
fn host_network_shares_the_namespace_none_does_not() {
    let e = Engine::new();
    // The test thread's own namespace (see common::engine::private_network).
    let host = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let host = host.to_str().unwrap();
    let ns = |net: &str| {
        e.ok(&[
            "run",
            "--rm",
            "--network",
            net,
            "busybox",
            "readlink",
            "/proc/self/ns/net",
        ])
    };
    assert_eq!(ns("host").trim(), host);
    let own = ns("none");
    assert!(own.starts_with("net:[") && own.trim() != host, "{own}");
    // none has loopback, up.
    let lo = e.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "cat",
        "/sys/class/net/lo/operstate",
        "/sys/class/net/lo/flags",
    ]);
    assert!(lo.ends_with("0x9\n"), "{lo}");
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "ls",
            "/sys/class/net"
        ]),
        "lo\n"
    );
    // The default is the bridge network, as in docker.
    assert_eq!(
        e.ok(&["run", "--rm", "busybox", "ls", "/sys/class/net"]),
        "eth0\nlo\n"
    );
    e.assert_clean();
}

#[test]
fn two_containers_of_one_image_are_isolated() {
    let e = Engine::new();
    let a = e.ok(&["run", "-d", "--name", "a", "busybox", "sleep", "1000"]);
    let b = e.ok(&["run", "-d", "--name", "b", "busybox", "sleep", "1000"]);
    e.ok(&["exec", "a", "sh", "-c", "echo A > /mine"]);
    assert_eq!(code(&e, &["exec", "b", "cat", "/mine"]), Some(1));
    let upper = |id: &str| e.b.root.join("image/rootfs").join(id.trim()).join("upper");
    assert_eq!(
        std::fs::read_to_string(upper(&a).join("mine")).unwrap(),
        "A\n"
    );
    assert!(!upper(&b).join("mine").exists());
    // The mount points the image lacks (busybox has no /proc, /etc, ...) are in one stub
    // layer both share, not in either one's changes.
    let stubs = e.b.root.join("image/stubs");
    assert_eq!(std::fs::read_dir(&stubs).unwrap().count(), 1);
    for id in [&a, &b] {
        let changed: Vec<_> = std::fs::read_dir(upper(id)).unwrap().flatten().collect();
        assert!(
            changed.iter().all(|c| c.file_name() == "mine"),
            "{changed:?}"
        );
    }
    assert_eq!(e.ok(&["diff", "b"]), "");
    let ns = |c: &str| {
        e.ok(&[
            "exec",
            c,
            "sh",
            "-c",
            "readlink /proc/1/ns/pid; readlink /proc/1/ns/mnt",
        ])
    };
    assert_ne!(ns("a"), ns("b"));
    assert_eq!(e.ok(&["ps", "-q"]).lines().count(), 2);
    // Names are unique.
    let err = e.fail(125, &["run", "-d", "--name", "a", "busybox", "true"]);
    assert!(err.contains("already in use"), "{err}");
    e.ok(&["rm", "-f", "a", "b"]);
    e.assert_clean();
    // With the image, its stub layer goes.
    e.ok(&["rmi", "busybox"]);
    assert_eq!(std::fs::read_dir(&stubs).unwrap().count(), 0);
}

#[test]
fn create_start_wait_restart() {
    let e = Engine::new();
    let id = e.ok(&[
        "create",
        "--name",
        "job",
        "busybox",
        "sh",
        "-c",
        "echo ran; exit 4",
    ]);
    let ps = e.ok(&["ps", "-a"]);
    assert!(ps.contains("Created") && ps.contains("job"), "{ps}");
    e.fail(1, &["wait", "job"]);
    e.ok(&["start", "job"]);
    assert_eq!(e.ok(&["wait", "job"]), "4\n");
    e.ok(&["start", id.trim()]);
    assert_eq!(e.ok(&["wait", "job"]), "4\n");
    assert_eq!(e.ok(&["logs", "job"]), "ran\nran\n");
    let i = e.inspect("job");
    assert_eq!(i["Id"], id.trim());
    assert_eq!(i["State"]["Status"], "exited");
    assert_eq!(i["Config"]["Cmd"][0], "sh");
    // An image still inspects by name; the container comes first for its own name.
    let img: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", "busybox"])).unwrap();
    assert!(img[0]["RepoTags"][0]
        .as_str()
        .unwrap()
        .ends_with("busybox:latest"));
    e.ok(&["rm", "job"]);
    e.assert_clean();
}

#[test]
fn killed_monitor_leaves_a_state_ps_and_rm_recover() {
    let e = Engine::new();
    let kill9 = |pid: i64| {
        // SAFETY: plain syscall.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    };
    let gone = |pid: i64| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit(')').next().unwrap().trim_start().starts_with('Z')
        })
    };
    // The monitor dies; the container lives on: still running, and rm -f cleans it.
    e.ok(&["run", "-d", "--name", "orphan", "busybox", "sleep", "1000"]);
    let monitor = e.inspect("orphan")["State"]["MonitorPid"].as_i64().unwrap();
    kill9(monitor);
    eventually("monitor gone", || gone(monitor));
    assert!(e.ok(&["ps"]).contains("orphan"));
    assert_eq!(e.ok(&["exec", "orphan", "echo", "alive"]), "alive\n");
    e.ok(&["rm", "-f", "orphan"]);
    // Monitor and container both die: it shows as exited, status unknown; rm cleans it.
    e.ok(&["run", "-d", "--name", "lost", "busybox", "sleep", "1000"]);
    let state = e.inspect("lost")["State"].clone();
    kill9(state["MonitorPid"].as_i64().unwrap());
    kill9(state["Pid"].as_i64().unwrap());
    eventually("init gone", || gone(state["Pid"].as_i64().unwrap()));
    let ps = e.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited (unknown)"), "{ps}");
    let err = e.fail(1, &["wait", "lost"]);
    assert!(err.contains("unknown"), "{err}");
    e.ok(&["rm", "lost"]);
    // With --rm, the next look removes it.
    e.ok(&[
        "run", "-d", "--rm", "--name", "auto", "busybox", "sleep", "1000",
    ]);
    let state = e.inspect("auto")["State"].clone();
    kill9(state["MonitorPid"].as_i64().unwrap());
    kill9(state["Pid"].as_i64().unwrap());
    eventually("init gone", || gone(state["Pid"].as_i64().unwrap()));
    assert_eq!(e.ok(&["ps", "-a", "-q"]), "");
    e.assert_clean();
}

#[test]
fn detached_rm_flag_and_privileged() {
    let e = Engine::new();
    let id = e.ok(&["run", "-d", "--rm", "busybox", "true"]);
    eventually("removed after exit", || {
        !e.containers_dir().join(id.trim()).exists()
    });
    let caps = |extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            "busybox",
            "sh",
            "-c",
            "grep -E '^(CapEff|Seccomp):' /proc/self/status",
        ]);
        e.ok(&args)
    };
    assert_eq!(caps(&[]), "CapEff:\t00000000a80425fb\nSeccomp:\t2\n");
    assert_eq!(
        caps(&["--cap-drop", "ALL", "--cap-add", "KILL"]),
        "CapEff:\t0000000000000020\nSeccomp:\t2\n"
    );
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = own.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    assert_eq!(caps(&["--privileged"]), format!("{eff}\nSeccomp:\t0\n"));
    e.assert_clean();
}

#[test]
fn bad_input_fails_in_one_line_and_leaves_nothing() {
    let e = Engine::new();
    let missing = format!("{}/missing:/x", e.b.dir.path().display());
    let cases: &[(&[&str], &str)] = &[
        (&["run", "nosuchimage"], "nosuchimage"),
        (&["run", "-v", &missing, "busybox", "true"], "--volume"),
        (
            &["run", "-v", "bad/name:/x", "busybox", "true"],
            "invalid volume name",
        ),
        (&["run", "--memory", "12x", "busybox", "true"], "--memory"),
        (&["run", "--cpus", "-1", "busybox", "true"], "--cpus"),
        (
            &["run", "--cap-add", "BOGUS", "busybox", "true"],
            "--cap-add",
        ),
        (
            &["run", "--name", "bad name", "busybox", "true"],
            "bad name",
        ),
        (
            &["run", "-u", "nosuchuser", "busybox", "true"],
            "nosuchuser",
        ),
        (&["run", "-w", "relative", "busybox", "true"], "--workdir"),
        (
            &["run", "--tmpfs", "relative", "busybox", "true"],
            "--tmpfs",
        ),
        (
            &["run", "-d", "--network", "container:x", "busybox", "true"],
            "--network",
        ),
    ];
    for (args, what) in cases {
        let err = e.fail(125, args);
        assert!(err.contains(what), "berth {args:?}: {err}");
        e.assert_clean();
    }
    for args in [
        &["rm", "nosuch"][..],
        &["stop", "nosuch"],
        &["logs", "nosuch"],
    ] {
        let err = e.fail(1, args);
        assert!(err.contains("nosuch"), "{err}");
    }
    // create fails as run does, with docker's 125.
    assert!(e.fail(125, &["create", "nosuchimage"]).contains("nosuch"));
    e.assert_clean();
}

#[test]
fn export_writes_the_containers_files_and_import_takes_them_back() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "sh",
        "-c",
        "echo changed > /root/note",
    ]);
    let tar = e.b.dir.path().join("writer.tar");
    e.ok(&["export", "-o", tar.to_str().unwrap(), "writer"]);
    let list = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        names
            .lines()
            .any(|l| l.trim_start_matches("./") == "root/note"),
        "{names}"
    );
    assert!(
        names
            .lines()
            .any(|l| l.trim_start_matches("./") == "bin/busybox"),
        "{names}"
    );
    // The archive is an image again: the container's change is in it.
    e.ok(&["import", tar.to_str().unwrap(), "localhost/exported:1"]);
    assert_eq!(
        e.ok(&["run", "--rm", "localhost/exported:1", "cat", "/root/note"]),
        "changed\n"
    );
    e.ok(&["rm", "writer"]);
    assert!(e
        .fail(1, &["export", "no-such-container"])
        .contains("no-such-container"));
}
