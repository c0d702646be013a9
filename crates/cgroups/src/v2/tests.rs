//! v2 driver against a fake cgroupfs: conversions and which file gets which value.

use crate::testfs::FakeFs;
use crate::v1::tests::res;
use crate::{FreezerState, Kind, Manager};

fn v2_with(files: &[&str]) -> (FakeFs, Manager) {
    let fs = FakeFs::new();
    let layout = fs.v2();
    fs.files("c", &files.iter().map(|f| (*f, "")).collect::<Vec<_>>());
    let m = fs.manager(&layout, "/c");
    (fs, m)
}

#[test]
fn create_enables_available_controllers_top_down() {
    let fs = FakeFs::new();
    let layout = fs.v2();
    fs.files(
        "",
        &[
            ("cgroup.controllers", "cpu memory pids\n"),
            ("cgroup.subtree_control", "memory\n"),
        ],
    );
    fs.files(
        "a",
        &[
            ("cgroup.controllers", "cpu memory\n"),
            ("cgroup.subtree_control", ""),
        ],
    );
    let m = fs.manager(&layout, "/a/b");
    assert_eq!(m.kind(), Kind::V2);
    m.create().unwrap();
    assert!(fs.root().join("a/b").is_dir());
    assert_eq!(fs.read("cgroup.subtree_control"), "memory\n+cpu +pids\n");
    assert_eq!(fs.read("a/cgroup.subtree_control"), "+cpu +memory\n");
    assert!(m.clone_into_fd().unwrap().is_some());
}

#[test]
fn memory_converts_swap_and_rejects_v1_only_knobs() {
    let (fs, m) = v2_with(&["memory.max", "memory.swap.max", "memory.low"]);
    m.apply(&res(r#"{"memory":{"limit":1000,"swap":3000,"reservation":500,"useHierarchy":true,"disableOOMKiller":false}}"#))
        .unwrap();
    assert_eq!(fs.read("c/memory.max"), "1000\n");
    assert_eq!(fs.read("c/memory.swap.max"), "2000\n");
    assert_eq!(fs.read("c/memory.low"), "500\n");
    m.apply(&res(r#"{"memory":{"limit":-1}}"#)).unwrap();
    assert_eq!(fs.read("c/memory.max"), "1000\nmax\n");
    assert_eq!(fs.read("c/memory.swap.max"), "2000\nmax\n");
    for (json, name) in [
        (r#"{"memory":{"swappiness":10}}"#, "memory.swappiness"),
        (r#"{"memory":{"kernel":1000}}"#, "memory.kernel"),
        (r#"{"memory":{"kernelTCP":1000}}"#, "memory.kernel"),
        (
            r#"{"memory":{"disableOOMKiller":true}}"#,
            "memory.disableOOMKiller",
        ),
        (
            r#"{"memory":{"useHierarchy":false}}"#,
            "memory.useHierarchy",
        ),
        (r#"{"memory":{"swap":1000}}"#, "memory.swap"),
        (r#"{"memory":{"limit":1000,"swap":10}}"#, "memory.swap"),
    ] {
        let e = m.apply(&res(json)).unwrap_err().to_string();
        assert!(e.starts_with(name), "{json}: {e}");
    }
}

#[test]
fn check_before_update_reads_memory_current() {
    let fs = FakeFs::new();
    let layout = fs.v2();
    fs.files("c", &[("memory.max", ""), ("memory.current", "4096\n")]);
    let m = fs.manager(&layout, "/c");
    let r = res(r#"{"memory":{"limit":1024,"checkBeforeUpdate":true}}"#);
    assert!(m
        .update(&r)
        .unwrap_err()
        .to_string()
        .contains("current usage"));
    assert_eq!(fs.read("c/memory.max"), "");
    m.apply(&r).unwrap();
}

#[test]
fn cpu_converts_shares_and_writes_cpu_max() {
    let fs = FakeFs::new();
    let layout = fs.v2();
    let files = [
        "cpu.weight",
        "cpu.max.burst",
        "cpu.idle",
        "cpuset.cpus",
        "cpuset.mems",
    ];
    let mut f: Vec<(&str, &str)> = files.iter().map(|f| (*f, "")).collect();
    f.push(("cpu.max", "max 100000\n"));
    fs.files("c", &f);
    let m = fs.manager(&layout, "/c");
    m.apply(&res(r#"{"cpu":{"shares":1024,"quota":50000,"period":200000,"burst":1000,"idle":1,"cpus":"0","mems":"0"}}"#))
        .unwrap();
    assert_eq!(fs.read("c/cpu.weight"), "100\n");
    assert_eq!(fs.read("c/cpu.max"), "max 100000\n50000 200000\n");
    assert_eq!(fs.read("c/cpu.max.burst"), "1000\n");
    assert_eq!(fs.read("c/cpu.idle"), "1\n");
    assert_eq!(fs.read("c/cpuset.cpus"), "0\n");
    assert_eq!(fs.read("c/cpuset.mems"), "0\n");
    // Quota alone keeps the period; period alone keeps the current quota.
    m.apply(&res(r#"{"cpu":{"quota":-1}}"#)).unwrap();
    std::fs::write(fs.root().join("c/cpu.max"), "30000 100000\n").unwrap();
    m.apply(&res(r#"{"cpu":{"period":50000}}"#)).unwrap();
    assert_eq!(fs.read("c/cpu.max"), "30000 100000\n30000 50000\n");
    let e = m
        .apply(&res(r#"{"cpu":{"realtimeRuntime":100}}"#))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cpu.realtimeRuntime"), "{e}");
}

#[test]
fn io_weights_go_to_bfq_or_converted_io_weight() {
    let (fs, m) = v2_with(&["io.weight", "io.max"]);
    m.apply(&res(
        r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":1000}],
        "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
        "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":0}]}}"#,
    ))
    .unwrap();
    assert_eq!(fs.read("c/io.weight"), "4950\n8:0 10000\n");
    assert_eq!(fs.read("c/io.max"), "8:0 rbps=1048576\n8:0 wiops=max\n");
    std::fs::write(fs.root().join("c/io.bfq.weight"), "").unwrap();
    m.apply(&res(
        r#"{"blockIO":{"weight":5,"weightDevice":[{"major":8,"minor":0,"weight":700}]}}"#,
    ))
    .unwrap();
    assert_eq!(fs.read("c/io.bfq.weight"), "5\n8:0 700\n");
    let e = m
        .apply(&res(r#"{"blockIO":{"leafWeight":10}}"#))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("blockIO.leafWeight"), "{e}");
    std::fs::remove_file(fs.root().join("c/io.bfq.weight")).unwrap();
    let e = m
        .apply(&res(r#"{"blockIO":{"weight":5}}"#))
        .unwrap_err()
        .to_string();
    assert!(e.contains("io.weight") && e.contains("10..=1000"), "{e}");
}

#[test]
fn pids_hugetlb_rdma_unified_devices_network() {
    let (fs, m) = v2_with(&[
        "pids.max",
        "hugetlb.1GB.max",
        "rdma.max",
        "memory.max",
        "memory.high",
        "io.max",
    ]);
    m.apply(&res(
        r#"{"pids":{"limit":0},"hugepageLimits":[{"pageSize":"1GB","limit":0}],
        "rdma":{"mlx5_1":{"hcaObjects":7}},"memory":{"limit":100},
        "unified":{"memory.max":"200","memory.high":"150","io.max":"8:0 rbps=1\n8:16 wbps=2\n"}}"#,
    ))
    .unwrap();
    assert_eq!(fs.read("c/pids.max"), "max\n");
    assert_eq!(fs.read("c/hugetlb.1GB.max"), "0\n");
    assert_eq!(fs.read("c/rdma.max"), "mlx5_1 hca_object=7\n");
    assert_eq!(
        fs.read("c/memory.max"),
        "100\n200\n",
        "unified is applied last"
    );
    assert_eq!(fs.read("c/memory.high"), "150\n");
    assert_eq!(fs.read("c/io.max"), "8:0 rbps=1\n8:16 wbps=2\n");
    for (json, msg) in [
        (r#"{"unified":{"../x":"1"}}"#, "unified"),
        (
            r#"{"unified":{"memory.swap.max":"1"}}"#,
            "memory.swap.max does not exist",
        ),
        (r#"{"network":{"classID":1}}"#, "network"),
        (
            r#"{"hugepageLimits":[{"pageSize":"2MB","limit":1}]}"#,
            "hugetlb.2MB.max does not exist",
        ),
        (r#"{"devices":[{"allow":true,"type":"p"}]}"#, "FIFO"),
    ] {
        let e = m.apply(&res(json)).unwrap_err().to_string();
        assert!(e.contains(msg), "{json}: {e}");
    }
    // An empty network object asks for nothing.
    m.apply(&res(r#"{"network":{}}"#)).unwrap();
}

#[test]
fn freezer_state_from_cgroup_freeze_and_events() {
    let fs = FakeFs::new();
    let layout = fs.v2();
    let m = fs.manager(&layout, "/c");
    for (freeze, events, want) in [
        ("0\n", "populated 1\nfrozen 0\n", FreezerState::Thawed),
        ("1\n", "populated 1\nfrozen 0\n", FreezerState::Freezing),
        ("1\n", "populated 1\nfrozen 1\n", FreezerState::Frozen),
    ] {
        fs.files("c", &[("cgroup.freeze", freeze), ("cgroup.events", events)]);
        assert_eq!(m.freezer_state().unwrap(), want);
    }
    // Frozen already: freeze writes and returns at once.
    m.freeze().unwrap();
    assert_eq!(fs.read("c/cgroup.freeze"), "1\n1\n");
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains(r#""driver":"v2""#), "{json}");
    assert_eq!(serde_json::from_str::<Manager>(&json).unwrap(), m);
    assert_eq!(m.mounts()[0].fstype, "cgroup2");
}
