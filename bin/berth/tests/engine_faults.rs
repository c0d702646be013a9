//! Faults an outside test found in the engine: what a detached container's monitor keeps of
//! its caller, ids that mean "unchanged" to the kernel, docker's exit statuses and flag
//! errors, absurd values, relative paths, read-only mounts with mounts below them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::Engine;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

/// A pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = std::io::pipe().unwrap();
    (r.into(), w.into())
}

#[test]
fn berth_monitor_attends_detached_containers_and_berth_alone_does_too() {
    let e = Engine::new();
    let exe = |name: &str| {
        let pid = e.inspect(name)["State"]["MonitorPid"].as_i64().unwrap();
        std::fs::read_link(format!("/proc/{pid}/exe")).unwrap()
    };
    e.ok(&["run", "-d", "--name", "small", "busybox", "sleep", "1000"]);
    let helper = std::path::PathBuf::from(env!("CARGO_BIN_EXE_berth-monitor"));
    assert_eq!(exe("small"), helper.canonicalize().unwrap());
    // A berth installed without it runs its own hidden `monitor` command.
    let alone = e.b.dir.path().join("alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_berth"), alone.join("berth")).unwrap();
    let args: Vec<std::ffi::OsString> = e
        .cmd(&["run", "-d", "--name", "big", "busybox", "sleep", "1000"])
        .get_args()
        .map(|a| a.to_owned())
        .collect();
    let out = std::process::Command::new(alone.join("berth"))
        .args(&args)
        .env("HOME", e.b.dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(exe("big"), alone.join("berth").canonicalize().unwrap());
    e.ok(&["rm", "-f", "small", "big"]);
    e.assert_clean();
    // Only berth starts it: a wrong word is one line and 125.
    let out = std::process::Command::new(&helper)
        .args(["--root", "/nonexistent", "bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn the_monitor_keeps_none_of_its_callers_files() {
    let e = Engine::new();
    let (r, w) = pipe();
    let mut c = e.cmd(&["run", "-d", "--name", "fds", "busybox", "sleep", "1000"]);
    let raw = w.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; `raw` is open in the parent and so in the child.
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = c.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{:?}", out);
    drop(w);
    // `( berth run -d ... ) 7>&1 | cat` ends when run -d does: nobody else holds the pipe.
    let mut pfd = libc::pollfd {
        fd: r.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 5000) };
    assert_eq!(n, 1, "the pipe stays open after run -d returned");
    let ours = std::fs::read_link(format!("/proc/self/fd/{}", r.as_raw_fd())).unwrap();
    let mut rest = Vec::new();
    std::fs::File::from(r).read_to_end(&mut rest).unwrap();
    let monitor = e.inspect("fds")["State"]["MonitorPid"].as_i64().unwrap();
    let held: Vec<_> = std::fs::read_dir(format!("/proc/{monitor}/fd"))
        .unwrap()
        .filter_map(|d| std::fs::read_link(d.unwrap().path()).ok())
        .collect();
    assert!(
        !held.contains(&ours),
        "the monitor holds {ours:?}: {held:?}"
    );
    e.ok(&["rm", "-f", "fds"]);
    e.assert_clean();
}

#[test]
fn inspect_and_ps_say_why_a_container_ended() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "oom",
        "-m",
        "16m",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64M",
        "count=1",
    ]);
    assert_eq!(e.ok(&["wait", "oom"]), "137\n");
    let state = &e.inspect("oom")["State"];
    assert_eq!(state["OOMKilled"], true, "{state}");
    let reason = state["EndReason"].as_str().unwrap();
    assert!(
        reason.contains("OOM killer") && reason.contains("16 MiB"),
        "{reason}"
    );
    // Killed from outside: a signal, not the OOM killer.
    e.ok(&["run", "-d", "--name", "sig", "busybox", "sleep", "1000"]);
    e.ok(&["kill", "sig"]);
    assert_eq!(e.ok(&["wait", "sig"]), "137\n");
    let state = &e.inspect("sig")["State"];
    assert_eq!(state["OOMKilled"], false, "{state}");
    assert_eq!(state["EndReason"], "killed by SIGKILL");
    // In the foreground too.
    assert_eq!(
        e.run(&["run", "--name", "three", "busybox", "sh", "-c", "exit 3"])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        e.inspect("three")["State"]["EndReason"],
        "exited with status 3"
    );
    let ps = e.ok(&["ps", "-a"]);
    let line = |name: &str| ps.lines().find(|l| l.ends_with(name)).unwrap().to_string();
    assert!(line("oom").contains("Exited (137)"), "{ps}");
    assert!(
        line("oom").contains("OOM killer at its memory limit (16 MiB)"),
        "{ps}"
    );
    assert!(line("sig").contains("killed by SIGKILL"), "{ps}");
    assert!(!line("three").contains("status"), "{ps}");
    for c in ["oom", "sig", "three"] {
        e.ok(&["rm", c]);
    }
    e.assert_clean();
}

#[test]
fn bad_flags_and_values_fail_in_one_line_with_125() {
    let e = Engine::new();
    e.ok(&["run", "-d", "--name", "live", "busybox", "sleep", "1000"]);
    let cases: &[(&[&str], &str)] = &[
        (&["run", "--bogus", "busybox", "true"], "--bogus"),
        (&["create", "--bogus", "busybox"], "--bogus"),
        (&["exec"], "CONTAINER"),
        (&["run", "-m"], "--memory"),
        (
            &["run", "-m", "99999999999999999999g", "busybox", "true"],
            "--memory",
        ),
        (&["run", "-m", "5m", "busybox", "true"], "--memory"),
        (&["run", "--cpus", "0.0001", "busybox", "true"], "--cpus"),
        (&["run", "--cpus", "4096", "busybox", "true"], "--cpus"),
        // -1 means "unchanged" to setresuid: it would have left the process root.
        (&["run", "-u", "4294967295", "busybox", "id"], "4294967295"),
        (
            &["run", "-u", "0:4294967295", "busybox", "id"],
            "4294967295",
        ),
        (&["run", "-u", "2147483648", "busybox", "id"], "2147483648"),
        (&["exec", "-u", "4294967295", "live", "id"], "4294967295"),
        (&["bogus-command"], "bogus-command"),
    ];
    for (args, what) in cases {
        let err = e.fail(125, args);
        assert!(err.contains(what), "berth {args:?}: {err}");
    }
    // As in docker: a flag given twice takes its last value; 0 means no limit.
    e.ok(&[
        "run", "--name", "first", "--name", "second", "-m", "0", "--cpus", "0", "busybox", "true",
    ]);
    let c = e.inspect("second");
    assert_eq!(c["HostConfig"]["Memory"], 0);
    assert_eq!(c["HostConfig"]["CpuQuota"], 0);
    assert_eq!(
        e.ok(&["run", "--rm", "-u", "2147483647", "busybox", "id", "-u"]),
        "2147483647\n"
    );
    e.ok(&["rm", "-f", "live", "second"]);
    e.assert_clean();
}

#[test]
fn a_relative_root_is_made_absolute() {
    let e = Engine::new();
    let berth = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
            .current_dir(e.b.dir.path())
            .args(["--root", "root", "--config", "config"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let cg = ["--cgroup-parent", e.cgroup_parent.as_str()];
    let o = berth(&[&["run", "--rm"], &cg[..], &["busybox", "echo", "hi"]].concat());
    assert!(o.status.success(), "{o:?}");
    assert_eq!(o.stdout, b"hi\n");
    let o = berth(
        &[
            &["run", "-d", "--name", "rel"],
            &cg[..],
            &["busybox", "sleep", "1000"],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(e.inspect("rel")["State"]["Status"], "running");
    assert!(berth(&["rm", "-f", "rel"]).status.success());
    e.assert_clean();
}

#[test]
fn stop_kill_and_wait_of_a_container_that_removes_itself() {
    let e = Engine::new();
    let started = |name: &str, script: &str| {
        e.ok(&[
            "run", "-d", "--rm", "--name", name, "busybox", "sh", "-c", script,
        ]);
    };
    // Ends cleanly on SIGTERM.
    started("term", "trap 'exit 0' TERM; while true; do sleep 0.1; done");
    assert_eq!(e.ok(&["stop", "term"]), "term\n");
    // Ignores SIGTERM: killed after the timeout.
    started("stubborn", "sleep 1000");
    assert_eq!(e.ok(&["stop", "-t", "1", "stubborn"]), "stubborn\n");
    started("killed", "sleep 1000");
    assert_eq!(e.ok(&["kill", "killed"]), "killed\n");
    // wait reports the status of a container gone with its --rm.
    started("waited", "sleep 0.5; exit 3");
    assert_eq!(e.ok(&["wait", "waited"]), "3\n");
    e.assert_clean();
}

#[test]
fn read_only_volumes_are_read_only_below_too() {
    let e = Engine::new();
    let host = e.b.dir.path().join("shared");
    let sub = host.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let c = |p: &std::path::Path| std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: plain mount(2) of a tmpfs on a directory of this test.
    let r = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            c(&sub).as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0);
    let try_write = |mode: &str| {
        let v = format!("{}:/data:{mode}", host.display());
        e.ok(&[
            "run",
            "--rm",
            "-v",
            &v,
            "busybox",
            "sh",
            "-c",
            "touch /data/top 2>/dev/null && echo top-w || echo top-ro; \
             touch /data/sub/below 2>/dev/null && echo below-w || echo below-ro",
        ])
    };
    assert_eq!(try_write("ro"), "top-ro\nbelow-ro\n");
    assert_eq!(try_write("ro-non-recursive"), "top-ro\nbelow-w\n");
    assert_eq!(try_write("rw,z"), "top-w\nbelow-w\n");
    // SAFETY: plain umount(2) of the tmpfs mounted above.
    assert_eq!(unsafe { libc::umount(c(&sub).as_ptr()) }, 0);
    e.assert_clean();
}

#[test]
fn a_program_that_cannot_run_exits_127_or_126() {
    let e = Engine::new();
    e.ok(&["run", "-d", "--name", "live", "busybox", "sleep", "1000"]);
    let cases: &[(i32, &[&str])] = &[
        (127, &["run", "busybox", "/no/such/program"]),
        (127, &["run", "--rm", "busybox", "no-such-program"]),
        (127, &["run", "-d", "busybox", "/no/such/program"]),
        (126, &["run", "busybox", "/etc/passwd"]),
        (126, &["run", "-d", "--rm", "busybox", "/etc"]),
        (127, &["exec", "live", "no-such-program"]),
        (126, &["exec", "live", "/etc/passwd"]),
        // berth's own failures stay 125.
        (125, &["run", "no-such-image"]),
    ];
    for (code, args) in cases {
        let err = e.fail(*code, args);
        assert!(err.contains(args.last().unwrap()), "{args:?}: {err}");
    }
    // A program that runs and ends with 127 or 126 is that program's status.
    assert_eq!(
        e.run(&["run", "--rm", "busybox", "sh", "-c", "exit 126"])
            .status
            .code(),
        Some(126)
    );
    e.ok(&["rm", "-f", "live"]);
    e.assert_clean();
}

#[test]
fn a_lost_root_filesystem_mount_comes_back_with_the_changes() {
    let e = Engine::new();
    let script = "cat /root/note 2>/dev/null || echo kept > /root/note";
    e.ok(&["run", "--name", "rebooted", "busybox", "sh", "-c", script]);
    let rootfs = e.ok(&["inspect", "-f", "{{.Rootfs}}", "rebooted"]);
    let c = std::ffi::CString::new(rootfs.trim()).unwrap();
    // What a host reboot does to every mount.
    // SAFETY: umount2 of the stopped container's root filesystem mount.
    assert_eq!(unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) }, 0);
    // export and start mount it again, with the container's change.
    let tar = e.b.dir.path().join("out.tar");
    e.ok(&["export", "-o", tar.to_str().unwrap(), "rebooted"]);
    let list = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("root/note"));
    e.ok(&["start", "rebooted"]);
    assert_eq!(e.ok(&["wait", "rebooted"]), "0\n");
    assert_eq!(e.ok(&["logs", "rebooted"]), "kept\n");
    e.ok(&["rm", "rebooted"]);
    // A --rm container's root is volatile: overlayfs refuses such an upper directory unless
    // berth clears the mark it left.
    e.ok(&[
        "create", "--rm", "--name", "fresh", "busybox", "echo", "fresh",
    ]);
    let rootfs = e.ok(&["inspect", "-f", "{{.Rootfs}}", "fresh"]);
    let c = std::ffi::CString::new(rootfs.trim()).unwrap();
    // SAFETY: umount2 of the created container's root filesystem mount.
    assert_eq!(unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) }, 0);
    assert_eq!(e.ok(&["start", "-a", "fresh"]), "fresh\n");
    e.assert_clean();
}
