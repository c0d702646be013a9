//! `volume create|ls|inspect|rm|prune`: the volumes under the root (see [`crate::volumes`])
//! and the containers that use them. "In use" is read from the container records, brought
//! up to date first: a container whose monitor died is settled before its volumes are
//! judged.

use crate::names;
use crate::options::UserMount;
use crate::volumes::{local, valid_name, Volume, VolumeError, VolumeSpec, DRIVER};
use crate::{Engine, Error};
use std::collections::HashMap;
use std::path::PathBuf;

/// A volume as `volume ls` and `volume inspect` show it.
#[derive(Debug)]
pub struct VolumeInfo {
    pub volume: Volume,
    /// Its `_data`, what containers mount (docker's `Mountpoint`).
    pub mountpoint: PathBuf,
    /// Ids of the containers whose records mount it.
    pub containers: Vec<String>,
}

impl VolumeInfo {
    /// A volume as `volume inspect` prints it: docker's fields, `null` for no labels or options.
    pub fn inspect_json(&self) -> serde_json::Value {
        let map = |m: &std::collections::BTreeMap<String, String>| match m.is_empty() {
            true => serde_json::Value::Null,
            false => serde_json::json!(m),
        };
        serde_json::json!({
            "CreatedAt": self.volume.created.to_string(),
            "Driver": self.volume.driver,
            "Labels": map(&self.volume.spec.labels),
            "Mountpoint": self.mountpoint,
            "Name": self.volume.name,
            "Options": map(&self.volume.spec.options),
            "Scope": "local",
        })
    }
}

impl Engine {
    /// Makes volume `name` (a generated 64-hex name without one). A volume of that name
    /// that exists is returned as it is, as docker does.
    pub fn create_volume(
        &self,
        name: Option<&str>,
        driver: Option<&str>,
        spec: &VolumeSpec,
    ) -> Result<Volume, Error> {
        if let Some(d) = driver.filter(|d| *d != DRIVER) {
            return Err(VolumeError::Driver(d.to_string()).into());
        }
        local::check_options(&spec.options)?;
        let name = match name {
            Some(n) if !valid_name(n) => return Err(VolumeError::BadName(n.to_string()).into()),
            Some(n) => n.to_string(),
            None => names::new_id()?,
        };
        let lock = self
            .volumes
            .lock(&name, true)?
            .ok_or_else(|| VolumeError::NotFound(name.clone()))?;
        Ok(self.volumes.ensure(&lock, spec)?.0)
    }

    /// Every volume, with the containers that use it.
    pub fn volumes(&self) -> Result<Vec<VolumeInfo>, Error> {
        self.refresh_all()?;
        let mut users: HashMap<String, Vec<String>> = HashMap::new();
        for id in self.containers.ids()? {
            let Some(r) = self.containers.load(&id)? else {
                continue;
            };
            for name in r.settings.mounts.iter().filter_map(UserMount::volume) {
                users.entry(name.to_string()).or_default().push(id.clone());
            }
        }
        let mut out = Vec::new();
        for name in self.volumes.names()? {
            if let Some(volume) = self.volumes.load(&name)? {
                out.push(VolumeInfo {
                    mountpoint: self.volumes.data(&name),
                    containers: users.remove(&name).unwrap_or_default(),
                    volume,
                });
            }
        }
        Ok(out)
    }

    /// Volume `name`, with the containers that use it.
    pub fn volume(&self, name: &str) -> Result<VolumeInfo, Error> {
        self.refresh_all()?;
        let volume = self
            .volumes
            .load(name)?
            .ok_or_else(|| VolumeError::NotFound(name.to_string()))?;
        let containers = self.volume_users(name, false)?;
        Ok(VolumeInfo {
            mountpoint: self.volumes.data(name),
            containers: containers.into_iter().map(|r| r.id).collect(),
            volume,
        })
    }

    /// Removes volume `name`; one a container uses is refused, and with `force` a missing
    /// one is no error (docker's `-f`).
    pub fn remove_volume(&self, name: &str, force: bool) -> Result<(), Error> {
        self.refresh_all()?;
        let missing = || match force {
            true => Ok(()),
            false => Err(VolumeError::NotFound(name.to_string()).into()),
        };
        let Some(lock) = self.volumes.lock(name, false)? else {
            return missing();
        };
        if self.volumes.load(name)?.is_none() {
            return missing();
        }
        let users = self.volume_users(name, false)?;
        if !users.is_empty() {
            let containers: Vec<String> = users
                .iter()
                .map(|r| format!("{} ({})", &r.id[..12], r.name))
                .collect();
            return Err(VolumeError::InUse {
                name: name.to_string(),
                containers: containers.join(", "),
            }
            .into());
        }
        Ok(self.volumes.remove(lock)?)
    }

    /// Removes the volumes no container uses that `select` picks, anonymous ones only
    /// unless `all` (docker 23's rule); returns their names and the bytes they held.
    pub fn prune_volumes(
        &self,
        all: bool,
        select: &dyn Fn(&Volume) -> bool,
    ) -> Result<Vec<(String, u64)>, Error> {
        self.refresh_all()?;
        self.volumes.sweep();
        let mut removed = Vec::new();
        for name in self.volumes.names()? {
            let Some(lock) = self.volumes.lock(&name, false)? else {
                continue;
            };
            let Some(v) = self.volumes.load(&name)? else {
                continue;
            };
            if !(all || v.anonymous())
                || !select(&v)
                || !self.volume_users(&name, false)?.is_empty()
            {
                continue;
            }
            let size = crate::system::disk_usage(&self.volumes.data(&name));
            self.volumes.remove(lock)?;
            removed.push((name, size));
        }
        Ok(removed)
    }

    /// Brings every container record up to date (see [`Engine::refresh`]).
    fn refresh_all(&self) -> Result<(), Error> {
        for id in self.containers.ids()? {
            self.refresh(&id)?;
        }
        Ok(())
    }
}
