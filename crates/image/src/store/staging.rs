//! Staging: everything one operation (pull, load, import) adds goes to a private
//! directory under `tmp/` first and is renamed into the store only when the whole
//! operation succeeded. A failed or interrupted operation leaves the store as it was
//! (the staging directory is removed on drop, or by the next garbage collection).

use std::fs;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use super::blobs::{unique_name, BlobWriter};
use super::{io_err, Store, StoreError};
use crate::digest::Digest;
use crate::sys;

/// A staging area in the store; dropped without [`Staging::commit`] it disappears.
#[derive(Debug)]
pub struct Staging<'s> {
    store: &'s Store,
    dir: PathBuf,
    committed: bool,
}

impl<'s> Staging<'s> {
    /// Creates a new staging directory.
    pub fn new(store: &'s Store) -> Result<Staging<'s>, StoreError> {
        let dir = store.tmp_dir().join(unique_name("stage"));
        for sub in ["blobs", "snapshots"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(io_err("create directory", &p))?;
        }
        Ok(Staging {
            store,
            dir,
            committed: false,
        })
    }

    /// A writer for a new blob.
    pub fn blob_writer(&self) -> Result<BlobWriter, StoreError> {
        BlobWriter::create(self.dir.join(unique_name("partial")))
    }

    /// Completes a blob: checks it against `expected` and stages it.
    pub fn finish_blob(
        &self,
        w: BlobWriter,
        expected: Option<&Digest>,
        what: &str,
    ) -> Result<(Digest, u64), StoreError> {
        w.finish(&self.dir.join("blobs"), expected, what)
    }

    /// Stages a small blob held in memory.
    pub fn add_blob(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let mut w = self.blob_writer()?;
        w.write_all(bytes).map_err(io_err("write", &self.dir))?;
        Ok(self.finish_blob(w, None, "blob")?.0)
    }

    /// A private scratch directory inside the staging area (same filesystem as the store).
    pub fn scratch_dir(&self) -> Result<PathBuf, StoreError> {
        let p = self.dir.join(unique_name("scratch"));
        fs::create_dir(&p).map_err(io_err("create directory", &p))?;
        Ok(p)
    }

    /// Takes over a complete file as a blob: hashes it, checks it against `expected` and
    /// moves it into the staging area. The file must be on the store's filesystem.
    pub fn adopt_blob(
        &self,
        file: &Path,
        expected: Option<&Digest>,
        what: &str,
    ) -> Result<(Digest, u64), StoreError> {
        let mut r =
            crate::digest::HashReader::new(fs::File::open(file).map_err(io_err("open", file))?);
        std::io::copy(&mut r, &mut std::io::sink()).map_err(io_err("read", file))?;
        let (digest, size, _) = r.finish();
        if let Some(exp) = expected {
            if *exp != digest {
                return Err(StoreError::DigestMismatch {
                    what: what.to_string(),
                    expected: exp.clone(),
                    actual: digest,
                });
            }
        }
        let dest = self.dir.join("blobs").join(digest.hex());
        fs::rename(file, &dest).map_err(io_err("rename", &dest))?;
        Ok((digest, size))
    }

    /// Whether the blob is in the store or already staged.
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.store.has_blob(d) || self.dir.join("blobs").join(d.hex()).exists()
    }

    /// Path of a blob, staged or stored.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        let staged = self.dir.join("blobs").join(d.hex());
        if staged.exists() {
            staged
        } else {
            self.store.blob_path(d)
        }
    }

    /// Whether the snapshot exists in the store or is already staged.
    pub fn has_snapshot(&self, chain: &Digest) -> bool {
        self.store.snapshot_path(chain).exists() || self.staged_snapshot(chain).exists()
    }

    fn staged_snapshot(&self, chain: &Digest) -> PathBuf {
        self.dir.join("snapshots").join(chain.hex())
    }

    /// Creates the (empty) directory a layer with this chain ID is unpacked into.
    pub fn snapshot_dir(&self, chain: &Digest) -> Result<OwnedFd, StoreError> {
        let p = self.staged_snapshot(chain);
        fs::create_dir(&p).map_err(io_err("create snapshot", &p))?;
        let f = fs::File::open(&p).map_err(io_err("open snapshot", &p))?;
        Ok(f.into())
    }

    /// Moves everything staged into the store. Content another process added meanwhile
    /// is identical (same digest), so an existing target is simply kept.
    pub fn commit(mut self) -> Result<(), StoreError> {
        // Unpacked files are not fsynced (containerd and docker do not either): syncing
        // ~100 MB of small files doubled the pull time here. Blobs are synced, so a
        // snapshot damaged by a crash can be unpacked again from its layer blob.
        let staged_snaps = self.dir.join("snapshots");
        move_all(
            &self.dir.join("blobs"),
            &self.store.dir.join("blobs/sha256"),
        )?;
        move_all(&staged_snaps, &self.store.dir.join("snapshots"))?;
        self.committed = true;
        let _ = fs::remove_dir_all(&self.dir);
        Ok(())
    }
}

fn list(dir: &Path) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let e = e.map_err(io_err("list", dir))?;
        out.push(e.file_name().to_string_lossy().into_owned());
    }
    Ok(out)
}

fn move_all(from: &Path, to: &Path) -> Result<(), StoreError> {
    for name in list(from)? {
        let dest = to.join(&name);
        match fs::rename(from.join(&name), &dest) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST)) => {}
            Err(e) => return Err(io_err("rename into store", &dest)(e)),
        }
    }
    let d: OwnedFd = fs::File::open(to).map_err(io_err("open", to))?.into();
    sys::fsync(std::os::fd::AsFd::as_fd(&d)).map_err(io_err("fsync", to))
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
