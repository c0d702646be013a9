//! What one `Store` has read already: a command reads the index and an image's manifest and
//! config several times (the pull check, the container's plan, its spec), each a file to
//! open, read and parse. The index is read again only when `index.json` is another file
//! than the one read (it is replaced by rename, so a change gives a new inode); blobs are
//! named by their content and never change.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use super::index::IndexJson;

/// Blobs larger than this are not kept (a manifest or config is a few KiB).
const MAX_BLOB: usize = 1 << 20;

/// Which file a path was: inode, change time and size.
type FileId = (u64, i64, i64, u64);

#[derive(Clone, Default)]
pub(crate) struct Memo(Arc<Mutex<Kept>>);

#[derive(Default)]
struct Kept {
    index: Option<(FileId, IndexJson)>,
    blobs: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

fn file_id(p: &Path) -> Option<FileId> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.ino(), m.ctime(), m.ctime_nsec(), m.size()))
}

impl Memo {
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The index at `path`, read (by `read`) only when the file changed since.
    pub(crate) fn index<E>(
        &self,
        path: &Path,
        read: impl FnOnce() -> Result<IndexJson, E>,
    ) -> Result<IndexJson, E> {
        let id = file_id(path);
        if let (Some(id), Some((kept, index))) = (id, &self.kept().index) {
            if id == *kept {
                return Ok(index.clone());
            }
        }
        let index = read()?;
        // Kept only when the file did not change while it was read.
        if let Some(id) = id.filter(|i| file_id(path) == Some(*i)) {
            self.kept().index = Some((id, index.clone()));
        }
        Ok(index)
    }

    /// Blob `digest`'s bytes, read (and checked, by `read`) once.
    pub(crate) fn blob<E>(
        &self,
        digest: &str,
        read: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, E> {
        if let Some(b) = self.kept().blobs.get(digest) {
            return Ok(b.clone());
        }
        let b = read()?;
        if b.len() <= MAX_BLOB {
            self.kept().blobs.insert(digest.to_string(), b.clone());
        }
        Ok(b)
    }
}
