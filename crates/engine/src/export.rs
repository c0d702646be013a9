//! `export`: a container's file system (its image and its changes, not its volumes, as
//! docker's) as a tar stream, what `berth import` (or `docker import`) turns back into a
//! one-layer image. Packed from fds, as `cp` is: a running container cannot send the walk
//! out of its root by swapping a directory for a symlink.

use crate::cp::{CopyError, Mounts};
use crate::{Engine, Error};
use berth_image::pack::{Format, Packer};
use std::io::Write;
use std::path::Path;

impl Engine {
    /// Writes the file system of container `what` to `out` as a tar archive.
    pub fn export(&self, what: &str, out: &mut dyn Write) -> Result<(), Error> {
        let r = self.container(what)?;
        let view = self.view(&r, Mounts::Left)?;
        let mut tar = Packer::new(out, Format::Plain);
        tar.add(view.root(), Path::new("."))
            .map_err(CopyError::from)?;
        tar.finish().map_err(CopyError::from)?;
        Ok(())
    }
}
