//! The kernel really enforces what the manager applies: run as root on the host (cgroup v1,
//! hybrid) and inside the cgroup v2 VM (scripts/test.d/40-cgroup2-vm.sh). Each test checks
//! that its cgroups are gone afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use berth_cgroups::{Detail, FreezerState, Kind, Manager, OomEvent};
use common::{not_root, read, res, Proc, TestCgroup};

#[test]
fn memory_limit_oom_kills_and_the_event_is_seen() {
    if not_root() {
        return;
    }
    let cg = TestCgroup::new("oom");
    let mut oom = cg.m.oom_watcher().unwrap();
    // swap = limit: no swap to escape into.
    cg.m.apply(&res(r#"{"memory":{"limit":33554432,"swap":33554432}}"#))
        .unwrap();
    assert_eq!(oom.wait(Some(Duration::ZERO)).unwrap(), OomEvent::Timeout);
    assert_eq!(cg.m.oom_kills().unwrap(), 0);
    // dd holds one 64 MiB buffer and fills it: over the limit.
    let p = Proc::start_in(&cg.m, "exec dd if=/dev/zero of=/dev/null bs=64M count=1");
    let (status, err) = p.finish(Duration::from_secs(60));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "dd was not OOM-killed: {status:?} {err}"
    );
    match oom.wait(Some(Duration::from_secs(10))).unwrap() {
        OomEvent::Oom(n) => assert!(n >= 1),
        other => panic!("expected an OOM event, got {other:?}"),
    }
    assert_eq!(cg.m.oom_kills().unwrap(), 1);
    // A small run under the same limit is fine.
    let p = Proc::start_in(&cg.m, "exec dd if=/dev/zero of=/dev/null bs=4M count=1");
    assert!(p.finish(Duration::from_secs(60)).0.success());
}

#[test]
fn pids_limit_makes_fork_fail() {
    if not_root() {
        return;
    }
    let cg = TestCgroup::new("pids");
    cg.m.apply(&res(r#"{"pids":{"limit":4}}"#)).unwrap();
    // The shell is 1; three sleeps fit, the fourth fork fails.
    let mut p = Proc::start_in(
        &cg.m,
        "for i in 1 2 3 4 5 6; do sleep 30 >/dev/null 2>&1 & echo started $i; done; wait",
    );
    let mut started = 0;
    loop {
        let l = p.line();
        if l.is_empty() {
            break;
        }
        started += 1;
    }
    let pids = cg.m.pids().unwrap();
    let (status, err) = p.finish(Duration::from_secs(30));
    assert_eq!(started, 3, "forks that succeeded; stderr: {err}");
    assert!(!status.success());
    assert!(err.to_lowercase().contains("fork"), "{err}");
    assert!(pids.len() <= 4, "{pids:?}");
    let stats = cg.m.stats(Detail::Full).unwrap();
    assert_eq!(stats.pids.limit, 4);
}

#[test]
fn cpu_quota_throttles_a_busy_loop() {
    if not_root() {
        return;
    }
    let cg = TestCgroup::new("cpu");
    cg.m.apply(&res(r#"{"cpu":{"quota":10000,"period":100000}}"#))
        .unwrap();
    let p = Proc::start_in(&cg.m, "while :; do :; done");
    std::thread::sleep(Duration::from_millis(1500));
    let s = cg.m.stats(Detail::Full).unwrap();
    drop(p);
    assert!(s.cpu.throttling.periods > 0, "{:?}", s.cpu);
    assert!(s.cpu.throttling.throttled_periods > 0, "{:?}", s.cpu);
    assert!(s.cpu.throttling.throttled_time > 0, "{:?}", s.cpu);
    assert!(s.cpu.usage.total > 0, "{:?}", s.cpu);
    // 10% of one CPU for 1.5 s is ~150 ms; allow generous slack for a loaded host.
    assert!(
        s.cpu.usage.total < 800_000_000,
        "quota not enforced: {:?}",
        s.cpu.usage
    );
}

#[test]
fn a_summary_reads_what_berth_stats_shows_and_no_more() {
    if not_root() {
        return;
    }
    let cg = TestCgroup::new("summary");
    cg.m.apply(&res(r#"{"memory":{"limit":67108864},"pids":{"limit":10}}"#))
        .unwrap();
    // Some CPU, and 2 MB the shell holds: charged here (v2 charges what is allocated after
    // the move).
    let p = Proc::start_in(
        &cg.m,
        r"x=$(head -c 2000000 /dev/zero | tr '\0' a); sleep 100",
    );
    std::thread::sleep(Duration::from_millis(300));
    let full = cg.m.stats(Detail::Full).unwrap();
    let brief = cg.m.stats(Detail::Summary).unwrap();
    drop(p);
    assert!(brief.cpu.usage.total >= full.cpu.usage.total && full.cpu.usage.total > 0);
    assert_eq!(brief.memory.usage.limit, 67108864);
    assert!(brief.memory.usage.usage > 0, "{:?}", brief.memory);
    assert!(!brief.memory.raw.is_empty());
    assert!(brief.pids.current >= 1);
    // What `berth stats` does not show is left out; the full read has it.
    assert_eq!(full.pids.limit, 10);
    assert_eq!(brief.pids.limit, 0);
    assert!(brief.cpu.usage.percpu.is_empty() && brief.hugetlb.is_empty());
    assert!(brief.blkio.io_serviced_recursive.is_empty());
}

#[test]
fn frozen_process_makes_no_progress_then_resumes() {
    if not_root() {
        return;
    }
    let cg = TestCgroup::new("freeze");
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("n");
    let script = format!(
        "i=0; while :; do i=$((i+1)); echo $i > {0}.tmp; mv {0}.tmp {0}; done",
        counter.display()
    );
    let _p = Proc::start_in(&cg.m, &script);
    let value = || {
        std::fs::read_to_string(&counter)
            .unwrap_or_default()
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    let start = Instant::now();
    while value() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "counter never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    cg.m.freeze().unwrap();
    assert_eq!(cg.m.freezer_state().unwrap(), FreezerState::Frozen);
    let a = value();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(value(), a, "frozen process made progress");
    // Signalling a paused container leaves it paused.
    cg.m.kill_all(0).unwrap();
    assert_eq!(cg.m.freezer_state().unwrap(), FreezerState::Frozen);
    cg.m.thaw().unwrap();
    assert_eq!(cg.m.freezer_state().unwrap(), FreezerState::Thawed);
    let start = Instant::now();
    while value() <= a {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "thawed process made no progress"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn denied_device_cannot_be_opened() {
    if not_root() {
        return;
    }
    let cg = TestCgroup::new("devices");
    // Deny everything, then allow /dev/null (c 1:3) and mknod of char devices.
    cg.m.apply(&res(r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
        {"allow":true,"type":"c","access":"m"}]}"#))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "if head -c1 /dev/zero >/dev/null 2>&1; then echo zero-open; else echo zero-denied; fi; \
         if echo hi >/dev/null; then echo null-ok; else echo null-denied; fi; \
         if mknod {0}/c c 1 5 2>/dev/null; then echo mknod-c-ok; else echo mknod-c-denied; fi; \
         if mknod {0}/b b 7 0 2>/dev/null; then echo mknod-b-ok; else echo mknod-b-denied; fi; \
         if head -c1 {0}/c >/dev/null 2>&1; then echo made-open; else echo made-denied; fi",
        dir.path().display()
    );
    let mut p = Proc::start_in(&cg.m, &script);
    let lines: Vec<String> = (0..5).map(|_| p.line()).collect();
    assert_eq!(
        lines,
        [
            "zero-denied",
            "null-ok",
            "mknod-c-ok",
            "mknod-b-denied",
            "made-denied"
        ],
        "v1 devices / v2 eBPF filter"
    );
    assert!(p.finish(Duration::from_secs(30)).0.success());
    // An update replaces the rules (v2: the eBPF program) and /dev/zero opens.
    cg.m.update(&res(r#"{"devices":[{"allow":true,"access":"rwm"}]}"#))
        .unwrap();
    let mut p = Proc::start_in(&cg.m, "head -c1 /dev/zero >/dev/null && echo zero-open");
    assert_eq!(p.line(), "zero-open");
}

#[test]
fn kill_all_reaches_every_process_and_destroy_leaves_nothing() {
    if not_root() {
        return;
    }
    let cg = TestCgroup::new("kill");
    let mut p = Proc::start_in(
        &cg.m,
        "sleep 60 >/dev/null 2>&1 & sleep 60 >/dev/null 2>&1 & echo ready; wait",
    );
    assert_eq!(p.line(), "ready");
    let start = Instant::now();
    while cg.m.pids().unwrap().len() < 3 {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    let pids = cg.m.pids().unwrap();
    cg.m.kill_all(libc::SIGTERM).unwrap();
    let (status, _) = p.finish(Duration::from_secs(30));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    common::reap(&pids);
    let start = Instant::now();
    while !cg.m.pids().unwrap().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            cg.m.pids()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // An empty cgroup is not frozen and thawed to be signalled: a paused one stays paused
    // (on v1 a SIGKILL through the freezer always ends thawed).
    cg.m.freeze().unwrap();
    cg.m.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(cg.m.freezer_state().unwrap(), FreezerState::Frozen);
    cg.m.thaw().unwrap();
    // A busy cgroup: destroy(kill) SIGKILLs (cgroup.kill on v2) and removes it.
    let _p = Proc::start_in(&cg.m, "sleep 60 & sleep 60 & wait");
    std::thread::sleep(Duration::from_millis(100));
    let pids = cg.m.pids().unwrap();
    cg.m.destroy(true).unwrap();
    common::reap(&pids);
    assert!(!cg.m.exists());
    for path in cg.m.paths() {
        assert!(!path.exists(), "{}", path.display());
        assert!(path.parent().unwrap().exists(), "parents are left alone");
    }
}

#[test]
fn default_path_is_the_container_id_below_our_own_cgroup() {
    // Resolution only: nothing is created below the runtime's (here: the test's) cgroup.
    let m = Manager::for_container(None, "berth-test-default").unwrap();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    for mnt in m.mounts() {
        assert!(mnt.cgroup_dir.ends_with("berth-test-default"), "{mnt:?}");
        assert!(mnt.cgroup_dir.starts_with(&mnt.mount_point), "{mnt:?}");
        assert!(!mnt.cgroup_dir.exists());
    }
    if let Some(line) = own.lines().find(|l| l.contains(":memory:")) {
        let mine = line.rsplit(':').next().unwrap().trim_start_matches('/');
        let mem = m
            .mounts()
            .into_iter()
            .find(|x| x.options == ["memory"])
            .unwrap();
        assert_eq!(
            mem.cgroup_dir,
            mem.mount_point.join(mine).join("berth-test-default")
        );
    }
    let e = Manager::for_container(Some(std::path::Path::new("system.slice:berth:x")), "x");
    assert!(e.unwrap_err().to_string().contains("systemd"));
}

#[test]
fn values_land_in_the_kernel_files() {
    if not_root() {
        return;
    }
    let cg = TestCgroup::new("values");
    let m = &cg.m;
    m.apply(&res(
        r#"{"memory":{"limit":67108864,"reservation":33554432},
        "cpu":{"shares":1024,"quota":20000,"period":100000,"cpus":"0","mems":"0"},
        "pids":{"limit":123}}"#,
    ))
    .unwrap();
    match m.kind() {
        Kind::V1 | Kind::Hybrid => {
            assert_eq!(read(m, "memory", "memory.limit_in_bytes"), "67108864");
            assert_eq!(read(m, "memory", "memory.soft_limit_in_bytes"), "33554432");
            assert_eq!(read(m, "cpu", "cpu.shares"), "1024");
            assert_eq!(read(m, "cpu", "cpu.cfs_quota_us"), "20000");
            assert_eq!(read(m, "cpu", "cpu.cfs_period_us"), "100000");
            assert_eq!(read(m, "cpuset", "cpuset.cpus"), "0");
            assert_eq!(read(m, "pids", "pids.max"), "123");
            m.apply(&res(
                r#"{"memory":{"swap":134217728,"swappiness":20,"kernelTCP":16777216}}"#,
            ))
            .unwrap();
            assert_eq!(
                read(m, "memory", "memory.memsw.limit_in_bytes"),
                "134217728"
            );
            assert_eq!(read(m, "memory", "memory.swappiness"), "20");
            assert_eq!(
                read(m, "memory", "memory.kmem.tcp.limit_in_bytes"),
                "16777216"
            );
            m.apply(&res(r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}"#))
                .unwrap();
            assert_eq!(read(m, "devices", "devices.list"), "c 1:3 rw");
            let e = m
                .apply(&res(r#"{"network":{"classID":1}}"#))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("network.classID") && e.contains("net_cls"),
                "{e}"
            );
        }
        Kind::V2 => {
            assert_eq!(read(m, "", "memory.max"), "67108864");
            assert_eq!(read(m, "", "memory.low"), "33554432");
            assert_eq!(read(m, "", "cpu.weight"), "100");
            assert_eq!(read(m, "", "cpu.max"), "20000 100000");
            assert_eq!(read(m, "", "cpuset.cpus"), "0");
            assert_eq!(read(m, "", "pids.max"), "123");
            m.apply(&res(r#"{"memory":{"limit":67108864,"swap":134217728},
                "unified":{"memory.high":"50331648"}}"#))
                .unwrap();
            assert_eq!(read(m, "", "memory.swap.max"), "67108864");
            assert_eq!(read(m, "", "memory.high"), "50331648");
            let e = m
                .apply(&res(r#"{"network":{"classID":1}}"#))
                .unwrap_err()
                .to_string();
            assert!(e.contains("network"), "{e}");
            if std::path::Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
                m.apply(&res(
                    r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#,
                ))
                .unwrap();
                assert_eq!(read(m, "", "hugetlb.2MB.max"), "4194304");
            }
            // blkio weight 500 is io.bfq.weight 500 or io.weight 4950, whichever the kernel has.
            let dir = m.paths()[0].to_path_buf();
            let r = m.apply(&res(r#"{"blockIO":{"weight":500}}"#));
            if dir.join("io.bfq.weight").exists() {
                r.unwrap();
                assert!(read(m, "", "io.bfq.weight").contains("500"));
            } else if dir.join("io.weight").exists() {
                r.unwrap();
                assert_eq!(read(m, "", "io.weight"), "default 4950");
            } else {
                let e = r.unwrap_err().to_string();
                assert!(e.contains("io.weight does not exist"), "{e}");
            }
        }
    }
    // A block device throttle, where the machine has a block device.
    if let Some((maj, min)) = common::some_block_device() {
        let r = format!(
            r#"{{"blockIO":{{"throttleReadBpsDevice":[{{"major":{maj},"minor":{min},"rate":2097152}}]}}}}"#
        );
        m.apply(&res(&r)).unwrap();
        let (ctrl, file) = match m.kind() {
            Kind::V2 => ("", "io.max"),
            _ => ("blkio", "blkio.throttle.read_bps_device"),
        };
        let got = read(m, ctrl, file);
        assert!(
            got.contains(&format!("{maj}:{min}")) && got.contains("2097152"),
            "{got}"
        );
    } else {
        eprintln!("no block device: throttle check not run");
    }
    if m.kind() != Kind::V2 {
        let e = m
            .apply(&res(r#"{"cpu":{"shares":1}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cpu.shares"), "{e}");
    }
}
