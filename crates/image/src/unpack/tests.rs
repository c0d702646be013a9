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
    Options {
        rootless: sys::rootless(),
    }
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
