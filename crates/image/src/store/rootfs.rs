//! Container root filesystems: an overlayfs over the image's snapshots (top layer first)
//! with a private writable upper directory, all removed with the container.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::image::Image;
use super::stubs::MountPoint;
use super::{io_err, Store, StoreError};
use crate::digest::Digest;
use crate::sys;

/// A mounted container root filesystem.
#[derive(Debug, Clone)]
pub struct Rootfs {
    /// The container ID it belongs to.
    pub id: String,
    /// The mounted, merged tree (the container's `/`).
    pub path: PathBuf,
    /// The writable upper directory (the container's changes).
    pub upper: PathBuf,
}

/// Whether a root filesystem's changes must be on disk before it is unmounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Synced when unmounted, as docker's.
    Synced,
    /// overlayfs's `volatile`: never synced, for a container removed when it ends (`run
    /// --rm`, as podman does). Its unmount then does not wait for a `syncfs` of the whole
    /// file system under the store, which took 2 ms to over 600 ms here while other work
    /// wrote to that disk. Mounted again (after a host reboot), its changes may be lost.
    Volatile,
}

/// A rootfs directory's record of how it was made: a line per layer's chain ID (bottom
/// first), then `stubs KEY` (its stub layer), `image DIGEST` (the image's manifest) and
/// `volatile` (mounted so, and so again). Older berths kept the last two in files of their
/// own, `image` and `volatile`, which are still read.
const LAYERS: &str = "layers";
const STUBS: &str = "stubs ";
const IMAGE: &str = "image ";
const VOLATILE: &str = "volatile";

/// What a rootfs directory's record says.
#[derive(Default)]
struct Recorded {
    chains: Vec<Digest>,
    stubs: Option<String>,
    image: Option<String>,
    volatile: bool,
}

impl Recorded {
    fn read(dir: &Path) -> std::io::Result<Recorded> {
        let text = fs::read_to_string(dir.join(LAYERS))?;
        let mut r = Recorded::default();
        for l in text.lines() {
            if let Some(key) = l.strip_prefix(STUBS) {
                r.stubs = Some(key.to_string());
            } else if let Some(d) = l.strip_prefix(IMAGE) {
                r.image = Some(d.to_string());
            } else if l == VOLATILE {
                r.volatile = true;
            } else if let Ok(c) = l.parse() {
                r.chains.push(c);
            }
        }
        if r.image.is_none() {
            r.image = fs::read_to_string(dir.join("image"))
                .ok()
                .map(|s| s.trim().to_string());
        }
        r.volatile |= dir.join(VOLATILE).exists();
        Ok(r)
    }
}

/// Overlay options are one mount(2) data page.
const MAX_MOUNT_DATA: usize = 4095;

impl Store {
    fn rootfs_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        let ok = !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            && !id.starts_with('.');
        if !ok {
            return Err(StoreError::Invalid {
                what: format!("container ID {id:?}"),
                why: "use letters, digits, '_', '-', '.'".into(),
            });
        }
        Ok(self.dir.join("rootfs").join(id))
    }

    /// Where container `id`'s root filesystem is (or will be) mounted.
    pub fn rootfs_mount_point(&self, id: &str) -> Result<PathBuf, StoreError> {
        Ok(self.rootfs_dir(id)?.join("merged"))
    }

    /// Mounts a new root filesystem for container `id` from `image`.
    pub fn create_rootfs(
        &self,
        image: &Image,
        id: &str,
        durability: Durability,
        mount_points: &[MountPoint],
    ) -> Result<Rootfs, StoreError> {
        let _content = self.content_lock()?;
        let dir = self.rootfs_dir(id)?;
        let layers = image.layers()?;
        let mut lowers = self.lower_dirs(image)?;
        let stubs = self.stub_layer(&lowers, mount_points)?;
        let mut recorded: Vec<String> = layers.iter().map(|l| l.chain_id.to_string()).collect();
        if let Some((key, path)) = stubs {
            lowers.insert(0, path);
            recorded.push(format!("{STUBS}{key}"));
        }
        let lowers: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
        fs::create_dir(&dir).map_err(io_err("create rootfs directory", &dir))?;
        let res = self.mount_rootfs(id, &dir, image, &recorded, &lowers, durability);
        if res.is_err() {
            let _ = fs::remove_dir_all(&dir);
        }
        res
    }

    fn mount_rootfs(
        &self,
        id: &str,
        dir: &std::path::Path,
        image: &Image,
        layers: &[String],
        lowers: &[String],
        durability: Durability,
    ) -> Result<Rootfs, StoreError> {
        let (upper, work, merged) = (dir.join("upper"), dir.join("work"), dir.join("merged"));
        for p in [&upper, &work, &merged] {
            fs::create_dir(p).map_err(io_err("create directory", p))?;
        }
        // The merged root takes the upper directory's attributes: give it the image's.
        if let Some(top) = lowers
            .iter()
            .find(|l| !Path::new(l).starts_with(self.stubs_dir()))
        {
            let m = fs::metadata(top).map_err(io_err("stat", Path::new(top)))?;
            fs::set_permissions(&upper, m.permissions()).map_err(io_err("chmod", &upper))?;
            if crate::sys::can_chown() {
                std::os::unix::fs::chown(&upper, Some(m.uid()), Some(m.gid()))
                    .map_err(io_err("chown", &upper))?;
            }
        }
        // One file says all a later mount, `gc` and `rmi` need: a file fewer to make and
        // remove per container is start time (docs/BENCHMARKS.md).
        let mut record = layers.to_vec();
        record.push(format!("{IMAGE}{}", image.manifest_digest));
        if durability == Durability::Volatile {
            record.push(VOLATILE.to_string());
        }
        let p = dir.join(LAYERS);
        fs::write(&p, record.join("\n")).map_err(io_err("write", &p))?;
        self.mount_overlay(id, dir, lowers, durability == Durability::Volatile)?;
        Ok(Rootfs {
            id: id.to_string(),
            path: merged,
            upper,
        })
    }

    /// Mounts the overlay of rootfs directory `dir` (`upper`, `work`, `merged`) over `lowers`,
    /// with overlayfs's `volatile` when it was made so.
    fn mount_overlay(
        &self,
        id: &str,
        dir: &Path,
        lowers: &[String],
        volatile: bool,
    ) -> Result<(), StoreError> {
        let mut opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            dir.join("upper").display(),
            dir.join("work").display()
        );
        if self.rootless {
            opts.push_str(",userxattr");
        }
        if volatile {
            opts.push_str(",volatile");
            // overlayfs leaves this behind and will not mount over it again; the changes of
            // a container that is removed at its end may be lost, so it goes.
            let stale = dir.join("work/work/incompat/volatile");
            match fs::remove_dir_all(&stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_err("remove", &stale)(e))
                }
                _ => {}
            }
        }
        if opts.len() > MAX_MOUNT_DATA
            || opts.contains(',') && lowers.iter().any(|l| l.contains([',', ':']))
        {
            return Err(StoreError::Invalid {
                what: format!("rootfs {id}"),
                why: "too many layers or a store path with ',' or ':' for overlay options".into(),
            });
        }
        let merged = dir.join("merged");
        sys::mount_overlay(&merged, &opts).map_err(io_err("mount overlay", &merged))
    }

    /// Mounts container `id`'s root filesystem again, from the layers it was made from and
    /// its kept changes, when it is not mounted (a host reboot loses every mount); true when
    /// it had to.
    pub fn ensure_rootfs(&self, id: &str) -> Result<bool, StoreError> {
        let dir = self.rootfs_dir(id)?;
        let merged = dir.join("merged");
        let dev = |p: &Path| fs::metadata(p).map(|m| m.dev()).map_err(io_err("stat", p));
        // A mounted overlay is a file system of its own: its device differs.
        if dev(&merged)? != dev(&dir)? {
            return Ok(false);
        }
        let _content = self.content_lock()?;
        let r = self.recorded(id)?;
        let lowers: Vec<String> = self
            .lowers_of(id, &r)?
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        self.mount_overlay(id, &dir, &lowers, r.volatile)?;
        Ok(true)
    }

    /// Container `id`'s root filesystem, as made by [`Store::create_rootfs`] (mounted or not).
    pub fn rootfs(&self, id: &str) -> Result<Rootfs, StoreError> {
        let dir = self.rootfs_dir(id)?;
        if !dir.join("upper").is_dir() {
            return Err(StoreError::NotFound(format!("rootfs {id}")));
        }
        Ok(Rootfs {
            id: id.to_string(),
            path: dir.join("merged"),
            upper: dir.join("upper"),
        })
    }

    /// The overlay lower directories of container `id`'s root filesystem, top first, from
    /// the layers its directory records.
    pub fn rootfs_lowers(&self, id: &str) -> Result<Vec<PathBuf>, StoreError> {
        self.lowers_of(id, &self.recorded(id)?)
    }

    /// The record of container `id`'s rootfs directory.
    fn recorded(&self, id: &str) -> Result<Recorded, StoreError> {
        let dir = self.rootfs_dir(id)?;
        Recorded::read(&dir).map_err(io_err("read", &dir.join(LAYERS)))
    }

    /// What container `id`'s mount-point stub layer holds, as absolute paths in the
    /// container, each with whether it is a directory.
    pub fn stub_paths(&self, id: &str) -> Result<Vec<(PathBuf, bool)>, StoreError> {
        let Some(key) = self.recorded(id)?.stubs else {
            return Ok(Vec::new());
        };
        let root = self.stubs_dir().join(key);
        let mut out = Vec::new();
        let mut todo = vec![root.clone()];
        while let Some(d) = todo.pop() {
            for e in fs::read_dir(&d).map_err(io_err("list", &d))? {
                let e = e.map_err(io_err("list", &d))?;
                let p = e.path();
                let dir = e.file_type().map_err(io_err("stat", &p))?.is_dir();
                if let Ok(rel) = p.strip_prefix(&root) {
                    out.push((Path::new("/").join(rel), dir));
                }
                if dir {
                    todo.push(p);
                }
            }
        }
        Ok(out)
    }

    /// The lower directories record `r` of container `id`'s rootfs names, top first.
    fn lowers_of(&self, id: &str, r: &Recorded) -> Result<Vec<PathBuf>, StoreError> {
        let gone = |what: String| StoreError::Invalid {
            what: format!("rootfs {id}"),
            why: format!("its {what} is gone"),
        };
        let mut lowers = self
            .lower_dirs_of(&r.chains)
            .map_err(|chain| gone(format!("layer snapshot {chain}")))?;
        if let Some(key) = &r.stubs {
            let stubs = self.stubs_dir().join(key);
            if !stubs.is_dir() {
                return Err(gone(format!("mount-point stub layer {key}")));
            }
            lowers.insert(0, stubs);
        }
        Ok(lowers)
    }

    /// What the record of each rootfs directory says: its name and record.
    fn recorded_all(&self) -> Result<Vec<(String, Recorded)>, StoreError> {
        let base = self.dir.join("rootfs");
        let mut out = Vec::new();
        for e in fs::read_dir(&base).map_err(io_err("list", &base))? {
            let e = e.map_err(io_err("list", &base))?;
            let r = Recorded::read(&e.path()).unwrap_or_default();
            out.push((e.file_name().to_string_lossy().into_owned(), r));
        }
        Ok(out)
    }

    /// The stub layers the root filesystems use (their keys).
    pub(crate) fn stubs_in_use(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .recorded_all()?
            .into_iter()
            .filter_map(|(_, r)| r.stubs)
            .collect())
    }

    /// The directory of container `id`'s changes (its overlay's upper directory).
    pub fn rootfs_upper(&self, id: &str) -> Result<PathBuf, StoreError> {
        Ok(self.rootfs_dir(id)?.join("upper"))
    }

    /// Unmounts and removes container `id`'s root filesystem (and its changes).
    pub fn remove_rootfs(&self, id: &str) -> Result<(), StoreError> {
        let dir = self.rootfs_dir(id)?;
        if !dir.exists() {
            return Err(StoreError::NotFound(format!("rootfs {id}")));
        }
        let merged = dir.join("merged");
        match sys::umount(&merged) {
            Err(e) if e.raw_os_error() != Some(libc::EINVAL) => {
                return Err(io_err("unmount", &merged)(e))
            }
            _ => {}
        }
        fs::remove_dir_all(&dir).map_err(io_err("remove", &dir))
    }

    /// Containers with a root filesystem: their ID and chain IDs.
    pub(crate) fn rootfs_users(&self) -> Result<Vec<(String, Vec<Digest>)>, StoreError> {
        Ok(self
            .recorded_all()?
            .into_iter()
            .map(|(id, r)| (id, r.chains))
            .collect())
    }

    /// IDs of containers whose root filesystem comes from the image with this manifest.
    pub fn containers_using(&self, manifest: &Digest) -> Result<Vec<String>, StoreError> {
        let want = manifest.to_string();
        Ok(self
            .recorded_all()?
            .into_iter()
            .filter(|(_, r)| r.image.as_deref() == Some(want.as_str()))
            .map(|(id, _)| id)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_one_file_and_an_older_berths_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        let chain = format!("sha256:{}", "a".repeat(64));
        let new = tmp.path().join("new");
        fs::create_dir(&new).unwrap();
        let text = format!("{chain}\nstubs k1\nimage sha256:m\nvolatile");
        fs::write(new.join(LAYERS), text).unwrap();
        let r = Recorded::read(&new).unwrap();
        assert_eq!(r.chains.len(), 1);
        assert_eq!(
            (r.stubs.as_deref(), r.image.as_deref(), r.volatile),
            (Some("k1"), Some("sha256:m"), true)
        );
        let old = tmp.path().join("old");
        fs::create_dir(&old).unwrap();
        fs::write(old.join(LAYERS), &chain).unwrap();
        fs::write(old.join("image"), "sha256:m\n").unwrap();
        let r = Recorded::read(&old).unwrap();
        assert_eq!(
            (r.image.as_deref(), r.volatile, r.stubs),
            (Some("sha256:m"), false, None)
        );
        fs::write(old.join(VOLATILE), "").unwrap();
        assert!(Recorded::read(&old).unwrap().volatile);
    }
}
