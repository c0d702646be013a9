use super::*;
use crate::layout::{Layout, Unified};
use crate::path::{CgroupsPath, OwnCgroups};
use crate::Manager;

fn unit(path: &str, bus: Bus) -> Result<Unit> {
    Unit::from_spec(Some(Path::new(path)), "c1", bus)
}

#[test]
fn slice_prefix_name_as_runc_reads_it() {
    let u = unit("system.slice:docker:abc", Bus::System).unwrap();
    assert_eq!(
        (u.name.as_str(), u.slice.as_str()),
        ("docker-abc.scope", "system.slice")
    );
    assert_eq!(
        u.relative_path().unwrap(),
        Path::new("system.slice/docker-abc.scope")
    );
    let u = unit(
        "kubepods-burstable-pod12_3.slice:cri-containerd:f00",
        Bus::System,
    )
    .unwrap();
    assert_eq!(
        u.relative_path().unwrap(),
        Path::new(
            "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12_3.slice/cri-containerd-f00.scope"
        )
    );
    let u = unit("::x", Bus::System).unwrap();
    assert_eq!(
        (u.name.as_str(), u.slice.as_str()),
        ("x.scope", "system.slice")
    );
    assert_eq!(unit("::x", Bus::User).unwrap().slice, "user.slice");
    let u = unit("-.slice:p:x", Bus::System).unwrap();
    assert_eq!(u.relative_path().unwrap(), Path::new("p-x.scope"));
    let default = Unit::from_spec(None, "c1", Bus::System).unwrap();
    assert_eq!(default.name, "berth-c1.scope");
    assert_eq!(
        Unit::from_spec(Some(Path::new("")), "c1", Bus::System).unwrap(),
        default
    );
}

#[test]
fn malformed_paths_name_what_is_wrong() {
    for (path, why) in [
        ("/a/b", "slice:prefix:name"),
        ("a:b", "slice:prefix:name"),
        ("a:b:c:d", "slice:prefix:name"),
        ("system.slice:p:", "empty"),
        ("system.slice:p:x.slice", "slice"),
        ("system.slice:p:a/b", "letters"),
        ("system:p:x", "*.slice"),
        ("a--b.slice:p:x", "dashes"),
        ("-a.slice:p:x", "dashes"),
        ("a-.slice:p:x", "dashes"),
        ("a/b.slice:p:x", "dashes"),
    ] {
        let e = unit(path, Bus::System).unwrap_err().to_string();
        assert!(e.contains(path) && e.contains(why), "{path}: {e}");
    }
}

#[test]
fn the_users_manager_root_comes_from_our_cgroup_or_its_standard_place() {
    let mount = tempfile::tempdir().unwrap();
    let own = "/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope";
    let root = PathBuf::from("/user.slice/user-1000.slice/user@1000.service");
    assert_eq!(
        user_manager_root(Path::new(own), mount.path(), 1000).unwrap(),
        root
    );
    // From a login session's scope: the manager's cgroup where systemd puts it, if there.
    let session = Path::new("/user.slice/user-1000.slice/session-3.scope");
    let e = user_manager_root(session, mount.path(), 1000)
        .unwrap_err()
        .to_string();
    assert!(e.contains("user@UID.service"), "{e}");
    std::fs::create_dir_all(mount.path().join(root.strip_prefix("/").unwrap())).unwrap();
    assert_eq!(
        user_manager_root(session, mount.path(), 1000).unwrap(),
        root
    );
}

#[test]
fn the_unit_is_kept_in_the_state() {
    let u = Unified {
        mount_point: "/sys/fs/cgroup".into(),
        root: "/".into(),
    };
    let unit = unit("machine.slice:berth:c1", Bus::System).unwrap();
    let mut m = Manager::new(
        &Layout::V2(u),
        &CgroupsPath::Absolute(unit.relative_path().unwrap()),
        &OwnCgroups::default(),
    )
    .unwrap();
    assert!(!m.is_systemd());
    let plain = serde_json::to_value(&m).unwrap();
    assert_eq!(
        plain,
        serde_json::json!({"driver": "v2", "mount_point": "/sys/fs/cgroup",
            "path": "/sys/fs/cgroup/machine.slice/berth-c1.scope"})
    );
    m.systemd = Some(unit);
    let text = serde_json::to_string(&m).unwrap();
    assert!(
        text.contains(
            r#""systemd":{"name":"berth-c1.scope","slice":"machine.slice","bus":"system"}"#
        ),
        "{text}"
    );
    let back: Manager = serde_json::from_str(&text).unwrap();
    assert_eq!(back, m);
    assert!(back.is_systemd());
    // A state written before the systemd driver existed still reads.
    let old: Manager = serde_json::from_value(plain).unwrap();
    assert!(!old.is_systemd());
}
