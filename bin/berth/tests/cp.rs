//! `berth cp` through the real binary as root: docker's path rules in both directions, tar
//! streams, ownership, running and stopped containers, volumes, and the symlink escapes of
//! the docker cp CVEs (CVE-2018-15664, CVE-2019-14271): a container's symlinks, its `..`
//! and a symlink swapped in during the copy never reach a host file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::{eventually, output_within, Engine};
use common::mounts_under;
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

/// Runs a detached busybox container `name` that runs `script` then sleeps.
fn running(e: &Engine, name: &str, extra: &[&str], script: &str) {
    let body = format!("{script} && touch /dev/shm/ready && exec sleep 1000");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", &body]);
    e.ok(&args);
    eventually("container ready", || {
        e.run(&["exec", name, "test", "-e", "/dev/shm/ready"])
            .status
            .success()
    });
}

fn sh(e: &Engine, name: &str, script: &str) -> String {
    e.ok(&["exec", name, "sh", "-c", script])
}

/// Entries of a tar: name → (type, content, uid, gid, mode).
fn entries(tar: &[u8]) -> BTreeMap<String, (tar::EntryType, Vec<u8>, u64, u64, u32)> {
    let mut out = BTreeMap::new();
    let mut a = tar::Archive::new(tar);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let h = e.header().clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        let kind = h.entry_type();
        out.insert(
            name,
            (
                kind,
                data,
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mode().unwrap(),
            ),
        );
    }
    out
}

/// `berth ARGS` with stdin from `input`; requires success; returns stdout.
fn ok_with_stdin(e: &Engine, args: &[&str], input: &Path) -> Vec<u8> {
    let mut c = e.cmd(args);
    c.stdin(Stdio::from(fs::File::open(input).unwrap()));
    let o = output_within(c, Duration::from_secs(60), "berth cp -");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A host directory with a secret file, and its state to check it was never touched.
struct Sentinel {
    dir: tempfile::TempDir,
}

impl Sentinel {
    fn new() -> Sentinel {
        let dir = tempfile::Builder::new()
            .prefix("berth-sentinel")
            .tempdir()
            .unwrap();
        fs::write(dir.path().join("secret"), "host secret\n").unwrap();
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        fs::File::open(dir.path().join("secret"))
            .unwrap()
            .set_times(fs::FileTimes::new().set_modified(old))
            .unwrap();
        Sentinel { dir }
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    fn assert_untouched(&self) {
        let names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["secret"], "host directory changed");
        let secret = self.dir.path().join("secret");
        assert_eq!(read(&secret), "host secret\n");
        assert_eq!(fs::metadata(&secret).unwrap().mtime(), 1_000_000_000);
    }
}

#[test]
fn copying_out_follows_docker_path_rules() {
    let e = Engine::new();
    running(
        &e,
        "c",
        &[],
        "mkdir -p /d/sub && echo f > /d/sub/f && echo top > /d/t && echo x > /x",
    );
    let out = e.b.dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let o = |p: &str| out.join(p).to_str().unwrap().to_string();
    // A file: into an existing directory, to a new name, over an existing file.
    e.ok(&["cp", "c:/x", &o("")]);
    assert_eq!(read(&out.join("x")), "x\n");
    e.ok(&["cp", "c:x", &o("y")]);
    assert_eq!(read(&out.join("y")), "x\n");
    e.ok(&["container", "cp", "c:/d/t", &o("y")]);
    assert_eq!(read(&out.join("y")), "top\n");
    // A directory: to a missing destination (made), into a directory, its content with /.
    e.ok(&["cp", "c:/d", &o("made")]);
    assert_eq!(read(&out.join("made/sub/f")), "f\n");
    e.ok(&["cp", "c:/d/", &o("")]);
    assert_eq!(read(&out.join("d/t")), "top\n");
    fs::create_dir(out.join("content")).unwrap();
    e.ok(&["cp", "c:/d/.", &o("content")]);
    assert_eq!(read(&out.join("content/t")), "top\n");
    assert_eq!(read(&out.join("content/sub/f")), "f\n");
    e.ok(&["cp", "c:/d/.", &o("fresh")]);
    assert_eq!(read(&out.join("fresh/sub/f")), "f\n");
    // What the rules refuse, each in one line.
    let err = e.fail(1, &["cp", "c:/x/", &o("z")]);
    assert!(err.contains("c:/x: not a directory"), "{err}");
    let err = e.fail(1, &["cp", "c:/x", &o("nodir/")]);
    assert!(err.contains("no such directory"), "{err}");
    let err = e.fail(1, &["cp", "c:/d", &o("y")]);
    assert!(err.contains("cannot copy a directory onto a file"), "{err}");
    let err = e.fail(1, &["cp", "c:/x", &o("missing/y")]);
    assert!(err.contains("missing: no such file or directory"), "{err}");
    let err = e.fail(1, &["cp", "c:/nope", &o("z")]);
    assert_eq!(err, "berth: c:/nope: no such file or directory");
    let err = e.fail(1, &["cp", "nosuch:/x", &o("z")]);
    assert_eq!(err, "berth: no such container: nosuch");
    assert!(!out.join("z").exists());
    e.ok(&["rm", "-f", "c"]);
    e.assert_clean();
}

#[test]
fn copying_in_follows_docker_path_rules() {
    let e = Engine::new();
    running(&e, "c", &[], "mkdir /d && echo old > /d/f");
    let src = e.b.dir.path().join("src");
    fs::create_dir_all(src.join("tree/sub")).unwrap();
    fs::write(src.join("file"), "file\n").unwrap();
    fs::write(src.join("tree/sub/g"), "g\n").unwrap();
    std::os::unix::fs::symlink("file", src.join("link")).unwrap();
    let s = |p: &str| src.join(p).to_str().unwrap().to_string();
    e.ok(&["cp", &s("file"), "c:/d"]);
    e.ok(&["cp", &s("file"), "c:/d/renamed"]);
    e.ok(&["cp", &s("file"), "c:/d/f"]);
    e.ok(&["cp", &s("tree"), "c:/d"]);
    e.ok(&["cp", &s("tree"), "c:/made"]);
    e.ok(&["cp", &format!("{}/.", s("tree")), "c:/d"]);
    e.ok(&["cp", &s("link"), "c:/d"]);
    e.ok(&["cp", "-L", &s("link"), "c:/d/followed"]);
    let listing = sh(
        &e,
        "c",
        "cat /d/file /d/renamed /d/f /d/tree/sub/g /made/sub/g /d/sub/g /d/followed; readlink /d/link",
    );
    assert_eq!(listing, "file\nfile\nfile\ng\ng\ng\nfile\nfile\n");
    let err = e.fail(1, &["cp", &s("tree"), "c:/d/f"]);
    assert_eq!(err, "berth: c:/d/f: cannot copy a directory onto a file");
    let err = e.fail(1, &["cp", &s("file"), "c:/new/"]);
    assert!(err.contains("c:/new: no such directory"), "{err}");
    let err = e.fail(1, &["cp", &s("file"), "c:/nonexistent/f"]);
    assert_eq!(err, "berth: c:/nonexistent: no such file or directory");
    let err = e.fail(1, &["cp", &s("nothere"), "c:/d"]);
    assert!(err.ends_with("nothere: no such file or directory"), "{err}");
    let err = e.fail(1, &["cp", &s("file"), "c:/dev/null"]);
    assert!(
        err.contains("must be a directory or a regular file"),
        "{err}"
    );
    let err = e.fail(1, &["cp", "c:/d", "c:/e"]);
    assert_eq!(err, "berth: copying between containers is not supported");
    let err = e.fail(1, &["cp", "a", "b"]);
    assert_eq!(err, "berth: one of SRC and DEST must be CONTAINER:PATH");
    e.ok(&["rm", "-f", "c"]);
    e.assert_clean();
}

#[test]
fn tar_streams_both_ways() {
    let e = Engine::new();
    running(&e, "c", &[], "mkdir -p /src/in && echo data > /src/in/f");
    // Out: entries named after SRC, owners as in the container.
    sh(&e, "c", "chown 42:43 /src/in/f");
    let tar = e.ok(&["cp", "c:/src/in", "-"]);
    let got = entries(tar.as_bytes());
    assert_eq!(got.keys().collect::<Vec<_>>(), ["in/", "in/f"]);
    let f = &got["in/f"];
    assert_eq!((f.1.as_slice(), f.2, f.3), (&b"data\n"[..], 42, 43));
    let got = entries(e.ok(&["cp", "c:/src/in/.", "-"]).as_bytes());
    assert_eq!(got.keys().collect::<Vec<_>>(), ["./", "f"]);
    // In: unpacked into a directory, with the stream's owners; names starting with .wh.
    // are plain files here.
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data) in [
        ("t/", tar::EntryType::Directory, &b""[..]),
        ("t/a", tar::EntryType::Regular, &b"A"[..]),
        ("t/.wh.b", tar::EntryType::Regular, &b"B"[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o750
        } else {
            0o640
        });
        h.set_uid(1000);
        h.set_gid(1001);
        b.append_data(&mut h, name, data).unwrap();
    }
    let input = e.b.dir.path().join("in.tar");
    fs::write(&input, b.into_inner().unwrap()).unwrap();
    ok_with_stdin(&e, &["cp", "-", "c:/tmp"], &input);
    let st = sh(
        &e,
        "c",
        "cat /tmp/t/a /tmp/t/.wh.b; stat -c '%u:%g %a' /tmp/t /tmp/t/a",
    );
    assert_eq!(st, "AB1000:1001 750\n1000:1001 640\n");
    let mut c = e.cmd(&["cp", "-", "c:/src/in/f"]);
    c.stdin(Stdio::from(fs::File::open(&input).unwrap()));
    let o = output_within(c, Duration::from_secs(60), "cp - onto a file");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("must be one"));
    e.ok(&["rm", "-f", "c"]);
    e.assert_clean();
}

#[test]
fn ownership_with_and_without_archive_mode() {
    let e = Engine::new();
    running(&e, "root", &["--device-cgroup-rule", "b 8:0 m"], "true");
    running(&e, "user", &["-u", "nobody"], "true");
    let src = e.b.dir.path().join("owned");
    fs::write(&src, "x").unwrap();
    std::os::unix::fs::chown(&src, Some(1234), Some(4321)).unwrap();
    let s = src.to_str().unwrap();
    let owner = |c: &str, p: &str| sh(&e, c, &format!("stat -c %u:%g {p}"));
    // Without -a the file keeps its owner (docker's behaviour, whatever its docs say).
    e.ok(&["cp", s, "user:/tmp/kept"]);
    assert_eq!(owner("user", "/tmp/kept"), "1234:4321\n");
    // With -a it gets the container's user: nobody (65534) here, nothing to change for a
    // container without a user of its own.
    e.ok(&["cp", "-a", s, "user:/tmp/given"]);
    assert_eq!(owner("user", "/tmp/given"), "65534:65534\n");
    e.ok(&["cp", "--archive", s, "root:/tmp/given"]);
    assert_eq!(owner("root", "/tmp/given"), "1234:4321\n");
    // Out: the caller owns what lands on the host; a container's set-user-ID bit and device
    // nodes do not come along (a container must not plant privileged files on the host).
    sh(
        &e,
        "root",
        "mkdir /tmp/out && echo s > /tmp/out/suid && chown 7:7 /tmp/out/suid && chmod 4755 /tmp/out/suid && mknod /tmp/out/disk b 8 0",
    );
    let dest = e.b.dir.path().join("out");
    e.ok(&["cp", "root:/tmp/out", dest.to_str().unwrap()]);
    let m = fs::metadata(dest.join("suid")).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.permissions().mode() & 0o7777),
        (0, 0, 0o755)
    );
    assert!(!dest.join("disk").exists());
    // The tar stream keeps them: it is the caller's to unpack.
    let got = entries(e.ok(&["cp", "root:/tmp/out", "-"]).as_bytes());
    assert_eq!(got["out/suid"].4 & 0o7777, 0o4755);
    assert_eq!(got["out/disk"].0, tar::EntryType::Block);
    e.ok(&["rm", "-f", "root", "user"]);
    e.assert_clean();
}

#[test]
fn symlinks_in_the_container_never_reach_host_files() {
    let e = Engine::new();
    let host = Sentinel::new();
    let h = host.path();
    let passwd = fs::metadata("/etc/passwd").unwrap().mtime();
    running(
        &e,
        "c",
        &[],
        &format!(
            "mkdir -p {h} && ln -s / /esc && ln -s {h}/secret /pw && ln -s {h} /hostdir && ln -s ../../../../../.. /up && ln -s /etc/passwd /etcpw && echo mine > /tmp/f"
        ),
    );
    let out = e.b.dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let o = |p: &str| out.join(p).to_str().unwrap().to_string();
    // A symlink is copied as a symlink; -L follows it inside the container, where the host
    // path does not exist.
    e.ok(&["cp", "c:/pw", &o("pw")]);
    assert_eq!(
        fs::read_link(out.join("pw")).unwrap(),
        Path::new(&format!("{h}/secret"))
    );
    e.fail(1, &["cp", "-L", "c:/pw", &o("pw-followed")]);
    e.fail(1, &["cp", "c:/hostdir/secret", &o("via-dir")]);
    e.fail(1, &["cp", &format!("c:/up{h}/secret"), &o("via-up")]);
    e.fail(
        1,
        &["cp", &format!("c:/../../../../{h}/secret"), &o("via-dots")],
    );
    // Absolute and climbing links resolve inside the container's root.
    e.ok(&["cp", "c:/esc/tmp/f", &o("esc")]);
    assert_eq!(read(&out.join("esc")), "mine\n");
    e.ok(&["cp", "-L", "c:/etcpw", &o("etcpw")]);
    assert!(read(&out.join("etcpw")).starts_with("root:x:0:0:root:/root:/bin/sh\nnobody"));
    let streamed = e.run(&["cp", "c:/esc/", "-"]).stdout;
    assert!(!String::from_utf8_lossy(&streamed).contains("host secret"));
    // Into the container: the same paths land inside it (its own {h} here), never out.
    let file = e.b.dir.path().join("payload");
    fs::write(&file, "payload\n").unwrap();
    let p = file.to_str().unwrap();
    e.ok(&["cp", p, "c:/hostdir/"]);
    e.ok(&["cp", p, &format!("c:/up{h}/x")]);
    e.ok(&["cp", p, "c:/esc/tmp/"]);
    e.ok(&["cp", p, "c:/../../../../tmp/dots"]);
    // DEST a symlink: copied onto what it names, in the container.
    e.ok(&["cp", p, "c:/pw"]);
    assert_eq!(
        sh(
            &e,
            "c",
            &format!("cat /tmp/payload /tmp/dots {h}/payload {h}/x /pw; readlink /pw")
        ),
        format!("payload\npayload\npayload\npayload\npayload\n{h}/secret\n")
    );
    // A tar whose own symlink points at the host directory, then a file through it.
    let mut b = tar::Builder::new(Vec::new());
    let mut h1 = tar::Header::new_gnu();
    h1.set_entry_type(tar::EntryType::Symlink);
    h1.set_size(0);
    h1.set_mode(0o777);
    h1.set_uid(0);
    h1.set_gid(0);
    b.append_link(&mut h1, "evil", h).unwrap();
    let mut h2 = tar::Header::new_gnu();
    h2.set_entry_type(tar::EntryType::Regular);
    h2.set_size(6);
    h2.set_mode(0o644);
    h2.set_uid(0);
    h2.set_gid(0);
    b.append_data(&mut h2, "evil/owned", &b"owned\n"[..])
        .unwrap();
    let input = e.b.dir.path().join("evil.tar");
    fs::write(&input, b.into_inner().unwrap()).unwrap();
    ok_with_stdin(&e, &["cp", "-", "c:/tmp"], &input);
    assert_eq!(sh(&e, "c", &format!("cat {h}/owned")), "owned\n");
    host.assert_untouched();
    assert_eq!(fs::metadata("/etc/passwd").unwrap().mtime(), passwd);
    e.ok(&["rm", "-f", "c"]);
    e.assert_clean();
}

#[test]
fn a_symlink_swapped_in_during_the_copy_never_escapes() {
    let e = Engine::new();
    let host = Sentinel::new();
    let h = host.path();
    // /w/d flips between a directory and a symlink to the host's directory every few
    // milliseconds (the CVE-2018-15664 attack), so that copies land on both. The directory
    // stays longer: a copy that sees the path change under it is refused, and on a loaded
    // machine one takes longer than the symlink's 3 ms.
    running(
        &e,
        "c",
        &[],
        &format!(
            "mkdir -p /w/d && echo inside > /w/d/secret && ln -s {h} /w/link; \
             (while :; do mv /w/d /w/real; mv /w/link /w/d; usleep 3000; mv /w/d /w/link; mv /w/real /w/d; usleep 20000; done) >/dev/null 2>&1 & true"
        ),
    );
    let out = e.b.dir.path().join("out");
    let payload = e.b.dir.path().join("payload");
    fs::write(&payload, "payload\n").unwrap();
    let (mut outs, mut ins) = (0, 0);
    // At least 40 rounds, more until a copy got through each way.
    for round in 0..400 {
        if round >= 40 && outs > 0 && ins > 0 {
            break;
        }
        let _ = fs::remove_file(&out);
        if e.run(&["cp", "c:/w/d/secret", out.to_str().unwrap()])
            .status
            .success()
        {
            assert_eq!(read(&out), "inside\n");
            outs += 1;
        }
        if e.run(&["cp", payload.to_str().unwrap(), "c:/w/d/"])
            .status
            .success()
        {
            ins += 1;
        }
        let tar = e.run(&["cp", "c:/w/", "-"]).stdout;
        assert!(!String::from_utf8_lossy(&tar).contains("host secret"));
    }
    assert!(
        outs > 0 && ins > 0,
        "the race never let a copy through ({outs}, {ins})"
    );
    host.assert_untouched();
    e.ok(&["rm", "-f", "c"]);
    e.assert_clean();
}

#[test]
fn stopped_containers_their_volumes_and_an_unmounted_root() {
    let e = Engine::new();
    let vol = e.b.dir.path().join("vol");
    let ro = e.b.dir.path().join("ro");
    fs::create_dir_all(&vol).unwrap();
    fs::create_dir_all(&ro).unwrap();
    fs::write(vol.join("v"), "volume\n").unwrap();
    let v = format!("{}:/data", vol.display());
    let r = format!("{}:/etc/ro:ro", ro.display());
    let script =
        "cat /in; until [ -e /data/new ]; do sleep 0.1; done; cat /data/new; exec sleep 1000";
    let id = e.ok(&[
        "create", "--name", "c", "-v", &v, "-v", &r, "busybox", "sh", "-c", script,
    ]);
    let id = id.trim();
    let payload = e.b.dir.path().join("payload");
    fs::write(&payload, "payload\n").unwrap();
    let p = payload.to_str().unwrap();
    // Never started: /data does not exist in its root yet, so a copy lands in the root.
    e.ok(&["cp", p, "c:/in"]);
    let got = e.b.dir.path().join("got");
    e.ok(&["start", "c"]);
    e.ok(&["cp", p, "c:/data/new"]);
    assert_eq!(read(&vol.join("new")), "payload\n");
    eventually("logs", || e.ok(&["logs", "c"]) == "payload\npayload\n");
    e.ok(&["stop", "-t", "0", "c"]);
    // Stopped: its volumes are there as it saw them, read-only ones read-only.
    e.ok(&["cp", "c:/data/v", got.to_str().unwrap()]);
    assert_eq!(read(&got), "volume\n");
    e.ok(&["cp", p, "c:/data/stopped"]);
    assert_eq!(read(&vol.join("stopped")), "payload\n");
    let err = e.fail(1, &["cp", p, "c:/etc/ro/"]);
    assert!(err.contains("Read-only file system"), "{err}");
    assert_eq!(fs::read_dir(&ro).unwrap().count(), 0);
    // Its root file system unmounted (as after a reboot): mounted for the copy only, in a
    // mount namespace of berth's own.
    let merged = e.b.root.join(format!("image/rootfs/{id}/merged"));
    berth_umount(&merged);
    e.ok(&["cp", p, "c:/after-reboot"]);
    e.ok(&["cp", "c:/after-reboot", got.to_str().unwrap()]);
    assert_eq!(read(&got), "payload\n");
    assert!(
        mounts_under(&merged).is_empty(),
        "{:?}",
        mounts_under(&merged)
    );
    let upper = e.b.root.join(format!("image/rootfs/{id}/upper"));
    assert_eq!(read(&upper.join("after-reboot")), "payload\n");
    assert!(!upper.join("data/stopped").exists());
    // A read-only root refuses, running or not.
    e.ok(&["create", "--name", "r", "--read-only", "busybox", "true"]);
    let err = e.fail(1, &["cp", p, "r:/tmp/"]);
    assert!(err.contains("Read-only file system"), "{err}");
    e.ok(&["rm", "-f", "c", "r"]);
    e.assert_clean();
}

fn berth_umount(p: &PathBuf) {
    let st = std::process::Command::new("umount")
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}
