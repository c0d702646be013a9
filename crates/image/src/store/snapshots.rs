//! Snapshots: each layer unpacked once, into `snapshots/<chain ID>/fs`, used as an
//! overlayfs lower directory. The chain ID names the whole stack below, so the same
//! diff on another base gets its own snapshot (its whiteouts mean something else there).
//!
//! `snapshots/<chain ID>/layer.json` is written once the layer is unpacked and checked,
//! and a snapshot enters `snapshots/` and leaves it by a rename, so no command sees one
//! half made or half deleted. A directory without `layer.json` (left by an older berth)
//! counts as missing: it is replaced, never used.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::image::Image;
use super::{io_err, Store, StoreError};
use crate::digest::Digest;

/// The unpacked tree inside a snapshot's directory.
const FS: &str = "fs";
/// The snapshot's metadata, written last.
const META: &str = "layer.json";

/// What the store records about an unpacked layer (its `layer.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// The layer has `.wh..wh..opq` at its root. overlayfs ignores the opaque mark on a
    /// layer's root, so the layers below it are left out of the stack instead.
    #[serde(default)]
    pub opaque_root: bool,
}

/// Chain IDs for a stack of diff IDs (bottom first): the first is the diff ID itself,
/// each next one is sha256("<parent chain ID> <diff ID>").
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => Digest::of(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// The unpacked tree of the snapshot directory `dir`.
pub(crate) fn tree_of(dir: &Path) -> PathBuf {
    dir.join(FS)
}

/// The metadata of the snapshot directory `dir`; None while it is not complete.
pub(crate) fn read_meta(dir: &Path) -> Result<Option<SnapshotMeta>, StoreError> {
    let p = dir.join(META);
    match fs::read(&p) {
        // A file cut short by a crash is as good as none: the layer is unpacked again.
        Ok(b) => Ok(serde_json::from_slice(&b).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", &p)(e)),
    }
}

/// Marks the snapshot directory `dir` complete.
pub(crate) fn write_meta(dir: &Path, meta: &SnapshotMeta) -> Result<(), StoreError> {
    let p = dir.join(META);
    let body = serde_json::to_vec(meta).map_err(|e| StoreError::Invalid {
        what: p.display().to_string(),
        why: e.to_string(),
    })?;
    fs::write(&p, body).map_err(io_err("write", &p))
}

impl Store {
    /// The directory of the snapshot for this chain ID (its tree and its metadata).
    pub(crate) fn snapshot_dir(&self, chain: &Digest) -> PathBuf {
        self.dir.join("snapshots").join(chain.hex())
    }

    /// The unpacked tree of the snapshot for this chain ID: an overlayfs lower directory.
    pub fn snapshot_path(&self, chain: &Digest) -> PathBuf {
        tree_of(&self.snapshot_dir(chain))
    }

    /// The snapshot's metadata; None when it is missing or incomplete.
    pub fn snapshot_meta(&self, chain: &Digest) -> Result<Option<SnapshotMeta>, StoreError> {
        read_meta(&self.snapshot_dir(chain))
    }

    /// Whether a complete snapshot for this chain ID is in the store.
    pub fn has_snapshot(&self, chain: &Digest) -> bool {
        matches!(self.snapshot_meta(chain), Ok(Some(_)))
    }

    /// The trees of `image`'s snapshots that make its root filesystem, top first. Below a
    /// layer whose root is opaque nothing shows, so the list ends there.
    pub(crate) fn lower_dirs(&self, image: &Image) -> Result<Vec<PathBuf>, StoreError> {
        let chains: Vec<Digest> = image.layers()?.iter().map(|l| l.chain_id.clone()).collect();
        self.lower_dirs_of(&chains)
            .map_err(|chain| StoreError::Invalid {
                what: format!("image {}", image.id),
                why: format!(
                    "snapshot {chain} is missing or incomplete; pull or load the image again"
                ),
            })
    }

    /// The overlay lower directories of the snapshots `chains` (bottom layer first), top
    /// first, down to a layer whose root is opaque; the chain ID of a missing snapshot.
    pub(crate) fn lower_dirs_of(&self, chains: &[Digest]) -> Result<Vec<PathBuf>, Digest> {
        let mut out = Vec::new();
        for chain in chains.iter().rev() {
            let Ok(Some(meta)) = self.snapshot_meta(chain) else {
                return Err(chain.clone());
            };
            out.push(self.snapshot_path(chain));
            if meta.opaque_root {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_definition() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let ch = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ch[0], a);
        assert_eq!(ch[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn a_snapshot_without_its_metadata_is_not_there() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        let chain = Digest::of(b"layer");
        // What an interrupted deletion by an older berth left: some of the files.
        fs::create_dir_all(store.snapshot_path(&chain)).unwrap();
        fs::write(store.snapshot_path(&chain).join("some-file"), b"x").unwrap();
        assert!(!store.has_snapshot(&chain));
        fs::write(store.snapshot_dir(&chain).join(META), b"{\"opaque_ro").unwrap();
        assert!(!store.has_snapshot(&chain));
        write_meta(&store.snapshot_dir(&chain), &SnapshotMeta::default()).unwrap();
        assert_eq!(
            store.snapshot_meta(&chain).unwrap(),
            Some(SnapshotMeta::default())
        );
    }
}
