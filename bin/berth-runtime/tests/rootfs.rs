//! The container's root and mounts, checked from inside: pivot_root, read-only root, every
//! mount type and option, /dev, masked and read-only paths, and that no mount ever lands
//! outside the rootfs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;

/// The line of /proc/self/mountinfo for `mount_point`, from inside the container.
fn mountinfo_line(out: &str, mount_point: &str) -> String {
    out.lines()
        .find(|l| l.split(' ').nth(4) == Some(mount_point))
        .unwrap_or_else(|| panic!("no mount at {mount_point} in:\n{out}"))
        .to_string()
}

#[test]
fn root_is_pivoted_and_read_only() {
    let b = Bundle::new(&["sh", "-c", "cat /proc/self/mountinfo; touch /x 2>&1; ls /"]);
    let out = b.run_ok();
    let root = mountinfo_line(&out, "/");
    assert!(
        root.split(' ')
            .nth(5)
            .unwrap()
            .split(',')
            .any(|o| o == "ro"),
        "{root}"
    );
    assert!(out.contains("Read-only file system"), "{out}");
    // The rootfs is all there is: no host paths.
    assert!(!out.contains("busybox") && out.contains("bin\n"), "{out}");
    b.assert_host_clean();
}

#[test]
fn no_pivot_moves_the_root() {
    let mut b = Bundle::new(&["sh", "-c", "ls /; cat /proc/self/mountinfo | wc -l"]);
    b.config["root"]["readonly"] = json!(false);
    b.write();
    let id = unique("nopivot");
    let out = b.rt(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let text = text(&out.stdout);
    assert!(text.contains("etc\n") && text.contains("proc\n"), "{text}");
    b.assert_host_clean();
}

#[test]
fn mounts_have_their_types_and_options() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/self/mountinfo; cat /data/file; touch /data/new 2>&1; cat /one",
    ]);
    let host = b.path().join("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("file"), "from host\n").unwrap();
    std::fs::write(b.path().join("one-file"), "single file\n").unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/data", "type": "bind", "source": host, "options": ["rbind", "ro", "nosuid", "nodev"]}));
    mounts.push(json!({"destination": "/one", "type": "none", "source": "one-file", "options": ["bind", "ro"]}));
    mounts.push(json!({"destination": "/scratch/deep", "type": "tmpfs", "source": "tmpfs", "options": ["noexec", "size=1m", "mode=700", "noatime"]}));
    let out = b.run_ok();
    let data = mountinfo_line(&out, "/data");
    let opts = data.split(' ').nth(5).unwrap();
    for o in ["ro", "nosuid", "nodev"] {
        assert!(opts.split(',').any(|x| x == o), "{o} missing: {data}");
    }
    assert!(out.contains("from host"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("single file"), "{out}");
    let t = mountinfo_line(&out, "/scratch/deep");
    assert!(
        t.contains(" - tmpfs ") && t.contains("size=1024k") && t.contains("mode=700"),
        "{t}"
    );
    assert!(
        t.split(' ').nth(5).unwrap().contains("noexec") && t.contains("noatime"),
        "{t}"
    );
    for p in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
    ] {
        mountinfo_line(&out, p);
    }
    assert!(mountinfo_line(&out, "/sys")
        .split(' ')
        .nth(5)
        .unwrap()
        .starts_with("ro"));
    assert!(!host.join("new").exists());
    b.assert_host_clean();
}

#[test]
fn mount_propagation_options() {
    let mut b = Bundle::new(&["sh", "-c", "cat /proc/self/mountinfo"]);
    // Not recursive: a recursive root propagation, applied last as runc does, would reset
    // the mount's own.
    b.config["linux"]["rootfsPropagation"] = json!("private");
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/shared", "type": "tmpfs", "source": "tmpfs", "options": ["shared"]}));
    let out = b.run_ok();
    assert!(
        mountinfo_line(&out, "/shared").contains(" shared:"),
        "{out}"
    );
    // private root: no propagation tags on /.
    let root = mountinfo_line(&out, "/");
    assert!(
        !root.contains("shared:") && !root.contains("master:"),
        "{root}"
    );
    b.assert_host_clean();
}

#[test]
fn dev_has_default_devices_links_and_config_devices() {
    let mut b = Bundle::new(&["sh", "-c", "for d in null zero full random urandom tty fuse; do stat -c '%n %F %t:%T %a' /dev/$d; done; for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done; echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c"]);
    b.config["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 0, "gid": 0}]);
    let out = b.run_ok();
    for (name, nums) in [
        ("null", "1:3"),
        ("zero", "1:5"),
        ("full", "1:7"),
        ("random", "1:8"),
        ("urandom", "1:9"),
        ("tty", "5:0"),
        ("fuse", "a:e5"),
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("/dev/{name} ")))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        assert!(
            line.contains("character special file") && line.contains(nums),
            "{line}"
        );
    }
    assert!(
        out.contains("/dev/fuse character special file a:e5 640"),
        "{out}"
    );
    for l in [
        "pts/ptmx",
        "/proc/self/fd",
        "/proc/self/fd/0",
        "/proc/self/fd/1",
        "/proc/self/fd/2",
        "null-ok",
    ] {
        assert!(out.lines().any(|x| x == l), "{l}: {out}");
    }
    assert!(out.trim_end().ends_with('4'));
    b.assert_host_clean();
}

#[test]
fn devices_in_a_user_namespace_have_the_configs_numbers_mode_and_owner() {
    // mknod is refused in a user namespace and the host has no block device 1:5 to bind:
    // the runtime makes the node itself, outside the namespace.
    assert!(!std::path::Path::new("/dev/foo-berth").exists());
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "stat -c '%n %F %t:%T %a %u:%g' /dev/foo-berth /dev/null; echo x > /dev/null && echo null-ok",
    ]);
    b.with_user_namespace(100000);
    b.config["linux"]["devices"] = json!([{"path": "/dev/foo-berth", "type": "b", "major": 1, "minor": 5, "fileMode": 0o620, "uid": 10, "gid": 11}]);
    assert_eq!(
        b.run_ok(),
        "/dev/foo-berth block special file 1:5 620 10:11\n\
         /dev/null character special file 1:3 666 0:0\nnull-ok\n"
    );
    b.assert_host_clean();
}

#[test]
fn masked_and_read_only_paths() {
    // Host side first: these exist and are not empty here.
    assert!(!std::fs::read_to_string("/proc/timer_list")
        .unwrap()
        .is_empty());
    assert!(std::fs::read_dir("/sys/firmware").unwrap().count() > 0);
    let b = Bundle::new(&["sh", "-c", "wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l; (echo 1 > /proc/sys/kernel/panic) 2>&1; cat /proc/self/mountinfo"]);
    let out = b.run_ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"), "/proc/timer_list is masked: {out}");
    assert_eq!(lines.next(), Some("0"), "/sys/firmware is masked: {out}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(mountinfo_line(&out, "/proc/sys")
        .split(' ')
        .nth(5)
        .unwrap()
        .starts_with("ro"));
    b.assert_host_clean();
}

#[test]
fn cgroup_mount_shows_the_containers_own_cgroup() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/self/cgroup; ls /sys/fs/cgroup; cat /proc/self/mountinfo | grep /sys/fs/cgroup",
    ]);
    let out = b.run_ok();
    // A cgroup namespace: every hierarchy's path is the namespace root.
    for line in out.lines().take_while(|l| l.contains(':')) {
        assert!(line.ends_with(":/"), "{line}");
    }
    assert!(
        out.lines().any(|l| l == "memory" || l.contains("cgroup2")),
        "{out}"
    );
    b.assert_host_clean();
}

#[test]
fn idmapped_bind_mounts() {
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("f"), "x").unwrap();
    std::os::unix::fs::chown(host.path().join("f"), Some(0), Some(0)).unwrap();
    // In a user namespace mapping 0 to 100000: plainly bound, the host's root-owned file shows
    // as nobody; through `idmap` it is the container's root's.
    let mut b = Bundle::new(&["sh", "-c", "stat -c %u:%g /plain/f /idmapped/f"]);
    b.with_user_namespace(100000);
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/plain", "type": "bind", "source": host.path(), "options": ["rbind"]}));
    mounts.push(json!({"destination": "/idmapped", "type": "bind", "source": host.path(), "options": ["rbind", "idmap"]}));
    assert_eq!(b.run_ok(), "65534:65534\n0:0\n");
    b.assert_host_clean();
    // Mappings in the option itself (podman's `-v SRC:DST:idmap=...`, crun's syntax): file
    // uid 0 shows as host 100005, the container's 5; gid 0 as the container's 7 (`@`).
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.last_mut().unwrap()["options"] = json!(["rbind", "idmap=uids=0-100005-10;gids=@0-7-10"]);
    assert_eq!(b.run_ok(), "65534:65534\n5:7\n");
    // A range that does not parse is refused before anything is made.
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.last_mut().unwrap()["options"] = json!(["rbind", "idmap=uids=0-1"]);
    let out = b.run(&unique("badidmap"));
    assert_fails_with(&out, "idmap=uids=0-1");
    b.assert_host_clean();
    // A mount's own mappings, in a container without a user namespace.
    let mut b = Bundle::new(&["stat", "-c", "%u:%g", "/m/f"]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/m", "type": "bind", "source": host.path(), "options": ["rbind", "idmap"],
        "uidMappings": [{"containerID": 0, "hostID": 1234, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": 4321, "size": 1}]
    }));
    assert_eq!(b.run_ok(), "1234:4321\n");
    // The host's file is untouched.
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(host.path().join("f")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
    b.assert_host_clean();
}

/// Without a mount namespace of its own (none, or the test's joined by path), the process
/// still runs in `root.path`, and so does a process started by `exec`; never in the host's `/`.
#[test]
fn root_path_is_the_root_without_a_mount_namespace_of_its_own() {
    let mut b = Bundle::new(&["cat", "/berth-root-marker"]);
    std::fs::write(b.rootfs().join("berth-root-marker"), "in the rootfs\n").unwrap();
    let without_mount = |b: &mut Bundle| {
        b.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "mount");
        // Mounts, masks and a read-only root need a mount namespace: none here.
        b.config["mounts"] = json!([]);
        b.config["root"]["readonly"] = json!(false);
        for k in ["maskedPaths", "readonlyPaths"] {
            b.config["linux"].as_object_mut().unwrap().remove(k);
        }
    };
    without_mount(&mut b);
    assert_eq!(b.run_ok(), "in the rootfs\n");
    b.config["process"]["args"] = json!(["sleep", "60"]);
    let id = unique("nomntns");
    assert!(b.create(&id, &[]).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    let out = b.rt(&["exec", &id, "cat", "/berth-root-marker"]);
    assert_eq!(
        text(&out.stdout),
        "in the rootfs\n",
        "{}",
        text(&out.stderr)
    );
    assert!(b.rt(&["delete", "--force", &id]).status.success());

    let joined = format!("/proc/{}/ns/mnt", std::process::id());
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "mount", "path": joined}));
    b.config["process"]["args"] = json!(["cat", "/berth-root-marker"]);
    assert_eq!(b.run_ok(), "in the rootfs\n");
    b.assert_host_clean();
}

#[test]
fn a_fifo_in_linux_devices_has_its_mode_and_owner() {
    let mut b = Bundle::new(&["stat", "-c", "%n %F %a %u:%g", "/dev/berth-fifo"]);
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/berth-fifo", "type": "p", "fileMode": 0o640, "uid": 10, "gid": 11}]);
    assert_eq!(b.run_ok(), "/dev/berth-fifo fifo 640 10:11\n");
    b.with_user_namespace(100000);
    assert_eq!(b.run_ok(), "/dev/berth-fifo fifo 640 10:11\n");
    b.assert_host_clean();
}

/// Every `linux.rootfsPropagation` value starts a container, and the root ends up with it.
#[test]
fn every_root_propagation() {
    let mut b = Bundle::new(&["cat", "/proc/self/mountinfo"]);
    for p in [
        "private",
        "rprivate",
        "slave",
        "rslave",
        "shared",
        "rshared",
        "unbindable",
        "runbindable",
    ] {
        b.config["linux"]["rootfsPropagation"] = json!(p);
        let id = unique("prop");
        let out = b.run(&id);
        assert!(out.status.success(), "{p}: {}", text(&out.stderr));
        let root = mountinfo_line(&text(&out.stdout), "/");
        let tags: Vec<&str> = root.split(' ').skip(6).take_while(|f| *f != "-").collect();
        let want = |tag: &str| tags.iter().any(|t| t.starts_with(tag));
        assert_eq!(want("shared:"), p.ends_with("shared"), "{p}: {root}");
        assert_eq!(want("unbindable"), p.ends_with("unbindable"), "{p}: {root}");
    }
    b.assert_host_clean();
}

/// A directory of the bundle with two tmpfs mounts below it, `noatime/` and `strictatime/`,
/// unmounted again when dropped.
struct Submounted(std::path::PathBuf);

impl Submounted {
    fn new(b: &Bundle) -> Submounted {
        let dir = b.path().join("submounted");
        for atime in ["noatime", "strictatime"] {
            let sub = dir.join(atime);
            std::fs::create_dir_all(&sub).unwrap();
            let st = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", atime, "tmpfs"])
                .arg(&sub)
                .status()
                .unwrap();
            assert!(st.success());
        }
        Submounted(dir)
    }
}

impl Drop for Submounted {
    fn drop(&mut self) {
        for atime in ["noatime", "strictatime"] {
            let _ = std::process::Command::new("umount")
                .arg(self.0.join(atime))
                .status();
        }
    }
}

/// The per-mount options of the mount at `mount_point`, from mountinfo inside the container.
fn mount_options(out: &str, mount_point: &str) -> Vec<String> {
    let line = mountinfo_line(out, mount_point);
    line.split(' ')
        .nth(5)
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect()
}

/// The atime mode of the mount at `mount_point`.
fn atime(out: &str, mount_point: &str) -> &'static str {
    let opts = mount_options(out, mount_point);
    if opts.iter().any(|o| o == "noatime") {
        "noatime"
    } else if opts.iter().any(|o| o == "relatime") {
        "relatime"
    } else {
        "strictatime"
    }
}

/// Each recursive atime option on a bind of a tree whose mounts differ: setting one gives
/// every mount that mode; clearing one (`ratime` clears noatime, `rnostrictatime`
/// strictatime, `rnorelatime` relatime, whose value is no bit at all) changes only the
/// mounts that had it, to the default relatime.
#[test]
fn recursive_atime_options_change_exactly_what_they_name() {
    let mut b = Bundle::new(&["cat", "/proc/self/mountinfo"]);
    let src = Submounted::new(&b);
    let cases = [
        ("rrelatime", ["relatime", "relatime", "relatime"]),
        ("rnoatime", ["noatime", "noatime", "noatime"]),
        (
            "rstrictatime",
            ["strictatime", "strictatime", "strictatime"],
        ),
        ("rnorelatime", ["relatime", "noatime", "strictatime"]),
        ("ratime", ["relatime", "relatime", "strictatime"]),
        ("rnostrictatime", ["relatime", "noatime", "relatime"]),
        ("norelatime", ["relatime", "noatime", "strictatime"]),
    ];
    for (opt, want) in cases {
        b.config["mounts"] = json!([
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/t", "type": "bind", "source": src.0, "options": ["rbind", opt]}
        ]);
        let out = b.run(&unique("atime"));
        assert!(out.status.success(), "{opt}: {}", text(&out.stderr));
        let out = text(&out.stdout);
        let got = [
            atime(&out, "/t"),
            atime(&out, "/t/noatime"),
            atime(&out, "/t/strictatime"),
        ];
        assert_eq!(got, want, "{opt}");
    }
    drop(src);
    b.assert_host_clean();
}

/// `rro` on a bind of a tree makes every mount in it read-only, in a user namespace too
/// (the engine binds docker's `-v SRC:DST:ro` this way).
#[test]
fn rro_makes_every_submount_read_only() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/self/mountinfo; for f in /t/new /t/noatime/new /t/strictatime/new; do touch $f 2>/dev/null && echo $f written; done; true",
    ]);
    let src = Submounted::new(&b);
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/t", "type": "bind", "source": src.0, "options": ["rbind", "rro"]}),
    );
    let check = |out: &str| {
        for m in ["/t", "/t/noatime", "/t/strictatime"] {
            assert!(
                mount_options(out, m).iter().any(|o| o == "ro"),
                "{m}: {out}"
            );
        }
        assert!(!out.contains("written"), "{out}");
    };
    check(&b.run_ok());
    b.with_user_namespace(100000);
    check(&b.run_ok());
    // Built by the runtime as an idmapped tree.
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .last_mut()
        .unwrap()["options"] = json!(["rbind", "rro", "idmap"]);
    check(&b.run_ok());
    drop(src);
    b.assert_host_clean();
}
