//! Staging: everything one operation (pull, load, import) adds goes to a private
//! directory under `tmp/` first and is renamed into the store only when the whole
//! operation succeeded. A failed or interrupted operation leaves the store as it was: the
//! staging directory is removed on drop, by [`discard_staging_of_this_process`] when the
//! process is told to terminate, or, after a kill, by the next store write (see `tmp.rs`).

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::blobs::{unique_name, BlobWriter};
use super::snapshots::{read_meta, tree_of, write_meta, SnapshotMeta};
use super::{io_err, Store, StoreError};
use crate::digest::Digest;
use crate::sys;

/// The staging directories of this process, for [`discard_staging_of_this_process`].
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes the staging directories of this process. For a process about to exit on a
/// signal: the operations using them will not get to clean up.
pub fn discard_staging_of_this_process() {
    let dirs = LIVE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for dir in dirs {
        // Threads still unpacking may add entries while it goes: try again.
        for _ in 0..10 {
            match fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => continue,
                _ => break,
            }
        }
    }
}

/// A staging area in the store; dropped without [`Staging::commit`] it disappears.
#[derive(Debug)]
pub struct Staging<'s> {
    store: &'s Store,
    dir: PathBuf,
    /// The open directory, flocked: it marks the staging area as in use.
    _owner: File,
    committed: bool,
}

impl<'s> Staging<'s> {
    /// Creates a new staging directory, after removing those that killed commands left.
    pub fn new(store: &'s Store) -> Result<Staging<'s>, StoreError> {
        store.collect_tmp(false)?;
        let dir = store.tmp_dir().join(unique_name("stage"));
        let owner = store.make_owned_dir(&dir)?;
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(dir.clone());
        let staging = Staging {
            store,
            dir,
            _owner: owner,
            committed: false,
        };
        for sub in ["blobs", "snapshots"] {
            let p = staging.dir.join(sub);
            fs::create_dir(&p).map_err(io_err("create directory", &p))?;
        }
        Ok(staging)
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

    /// Whether a complete snapshot is in the store or already staged.
    pub fn has_snapshot(&self, chain: &Digest) -> bool {
        self.store.has_snapshot(chain)
            || matches!(read_meta(&self.staged_snapshot(chain)), Ok(Some(_)))
    }

    fn staged_snapshot(&self, chain: &Digest) -> PathBuf {
        self.dir.join("snapshots").join(chain.hex())
    }

    /// Creates the (empty) directory a layer with this chain ID is unpacked into.
    pub fn snapshot_dir(&self, chain: &Digest) -> Result<OwnedFd, StoreError> {
        let p = tree_of(&self.staged_snapshot(chain));
        fs::create_dir_all(&p).map_err(io_err("create snapshot", &p))?;
        let f = File::open(&p).map_err(io_err("open snapshot", &p))?;
        Ok(f.into())
    }

    /// Takes the directory `tree` (on the store's file system) as the staged snapshot of
    /// this chain ID, complete: a committed container's upper directory is its layer
    /// unpacked already.
    pub fn adopt_snapshot(
        &self,
        chain: &Digest,
        tree: &Path,
        meta: &SnapshotMeta,
    ) -> Result<(), StoreError> {
        let dir = self.staged_snapshot(chain);
        fs::create_dir_all(&dir).map_err(io_err("create snapshot", &dir))?;
        let dest = tree_of(&dir);
        fs::rename(tree, &dest).map_err(io_err("move into the store", tree))?;
        write_meta(&dir, meta)
    }

    /// Marks the staged snapshot complete: its layer is unpacked and checked.
    pub fn finish_snapshot(&self, chain: &Digest, meta: &SnapshotMeta) -> Result<(), StoreError> {
        write_meta(&self.staged_snapshot(chain), meta)
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
        let snapshots = self.store.dir.join("snapshots");
        for name in list(&staged_snaps)? {
            self.place_snapshot(&staged_snaps.join(&name), &snapshots.join(&name))?;
        }
        sync_dir(&snapshots)?;
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

/// Renames `from` to `dest`; false if `dest` exists (a directory that is not empty).
fn rename_new(from: &Path, dest: &Path) -> Result<bool, StoreError> {
    match fs::rename(from, dest) {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST)) => {
            Ok(false)
        }
        Err(e) => Err(io_err("rename into store", dest)(e)),
    }
}

fn move_all(from: &Path, to: &Path) -> Result<(), StoreError> {
    for name in list(from)? {
        rename_new(&from.join(&name), &to.join(&name))?;
    }
    sync_dir(to)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let d: OwnedFd = File::open(dir).map_err(io_err("open", dir))?.into();
    sys::fsync(std::os::fd::AsFd::as_fd(&d)).map_err(io_err("fsync", dir))
}

impl Staging<'_> {
    /// Moves a staged snapshot into the store. A complete one already there is the same
    /// layer and is kept; an incomplete one (left by an older berth) is replaced.
    fn place_snapshot(&self, from: &Path, dest: &Path) -> Result<(), StoreError> {
        if rename_new(from, dest)? || read_meta(dest)?.is_some() {
            return Ok(());
        }
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
        for (container, chains) in self.store.rootfs_users()? {
            if chains.iter().any(|c| Some(c.hex()) == name.as_deref()) {
                return Err(StoreError::Invalid {
                    what: format!("snapshot {}", dest.display()),
                    why: format!(
                        "incomplete, and used by container {container}; remove it and try again"
                    ),
                });
            }
        }
        self.store.discard(dest)?;
        // Another process may have placed its copy meanwhile: that one is complete.
        rename_new(from, dest).map(drop)
    }
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|d| *d != self.dir);
    }
}
