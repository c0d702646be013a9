//! `diff`: the container's changes against its image, as `docker diff` prints them
//! (`A`dded, `C`hanged, `D`eleted paths), read from its overlay upper directory by the
//! image store. The empty files and directories the runtime made to mount on (`/etc/hosts`,
//! a volume's path the image lacked) are not changes: docker keeps them in a layer of
//! their own, and `commit` leaves them out too.

use crate::{Engine, Error, Record};
use berth_image::store::Change;
use std::path::PathBuf;

impl Engine {
    /// The changes of container `what`, in the order of a walk of its tree.
    pub fn diff(&self, what: &str) -> Result<Vec<Change>, Error> {
        let r = self.container(what)?;
        Ok(self.store.rootfs_changes(&r.id, &self.mount_points(&r)?)?)
    }

    /// Where container `r`'s config mounts something.
    pub(crate) fn mount_points(&self, r: &Record) -> Result<Vec<PathBuf>, Error> {
        let config = self.oci_config(r)?;
        Ok(config["mounts"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|m| m["destination"].as_str().map(PathBuf::from))
                    .collect()
            })
            .unwrap_or_default())
    }
}
