//! `tmp/`: staging areas of operations in progress and snapshots being deleted. The
//! process working in such a directory holds an flock on it, which the kernel drops when
//! the process dies: a directory nobody holds is what a killed command left, and the next
//! store write removes it. `tmp.lock` is held shared while a directory is made and locked
//! and exclusively while leftovers are looked for, so a new directory is never taken for
//! a leftover before its owner locked it.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::path::Path;

use super::blobs::unique_name;
use super::lock::Lock;
use super::{io_err, Store, StoreError};
use crate::sys;

impl Store {
    fn tmp_lock(&self, exclusive: bool) -> Result<Lock, StoreError> {
        Lock::take(&self.dir.join("tmp.lock"), exclusive)
    }

    /// Makes the directory `dir` in `tmp/`, owned by this process while the returned
    /// file is open.
    pub(crate) fn make_owned_dir(&self, dir: &Path) -> Result<File, StoreError> {
        let _tmp = self.tmp_lock(false)?;
        fs::create_dir(dir).map_err(io_err("create directory", dir))?;
        let owner = File::open(dir).map_err(io_err("open", dir))?;
        sys::flock(owner.as_fd(), true).map_err(io_err("lock", dir))?;
        Ok(owner)
    }

    /// Deletes the directory `dir` of the store so that other commands see it whole or
    /// not at all: it is locked and renamed into `tmp/` before its files are removed.
    pub(crate) fn discard(&self, dir: &Path) -> Result<(), StoreError> {
        let owner = match File::open(dir) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            r => r.map_err(io_err("open", dir))?,
        };
        if !sys::try_flock(owner.as_fd()).map_err(io_err("lock", dir))? {
            return Ok(()); // another process is deleting it
        }
        let trash = self.tmp_dir().join(unique_name("trash"));
        match fs::rename(dir, &trash) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            r => r.map_err(io_err("rename", dir))?,
        }
        remove_tree(&trash)
    }

    /// Removes what killed commands left in `tmp/`: the directories no live process holds
    /// and, with `files`, temporary files (whose writers hold no lock, so only garbage
    /// collection passes it).
    pub(crate) fn collect_tmp(&self, files: bool) -> Result<(), StoreError> {
        let tmp = self.tmp_dir();
        let mut stale = Vec::new();
        {
            let _tmp = self.tmp_lock(true)?;
            for e in fs::read_dir(&tmp).map_err(io_err("list", &tmp))? {
                let e = e.map_err(io_err("list", &tmp))?;
                let p = e.path();
                if !e.file_type().map_err(io_err("stat", &p))?.is_dir() {
                    if files {
                        match fs::remove_file(&p) {
                            Err(e) if e.kind() == ErrorKind::NotFound => {}
                            r => r.map_err(io_err("remove", &p))?,
                        }
                    }
                    continue;
                }
                let dir = match File::open(&p) {
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    r => r.map_err(io_err("open", &p))?,
                };
                // Kept locked while it is removed: no other process takes it meanwhile.
                if sys::try_flock(dir.as_fd()).map_err(io_err("lock", &p))? {
                    stale.push((p, dir));
                }
            }
        }
        for (p, _owner) in stale {
            remove_tree(&p)?;
        }
        Ok(())
    }
}

fn remove_tree(p: &Path) -> Result<(), StoreError> {
    match fs::remove_dir_all(p) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        r => r.map_err(io_err("remove", p)),
    }
}
