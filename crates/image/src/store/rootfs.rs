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

/// Its marker in the rootfs directory, so that a remount uses the same option.
const VOLATILE: &str = "volatile";

/// The line of a rootfs's `layers` file that names its mount-point stub layer.
const STUBS: &str = "stubs ";

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
            if !self.rootless {
                std::os::unix::fs::chown(&upper, Some(m.uid()), Some(m.gid()))
                    .map_err(io_err("chown", &upper))?;
            }
        }
        fs::write(dir.join("layers"), layers.join("\n")).map_err(io_err("write", dir))?;
        fs::write(dir.join("image"), image.manifest_digest.to_string())
            .map_err(io_err("write", dir))?;
        if durability == Durability::Volatile {
            let p = dir.join(VOLATILE);
            fs::write(&p, "").map_err(io_err("write", &p))?;
        }
        self.mount_overlay(id, dir, lowers)?;
        Ok(Rootfs {
            id: id.to_string(),
            path: merged,
            upper,
        })
    }

    /// Mounts the overlay of rootfs directory `dir` (`upper`, `work`, `merged`) over `lowers`.
    fn mount_overlay(&self, id: &str, dir: &Path, lowers: &[String]) -> Result<(), StoreError> {
        let mut opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            dir.join("upper").display(),
            dir.join("work").display()
        );
        if self.rootless {
            opts.push_str(",userxattr");
        }
        if dir.join(VOLATILE).exists() {
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
        let lowers: Vec<String> = self
            .rootfs_lowers(id)?
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        self.mount_overlay(id, &dir, &lowers)?;
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
        let layers = self.rootfs_dir(id)?.join("layers");
        let text = fs::read_to_string(&layers).map_err(io_err("read", &layers))?;
        let chains: Vec<Digest> = text.lines().filter_map(|l| l.parse().ok()).collect();
        let gone = |what: String| StoreError::Invalid {
            what: format!("rootfs {id}"),
            why: format!("its {what} is gone"),
        };
        let mut lowers = self
            .lower_dirs_of(&chains)
            .map_err(|chain| gone(format!("layer snapshot {chain}")))?;
        if let Some(key) = text.lines().find_map(|l| l.strip_prefix(STUBS)) {
            let stubs = self.stubs_dir().join(key);
            if !stubs.is_dir() {
                return Err(gone(format!("mount-point stub layer {key}")));
            }
            lowers.insert(0, stubs);
        }
        Ok(lowers)
    }

    /// The stub layers the root filesystems use (their keys).
    pub(crate) fn stubs_in_use(&self) -> Result<Vec<String>, StoreError> {
        let base = self.dir.join("rootfs");
        let mut out = Vec::new();
        for e in fs::read_dir(&base).map_err(io_err("list", &base))? {
            let e = e.map_err(io_err("list", &base))?;
            let layers = fs::read_to_string(e.path().join("layers")).unwrap_or_default();
            out.extend(
                layers
                    .lines()
                    .filter_map(|l| l.strip_prefix(STUBS))
                    .map(String::from),
            );
        }
        Ok(out)
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

    /// Containers with a root filesystem: their ID, chain IDs and image manifest digest.
    pub(crate) fn rootfs_users(&self) -> Result<Vec<(String, Vec<Digest>)>, StoreError> {
        let base = self.dir.join("rootfs");
        let mut out = Vec::new();
        for e in fs::read_dir(&base).map_err(io_err("list", &base))? {
            let e = e.map_err(io_err("list", &base))?;
            let layers = fs::read_to_string(e.path().join("layers")).unwrap_or_default();
            let chains = layers.lines().filter_map(|l| l.parse().ok()).collect();
            out.push((e.file_name().to_string_lossy().into_owned(), chains));
        }
        Ok(out)
    }

    /// IDs of containers whose root filesystem comes from the image with this manifest.
    pub fn containers_using(&self, manifest: &Digest) -> Result<Vec<String>, StoreError> {
        let base = self.dir.join("rootfs");
        let want = manifest.to_string();
        let mut out = Vec::new();
        for e in fs::read_dir(&base).map_err(io_err("list", &base))? {
            let e = e.map_err(io_err("list", &base))?;
            if fs::read_to_string(e.path().join("image")).is_ok_and(|s| s.trim() == want) {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(out)
    }
}
