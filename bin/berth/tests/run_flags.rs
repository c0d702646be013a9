//! The finer flags of `run`/`create` seen from inside the container: limits read back from
//! the cgroup files, rlimits, sysctls, devices, security options, namespaces shared with the
//! host or another container, labels, env files, --init, stop signal and timeout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::Engine;
use std::time::{Duration, Instant};

/// `berth run --rm FLAGS busybox sh -c SCRIPT`'s output.
fn sh(e: &Engine, flags: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    e.ok(&args)
}

#[test]
fn limits_reach_the_cgroup() {
    let e = Engine::new();
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory").is_dir();
    let (swap, soft, shares, cpus) = match v1 {
        true => (
            "memory/memory.memsw.limit_in_bytes",
            "memory/memory.soft_limit_in_bytes",
            "cpu/cpu.shares",
            "cpuset/cpuset.cpus",
        ),
        false => ("memory.swap.max", "memory.low", "cpu.weight", "cpuset.cpus"),
    };
    let out = sh(
        &e,
        &[
            "-m",
            "64m",
            "--memory-swap",
            "128m",
            "--memory-reservation",
            "32m",
            "-c",
            "512",
            "--cpuset-cpus",
            "0",
        ],
        &format!("cd /sys/fs/cgroup; cat {swap} {soft} {shares} {cpus}"),
    );
    let want = match v1 {
        true => "134217728\n33554432\n512\n0\n".to_string(),
        // v2: swap is counted apart from memory; weight from shares as runc converts them.
        false => "67108864\n33554432\n20\n0\n".to_string(),
    };
    assert_eq!(out, want);
    e.assert_clean();
}

#[test]
fn rlimits_sysctls_shm_and_oom_score() {
    let e = Engine::new();
    let out = sh(
        &e,
        &[
            "--ulimit",
            "nofile=321:654",
            "--sysctl",
            "kernel.shmmax=123456",
            "--shm-size",
            "2m",
            "--oom-score-adj",
            "200",
        ],
        "ulimit -n; ulimit -Hn; cat /proc/sys/kernel/shmmax /proc/self/oom_score_adj; \
         df -k /dev/shm | tail -1 | awk '{print $2}'",
    );
    assert_eq!(out, "321\n654\n123456\n200\n2048\n");
    e.assert_clean();
}

#[test]
fn devices_groups_and_security_options() {
    let e = Engine::new();
    assert_eq!(
        sh(
            &e,
            &["--device", "/dev/null:/dev/other:rw"],
            "stat -c '%t:%T' /dev/other; echo x > /dev/other && echo wrote"
        ),
        "1:3\nwrote\n"
    );
    // A device node the container may not open without a rule, and may with one.
    let mknod = "mknod /dev/mine b 7 0 2>/dev/null && head -c 1 /dev/mine >/dev/null 2>&1 \
                 && echo open || echo refused";
    assert_eq!(sh(&e, &[], mknod), "refused\n");
    assert_eq!(
        sh(&e, &["--device-cgroup-rule", "b 7:* rwm"], mknod),
        "open\n"
    );
    assert_eq!(
        sh(
            &e,
            &["--group-add", "nogroup", "--group-add", "4242"],
            "id -G"
        ),
        "0 4242 65534\n"
    );
    let status = "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\t'";
    assert_eq!(sh(&e, &[], status), "NoNewPrivs:0\nSeccomp:2\n");
    assert_eq!(
        sh(
            &e,
            &[
                "--security-opt",
                "no-new-privileges",
                "--security-opt",
                "seccomp=unconfined"
            ],
            status
        ),
        "NoNewPrivs:1\nSeccomp:0\n"
    );
    // A docker-format profile: everything allowed but mkdir, refused with EPERM.
    let profile = e.b.dir.path().join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],
           "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                       {"names":["chmod"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_SYS_ADMIN"]}}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    assert_eq!(
        sh(
            &e,
            &["--security-opt", &opt],
            "mkdir /x 2>&1 | grep -c 'not permitted'; chmod 600 /tmp && echo chmod"
        ),
        "1\nchmod\n"
    );
    e.assert_clean();
}

#[test]
fn namespaces_shared_with_the_host_or_a_container() {
    let e = Engine::new();
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(sh(&e, &["--uts", "host"], "hostname"), host_name);
    // The host's pid namespace: pid 1 is the host's init, not the shell.
    assert_ne!(sh(&e, &["--pid", "host"], "echo $$"), "1\n");
    let host_ipc = std::fs::read_link("/proc/self/ns/ipc").unwrap();
    assert_eq!(
        sh(&e, &["--ipc", "host"], "readlink /proc/self/ns/ipc"),
        format!("{}\n", host_ipc.display())
    );
    e.ok(&["run", "-d", "--name", "holder", "busybox", "sleep", "1000"]);
    let ns = |what: &str| e.ok(&["exec", "holder", "readlink", &format!("/proc/1/ns/{what}")]);
    let joined = sh(
        &e,
        &["--pid", "container:holder", "--ipc", "container:holder"],
        "readlink /proc/1/ns/pid; readlink /proc/self/ns/ipc; cat /proc/1/cmdline | tr '\\0' ' '",
    );
    assert_eq!(joined, format!("{}{}sleep 1000 ", ns("pid"), ns("ipc")));
    e.ok(&["stop", "-t", "0", "holder"]);
    let err = e.fail(
        125,
        &[
            "run",
            "--rm",
            "--pid",
            "container:holder",
            "busybox",
            "true",
        ],
    );
    assert!(err.contains("not running"), "{err}");
    assert!(e
        .fail(
            125,
            &["run", "--pid", "container:nosuch", "busybox", "true"]
        )
        .contains("nosuch"));
    assert!(e
        .fail(
            125,
            &["run", "--uts", "host", "--hostname", "x", "busybox", "true"]
        )
        .contains("--hostname"));
    e.ok(&["rm", "holder"]);
    e.assert_clean();
}

#[test]
fn labels_env_files_init_and_stopping() {
    let e = Engine::new();
    let dir = e.b.dir.path();
    std::fs::write(dir.join("env"), "# comment\nFROM_FILE=1\n\nSHARED=file\n").unwrap();
    std::fs::write(dir.join("labels"), "team=blue\ntier=web\n").unwrap();
    let env_file = dir.join("env").display().to_string();
    let label_file = dir.join("labels").display().to_string();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "labelled",
        "--env-file",
        &env_file,
        "-e",
        "SHARED=flag",
        "--label",
        "tier=db",
        "--label-file",
        &label_file,
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        e.ok(&["exec", "labelled", "sh", "-c", "echo $FROM_FILE $SHARED"]),
        "1 flag\n"
    );
    assert_eq!(
        e.ok(&[
            "inspect",
            "-f",
            "{{index .Config.Labels \"team\"}} {{index .Config.Labels \"tier\"}}",
            "labelled"
        ]),
        "blue db\n"
    );
    assert_eq!(
        e.ok(&["ps", "--filter", "label=tier=db", "--format", "{{.Names}}"]),
        "labelled\n"
    );
    assert_eq!(
        e.ok(&["ps", "--filter", "label=tier=web", "--format", "{{.Names}}"]),
        ""
    );
    assert_eq!(
        e.ok(&["ps", "--filter", "label=team", "--format", "{{.Names}}"]),
        "labelled\n"
    );
    e.ok(&["rm", "-f", "labelled"]);
    // --init: PID 1 is berth-init; it reaps orphans and passes the status through.
    let out = sh(
        &e,
        &["--init"],
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; sleep 0.1 & sleep 0.3; \
         grep -l Z /proc/[0-9]*/stat 2>/dev/null | wc -l",
    );
    assert!(out.starts_with("/sbin/berth-init -- sh -c"), "{out}");
    assert!(out.ends_with("\n0\n"), "a zombie was left: {out}");
    assert_eq!(
        e.run(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"])
            .status
            .code(),
        Some(7)
    );
    assert_eq!(
        e.run(&["run", "--rm", "--init", "busybox", "nope"])
            .status
            .code(),
        Some(127)
    );
    // With --init a shell without a trap still ends on stop's SIGTERM (the init forwards it
    // and the shell is not PID 1).
    e.ok(&[
        "run", "-d", "--init", "--name", "inited", "busybox", "sleep", "1000",
    ]);
    let t = Instant::now();
    e.ok(&["stop", "inited"]);
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "stop waited for the timeout"
    );
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.State.ExitCode}}", "inited"]),
        "143\n"
    );
    // --stop-signal and --stop-timeout.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "usr1",
        "--stop-signal",
        "USR1",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 5' USR1; while true; do sleep 0.1; done",
    ]);
    e.ok(&["stop", "usr1"]);
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.State.ExitCode}}", "usr1"]),
        "5\n"
    );
    e.ok(&[
        "run",
        "-d",
        "--name",
        "stubborn",
        "--stop-timeout",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]);
    let t = Instant::now();
    e.ok(&["stop", "stubborn"]);
    assert!(t.elapsed() < Duration::from_secs(8));
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.State.ExitCode}}", "stubborn"]),
        "137\n"
    );
    e.ok(&["rm", "inited", "usr1", "stubborn"]);
    e.assert_clean();
}

#[test]
fn bad_values_fail_in_one_line_and_leave_nothing() {
    let e = Engine::new();
    let cases: &[(&[&str], &str)] = &[
        (&["--memory-swap", "1g"], "--memory-swap"),
        (&["-m", "64m", "--memory-swap", "32m"], "--memory-swap"),
        (
            &["-m", "64m", "--memory-reservation", "1g"],
            "--memory-reservation",
        ),
        (&["-c", "1"], "--cpu-shares"),
        (&["--cpuset-cpus", "9999"], "--cpuset-cpus"),
        (&["--blkio-weight", "5"], "--blkio-weight"),
        (&["--oom-score-adj", "5000"], "--oom-score-adj"),
        (&["--ulimit", "nofile=2:1"], "--ulimit"),
        (&["--ulimit", "bogus=1"], "--ulimit"),
        (&["--sysctl", "kernel.panic=1"], "--sysctl"),
        (
            &["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
            "--sysctl",
        ),
        (&["--device", "/etc/passwd"], "--device"),
        (&["--device", "/dev/nosuch"], "--device"),
        (
            &["--device-cgroup-rule", "z 1:1 rwm"],
            "--device-cgroup-rule",
        ),
        (
            &["--security-opt", "seccomp=/no/such/file.json"],
            "--security-opt",
        ),
        (&["--security-opt", "apparmor=custom"], "--security-opt"),
        (&["--group-add", "nosuchgroup"], "nosuchgroup"),
        (&["--pid", "bogus"], "--pid"),
        (&["--env-file", "/no/such/env"], "--env-file"),
        (&["--label-file", "/no/such/labels"], "--label-file"),
        (&["--stop-signal", "SIGBOGUS"], "--stop-signal"),
        (&["--shm-size", "lots"], "--shm-size"),
    ];
    for (flags, what) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let err = e.fail(125, &args);
        assert!(err.contains(what), "{flags:?}: {err}");
        e.assert_clean();
    }
}

#[test]
fn the_rest_of_dockers_run_flags() {
    let e = Engine::new();
    let cid = e.b.dir.path().join("cid");
    let cidfile = cid.display().to_string();
    let out = sh(
        &e,
        &["-h", "box", "--domainname", "example.org", "--cidfile", &cidfile, "--annotation", "org.test.note=hi",
          "--cpu-period", "50000", "--cpu-quota", "25000", "--memory-swappiness", "10", "--cgroupns", "host",
          "--runtime", "berth"],
        "hostname; cat /proc/sys/kernel/domainname; cat /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max; readlink /proc/self/ns/cgroup",
    );
    let host_cgroupns = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    assert_eq!(
        out,
        format!(
            "box\nexample.org\n50000\n25000\n{}\n",
            host_cgroupns.display()
        ),
    );
    assert_eq!(std::fs::read_to_string(&cid).unwrap().len(), 64);
    // --cidfile must not exist yet; --cpus and --cpu-quota do not go together.
    assert!(e
        .fail(
            125,
            &["run", "--rm", "--cidfile", &cidfile, "busybox", "true"]
        )
        .contains("--cidfile"));
    assert!(e
        .fail(
            125,
            &[
                "run",
                "--rm",
                "--cpus",
                "1",
                "--cpu-quota",
                "5000",
                "busybox",
                "true"
            ]
        )
        .contains("--cpus"));
    assert!(e
        .fail(
            125,
            &["run", "--rm", "--runtime", "runc", "busybox", "true"]
        )
        .contains("--runtime"));
    assert!(e
        .fail(
            125,
            &[
                "run",
                "--rm",
                "--memory-swappiness",
                "101",
                "busybox",
                "true"
            ]
        )
        .contains("--memory-swappiness"));
    assert!(e
        .fail(
            125,
            &[
                "run",
                "--rm",
                "--device-read-bps",
                "/dev/null:1mb",
                "busybox",
                "true"
            ]
        )
        .contains("block device"));
    assert!(e.ok(&["run", "--help"]).contains("--hostname"));
    if std::path::Path::new("/sys/fs/cgroup/blkio").is_dir()
        && std::path::Path::new("/dev/loop0").exists()
    {
        let out = sh(
            &e,
            &["--device-read-bps", "/dev/loop0:1mb", "--device-write-iops", "/dev/loop0:100"],
            "cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device",
        );
        assert_eq!(out, "7:0 1048576\n7:0 100\n");
    }
    e.assert_clean();
}

#[test]
fn exec_env_file_and_privileged() {
    let e = Engine::new();
    let env = e.b.dir.path().join("env");
    std::fs::write(&env, "FROM_FILE=yes\n").unwrap();
    e.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    let caps = |extra: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            "box",
            "sh",
            "-c",
            "echo $FROM_FILE; grep CapEff /proc/self/status",
        ]);
        e.ok(&args)
    };
    let plain = caps(&["--env-file", env.to_str().unwrap()]);
    assert!(
        plain.starts_with("yes\nCapEff:\t00000000a80425fb"),
        "{plain}"
    );
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = own
        .lines()
        .find(|l| l.starts_with("CapEff:"))
        .unwrap()
        .to_string();
    assert_eq!(caps(&["--privileged"]), format!("\n{eff}\n"));
    e.ok(&["rm", "-f", "box"]);
    e.assert_clean();
}

#[test]
fn containers_carry_dockers_and_podmans_markers() {
    let e = Engine::new();
    let version = env!("CARGO_PKG_VERSION");
    // Read-only: a program cannot forge or remove them.
    let out = sh(
        &e,
        &[],
        "test -f /.dockerenv && test ! -s /.dockerenv && cat /run/.containerenv; \
         echo x > /run/.containerenv || echo read-only",
    );
    assert_eq!(out, format!("engine=\"berth-{version}\"\nread-only\n"));
    // Only a privileged container learns its names, as with podman.
    e.ok(&[
        "run",
        "--name",
        "p",
        "--privileged",
        "busybox",
        "cat",
        "/run/.containerenv",
    ]);
    let id = e.ok(&["inspect", "-f", "{{.Id}}", "p"]);
    let image = e.ok(&["inspect", "-f", "{{.Image}}", "p"]);
    let logs = e.ok(&["logs", "p"]);
    assert_eq!(
        logs,
        format!(
            "engine=\"berth-{version}\"\nname=\"p\"\nid=\"{}\"\nimage=\"busybox\"\n\
             imageid=\"{}\"\nrootless=0\n",
            id.trim(),
            image.trim().trim_start_matches("sha256:")
        )
    );
    // The markers (and the /run the runtime made for one) are no change of the container's.
    assert_eq!(e.ok(&["diff", "p"]), "");
    e.ok(&["rm", "p"]);
    e.assert_clean();
}

#[test]
fn only_a_container_removed_at_its_end_has_a_volatile_root() {
    let e = Engine::new();
    let options = |name: &str| {
        let rootfs = e.ok(&["inspect", "-f", "{{.Rootfs}}", name]);
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let line = mounts
            .lines()
            .find(|l| l.split(' ').nth(1) == Some(rootfs.trim()))
            .unwrap_or_else(|| panic!("{rootfs} is not mounted"))
            .to_string();
        // Newer kernels show it as `fsync=volatile`.
        let options = line.split(' ').nth(3).unwrap().split(',');
        options
            .into_iter()
            .any(|o| o == "volatile" || o == "fsync=volatile")
    };
    e.ok(&[
        "run", "-d", "--rm", "--name", "gone", "busybox", "sleep", "1000",
    ]);
    e.ok(&["run", "-d", "--name", "kept", "busybox", "sleep", "1000"]);
    assert!(options("gone"));
    assert!(!options("kept"));
    e.ok(&["rm", "-f", "gone", "kept"]);
    e.assert_clean();
}

#[test]
fn update_changes_the_limits_of_running_and_stopped_containers() {
    let e = Engine::new();
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory").is_dir();
    let read = match v1 {
        true => {
            "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes pids/pids.max cpu/cpu.shares \
                 cpu/cpu.cfs_quota_us"
        }
        false => "cd /sys/fs/cgroup; cat memory.max pids.max cpu.weight; cut -d' ' -f1 cpu.max",
    };
    // shares 512 is cpu.weight 20 on v2, as runc converts it.
    let (default_weight, weight) = if v1 { ("1024", "512") } else { ("100", "20") };
    let no_quota = if v1 { "-1" } else { "max" };
    e.ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "-m",
        "64m",
        "--pids-limit",
        "20",
        "busybox",
        "sleep",
        "1000",
    ]);
    let limits = || e.ok(&["exec", "live", "sh", "-c", read]);
    assert_eq!(
        limits(),
        format!("67108864\n20\n{default_weight}\n{no_quota}\n")
    );
    e.ok(&[
        "update",
        "-m",
        "96m",
        "--pids-limit",
        "30",
        "-c",
        "512",
        "--cpus",
        "0.5",
        "--restart",
        "on-failure:2",
        "live",
    ]);
    let updated = format!("100663296\n30\n{weight}\n50000\n");
    assert_eq!(limits(), updated, "the running container's cgroup");
    let host = &e.inspect("live")["HostConfig"];
    assert_eq!(
        (
            &host["Memory"],
            &host["PidsLimit"],
            &host["CpuShares"],
            &host["NanoCpus"]
        ),
        (
            &serde_json::json!(96 << 20),
            &serde_json::json!(30),
            &serde_json::json!(512),
            &serde_json::json!(500_000_000)
        )
    );
    assert_eq!(host["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(host["RestartPolicy"]["MaximumRetryCount"], 2);
    // Kept for the next start.
    e.ok(&["restart", "-t", "0", "live"]);
    assert_eq!(limits(), updated, "after a restart");
    // A container that does not run gets them at its start.
    e.ok(&["create", "--name", "later", "busybox", "sleep", "1000"]);
    e.ok(&["update", "--pids-limit", "9", "later"]);
    e.ok(&["start", "later"]);
    let pids = e.ok(&["exec", "later", "sh", "-c", read]);
    assert_eq!(pids.lines().nth(1), Some("9"), "{pids}");
    // Refused, in one line, with nothing changed.
    for (args, why) in [
        (&["update", "live"][..], "at least one flag"),
        (&["update", "-m", "1m", "live"], "--memory \"1m\""),
        (&["update", "--memory-swap", "64m", "live"], "--memory-swap"),
        (&["update", "--cpu-quota", "20000", "live"], "--cpus"),
        (&["update", "-m", "96m", "nosuch"], "nosuch"),
    ] {
        let err = e.fail(1, args);
        assert!(err.contains(why), "{args:?}: {err}");
    }
    assert_eq!(limits(), updated);
    e.ok(&["rm", "-f", "live", "later"]);
    e.assert_clean();
}
