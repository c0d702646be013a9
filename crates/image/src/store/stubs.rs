//! Mount-point stubs: the empty directories and files a container's root needs for the
//! mounts every container of an image gets (`/proc`, `/etc/hosts`, `/.dockerenv`, ...) when
//! the image lacks them. Made by the runtime in each container's upper directory, they would
//! be created at every start and deleted at every removal; here they are made once per image
//! and set of mount points, in a read-only layer of their own above the image's layers
//! (`image/stubs/<key>/`), shared by all such containers, and never in their changes (as
//! docker's per-container "init" layer keeps them out of `diff` and `commit`).
//!
//! A stub is made only where that cannot change what the image shows: the path is in none of
//! the image's layers, and each of its parents is either missing too or, in the topmost layer
//! that has it, a directory. A parent that exists is made in the stub layer with the owner,
//! mode and time the image gives it (the topmost layer's directory sets them in the overlay).
//! Anything else is left to the runtime, as before.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::{io_err, Store, StoreError};

/// An empty directory or file a container's root needs as a mount point.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MountPoint {
    /// Below the root, without a leading `/`.
    pub path: String,
    pub dir: bool,
}

impl MountPoint {
    /// The mount point for `destination` (an absolute path in the container); `None` for
    /// the root itself or a path with `.` or `..` in it.
    pub fn new(destination: &str, dir: bool) -> Option<MountPoint> {
        let parts: Vec<&str> = destination.split('/').filter(|p| !p.is_empty()).collect();
        if parts.is_empty() || parts.iter().any(|p| *p == "." || *p == "..") {
            return None;
        }
        Some(MountPoint {
            path: parts.join("/"),
            dir,
        })
    }
}

/// The first of `lowers` (top first) that has `path`, and what it is there.
fn topmost(lowers: &[PathBuf], path: &str) -> Option<fs::Metadata> {
    lowers
        .iter()
        .find_map(|l| fs::symlink_metadata(l.join(path)).ok())
}

/// Whether a stub for `m` leaves the image's view as it is (see the module's rule).
fn stubbable(lowers: &[PathBuf], m: &MountPoint) -> bool {
    let parts: Vec<&str> = m.path.split('/').collect();
    let parents_ok = (1..parts.len()).all(|k| {
        topmost(lowers, &parts[..k].join("/")).is_none_or(|meta| meta.file_type().is_dir())
    });
    parents_ok && topmost(lowers, &m.path).is_none()
}

impl Store {
    /// The stub layer for an image whose lower directories are `lowers` (top first) and a
    /// container that mounts on `wanted`: its key and directory, made if missing; `None`
    /// when the image has (or cannot take) every one of them.
    pub(crate) fn stub_layer(
        &self,
        lowers: &[PathBuf],
        wanted: &[MountPoint],
    ) -> Result<Option<(String, PathBuf)>, StoreError> {
        let mut stubs: Vec<&MountPoint> = wanted.iter().filter(|m| stubbable(lowers, m)).collect();
        if stubs.is_empty() {
            return Ok(None);
        }
        stubs.sort();
        stubs.dedup();
        // The top lower directory names the whole chain of layers under it.
        let mut h = Sha256::new();
        h.update(
            lowers
                .first()
                .map(|l| l.display().to_string())
                .unwrap_or_default(),
        );
        for m in &stubs {
            h.update(format!("\n{}{}", if m.dir { "d " } else { "f " }, m.path));
        }
        let key = format!("{:x}", h.finalize());
        let dir = self.stubs_dir().join(&key);
        if dir.is_dir() {
            return Ok(Some((key, dir)));
        }
        fs::create_dir_all(self.stubs_dir()).map_err(io_err("create", &self.stubs_dir()))?;
        // Made whole under a name of its own, then renamed: a container never mounts half
        // a layer, and of two processes making the same one, the first rename wins.
        let tmp = self
            .stubs_dir()
            .join(format!(".{}", super::blobs::unique_name(&key)));
        let made = make(&tmp, lowers, &stubs).and_then(|()| match fs::rename(&tmp, &dir) {
            Err(e) if dir.is_dir() => {
                drop(e);
                fs::remove_dir_all(&tmp)
            }
            other => other,
        });
        if let Err(e) = made {
            let _ = fs::remove_dir_all(&tmp);
            return Err(io_err("make mount-point stubs", &dir)(e));
        }
        Ok(Some((key, dir)))
    }

    pub(crate) fn stubs_dir(&self) -> PathBuf {
        self.dir.join("stubs")
    }
}

/// Makes the stub layer in `at`.
fn make(at: &Path, lowers: &[PathBuf], stubs: &[&MountPoint]) -> io::Result<()> {
    fs::DirBuilder::new().mode(0o755).create(at)?;
    for m in stubs {
        let parts: Vec<&str> = m.path.split('/').collect();
        for k in 1..parts.len() {
            let rel = parts[..k].join("/");
            let p = at.join(&rel);
            if p.is_dir() {
                continue;
            }
            fs::DirBuilder::new().mode(0o755).create(&p)?;
            if let Some(meta) = topmost(lowers, &rel) {
                like(&p, &meta)?;
            }
        }
        let p = at.join(&m.path);
        match m.dir {
            true => fs::DirBuilder::new().mode(0o755).create(&p)?,
            false => drop(
                fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .open(&p)?,
            ),
        }
    }
    Ok(())
}

/// Gives directory `p` the owner, mode and times of `meta`.
fn like(p: &Path, meta: &fs::Metadata) -> io::Result<()> {
    // Not as an unprivileged user: the owner stays this user, as the store's own files.
    match std::os::unix::fs::chown(p, Some(meta.uid()), Some(meta.gid())) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
        other => other?,
    }
    fs::set_permissions(p, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    let times = fs::FileTimes::new()
        .set_accessed(meta.accessed()?)
        .set_modified(meta.modified()?);
    fs::File::open(p)?.set_times(times)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp(path: &str, dir: bool) -> MountPoint {
        MountPoint::new(path, dir).unwrap()
    }

    #[test]
    fn mount_points_are_plain_relative_paths() {
        assert_eq!(mp("/etc//hosts", false).path, "etc/hosts");
        assert_eq!(MountPoint::new("/", true), None);
        assert_eq!(MountPoint::new("/a/../b", true), None);
    }

    #[test]
    fn only_what_leaves_the_image_as_it_is_is_stubbed() {
        let tmp = tempfile::tempdir().unwrap();
        let (top, bottom) = (tmp.path().join("top"), tmp.path().join("bottom"));
        for d in ["top/etc", "bottom/etc", "bottom/usr", "top/var"] {
            fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        fs::write(bottom.join("etc/hosts"), "").unwrap();
        std::os::unix::fs::symlink("var/run", top.join("run")).unwrap();
        fs::write(top.join("usr"), "a file over the directory below").unwrap();
        let lowers = [top, bottom];
        let s = |p: &str, dir: bool| stubbable(&lowers, &mp(p, dir));
        assert!(s("/proc", true), "missing everywhere");
        assert!(s("/etc/hostname", false), "in a directory the image has");
        assert!(s("/new/deep/file", false), "parents missing too");
        assert!(!s("/etc/hosts", false), "a lower layer has it");
        assert!(!s("/run/.containerenv", false), "under a symlink");
        assert!(!s("/usr/x", false), "under what the top layer made a file");
    }

    #[test]
    fn a_layer_is_made_once_with_the_images_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("store")).unwrap();
        let image = tmp.path().join("image");
        fs::create_dir_all(image.join("etc")).unwrap();
        fs::set_permissions(image.join("etc"), fs::Permissions::from_mode(0o750)).unwrap();
        let lowers = vec![image];
        let wanted = [mp("/etc/hosts", false), mp("/proc", true)];
        let (key, dir) = store.stub_layer(&lowers, &wanted).unwrap().unwrap();
        assert!(dir.join("proc").is_dir());
        assert!(dir.join("etc/hosts").is_file());
        let mode = fs::metadata(dir.join("etc")).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o750, "the image's /etc mode");
        let again = store.stub_layer(&lowers, &wanted).unwrap().unwrap();
        assert_eq!(again.0, key);
        let entries: Vec<_> = fs::read_dir(store.stubs_dir()).unwrap().collect();
        assert_eq!(entries.len(), 1, "no temporary left: {entries:?}");
        // Nothing to stub: no layer.
        assert!(store
            .stub_layer(&lowers, &[mp("/etc", true)])
            .unwrap()
            .is_none());
    }
}
