//! Resource limits through the real binary: the values of `linux.resources` land in the
//! container's cgroup files and the kernel enforces them (memory, pids, cpu, freezer,
//! devices), `update`, `pause`/`resume`, `events`, `ps` and `kill --all` work on a live
//! container. Run as root on the host (cgroup v1, hybrid) and in the cgroup v2 VM
//! (scripts/test.d/41-runtime-cgroup2-vm.sh). After every test, passing or failing, no cgroup
//! of the test is left.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Container scripts run their work in numbered steps: step N waits for /goN, runs its
/// command in a subshell and leaves the output and `rc=N` in /outN.
const STEPS: &str = r#"step() { n=$1; shift; while [ ! -e /go$n ]; do sleep 0.02; done; ( eval "$*" ) >/out.tmp 2>&1; echo "rc=$?" >>/out.tmp; mv /out.tmp /out$n; }"#;

/// Cgroup mounts of this host: mount point, whether cgroup2, super options.
fn cgroup_mounts() -> Vec<(PathBuf, bool, Vec<String>)> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mount_point = pre.split(' ').nth(4)?;
            let mut post = post.split(' ');
            let fstype = post.next()?;
            let opts = post.nth(1)?.split(',').map(String::from).collect();
            matches!(fstype, "cgroup" | "cgroup2")
                .then(|| (PathBuf::from(mount_point), fstype == "cgroup2", opts))
        })
        .collect()
}

/// Whether cgroup2 is the only kind of hierarchy (the VM), else v1 or hybrid.
fn is_v2() -> bool {
    cgroup_mounts().iter().all(|(_, v2, _)| *v2)
}

/// The host directories of `pid`'s cgroups: (controllers, directory) per hierarchy; the
/// cgroup2 one has no controllers listed.
fn cgroup_dirs(pid: i64) -> Vec<(Vec<String>, PathBuf)> {
    let mounts = cgroup_mounts();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    own.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            let ctrls: Vec<String> = ctrls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect();
            let (mp, ..) = mounts.iter().find(|(_, v2, opts)| {
                if ctrls.is_empty() {
                    *v2
                } else {
                    !*v2 && ctrls.iter().all(|c| opts.contains(c))
                }
            })?;
            Some((ctrls, mp.join(path.trim_start_matches('/'))))
        })
        .collect()
}

/// The directory of `pid`'s cgroup that holds `controller`'s files: its v1 hierarchy, else
/// the cgroup2 one.
fn cg_dir(pid: i64, controller: &str) -> PathBuf {
    let dirs = cgroup_dirs(pid);
    dirs.iter()
        .find(|(c, _)| c.iter().any(|c| c == controller))
        .or_else(|| dirs.iter().find(|(c, _)| c.is_empty()))
        .map(|(_, d)| d.clone())
        .unwrap_or_else(|| panic!("no cgroup directory for {controller} of {pid}"))
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

/// A `key value` line of a flat-keyed cgroup file.
fn keyed(dir: &Path, file: &str, key: &str) -> u64 {
    read(dir, file)
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {}", dir.join(file).display()))
}

/// One container of a test, in its own cgroup `/berth-test-<pid>-<n>/ctr` (or the default
/// relative path). Dropping it deletes the container, checks that none of its cgroups is
/// left (unless the test already failed) and removes the parent the runtime created.
struct Ctr {
    b: Bundle,
    id: String,
    top: String,
    /// The container's cgroup directories, recorded once it runs.
    dirs: Vec<PathBuf>,
}

impl Ctr {
    /// A container running `script` (with the `step` function defined) under `resources`.
    fn new(script: &str, resources: Value) -> Ctr {
        if let Ok(want) = std::env::var("BERTH_TEST_CGROUP_LAYOUT") {
            assert_eq!(want == "v2", is_v2(), "cgroup layout is not {want}");
        }
        let mut b = Bundle::new(&["sh", "-c", &format!("{STEPS}\n{script}")]);
        let id = unique("cg");
        let top = format!("berth-test-{id}");
        b.config["root"]["readonly"] = json!(false);
        b.config["linux"]["cgroupsPath"] = json!(format!("/{top}/ctr"));
        b.config["linux"]["resources"] = resources;
        Ctr {
            b,
            id,
            top,
            dirs: Vec::new(),
        }
    }

    /// Creates and starts the container; records its cgroup directories.
    fn start(&mut self) -> i64 {
        let out = self.b.create(&self.id, &[]);
        assert!(out.status.success(), "create: {}", text(&out.stderr));
        let out = self.rt(&["start"]);
        assert!(out.status.success(), "start: {}", text(&out.stderr));
        let pid = self.pid();
        self.dirs = cgroup_dirs(pid).into_iter().map(|(_, d)| d).collect();
        pid
    }

    fn pid(&self) -> i64 {
        self.b.state(&self.id)["pid"].as_i64().unwrap()
    }

    fn status(&self) -> String {
        self.b.state(&self.id)["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `berth-runtime VERB [args] ID`.
    fn rt(&self, verb: &[&str]) -> std::process::Output {
        let mut args = verb.to_vec();
        args.push(&self.id);
        self.b.rt(&args)
    }

    fn rt_ok(&self, verb: &[&str]) -> String {
        let out = self.rt(verb);
        assert!(
            out.status.success(),
            "{verb:?}: {}\n{}",
            text(&out.stderr),
            text(&out.stdout)
        );
        text(&out.stdout)
    }

    /// Runs step `n` of the script: its output, ending with `rc=N`.
    fn step(&self, n: u32) -> String {
        let root = self.b.rootfs();
        std::fs::write(root.join(format!("go{n}")), "").unwrap();
        let out = root.join(format!("out{n}"));
        eventually(&format!("step {n}"), || out.exists());
        std::fs::read_to_string(out).unwrap()
    }

    fn dir(&self, controller: &str) -> PathBuf {
        cg_dir(self.pid(), controller)
    }

    /// Directories of the test's cgroups that still exist.
    fn leftovers(&self) -> Vec<PathBuf> {
        let ours = cgroup_mounts()
            .into_iter()
            .map(|(mp, ..)| mp.join(&self.top).join("ctr"));
        self.dirs
            .iter()
            .cloned()
            .chain(ours)
            .filter(|d| d.exists())
            .collect()
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = self.b.cmd(&["delete", "--force", &self.id]).output();
        let left = self.leftovers();
        for d in &left {
            let _ = std::fs::remove_dir(d);
        }
        // The parent the runtime made for the absolute path is ours to remove.
        for (mp, ..) in cgroup_mounts() {
            let _ = std::fs::remove_dir(mp.join(&self.top));
        }
        if !std::thread::panicking() {
            assert!(left.is_empty(), "cgroups left behind: {left:?}");
            let parents: Vec<_> = cgroup_mounts()
                .into_iter()
                .map(|(mp, ..)| mp.join(&self.top))
                .filter(|d| d.exists())
                .collect();
            assert!(parents.is_empty(), "test cgroups left: {parents:?}");
            self.b.assert_host_clean();
        }
    }
}

/// `events` streaming in the background, its lines read by a thread.
struct Events {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Events {
    fn start(c: &Ctr, interval: &str) -> Events {
        let mut cmd = c.b.cmd(&["events", "--interval", interval, &c.id]);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Events { child, lines }
    }

    /// The next event, or None when the stream has ended.
    fn next(&self) -> Option<Value> {
        match self.lines.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => Some(serde_json::from_str(&l).unwrap()),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("no event within 20 s"),
        }
    }

    /// Waits for `events` to exit; its status.
    fn finish(mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "events did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn memory_limit_lands_and_an_oom_kill_is_reported_by_events() {
    // dd fills one 64 MiB buffer: over the 32 MiB limit (swap = limit: nowhere to escape).
    let mut c = Ctr::new(
        "step 1 'dd if=/dev/zero of=/dev/null bs=64M count=1'; step 2 'dd if=/dev/zero of=/dev/null bs=4M count=1'",
        json!({"memory": {"limit": 33554432, "swap": 33554432, "reservation": 16777216}}),
    );
    c.start();
    let d = c.dir("memory");
    if is_v2() {
        assert_eq!(read(&d, "memory.max"), "33554432");
        assert_eq!(read(&d, "memory.swap.max"), "0");
        assert_eq!(read(&d, "memory.low"), "16777216");
    } else {
        assert_eq!(read(&d, "memory.limit_in_bytes"), "33554432");
        assert_eq!(read(&d, "memory.memsw.limit_in_bytes"), "33554432");
        assert_eq!(read(&d, "memory.soft_limit_in_bytes"), "16777216");
    }
    let stats: Value = serde_json::from_str(&c.rt_ok(&["events", "--stats"])).unwrap();
    assert_eq!(stats["type"], "stats");
    assert_eq!(stats["id"], c.id.as_str());
    assert_eq!(stats["data"]["memory"]["usage"]["limit"], 33554432);

    let ev = Events::start(&c, "200ms");
    // The first stats event means the OOM watcher is in place.
    assert_eq!(ev.next().unwrap()["type"], "stats");
    let out = c.step(1);
    assert!(out.ends_with("rc=137\n"), "dd was not OOM-killed: {out}");
    let mut saw_oom = false;
    while !saw_oom {
        let e = ev.next().expect("the stream ended without an oom event");
        saw_oom = e["type"] == "oom";
        if saw_oom {
            assert_eq!(e["id"], c.id.as_str());
        }
    }
    // A run that fits is fine; then the container exits and the stream ends with it.
    assert!(c.step(2).ends_with("rc=0\n"));
    while ev.next().is_some() {}
    assert!(ev.finish().success());
    assert_eq!(c.status(), "stopped");
    assert_fails_with(&c.rt(&["events", "--stats"]), "stopped");
}

#[test]
fn pids_limit_lands_and_fork_fails_at_it() {
    let mut c = Ctr::new(
        "step 1 'for i in 1 2 3 4 5 6 7 8; do sleep 60 & echo started $i; done'; sleep 60",
        json!({"pids": {"limit": 5}}),
    );
    c.start();
    assert_eq!(read(&c.dir("pids"), "pids.max"), "5");
    // The container's shell and the step's subshell take two: three sleeps fit.
    let out = c.step(1);
    assert_eq!(out.matches("started").count(), 3, "{out}");
    assert!(!out.ends_with("rc=0\n"), "{out}");
    assert!(keyed(&c.dir("pids"), "pids.events", "max") >= 1);
    // The init (the shell, which execs its last command) and the three sleeps.
    eventually("four processes", || {
        serde_json::from_str::<Vec<i64>>(&c.rt_ok(&["ps", "-f", "json"]))
            .unwrap()
            .len()
            == 4
    });
}

#[test]
fn cpu_quota_throttles_and_shares_and_cpuset_land() {
    let mut c = Ctr::new(
        "while :; do :; done",
        json!({"cpu": {"shares": 512, "quota": 10000, "period": 100000, "cpus": "0"}}),
    );
    c.start();
    let cpu = c.dir("cpu");
    if is_v2() {
        assert_eq!(read(&cpu, "cpu.max"), "10000 100000");
        // crun's curve: 512 shares → weight 59.
        assert_eq!(read(&cpu, "cpu.weight"), "59");
    } else {
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "10000");
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
        assert_eq!(read(&cpu, "cpu.shares"), "512");
    }
    assert_eq!(read(&c.dir("cpuset"), "cpuset.cpus"), "0");
    let throttled = || keyed(&cpu, "cpu.stat", "nr_throttled");
    eventually("throttling", || throttled() >= 3);
    let before = throttled();
    eventually("throttling to go on", || throttled() > before + 2);
    assert_fails_with(
        &c.rt(&["events", "--interval", "0s"]),
        "must be greater than 0",
    );
    let stats: Value = serde_json::from_str(&c.rt_ok(&["events", "--stats"])).unwrap();
    assert!(
        stats["data"]["cpu"]["throttling"]["throttledPeriods"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn pause_stops_progress_and_resume_restores_it() {
    let mut c = Ctr::new(
        "i=0; while :; do i=$((i+1)); echo $i >/count.tmp; mv /count.tmp /count; sleep 0.01; done",
        json!({}),
    );
    c.start();
    let count_file = c.b.rootfs().join("count");
    let count = || -> u64 {
        std::fs::read_to_string(&count_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    eventually("the counter to run", || count() > 3);
    assert_fails_with(&c.rt(&["resume"]), "running");
    c.rt_ok(&["pause"]);
    assert_eq!(c.status(), "paused");
    if is_v2() {
        assert_eq!(read(&c.dir("freezer"), "cgroup.freeze"), "1");
    } else {
        assert_eq!(read(&c.dir("freezer"), "freezer.state"), "FROZEN");
    }
    let frozen = count();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(), frozen, "a paused container made progress");
    assert_fails_with(&c.rt(&["pause"]), "paused");
    c.rt_ok(&["resume"]);
    assert_eq!(c.status(), "running");
    eventually("the counter to run again", || count() > frozen + 3);
    // A paused container can be killed and deleted.
    c.rt_ok(&["pause"]);
    c.rt_ok(&["delete", "--force"]);
}

#[test]
fn devices_denied_cannot_be_opened_and_update_allows_them() {
    let tun = Path::new("/dev/net/tun");
    assert!(tun.exists(), "the test needs /dev/net/tun");
    let mut c = Ctr::new(
        "step 1 'echo x >/dev/null && exec 3<>/dev/net/tun'; step 2 'exec 3<>/dev/net/tun'; sleep 60",
        json!({"devices": [{"allow": false, "access": "rwm"}]}),
    );
    c.b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/dev/net/tun", "type": "bind", "source": "/dev/net/tun", "options": ["bind"]
    }));
    c.start();
    if !is_v2() {
        let list = read(&c.dir("devices"), "devices.list");
        assert!(list.contains("c 1:3 rwm"), "{list}");
        assert!(!list.contains("10:200"), "{list}");
    }
    let out = c.step(1);
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(!out.ends_with("rc=0\n"), "{out}");
    let req = c.b.path().join("devices.json");
    std::fs::write(
        &req,
        r#"{"devices": [{"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"}]}"#,
    )
    .unwrap();
    c.rt_ok(&["update", "-r", req.to_str().unwrap()]);
    let out = c.step(2);
    assert!(out.ends_with("rc=0\n"), "{out}");
}

#[test]
fn update_changes_the_limits_of_a_running_container() {
    let mut c = Ctr::new(
        "step 1 'dd if=/dev/zero of=/dev/null bs=48M count=1'; step 2 'dd if=/dev/zero of=/dev/null bs=48M count=1'; sleep 60",
        json!({"memory": {"limit": 134217728, "swap": 134217728}, "pids": {"limit": 10}, "cpu": {"quota": 50000, "period": 100000}}),
    );
    c.start();
    assert!(c.step(1).ends_with("rc=0\n"), "48 MiB fit in 128 MiB");
    c.rt_ok(&[
        "update",
        "--memory",
        "32m",
        "--memory-swap",
        "32m",
        "--pids-limit",
        "20",
        "--cpu-quota",
        "20000",
        "--cpu-share",
        "256",
    ]);
    let (mem, pids, cpu) = (c.dir("memory"), c.dir("pids"), c.dir("cpu"));
    if is_v2() {
        assert_eq!(read(&mem, "memory.max"), "33554432");
        assert_eq!(read(&cpu, "cpu.max"), "20000 100000");
    } else {
        assert_eq!(read(&mem, "memory.limit_in_bytes"), "33554432");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "20000");
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
        assert_eq!(read(&cpu, "cpu.shares"), "256");
    }
    assert_eq!(read(&pids, "pids.max"), "20");
    // Enforced at once: the same run is now OOM-killed.
    let out = c.step(2);
    assert!(out.ends_with("rc=137\n"), "{out}");

    // -r merges into what was saved: the period and the memory stay.
    let mut child =
        c.b.cmd(&["update", "-r", "-", &c.id])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"pids": {"limit": 7}, "cpu": {"quota": 30000}}"#)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(read(&pids, "pids.max"), "7");
    let saved: Value = serde_json::from_slice(
        &std::fs::read(c.b.state_root().join(&c.id).join("status")).unwrap(),
    )
    .unwrap();
    let r = &saved["config"]["linux"]["resources"];
    assert_eq!(r["memory"]["limit"], 33554432);
    assert_eq!(r["pids"]["limit"], 7);
    assert_eq!(
        r["cpu"],
        json!({"shares": 256, "quota": 30000, "period": 100000})
    );
    if !is_v2() {
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "30000");
    }
    // A bad value fails with one line naming the resource; nothing changes.
    assert_fails_with(&c.rt(&["update", "--memory", "lots"]), "invalid size");
    assert!(c.b.rt(&["kill", &c.id, "KILL"]).status.success());
    eventually("the container to stop", || c.status() == "stopped");
    assert_fails_with(&c.rt(&["update", "--pids-limit", "9"]), "stopped");
}

#[test]
fn more_resources_land_and_what_the_host_lacks_fails_clearly() {
    let block = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|e| read(&e.path(), "dev"))
        .min()
        .expect("a block device");
    let (major, minor) = block.split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let mut r = json!({
        "blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 2097152}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
        "pids": {"limit": 50}
    });
    if is_v2() {
        r["unified"] = json!({"memory.high": "50000000"});
    } else {
        r["memory"] = json!({"swappiness": 10});
    }
    let mut c = Ctr::new("sleep 60", r);
    c.start();
    if is_v2() {
        let io = read(&c.dir("io"), "io.max");
        assert!(io.contains(&format!("{block} rbps=2097152")), "{io}");
        assert_eq!(read(&c.dir("memory"), "memory.high"), "49999872");
    } else {
        let bps = read(&c.dir("blkio"), "blkio.throttle.read_bps_device");
        assert_eq!(bps, format!("{block} 2097152"));
        assert_eq!(read(&c.dir("memory"), "memory.swappiness"), "10");
    }
    assert_eq!(read(&c.dir("hugetlb"), "hugetlb.2MB.max"), "4194304");
    drop(c);

    // net_cls is not mounted on the CI host, and cgroup v2 has no such controller.
    let c = Ctr::new("true", json!({"network": {"classID": 1048577}}));
    assert_fails_with(&c.b.create(&c.id, &[]), "network");
}

#[test]
fn ps_lists_the_containers_processes() {
    let mut c = Ctr::new("sleep 60 & sleep 61 & wait", json!({}));
    let init = c.start();
    eventually("two children", || {
        serde_json::from_str::<Vec<i64>>(&c.rt_ok(&["ps", "-f", "json"]))
            .unwrap()
            .len()
            == 3
    });
    let pids: Vec<i64> = serde_json::from_str(&c.rt_ok(&["ps", "--format", "json"])).unwrap();
    assert!(pids.contains(&init), "{pids:?}");
    // Table: the host's ps, header plus the container's rows only.
    let table = c.rt_ok(&["ps"]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().contains("PID"), "{table}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{table}");
    let sleeps = rows
        .iter()
        .filter(|r| r.ends_with(" sleep 60") || r.ends_with(" sleep 61"));
    assert_eq!(sleeps.count(), 2, "{table}");
    // ps options after the id are passed through.
    let table = text(
        &c.b.rt(&["ps", "-f", "table", &c.id, "-o", "pid,comm"])
            .stdout,
    );
    assert!(table.lines().next().unwrap().contains("COMMAND"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
}

#[test]
fn kill_all_reaches_every_process_in_the_default_cgroup() {
    // No pid namespace: the init's death alone would not end the others. The default
    // cgroupsPath (relative, the container id).
    let mut c = Ctr::new(
        "sleep 60 & sh -c 'sleep 61 & wait' & trap '' TERM; wait",
        json!({}),
    );
    c.b.config["linux"]
        .as_object_mut()
        .unwrap()
        .remove("cgroupsPath");
    c.b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    let init = c.start();
    let id_dir = c.dir("pids");
    assert!(id_dir.ends_with(&c.id), "{}", id_dir.display());
    let ps = || serde_json::from_str::<Vec<i64>>(&c.rt_ok(&["ps", "-f", "json"])).unwrap();
    eventually("all four processes", || ps().len() == 4);
    let pids = ps();
    assert!(c.b.rt(&["kill", "--all", &c.id, "KILL"]).status.success());
    let dead = |p: &i64| {
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
    };
    eventually("every process to die", || pids.iter().all(dead));
    assert!(pids.contains(&init));
    assert_eq!(c.status(), "stopped");
}
