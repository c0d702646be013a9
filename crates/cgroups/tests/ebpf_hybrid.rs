//! The v2 device filter on this project's hybrid CI host: device programs attached to the
//! cgroup2 side apply to its tasks there too, so the eBPF path is exercised without the VM.
//! The test only makes a directory on the cgroup2 mount (no subtree_control writes). On a
//! pure v2 host the same path is covered by tests/enforce.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use berth_cgroups::{CgroupsPath, Kind, Layout, Manager, OwnCgroups};
use common::{not_root, res, Proc};

#[test]
fn ebpf_device_filter_on_the_hybrid_cgroup2_mount() {
    if not_root() {
        return;
    }
    let layout = Layout::detect().unwrap();
    let Layout::V1 {
        unified: Some(u), ..
    } = &layout
    else {
        eprintln!("skipped: not a hybrid host ({:?})", layout.kind());
        return;
    };
    let name = format!("berth-test-{}-ebpf", std::process::id());
    let path = CgroupsPath::Absolute(name.clone().into());
    let m = Manager::new(&Layout::V2(u.clone()), &path, &OwnCgroups::default()).unwrap();
    assert_eq!(m.kind(), Kind::V2);
    let dir = u.mount_point.join(&name);
    std::fs::create_dir(&dir).unwrap();
    struct Rm(std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _rm = Rm(dir.clone());

    let rules = r#"{"devices":[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#;
    m.apply(&res(rules)).unwrap();
    let check =
        "if head -c1 /dev/zero >/dev/null 2>&1; then echo zero-open; else echo zero-denied; fi; \
                 if echo x >/dev/null; then echo null-ok; fi";
    let mut p = Proc::start_in(&m, check);
    assert_eq!(
        (p.line(), p.line()),
        ("zero-denied".into(), "null-ok".into())
    );
    assert!(p.finish(Duration::from_secs(30)).0.success());
    // Updating twice leaves one program attached, allowing everything.
    m.update(&res(rules)).unwrap();
    m.update(&res(r#"{"devices":[{"allow":true,"access":"rwm"}]}"#))
        .unwrap();
    let mut p = Proc::start_in(&m, check);
    assert_eq!(p.line(), "zero-open");
    assert!(p.finish(Duration::from_secs(30)).0.success());
    drop(_rm);
    assert!(!dir.exists(), "{} left behind", dir.display());
}
