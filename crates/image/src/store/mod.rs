//! The local content store: an OCI image layout (blobs addressed by digest and an
//! `index.json` naming manifests) plus unpacked layer snapshots keyed by chain ID and
//! per-container overlay root filesystems. See docs/IMAGES.md for the layout.

mod blobs;
mod changes;
mod files;
mod gc;
mod image;
mod index;
mod lock;
mod memo;
mod rootfs;
mod snapshots;
mod staging;
mod stubs;
mod tmp;

use std::io;
use std::path::{Path, PathBuf};

pub use blobs::BlobWriter;
pub use changes::{Change, ChangeKind};
pub use gc::GcReport;
pub use image::{layers_of, Image, Layer};
pub use index::ImageRecord;
pub use lock::Lock;
pub use rootfs::{Durability, Rootfs};
pub use snapshots::{chain_ids, SnapshotMeta};
pub use staging::{discard_staging_of_this_process, Staging};
pub use stubs::MountPoint;

use crate::digest::{Digest, DigestError};
use crate::unpack::UnpackError;

/// Errors from the store; each names the path, digest or image involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation on the store failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// No image by that name or ID.
    #[error("image {0:?} not found in the local store")]
    NotFound(String),
    /// A name or ID prefix that matches several images.
    #[error("image ID prefix {0:?} is ambiguous")]
    Ambiguous(String),
    /// Content whose digest is not what it was expected to be.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What the content is (blob, layer diff ID ...).
        what: String,
        /// The expected digest.
        expected: Digest,
        /// The digest of what was read.
        actual: Digest,
    },
    /// A manifest, config or index that is not valid JSON of its kind.
    #[error("{what}: {why}")]
    Invalid {
        /// Which document.
        what: String,
        /// What is wrong.
        why: String,
    },
    /// A bad digest string.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// A layer failed to unpack.
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    /// An image is still used by a container's root filesystem.
    #[error("image {image} is in use by container {container}")]
    InUse {
        /// The image.
        image: String,
        /// A container using it.
        container: String,
    },
}

pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { op, path, source }
}

/// A store rooted at a directory (created on open).
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
    rootless: bool,
    memo: memo::Memo,
}

impl Store {
    /// Opens (creating if needed) the store under `root` (berth's `--root`): the image
    /// store lives in `root/image`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let dir = root.join("image");
        let layout = dir.join("oci-layout");
        // Written last when a store is made: a store that has it has the rest.
        if !layout.exists() {
            for sub in ["blobs/sha256", "snapshots", "tmp", "rootfs"] {
                let p = dir.join(sub);
                std::fs::create_dir_all(&p).map_err(io_err("create directory", &p))?;
            }
            for lock in ["content.lock", "index.lock", "tmp.lock"] {
                let p = dir.join(lock);
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&p)
                    .map_err(io_err("create", &p))?;
            }
            let body = br#"{"imageLayoutVersion":"1.0.0"}"#;
            blobs::write_atomic(&dir.join("tmp"), &layout, body)?;
        }
        Ok(Store {
            dir,
            rootless: crate::sys::rootless(),
            memo: memo::Memo::default(),
        })
    }

    fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    /// Takes the content lock shared: held while adding content, so that garbage
    /// collection (which takes it exclusively) never sweeps half-added content.
    pub fn content_lock(&self) -> Result<Lock, StoreError> {
        Lock::take(&self.dir.join("content.lock"), false)
    }
}
