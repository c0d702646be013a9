//! `diff`: the container's changes against its image, as `docker diff` prints them
//! (`A`dded, `C`hanged, `D`eleted paths), read from its overlay upper directory by the
//! image store. The empty files and directories the runtime made to mount on (`/etc/hosts`,
//! a volume's path the image lacked) are not changes: docker keeps them in a layer of
//! their own, and `commit` leaves them out too.

use crate::{Engine, Error, Record};
use berth_image::store::Change;
use berth_sys::fs::{self as sysfs, Resolve};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

impl Engine {
    /// The changes of container `what`, in the order of a walk of its tree.
    pub fn diff(&self, what: &str) -> Result<Vec<Change>, Error> {
        let r = self.container(what)?;
        Ok(self.store.rootfs_changes(&r.id, &self.mount_points(&r)?)?)
    }

    /// Where container `r`'s config mounts something: each destination as given, and where
    /// the runtime made it when a directory on its way is a symlink of the image (merged
    /// `/usr`: `/sbin/berth-init` is `/usr/sbin/berth-init`).
    pub(crate) fn mount_points(&self, r: &Record) -> Result<Vec<PathBuf>, Error> {
        let config = self.oci_config(r)?;
        let given: Vec<PathBuf> = config["mounts"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|m| m["destination"].as_str().map(PathBuf::from))
                    .collect()
            })
            .unwrap_or_default();
        let merged = self.store.rootfs_mount_point(&r.id)?;
        let root = sysfs::open(&merged, libc::O_PATH | libc::O_DIRECTORY, 0).ok();
        let mut out = given.clone();
        for dest in given {
            let (Some(root), Some(parent), Some(name)) = (&root, dest.parent(), dest.file_name())
            else {
                continue;
            };
            let rel = parent.strip_prefix("/").unwrap_or(parent);
            let rel = if rel.as_os_str().is_empty() {
                Path::new(".")
            } else {
                rel
            };
            let Ok(fd) = sysfs::openat2(root.as_fd(), rel, libc::O_PATH, 0, Resolve::InRoot) else {
                continue;
            };
            // The directory as the kernel resolved it, below the mount point.
            let real = std::fs::read_link(sysfs::fd_path(fd.as_raw_fd())).ok();
            if let Some(inside) = real.as_deref().and_then(|p| p.strip_prefix(&merged).ok()) {
                let resolved = Path::new("/").join(inside).join(name);
                if !out.contains(&resolved) {
                    out.push(resolved);
                }
            }
        }
        Ok(out)
    }
}
