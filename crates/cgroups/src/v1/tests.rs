//! v1 driver against a fake cgroupfs: which file gets which value, in which order.

use oci_spec::runtime::LinuxResources;
use std::io::Write;

use crate::error::Error;
use crate::layout::Kind;
use crate::testfs::FakeFs;
use crate::Manager;

pub fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

const MEMORY_FILES: &[(&str, &str)] = &[
    ("memory.limit_in_bytes", ""),
    ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
    ("memory.soft_limit_in_bytes", ""),
    ("memory.kmem.limit_in_bytes", ""),
    ("memory.kmem.tcp.limit_in_bytes", ""),
    ("memory.swappiness", ""),
    ("memory.oom_control", ""),
    ("memory.use_hierarchy", ""),
    ("memory.usage_in_bytes", "1000\n"),
];

fn memory_fs() -> (FakeFs, Manager) {
    let fs = FakeFs::new();
    let layout = fs.v1(&["memory"], false);
    fs.files("memory/c", MEMORY_FILES);
    let m = fs.manager(&layout, "/c");
    (fs, m)
}

#[test]
fn memory_values_land_in_v1_files() {
    let (fs, m) = memory_fs();
    m.apply(&res(r#"{"memory":{"limit":67108864,"swap":134217728,"reservation":33554432,
        "kernel":-1,"kernelTCP":1048576,"swappiness":10,"disableOOMKiller":true,"useHierarchy":true}}"#))
        .unwrap();
    // memsw shrinks from "unlimited" here, so the limit goes first.
    assert_eq!(fs.read("memory/c/memory.limit_in_bytes"), "67108864\n");
    assert_eq!(
        fs.read("memory/c/memory.memsw.limit_in_bytes"),
        "9223372036854771712\n134217728\n"
    );
    assert_eq!(fs.read("memory/c/memory.soft_limit_in_bytes"), "33554432\n");
    assert_eq!(fs.read("memory/c/memory.kmem.limit_in_bytes"), "-1\n");
    assert_eq!(
        fs.read("memory/c/memory.kmem.tcp.limit_in_bytes"),
        "1048576\n"
    );
    assert_eq!(fs.read("memory/c/memory.swappiness"), "10\n");
    assert_eq!(fs.read("memory/c/memory.oom_control"), "1\n");
    assert_eq!(fs.read("memory/c/memory.use_hierarchy"), "1\n");
}

#[test]
fn limit_and_memsw_order_follows_whether_memsw_grows() {
    let fs = FakeFs::new();
    let layout = fs.v1(&["memory"], false);
    // Both files are one log here, so the order of the writes shows.
    let d = fs.files("memory/c", &[("log", "1000\n")]);
    for f in ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"] {
        std::os::unix::fs::symlink(d.join("log"), d.join(f)).unwrap();
    }
    let m = fs.manager(&layout, "/c");
    m.apply(&res(r#"{"memory":{"limit":2000,"swap":4000}}"#))
        .unwrap();
    assert_eq!(
        fs.read("memory/c/log"),
        "1000\n4000\n2000\n",
        "memsw grows: memsw first"
    );
    std::fs::write(d.join("log"), "9000\n").unwrap();
    m.apply(&res(r#"{"memory":{"limit":100,"swap":200}}"#))
        .unwrap();
    assert_eq!(
        fs.read("memory/c/log"),
        "9000\n100\n200\n",
        "memsw shrinks: limit first"
    );
    std::fs::write(d.join("log"), "").unwrap();
    // Unlimited memory with swap unset makes swap unlimited too.
    m.apply(&res(r#"{"memory":{"limit":-1}}"#)).unwrap();
    assert_eq!(fs.read("memory/c/log"), "-1\n-1\n");
}

#[test]
fn bad_memory_values_are_rejected_naming_the_resource() {
    let (_fs, m) = memory_fs();
    let e = m
        .apply(&res(r#"{"memory":{"swappiness":101}}"#))
        .unwrap_err()
        .to_string();
    assert!(e.contains("memory.swappiness") && e.contains("101"), "{e}");
    let e = m
        .apply(&res(r#"{"memory":{"limit":-5}}"#))
        .unwrap_err()
        .to_string();
    assert!(e.contains("memory.limit") && e.contains("-5"), "{e}");
    // checkBeforeUpdate only on update; usage is 1000 in the fake.
    let r = res(r#"{"memory":{"limit":500,"checkBeforeUpdate":true}}"#);
    m.apply(&r).unwrap();
    let e = m.update(&r).unwrap_err().to_string();
    assert!(e.contains("current usage"), "{e}");
    m.update(&res(
        r#"{"memory":{"limit":5000,"checkBeforeUpdate":true}}"#,
    ))
    .unwrap();
}

#[test]
fn swap_without_swap_accounting_is_an_error() {
    let fs = FakeFs::new();
    let layout = fs.v1(&["memory"], false);
    fs.files("memory/c", &[("memory.limit_in_bytes", "")]);
    let m = fs.manager(&layout, "/c");
    let e = m
        .apply(&res(r#"{"memory":{"limit":100,"swap":200}}"#))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("memory.swap") && e.contains("memory.memsw.limit_in_bytes"),
        "{e}"
    );
    // -1 memory alone is fine without memsw.
    m.apply(&res(r#"{"memory":{"limit":-1}}"#)).unwrap();
}

#[test]
fn cpu_and_cpuset_values() {
    let fs = FakeFs::new();
    let layout = fs.v1(&["cpu,cpuacct", "cpuset"], false);
    let cpu_files = [
        "cpu.shares",
        "cpu.cfs_period_us",
        "cpu.cfs_quota_us",
        "cpu.cfs_burst_us",
        "cpu.idle",
        "cpu.rt_period_us",
        "cpu.rt_runtime_us",
    ];
    fs.files("cpu,cpuacct/c", &cpu_files.map(|f| (f, "")));
    fs.files("cpuset/c", &[("cpuset.cpus", ""), ("cpuset.mems", "")]);
    let m = fs.manager(&layout, "/c");
    m.apply(&res(
        r#"{"cpu":{"shares":512,"quota":20000,"period":100000,"burst":1000,"idle":0,
        "realtimeRuntime":950,"realtimePeriod":1000,"cpus":"0-1","mems":"0"}}"#,
    ))
    .unwrap();
    for (f, v) in [
        ("cpu.shares", "512"),
        ("cpu.cfs_period_us", "100000"),
        ("cpu.cfs_quota_us", "20000"),
        ("cpu.cfs_burst_us", "1000"),
        ("cpu.idle", "0"),
        ("cpu.rt_period_us", "1000"),
        ("cpu.rt_runtime_us", "950"),
    ] {
        assert_eq!(
            fs.read(&format!("cpu,cpuacct/c/{f}")),
            format!("{v}\n"),
            "{f}"
        );
    }
    assert_eq!(fs.read("cpuset/c/cpuset.cpus"), "0-1\n");
    assert_eq!(fs.read("cpuset/c/cpuset.mems"), "0\n");
    m.apply(&res(r#"{"cpu":{"quota":-1,"shares":0}}"#)).unwrap();
    assert_eq!(fs.read("cpu,cpuacct/c/cpu.cfs_quota_us"), "20000\n-1\n");
    assert_eq!(
        fs.read("cpu,cpuacct/c/cpu.shares"),
        "512\n",
        "shares 0 means unset"
    );
    assert!(m
        .apply(&res(r#"{"cpu":{"shares":1}}"#))
        .unwrap_err()
        .to_string()
        .contains("cpu.shares"));
    assert!(m
        .apply(&res(r#"{"cpu":{"quota":0}}"#))
        .unwrap_err()
        .to_string()
        .contains("cpu.quota"));
}

#[test]
fn blkio_prefers_cfq_files_and_falls_back_to_bfq() {
    let fs = FakeFs::new();
    let layout = fs.v1(&["blkio"], false);
    let files = [
        "blkio.bfq.weight",
        "blkio.bfq.weight_device",
        "blkio.throttle.read_bps_device",
        "blkio.throttle.write_bps_device",
        "blkio.throttle.read_iops_device",
        "blkio.throttle.write_iops_device",
    ];
    fs.files("blkio/c", &files.map(|f| (f, "")));
    let m = fs.manager(&layout, "/c");
    m.apply(&res(
        r#"{"blockIO":{"weight":300,"weightDevice":[{"major":8,"minor":0,"weight":500}],
        "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":2097152}],
        "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":1}],
        "throttleReadIOPSDevice":[{"major":8,"minor":16,"rate":100},{"major":8,"minor":0,"rate":5}],
        "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":0}]}}"#,
    ))
    .unwrap();
    assert_eq!(fs.read("blkio/c/blkio.bfq.weight"), "300\n");
    assert_eq!(fs.read("blkio/c/blkio.bfq.weight_device"), "8:0 500\n");
    assert_eq!(
        fs.read("blkio/c/blkio.throttle.read_bps_device"),
        "8:0 2097152\n"
    );
    assert_eq!(
        fs.read("blkio/c/blkio.throttle.write_bps_device"),
        "8:0 1\n"
    );
    assert_eq!(
        fs.read("blkio/c/blkio.throttle.read_iops_device"),
        "8:16 100\n8:0 5\n"
    );
    assert_eq!(
        fs.read("blkio/c/blkio.throttle.write_iops_device"),
        "8:0 0\n"
    );
    std::fs::write(fs.root().join("blkio/c/blkio.weight"), "").unwrap();
    m.apply(&res(r#"{"blockIO":{"weight":200}}"#)).unwrap();
    assert_eq!(fs.read("blkio/c/blkio.weight"), "200\n");
    let e = m
        .apply(&res(r#"{"blockIO":{"leafWeight":200}}"#))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("blockIO.leafWeight") && e.contains("blkio.leaf_weight does not exist"),
        "{e}"
    );
    let e = m.apply(&res(
        r#"{"blockIO":{"throttleReadBpsDevice":[{"major":-1,"minor":0,"rate":1}]}}"#,
    ));
    assert!(e.unwrap_err().to_string().contains("throttleReadBpsDevice"));
}

#[test]
fn pids_devices_network_rdma_hugetlb() {
    let fs = FakeFs::new();
    let layout = fs.v1(&["pids", "devices", "hugetlb"], false);
    fs.files("pids/c", &[("pids.max", "")]);
    fs.files("devices/c", &[("devices.allow", ""), ("devices.deny", "")]);
    fs.files("hugetlb/c", &[("hugetlb.2MB.limit_in_bytes", "")]);
    let m = fs.manager(&layout, "/c");
    m.apply(&res(r#"{"pids":{"limit":10},"hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
        "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                   {"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]}"#))
        .unwrap();
    assert_eq!(fs.read("pids/c/pids.max"), "10\n");
    assert_eq!(fs.read("hugetlb/c/hugetlb.2MB.limit_in_bytes"), "4194304\n");
    assert_eq!(fs.read("devices/c/devices.deny"), "a\nc 1:3 w\n");
    assert_eq!(fs.read("devices/c/devices.allow"), "c 1:3 rwm\n");
    m.apply(&res(r#"{"pids":{"limit":-1}}"#)).unwrap();
    assert_eq!(fs.read("pids/c/pids.max"), "10\nmax\n");

    let e = m
        .apply(&res(r#"{"network":{"classID":1048577}}"#))
        .unwrap_err();
    assert!(matches!(
        e,
        Error::NoController {
            controller: "net_cls",
            ..
        }
    ));
    assert!(e.to_string().contains("network.classID"), "{e}");
    let e = m
        .apply(&res(r#"{"rdma":{"mlx5_1":{"hcaHandles":3}}}"#))
        .unwrap_err()
        .to_string();
    assert!(e.contains("rdma") && e.contains("not mounted"), "{e}");
    let e = m
        .apply(&res(r#"{"unified":{"memory.high":"1"}}"#))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unified"), "{e}");
    m.apply(&res(r#"{"unified":{}}"#)).unwrap();
    let e = m
        .apply(&res(r#"{"hugepageLimits":[{"pageSize":"2M","limit":1}]}"#))
        .unwrap_err();
    assert!(e.to_string().contains("hugepageLimits"), "{e}");
    // Nothing was written by the failed applies.
    assert_eq!(fs.read("devices/c/devices.deny"), "a\nc 1:3 w\n");
}

#[test]
fn net_and_rdma_when_mounted() {
    let fs = FakeFs::new();
    let layout = fs.v1(&["net_cls,net_prio", "rdma"], false);
    fs.files(
        "net_cls,net_prio/c",
        &[("net_cls.classid", ""), ("net_prio.ifpriomap", "")],
    );
    fs.files("rdma/c", &[("rdma.max", "")]);
    let m = fs.manager(&layout, "/c");
    m.apply(&res(r#"{"network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5},{"name":"lo","priority":1}]},
        "rdma":{"mlx5_1":{"hcaHandles":3,"hcaObjects":100},"a0":{"hcaObjects":1}}}"#))
        .unwrap();
    assert_eq!(fs.read("net_cls,net_prio/c/net_cls.classid"), "1048577\n");
    assert_eq!(
        fs.read("net_cls,net_prio/c/net_prio.ifpriomap"),
        "eth0 5\nlo 1\n"
    );
    assert_eq!(
        fs.read("rdma/c/rdma.max"),
        "a0 hca_object=1\nmlx5_1 hca_handle=3 hca_object=100\n"
    );
}

#[test]
fn hybrid_hugetlb_goes_to_the_cgroup2_side() {
    let fs = FakeFs::new();
    let layout = fs.v1(&["memory"], true);
    fs.files("unified", &[("cgroup.subtree_control", "")]);
    fs.files(
        "unified/c",
        &[("hugetlb.2MB.max", ""), ("hugetlb.2MB.rsvd.max", "")],
    );
    let m = fs.manager(&layout, "/c");
    assert_eq!(m.kind(), Kind::Hybrid);
    m.apply(&res(
        r#"{"hugepageLimits":[{"pageSize":"2MB","limit":2097152}]}"#,
    ))
    .unwrap();
    assert_eq!(fs.read("unified/cgroup.subtree_control"), "+hugetlb\n");
    assert_eq!(fs.read("unified/c/hugetlb.2MB.max"), "2097152\n");
    assert_eq!(fs.read("unified/c/hugetlb.2MB.rsvd.max"), "2097152\n");
}

#[test]
fn create_nested_copies_cpuset_and_undoes_on_failure() {
    let fs = FakeFs::new();
    let layout = fs.v1(&["cpuset", "memory"], true);
    fs.files(
        "cpuset",
        &[("cpuset.cpus", "0-1\n"), ("cpuset.mems", "0\n")],
    );
    // The fake kernel makes no files in new dirs: pre-create the cgroup's own (empty) ones.
    fs.files("cpuset/a", &[("cpuset.cpus", ""), ("cpuset.mems", "")]);
    fs.files("cpuset/a/b", &[("cpuset.cpus", ""), ("cpuset.mems", "")]);
    let m = fs.manager(&layout, "/a/b");
    m.create().unwrap();
    assert_eq!(fs.read("cpuset/a/b/cpuset.cpus"), "0-1\n");
    assert_eq!(fs.read("cpuset/a/b/cpuset.mems"), "0\n");
    assert!(fs.root().join("memory/a/b").is_dir());
    assert!(fs.root().join("unified/a/b").is_dir());

    // A hierarchy whose mount point vanished: what was made elsewhere is removed again.
    let layout = fs.v1(&["memory"], true);
    let m = fs.manager(&layout, "/x/y");
    std::fs::remove_dir_all(fs.root().join("unified")).unwrap();
    let e = m.create().unwrap_err().to_string();
    assert!(e.starts_with("mkdir "), "{e}");
    assert!(!fs.root().join("memory/x").exists());
}

#[test]
fn add_process_serde_and_mounts() {
    let fs = FakeFs::new();
    let layout = fs.v1(&["memory", "name=systemd"], true);
    for d in ["memory/c", "name=systemd/c", "unified/c"] {
        fs.files(d, &[("cgroup.procs", "")]);
    }
    let m = fs.manager(&layout, "/c");
    m.add_process(4242).unwrap();
    for d in ["memory/c", "name=systemd/c", "unified/c"] {
        assert_eq!(fs.read(&format!("{d}/cgroup.procs")), "4242\n", "{d}");
    }
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains(r#""driver":"v1""#), "{json}");
    let back: Manager = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
    let mounts = m.mounts();
    assert_eq!(mounts.len(), 3);
    assert_eq!(mounts[1].options, ["name=systemd"]);
    assert_eq!(mounts[2].fstype, "cgroup2");
}

#[test]
fn a_child_joins_by_clone_into_the_unified_side_and_by_the_v1_tasks_files() {
    let fs = FakeFs::new();
    let layout = fs.v1(&["memory", "name=systemd"], true);
    for d in ["memory/c", "name=systemd/c"] {
        fs.files(d, &[("tasks", "")]);
    }
    fs.files("unified/c", &[("cgroup.procs", "")]);
    let m = fs.manager(&layout, "/c");
    assert!(
        m.clone_into_fd().unwrap().is_some(),
        "hybrid: the cgroup2 side"
    );
    let files = m.tasks_files().unwrap();
    assert_eq!(files.len(), 2, "one per v1 hierarchy, none for unified");
    for f in files {
        std::fs::File::from(f).write_all(b"0").unwrap();
    }
    for d in ["memory/c", "name=systemd/c"] {
        assert_eq!(fs.read(&format!("{d}/tasks")), "0", "{d}");
    }

    let fs = FakeFs::new();
    let layout = fs.v1(&["memory"], false);
    fs.files("memory/c", &[("tasks", "")]);
    let m = fs.manager(&layout, "/c");
    assert!(m.clone_into_fd().unwrap().is_none(), "pure v1: no cgroup2");
    assert_eq!(m.tasks_files().unwrap().len(), 1);
}

#[test]
fn freezer_state_and_missing_freezer() {
    let fs = FakeFs::new();
    let layout = fs.v1(&["freezer", "memory"], false);
    fs.files(
        "freezer/c",
        &[("freezer.state", "FREEZING\n"), ("cgroup.procs", "1\n2\n")],
    );
    let m = fs.manager(&layout, "/c");
    assert_eq!(m.freezer_state().unwrap(), crate::FreezerState::Freezing);
    assert_eq!(m.pids().unwrap(), [1, 2]);
    let m = fs.manager(&fs.v1(&["memory"], false), "/c");
    let e = m.freeze().unwrap_err().to_string();
    assert!(e.contains("freezer controller is not mounted"), "{e}");
}
