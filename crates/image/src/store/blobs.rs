//! Blobs: files named by the sha256 of their content, written to a temporary file,
//! fsynced and renamed into place so a reader never sees a partial blob.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{io_err, Store, StoreError};
use crate::digest::{Digest, HashWriter};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name for a temporary file or directory that no other process or thread uses.
pub(crate) fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// Writes `bytes` to `dest` atomically through a temporary file in `tmp_dir`.
pub(crate) fn write_atomic(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = tmp_dir.join(unique_name("write"));
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dest)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map_err(io_err("write", dest))
}

/// A blob being written; [`BlobWriter::finish`] checks it and moves it to `dest_dir`.
pub struct BlobWriter {
    inner: HashWriter<io::BufWriter<File>>,
    path: PathBuf,
}

impl BlobWriter {
    pub(crate) fn create(path: PathBuf) -> Result<BlobWriter, StoreError> {
        let f = File::create(&path).map_err(io_err("create", &path))?;
        Ok(BlobWriter {
            inner: HashWriter::new(io::BufWriter::with_capacity(1 << 20, f)),
            path,
        })
    }

    /// Verifies the content against `expected` (if given), syncs it and renames it to
    /// `dest_dir/<hex>`. On error the partial file is removed.
    pub(crate) fn finish(
        self,
        dest_dir: &Path,
        expected: Option<&Digest>,
        what: &str,
    ) -> Result<(Digest, u64), StoreError> {
        let path = self.path.clone();
        let res = self.finish_inner(dest_dir, expected, what);
        if res.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        res
    }

    fn finish_inner(
        self,
        dest_dir: &Path,
        expected: Option<&Digest>,
        what: &str,
    ) -> Result<(Digest, u64), StoreError> {
        let (digest, size, buf) = self.inner.finish();
        let file = buf.into_inner().map_err(|e| StoreError::Io {
            op: "write",
            path: self.path.clone(),
            source: e.into_error(),
        })?;
        if let Some(exp) = expected {
            if *exp != digest {
                return Err(StoreError::DigestMismatch {
                    what: what.to_string(),
                    expected: exp.clone(),
                    actual: digest,
                });
            }
        }
        file.sync_all().map_err(io_err("fsync", &self.path))?;
        let dest = dest_dir.join(digest.hex());
        std::fs::rename(&self.path, &dest).map_err(io_err("rename", &dest))?;
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Store {
    /// Where the blob with this digest lives (whether or not it exists).
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(d.hex())
    }

    /// Whether the blob is in the store.
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).exists()
    }

    /// Opens a blob for streaming.
    pub fn open_blob(&self, d: &Digest) -> Result<File, StoreError> {
        let p = self.blob_path(d);
        File::open(&p).map_err(io_err("open blob", &p))
    }

    /// Reads a small blob (manifest, config) whole and checks its digest.
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>, StoreError> {
        self.memo.blob(&d.to_string(), || {
            let mut buf = Vec::new();
            let p = self.blob_path(d);
            self.open_blob(d)?
                .read_to_end(&mut buf)
                .map_err(io_err("read blob", &p))?;
            let actual = Digest::of(&buf);
            if actual != *d {
                return Err(StoreError::DigestMismatch {
                    what: format!("blob {}", p.display()),
                    expected: d.clone(),
                    actual,
                });
            }
            Ok(buf)
        })
    }
}
