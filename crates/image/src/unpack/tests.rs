use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;

/// A tar entry with a raw name (bypassing the tar crate's own path checks, so hostile
/// names can be crafted).
fn raw(
    b: &mut tar::Builder<Vec<u8>>,
    name: &str,
    kind: tar::EntryType,
    link: &str,
    data: &[u8],
    mode: u32,
) {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn opts() -> Options {
    Options::default()
}

fn run(tar: Vec<u8>, dest: &Path) -> Result<Unpacked, UnpackError> {
    let fd: OwnedFd = File::open(dest).unwrap().into();
    unpack(&tar[..], fd, opts(), "sha256:test")
}

use tar::EntryType as T;

#[test]
fn unpacks_files_links_and_metadata() {
    let mut b = tar::Builder::new(Vec::new());
    raw(&mut b, "./", T::Directory, "", b"", 0o755);
    raw(&mut b, "bin/", T::Directory, "", b"", 0o750);
    raw(&mut b, "bin/su", T::Regular, "", b"#!/bin/sh\n", 0o4755);
    raw(&mut b, "bin/sh", T::Symlink, "/bin/busybox", b"", 0o777);
    raw(&mut b, "bin/su2", T::Link, "bin/su", b"", 0o4755);
    raw(&mut b, "deep/a/b/file", T::Regular, "", b"x", 0o644);
    raw(&mut b, "fifo", T::Fifo, "", b"", 0o600);
    // A link to a file at the top of the archive.
    raw(&mut b, "./top", T::Regular, "", b"t", 0o644);
    raw(&mut b, "bin/top", T::Link, "./top", b"", 0o644);
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(T::Regular);
    h.set_mode(0o644);
    h.set_size(1);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_pax_extensions([
        ("SCHILY.xattr.user.test", &b"v"[..]),
        ("SCHILY.xattr.trusted.overlay.opaque", &b"y"[..]),
    ])
    .unwrap();
    b.append_data(&mut h, "xfile", &b"z"[..]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    run(b.into_inner().unwrap(), dir.path()).unwrap();
    let p = dir.path();
    let su = fs::metadata(p.join("bin/su")).unwrap();
    assert_eq!(su.permissions().mode() & 0o7777, 0o4755);
    assert_eq!(
        fs::read_link(p.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    assert_eq!(fs::metadata(p.join("bin/su2")).unwrap().ino(), su.ino());
    let ino = |n: &str| fs::metadata(p.join(n)).unwrap().ino();
    assert_eq!(ino("bin/top"), ino("top"));
    assert_eq!(fs::read(p.join("deep/a/b/file")).unwrap(), b"x");
    assert_eq!(
        fs::metadata(p.join("deep/a")).unwrap().permissions().mode() & 0o7777,
        0o755
    );
    assert!(fs::symlink_metadata(p.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let bin = fs::metadata(p.join("bin")).unwrap();
    assert_eq!(
        (bin.permissions().mode() & 0o7777, bin.mtime()),
        (0o750, 1_600_000_000)
    );
    let fd: OwnedFd = File::open(p).unwrap().into();
    assert_eq!(
        sys::lgetxattrat(fd.as_fd(), OsStr::new("xfile"), OsStr::new("user.test")).unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(
        sys::lgetxattrat(
            fd.as_fd(),
            OsStr::new("xfile"),
            OsStr::new("trusted.overlay.opaque")
        )
        .unwrap(),
        None
    );
    if !sys::rootless() {
        assert_eq!((su.uid(), su.gid()), (1000, 1001));
    }
}

use std::os::unix::fs::FileTypeExt;

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let mut b = tar::Builder::new(Vec::new());
    raw(&mut b, "etc/.wh.motd", T::Regular, "", b"", 0o644);
    raw(&mut b, "var/.wh..wh..opq", T::Regular, "", b"", 0o644);
    raw(&mut b, "var/.wh..wh.plnk", T::Directory, "", b"", 0o700);
    let dir = tempfile::tempdir().unwrap();
    let found = run(b.into_inner().unwrap(), dir.path()).unwrap();
    assert!(!found.opaque_root);
    let wh = fs::symlink_metadata(dir.path().join("etc/motd")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    let fd: OwnedFd = File::open(dir.path()).unwrap().into();
    let key = meta::opaque_xattr(sys::rootless());
    assert_eq!(
        sys::lgetxattrat(fd.as_fd(), OsStr::new("var"), key).unwrap(),
        Some(b"y".to_vec())
    );
    assert!(!dir.path().join("var/.wh..wh.plnk").exists());
}

#[test]
fn an_opaque_root_is_reported_not_marked() {
    let mut b = tar::Builder::new(Vec::new());
    raw(&mut b, "a", T::Regular, "", b"1", 0o644);
    raw(&mut b, "./.wh..wh..opq", T::Regular, "", b"", 0o644);
    let dir = tempfile::tempdir().unwrap();
    let found = run(b.into_inner().unwrap(), dir.path()).unwrap();
    assert!(found.opaque_root);
    // overlayfs would ignore the mark on a layer's root; the store stacks nothing below.
    let fd: OwnedFd = File::open(dir.path()).unwrap().into();
    let key = meta::opaque_xattr(sys::rootless());
    assert_eq!(
        sys::lgetxattrat(fd.as_fd(), OsStr::new("."), key).unwrap(),
        None
    );
    assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"1");
}

#[test]
fn later_entries_replace_earlier_ones() {
    let mut b = tar::Builder::new(Vec::new());
    raw(&mut b, "a/", T::Directory, "", b"", 0o755);
    raw(&mut b, "a/f", T::Regular, "", b"1", 0o644);
    raw(&mut b, "a", T::Symlink, "b", b"", 0o777);
    raw(&mut b, "f", T::Regular, "", b"1", 0o644);
    raw(&mut b, "f", T::Regular, "", b"2", 0o644);
    let dir = tempfile::tempdir().unwrap();
    run(b.into_inner().unwrap(), dir.path()).unwrap();
    assert_eq!(fs::read_link(dir.path().join("a")).unwrap(), Path::new("b"));
    assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"2");
}

/// Each hostile layer must fail with an escape error and leave `outside` untouched.
#[test]
fn refuses_every_escape() {
    type Entries<'a> = Vec<(&'a str, T, &'a str)>;
    let cases: Vec<(&str, Entries)> = vec![
        ("dotdot", vec![("../outside/x", T::Regular, "")]),
        ("dotdot-inner", vec![("a/../../outside/x", T::Regular, "")]),
        ("absolute", vec![("/outside/x", T::Regular, "")]),
        (
            "symlink-abs",
            vec![("l", T::Symlink, "/"), ("l/x", T::Regular, "")],
        ),
        (
            "symlink-rel",
            vec![("l", T::Symlink, "../outside"), ("l/x", T::Regular, "")],
        ),
        (
            "symlink-deep",
            vec![
                ("d/", T::Directory, ""),
                ("d/l", T::Symlink, "../../outside"),
                ("d/l/x", T::Regular, ""),
            ],
        ),
        ("hardlink-out", vec![("h", T::Link, "../outside/secret")]),
        ("hardlink-abs", vec![("h", T::Link, "/etc/passwd")]),
        (
            "hardlink-via-symlink",
            vec![("l", T::Symlink, "/etc"), ("h", T::Link, "l/passwd")],
        ),
        (
            "symlink-swapped-for-dir",
            vec![
                ("d/", T::Directory, ""),
                ("d", T::Symlink, "/"),
                ("d/x", T::Regular, ""),
            ],
        ),
        ("whiteout-dotdot", vec![(".wh...", T::Regular, "")]),
        (
            "opaque-through-symlink",
            vec![
                ("l", T::Symlink, "/tmp"),
                ("l/.wh..wh..opq", T::Regular, ""),
            ],
        ),
        (
            "whiteout-through-symlink",
            vec![("l", T::Symlink, ".."), ("l/.wh.secret", T::Regular, "")],
        ),
    ];
    for (what, entries) in cases {
        let top = tempfile::tempdir().unwrap();
        let snap = top.path().join("snap");
        let outside = top.path().join("outside");
        fs::create_dir(&snap).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), b"s").unwrap();
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, link) in entries {
            raw(
                &mut b,
                name,
                kind,
                link,
                if kind == T::Regular { b"pwned" } else { b"" },
                0o644,
            );
        }
        let err = run(b.into_inner().unwrap(), &snap).unwrap_err();
        assert!(matches!(err, UnpackError::Escape { .. }), "{what}: {err}");
        let mut names: Vec<_> = fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["secret"], "{what}: outside changed");
        assert_eq!(
            fs::metadata(outside.join("secret")).unwrap().nlink(),
            1,
            "{what}"
        );
        assert!(!err.to_string().contains('\n'), "{what}: one-line error");
    }
}

#[test]
fn truncated_tar_is_an_error() {
    let mut b = tar::Builder::new(Vec::new());
    raw(&mut b, "f", T::Regular, "", &[7u8; 5000], 0o644);
    let mut t = b.into_inner().unwrap();
    t.truncate(2048);
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(run(t, dir.path()), Err(UnpackError::Tar { .. })));
}

/// A regular entry `name` with these PAX records and data (what GNU tar writes for the
/// PAX sparse formats).
fn pax_entry(b: &mut tar::Builder<Vec<u8>>, name: &str, records: &[(&str, &str)], data: &[u8]) {
    b.append_pax_extensions(records.iter().map(|(k, v)| (*k, v.as_bytes())))
        .unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(T::Regular);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, name, data).unwrap();
}

/// The 1.0 map text for these segments, padded to its 512-byte block.
fn map_1x0(segments: &[(u64, u64)]) -> Vec<u8> {
    let mut m = format!("{}\n", segments.len());
    for (o, l) in segments {
        m.push_str(&format!("{o}\n{l}\n"));
    }
    let mut m = m.into_bytes();
    m.resize(m.len().div_ceil(512) * 512, 0);
    m
}

const SPARSE_SIZE: u64 = 16 << 20;

/// "hello" at 64 KiB and "world" at 8 MiB of a 16 MiB file.
fn check_sparse(dir: &Path, name: &str) {
    let p = dir.join(name);
    let m = fs::metadata(&p).unwrap();
    assert_eq!(m.len(), SPARSE_SIZE, "{name}");
    assert!(
        m.blocks() * 512 <= 64 << 10,
        "{name}: {} blocks",
        m.blocks()
    );
    let got = fs::read(&p).unwrap();
    let mut want = vec![0u8; SPARSE_SIZE as usize];
    want[64 << 10..(64 << 10) + 5].copy_from_slice(b"hello");
    want[8 << 20..(8 << 20) + 5].copy_from_slice(b"world");
    assert!(got == want, "{name}: content differs");
}

#[test]
fn pax_sparse_files_are_expanded_with_holes() {
    let size = SPARSE_SIZE.to_string();
    let segments = [(64 << 10, 5), (8 << 20, 5)];
    let mut b = tar::Builder::new(Vec::new());
    // 1.0: the map precedes the data; the header names a placeholder.
    let mut data = map_1x0(&segments);
    data.extend_from_slice(b"helloworld");
    pax_entry(
        &mut b,
        "GNUSparseFile.1/v10",
        &[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "v10"),
            ("GNU.sparse.realsize", &size),
        ],
        &data,
    );
    // 0.1: the map in one record.
    let map = format!("{},5,{},5", 64 << 10, 8 << 20);
    pax_entry(
        &mut b,
        "GNUSparseFile.2/v01",
        &[
            ("GNU.sparse.size", &size),
            ("GNU.sparse.numblocks", "2"),
            ("GNU.sparse.name", "v01"),
            ("GNU.sparse.map", &map),
        ],
        b"helloworld",
    );
    // 0.0: offset and numbytes records in turn; the header has the real name.
    let (o1, o2) = ((64 << 10).to_string(), (8 << 20).to_string());
    pax_entry(
        &mut b,
        "v00",
        &[
            ("GNU.sparse.size", &size),
            ("GNU.sparse.numblocks", "2"),
            ("GNU.sparse.offset", &o1),
            ("GNU.sparse.numbytes", "5"),
            ("GNU.sparse.offset", &o2),
            ("GNU.sparse.numbytes", "5"),
        ],
        b"helloworld",
    );
    let dir = tempfile::tempdir().unwrap();
    run(b.into_inner().unwrap(), dir.path()).unwrap();
    for name in ["v10", "v01", "v00"] {
        check_sparse(dir.path(), name);
    }
    assert!(!dir.path().join("GNUSparseFile.1").exists());
}

#[test]
fn old_gnu_sparse_entries_keep_their_holes() {
    let src = tempfile::tempdir().unwrap();
    let f = File::create(src.path().join("f")).unwrap();
    f.set_len(SPARSE_SIZE).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, b"hello", 64 << 10).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, b"world", 8 << 20).unwrap();
    drop(f);
    let mut b = tar::Builder::new(Vec::new());
    b.sparse(true);
    b.append_path_with_name(src.path().join("f"), "gnu")
        .unwrap();
    let tar = b.into_inner().unwrap();
    assert_eq!(tar[156], b'S', "the tar crate wrote no GNU sparse entry");
    let dir = tempfile::tempdir().unwrap();
    run(tar, dir.path()).unwrap();
    check_sparse(dir.path(), "gnu");
}

#[test]
fn malformed_sparse_maps_are_refused() {
    let size = SPARSE_SIZE.to_string();
    let v01 = |count: &str, map: &str, data: &[u8]| {
        let mut b = tar::Builder::new(Vec::new());
        pax_entry(
            &mut b,
            "GNUSparseFile.0/bad",
            &[
                ("GNU.sparse.size", &size),
                ("GNU.sparse.numblocks", count),
                ("GNU.sparse.name", "bad"),
                ("GNU.sparse.map", map),
            ],
            data,
        );
        b.into_inner().unwrap()
    };
    let v10 = |realsize: &str, data: Vec<u8>| {
        let mut b = tar::Builder::new(Vec::new());
        pax_entry(
            &mut b,
            "GNUSparseFile.0/bad",
            &[
                ("GNU.sparse.major", "1"),
                ("GNU.sparse.minor", "0"),
                ("GNU.sparse.name", "bad"),
                ("GNU.sparse.realsize", realsize),
            ],
            &data,
        );
        b.into_inner().unwrap()
    };
    let block = |text: &[u8]| {
        let mut b = text.to_vec();
        b.resize(512, 0);
        b
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("overlap", v01("2", "0,10,5,5", &[1; 15]), "overlaps"),
        ("out of order", v01("2", "100,5,0,5", &[1; 10]), "overlaps"),
        (
            "past the size",
            v01("1", "16777215,5", &[1; 5]),
            "past the file's size",
        ),
        (
            "offset overflow",
            v01("1", "18446744073709551615,5", &[1; 5]),
            "past",
        ),
        (
            "count mismatch",
            v01("3", "0,5", &[1; 5]),
            "numbers for 3 segments",
        ),
        (
            "absurd count",
            v01("99999999999", "0,5", &[1; 5]),
            "segments (at most",
        ),
        ("not a number", v01("1", "0,-5", &[1; 5]), "not a number"),
        (
            "data left over",
            v01("1", "0,5", &[1; 9]),
            "holds 5 bytes of data, the entry 9",
        ),
        ("too big", v10("68719476737", map_1x0(&[])), "at most"),
        (
            "map past the data",
            v10(&size, b"9\n".to_vec()),
            "runs past",
        ),
        (
            "1.0 absurd count",
            v10(&size, block(b"99999999999\n")),
            "segments (at most",
        ),
        (
            "1.0 long number",
            v10(&size, block(&[b'1'; 30])),
            "longer than a number",
        ),
    ];
    for (what, tar, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        let err = run(tar, dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, UnpackError::Invalid { .. }), "{what}: {msg}");
        assert!(
            msg.contains("entry \"bad\"") && msg.contains(expect),
            "{what}: {msg}"
        );
        assert!(!msg.contains('\n'), "{what}: one line");
    }
}

fn copy_into(
    tar: Vec<u8>,
    root: &Path,
    into: &str,
    owner: Option<(u32, u32)>,
) -> Result<(), UnpackError> {
    let fd: OwnedFd = File::open(root).unwrap().into();
    let copy = CopyInto {
        into: components(into.as_bytes()).unwrap(),
        owner,
        host: false,
    };
    let o = Options {
        copy: Some(copy),
        ..Options::default()
    };
    unpack(&tar[..], fd, o, "copy").map(drop)
}

#[test]
fn a_copy_resolves_symlinks_inside_the_root_and_keeps_whiteout_names() {
    let host = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::create_dir_all(r.join("dst")).unwrap();
    fs::set_permissions(r.join("dst"), fs::Permissions::from_mode(0o711)).unwrap();
    // Symlinks that would leave the root if followed on the host.
    std::os::unix::fs::symlink(host.path(), r.join("dst/abs")).unwrap();
    std::os::unix::fs::symlink("../../../../../..", r.join("dst/up")).unwrap();
    let inside = r.join(host.path().strip_prefix("/").unwrap());
    fs::create_dir_all(&inside).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    raw(&mut b, "./", T::Directory, "", b"", 0o777);
    raw(&mut b, "abs/f", T::Regular, "", b"1", 0o644);
    raw(&mut b, "up/g", T::Regular, "", b"2", 0o644);
    raw(&mut b, ".wh.x", T::Regular, "", b"3", 0o600);
    raw(&mut b, "h", T::Link, "abs/f", b"", 0o644);
    copy_into(b.into_inner().unwrap(), r, "dst", Some((7, 8))).unwrap();
    assert_eq!(fs::read_dir(host.path()).unwrap().count(), 0);
    assert_eq!(fs::read(inside.join("f")).unwrap(), b"1");
    assert_eq!(fs::read(r.join("g")).unwrap(), b"2");
    assert_eq!(fs::read(r.join("dst/.wh.x")).unwrap(), b"3");
    assert_eq!(fs::read(r.join("dst/h")).unwrap(), b"1");
    // The archive's root entry leaves the directory copied into as it was.
    let dst = fs::metadata(r.join("dst")).unwrap();
    assert_eq!(dst.permissions().mode() & 0o7777, 0o711);
    if !sys::rootless() {
        assert_eq!(fs::metadata(r.join("g")).unwrap().uid(), 7);
    }
}

#[test]
fn a_copy_never_swaps_a_directory_and_a_file() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::create_dir_all(r.join("d/sub")).unwrap();
    fs::write(r.join("d/file"), "keep").unwrap();
    let mut b = tar::Builder::new(Vec::new());
    raw(&mut b, "sub", T::Regular, "", b"x", 0o644);
    let e = copy_into(b.into_inner().unwrap(), r, "d", None).unwrap_err();
    assert!(e.to_string().contains("cannot overwrite directory"), "{e}");
    let mut b = tar::Builder::new(Vec::new());
    raw(&mut b, "file/", T::Directory, "", b"", 0o755);
    let e = copy_into(b.into_inner().unwrap(), r, "d", None).unwrap_err();
    assert!(
        e.to_string().contains("cannot overwrite non-directory"),
        "{e}"
    );
    assert_eq!(fs::read(r.join("d/file")).unwrap(), b"keep");
    assert!(r.join("d/sub").is_dir());
}
