//! Garbage collection: removes blobs and snapshots no image name or container rootfs
//! refers to, and leftovers of killed operations in `tmp/`. It holds the content
//! lock exclusively, so no pull, load or import is adding content meanwhile.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use super::image::layers_of;
use super::lock::Lock;
use super::{io_err, Store, StoreError};
use crate::digest::Digest;

/// What a collection removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs removed.
    pub blobs: usize,
    /// Snapshots removed.
    pub snapshots: usize,
}

impl Store {
    /// Removes everything unreferenced.
    pub fn gc(&self) -> Result<GcReport, StoreError> {
        let _lock = Lock::take(&self.dir.join("content.lock"), true)?;
        let mut blobs: HashSet<String> = HashSet::new();
        let mut snaps: HashSet<String> = HashSet::new();
        for rec in self.records()? {
            blobs.insert(rec.manifest.hex().to_string());
            // A damaged image keeps what it names but cannot protect its layers.
            let Ok(img) = self.image_by_manifest(&rec.manifest) else {
                continue;
            };
            blobs.insert(img.id.hex().to_string());
            if let Ok(layers) = layers_of(&img.manifest, &img.config, "") {
                for l in layers {
                    blobs.insert(l.blob.hex().to_string());
                    snaps.insert(l.chain_id.hex().to_string());
                }
            }
        }
        for (_, chains) in self.rootfs_users()? {
            snaps.extend(chains.iter().map(|c: &Digest| c.hex().to_string()));
        }
        let report = GcReport {
            blobs: sweep(&self.dir.join("blobs/sha256"), &blobs, |p| {
                fs::remove_file(p).map_err(io_err("remove", p))
            })?,
            // A snapshot killed half-way through its deletion must not look whole.
            snapshots: sweep(&self.dir.join("snapshots"), &snaps, |p| self.discard(p))?,
        };
        // Stub layers are cheap to make again: only those of existing root filesystems stay.
        if self.stubs_dir().is_dir() {
            let used: HashSet<String> = self.stubs_in_use()?.into_iter().collect();
            sweep(&self.stubs_dir(), &used, |p| {
                fs::remove_dir_all(p).map_err(io_err("remove", p))
            })?;
        }
        self.collect_tmp(true)?;
        Ok(report)
    }
}

/// Removes every entry of `dir` whose name is not in `keep`; returns how many.
fn sweep(
    dir: &Path,
    keep: &HashSet<String>,
    remove: impl Fn(&Path) -> Result<(), StoreError>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for e in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let e = e.map_err(io_err("list", dir))?;
        if !keep.contains(e.file_name().to_string_lossy().as_ref()) {
            remove(&e.path())?;
            n += 1;
        }
    }
    Ok(n)
}
