//! The image store through the real `berth` binary: commands killed (kill -9, SIGTERM,
//! SIGINT) part-way leave nothing that a later command trips over, a layer whose root is
//! opaque hides the layers below it, and sparse files from GNU tar stay sparse. Runs as
//! root (the overlay mount).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};

use berth_image::store::{Durability, Store};
use common::{docker_archive, Berth};

fn file_entry(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    b.append_data(&mut h, name, data).unwrap();
}

/// Files under `dir` (not counting directories).
fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            n += count_files(&e.path());
        } else {
            n += 1;
        }
    }
    n
}

fn tmp_entries(b: &Berth) -> Vec<String> {
    match fs::read_dir(b.root.join("image/tmp")) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < Duration::from_secs(60), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn rmi_killed_mid_delete_then_load_recreates_the_whole_layer() {
    // 500 directories of ten files: deleting them takes long enough to be killed mid-way.
    let mut t = tar::Builder::new(Vec::new());
    for d in 0..500 {
        for f in 0..10 {
            file_entry(&mut t, &format!("d{d}/f{f}"), b"x");
        }
    }
    let b = Berth::new();
    let archive = b.dir.path().join("many.tar");
    fs::write(
        &archive,
        docker_archive("many:1", &[t.into_inner().unwrap()]),
    )
    .unwrap();
    let archive = archive.to_str().unwrap();
    b.ok(&["load", "-i", archive]);
    let store = Store::open(&b.root).unwrap();
    let chain = store.image("many:1").unwrap().layers().unwrap()[0]
        .chain_id
        .clone();
    let snap = store.snapshot_path(&chain);
    assert_eq!(count_files(&snap), 5_000);
    let links = fs::metadata(&snap).unwrap().nlink();
    let mut rmi = b
        .cmd(&["rmi", "many:1"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Killed as soon as the layer is no longer whole where it was.
    wait_until("rmi starts deleting the layer", || {
        fs::metadata(&snap).map_or(true, |m| m.nlink() != links)
    });
    rmi.kill().unwrap();
    rmi.wait().unwrap();
    b.ok(&["load", "-i", archive]);
    assert_eq!(
        count_files(&snap),
        5_000,
        "the layer was reused half-deleted"
    );
    b.ok(&["images"]);
    b.assert_host_clean();
}

/// An archive big enough that `berth load` is still reading it when half was sent.
fn big_archive() -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    let mut x: u32 = 1;
    let data: Vec<u8> = (0..8 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    file_entry(&mut t, "big", &data);
    docker_archive("big:1", &[t.into_inner().unwrap()])
}

/// `berth load` from a pipe that got half of `archive`: it is staging, mid-way.
fn load_in_progress(b: &Berth, archive: &[u8]) -> (Child, ChildStdin) {
    b.ok(&["images"]);
    let mut child = b
        .cmd(&["load"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Returns once berth has read all but a pipe's worth of it.
    stdin.write_all(&archive[..archive.len() / 2]).unwrap();
    assert!(!tmp_entries(b).is_empty(), "load is not staging");
    (child, stdin)
}

#[test]
fn load_killed_leaves_staging_that_the_next_store_write_removes() {
    let b = Berth::new();
    let archive = big_archive();
    let (mut child, _stdin) = load_in_progress(&b, &archive);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!tmp_entries(&b).is_empty());
    let path = b.dir.path().join("big.tar");
    fs::write(&path, &archive).unwrap();
    b.ok(&["load", "-i", path.to_str().unwrap()]);
    b.assert_host_clean();
}

#[test]
fn load_terminated_removes_its_staging_on_the_way_out() {
    for (sig, status) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let b = Berth::new();
        let before = {
            b.ok(&["images"]);
            b.store_state()
        };
        let (child, stdin) = load_in_progress(&b, &big_archive());
        // SAFETY: signals a child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        assert_eq!(
            (out.status.code(), out.status.signal()),
            (Some(status), None),
            "signal {sig}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(b.store_state(), before, "signal {sig}");
        b.assert_host_clean();
    }
}

#[test]
fn root_opaque_layer_hides_the_layers_below() {
    let mut lower = tar::Builder::new(Vec::new());
    file_entry(&mut lower, "lower-only", b"1");
    file_entry(&mut lower, "etc/passwd", b"lower\n");
    let mut upper = tar::Builder::new(Vec::new());
    file_entry(&mut upper, "./.wh..wh..opq", b"");
    file_entry(&mut upper, "top", b"2");
    let b = Berth::new();
    let path = b.dir.path().join("opq.tar");
    let archive = docker_archive(
        "opq:1",
        &[lower.into_inner().unwrap(), upper.into_inner().unwrap()],
    );
    fs::write(&path, archive).unwrap();
    b.ok(&["load", "-i", path.to_str().unwrap()]);
    let store = Store::open(&b.root).unwrap();
    let img = store.image("opq:1").unwrap();
    assert_eq!(store.read_image_file(&img, "/etc/passwd").unwrap(), None);
    assert_eq!(
        store.read_image_file(&img, "/top").unwrap(),
        Some(b"2".to_vec())
    );
    let rootfs = store
        .create_rootfs(&img, "opq", Durability::Synced, &[])
        .unwrap();
    let mut seen: Vec<String> = fs::read_dir(&rootfs.path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    seen.sort();
    store.remove_rootfs("opq").unwrap();
    assert_eq!(seen, ["top"]);
    b.assert_host_clean();
}

#[test]
fn sparse_files_made_by_gnu_tar_stay_sparse() {
    let b = Berth::new();
    let src = b.dir.path().join("src");
    fs::create_dir(&src).unwrap();
    let size: u64 = 64 << 20;
    let f = fs::File::create(src.join("f")).unwrap();
    f.set_len(size).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, b"hello", 4096).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, b"world", 40 << 20).unwrap();
    drop(f);
    let formats: [&[&str]; 4] = [
        &["--format=gnu"],
        &["--format=pax"],
        &["--format=pax", "--sparse-version=0.0"],
        &["--format=pax", "--sparse-version=0.1"],
    ];
    for (i, format) in formats.iter().enumerate() {
        let tar = b.dir.path().join(format!("sparse{i}.tar"));
        let st = std::process::Command::new("tar")
            .arg("--sparse")
            .args(*format)
            .arg("-C")
            .arg(&src)
            .arg("-cf")
            .arg(&tar)
            .arg("f")
            .status()
            .unwrap();
        assert!(st.success());
        let name = format!("sparse{i}");
        b.ok(&["import", tar.to_str().unwrap(), &name]);
        let store = Store::open(&b.root).unwrap();
        let img = store.image(&name).unwrap();
        let snap = store.snapshot_path(&img.layers().unwrap()[0].chain_id);
        let names: Vec<_> = fs::read_dir(&snap)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f"], "{format:?}");
        let got = fs::read(snap.join("f")).unwrap();
        let mut want = vec![0u8; size as usize];
        want[4096..4101].copy_from_slice(b"hello");
        want[40 << 20..(40 << 20) + 5].copy_from_slice(b"world");
        assert!(got == want, "{format:?}: content differs");
        let allocated = fs::metadata(snap.join("f")).unwrap().blocks() * 512;
        assert!(
            allocated <= 64 << 10,
            "{format:?}: {allocated} bytes allocated"
        );
    }
    b.assert_host_clean();
}
