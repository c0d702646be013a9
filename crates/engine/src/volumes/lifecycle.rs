//! A container's volumes through its life. `create` makes those that do not exist yet
//! (docker makes a named volume on first use) and fills the empty ones from the image,
//! holding each volume's lock until the container's record names it, so that a `volume rm`
//! waiting for that lock then sees the container. `start` mounts the `-o` volumes that are
//! not mounted, and the end of a run unmounts those no running container uses any more.
//! `rm -v`, `--rm` and a failed `run` remove its anonymous volumes that no other container
//! uses.
//!
//! Lock order: a container's lock before a volume's, and nothing waits for a container's
//! lock while it holds a volume's: a volume's users are read from the records unlocked.

use super::{copy_up, local, Volume, VolumeError, VolumeLock, VolumeSpec, ANONYMOUS_LABEL};
use crate::options::{volumes_from, UserMount};
use crate::record::{Record, State};
use crate::{Engine, Error};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The volumes of a container being created: locked, and whether each was made for it.
pub(crate) struct Claimed {
    held: Vec<(VolumeLock, Volume, bool)>,
}

/// The volumes `mounts` name, each once, in the order their locks are taken.
fn volume_names(mounts: &[UserMount]) -> BTreeSet<&str> {
    mounts.iter().filter_map(UserMount::volume).collect()
}

impl Engine {
    /// The binds and volumes of the `--volumes-from` containers, read-only where asked.
    pub(crate) fn inherited_mounts(&self, from: &[String]) -> Result<Vec<UserMount>, Error> {
        let mut out = Vec::new();
        for spec in from {
            let (what, ro) = volumes_from(spec)?;
            for mut m in self.container(what)?.settings.mounts {
                if let UserMount::Bind { read_only, .. } | UserMount::Volume { read_only, .. } =
                    &mut m
                {
                    *read_only |= ro;
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    /// Locks the volumes `mounts` name, making those that do not exist.
    pub(crate) fn claim_volumes(&self, mounts: &[UserMount]) -> Result<Claimed, Error> {
        let mut wanted: BTreeMap<&str, VolumeSpec> = BTreeMap::new();
        for m in mounts {
            if let UserMount::Volume {
                name,
                anonymous,
                spec,
                ..
            } = m
            {
                wanted.entry(name).or_insert_with(|| {
                    let mut spec = spec.clone();
                    if *anonymous {
                        spec.labels.insert(ANONYMOUS_LABEL.into(), String::new());
                    }
                    spec
                });
            }
        }
        let mut claimed = Claimed { held: Vec::new() };
        for (name, spec) in wanted {
            let held = self
                .volumes
                .lock(name, true)
                .and_then(|l| l.ok_or_else(|| VolumeError::NotFound(name.into())))
                .and_then(|lock| {
                    let (v, made) = self.volumes.ensure(&lock, &spec)?;
                    Ok((lock, v, made))
                });
            match held {
                Ok(h) => claimed.held.push(h),
                Err(e) => {
                    self.unclaim(claimed);
                    return Err(e.into());
                }
            }
        }
        Ok(claimed)
    }

    /// For a container that was not made after all: the anonymous volumes made for it go
    /// (named ones stay, as docker keeps them).
    pub(crate) fn unclaim(&self, c: Claimed) {
        for (lock, v, made) in c.held {
            if made && v.anonymous() {
                let _ = self.volumes.remove(lock);
            }
        }
    }

    /// Fills the claimed volumes that are empty from the image, whose files are under the
    /// container's `root` (docker's copy-up; `nocopy` skips it). A `-o` volume is mounted
    /// for it and released after, as docker's local driver does.
    pub(crate) fn fill_volumes(
        &self,
        claimed: &Claimed,
        mounts: &[UserMount],
        root: &Path,
    ) -> Result<(), Error> {
        for m in mounts {
            let UserMount::Volume {
                name,
                destination,
                no_copy: false,
                ..
            } = m
            else {
                continue;
            };
            let Some((_, v, _)) = claimed.held.iter().find(|(l, ..)| l.name() == name) else {
                continue;
            };
            let data = self.volumes.data(name);
            if v.mounted_on_use() {
                local::mount(name, &v.spec.options, &data)?;
            }
            let copied = copy_up(name, root, destination, &data);
            if v.mounted_on_use() {
                self.unmount_if_unused(name)?;
            }
            copied?;
        }
        Ok(())
    }

    /// Mounts the `-o` volumes of container `r` that are not mounted. Their locks are kept
    /// until it runs, so that a container that stops meanwhile does not unmount them.
    pub(crate) fn mount_volumes(&self, r: &Record) -> Result<Vec<VolumeLock>, Error> {
        let mut locks = Vec::new();
        for name in volume_names(&r.settings.mounts) {
            let missing = || VolumeError::NotFound(name.to_string());
            let v = self.volumes.load(name)?.ok_or_else(missing)?;
            if v.mounted_on_use() {
                let lock = self.volumes.lock(name, false)?.ok_or_else(missing)?;
                local::mount(name, &v.spec.options, &self.volumes.data(name))?;
                locks.push(lock);
            }
        }
        Ok(locks)
    }

    /// Unmounts the `-o` volumes of `mounts` that no running container uses any more.
    pub(crate) fn release_volumes(&self, mounts: &[UserMount]) -> Result<(), Error> {
        for name in volume_names(mounts) {
            if !self.volumes.load(name)?.is_some_and(|v| v.mounted_on_use()) {
                continue;
            }
            if let Some(_lock) = self.volumes.lock(name, false)? {
                self.unmount_if_unused(name)?;
            }
        }
        Ok(())
    }

    /// Unmounts volume `name`'s `_data` unless a running container uses it; the caller
    /// holds the volume's lock.
    fn unmount_if_unused(&self, name: &str) -> Result<(), Error> {
        if self.volume_users(name, true)?.is_empty() {
            local::unmount(&self.volumes.data(name))?;
        }
        Ok(())
    }

    /// Removes the anonymous volumes of `mounts` that no container uses: docker's rule for
    /// `rm -v` and `--rm` (named volumes stay; one another container uses stays quietly).
    pub(crate) fn remove_anonymous_volumes(&self, mounts: &[UserMount]) -> Result<(), Error> {
        for m in mounts {
            let UserMount::Volume {
                name,
                anonymous: true,
                ..
            } = m
            else {
                continue;
            };
            let Some(lock) = self.volumes.lock(name, false)? else {
                continue;
            };
            if self.volumes.load(name)?.is_some() && self.volume_users(name, false)?.is_empty() {
                self.volumes.remove(lock)?;
            }
        }
        Ok(())
    }

    /// The containers whose records mount volume `name` (only running ones with
    /// `running`), read without their locks.
    pub(crate) fn volume_users(&self, name: &str, running: bool) -> Result<Vec<Record>, Error> {
        let mut out = Vec::new();
        for id in self.containers.ids()? {
            let Some(r) = self.containers.load(&id)? else {
                continue;
            };
            let mounts_it = r.settings.mounts.iter().any(|m| m.volume() == Some(name));
            if mounts_it && (!running || r.state == State::Running) {
                out.push(r);
            }
        }
        Ok(out)
    }
}
