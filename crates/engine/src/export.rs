//! `export`: a container's file system (its image and its changes) as a tar stream, what
//! `berth import` (or `docker import`) turns back into a one-layer image.

use crate::{Engine, Error};
use std::io::Write;
use std::path::PathBuf;

impl Engine {
    /// Writes the file system of container `what` to `out` as a tar archive.
    pub fn export(&self, what: &str, out: &mut dyn Write) -> Result<(), Error> {
        let r = self.container(what)?;
        self.store.ensure_rootfs(&r.id)?;
        let config_path = self.containers.dir(&r.id).join("config.json");
        let data = std::fs::read(&config_path).map_err(Error::path(&config_path))?;
        let config: serde_json::Value =
            serde_json::from_slice(&data).map_err(|e| Error::Failed {
                name: r.name.clone(),
                reason: format!("{}: {e}", config_path.display()),
            })?;
        let root = config["root"]["path"]
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| Error::Failed {
                name: r.name.clone(),
                reason: format!("{}: no root.path", config_path.display()),
            })?;
        let mut tar = tar::Builder::new(out);
        // Links are archived as links; owners, modes, times and xattrs as they are.
        tar.follow_symlinks(false);
        tar.mode(tar::HeaderMode::Complete);
        tar.append_dir_all(".", &root).map_err(Error::path(&root))?;
        tar.finish().map_err(Error::io("write the archive"))
    }
}
