//! Image archives: `save` and `load` in the docker-archive and oci-archive formats, and
//! `import` of a root filesystem tarball as a one-layer image.

mod docker;
mod extract;
mod import;
mod load;
mod oci;
mod save;

pub use import::{fetch, import, is_url, ImportOptions};
pub(crate) use import::{rfc3339_now, store_image};
pub use load::load;
pub use save::{names_to_save, save};

use crate::store::StoreError;

/// Archive formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `docker save` layout: manifest.json, config and uncompressed layer tars.
    DockerArchive,
    /// An OCI image layout in a tar (with a Docker manifest.json too, so docker loads it).
    OciArchive,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "docker-archive" | "docker" => Ok(Format::DockerArchive),
            "oci-archive" | "oci" => Ok(Format::OciArchive),
            _ => Err(format!(
                "unknown archive format {s:?} (docker-archive or oci-archive)"
            )),
        }
    }
}

/// Errors from reading or writing archives.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive is not in a format berth knows, or is inconsistent.
    #[error("{archive}: {why}")]
    Invalid {
        /// The archive (path or "stdin").
        archive: String,
        /// What is wrong.
        why: String,
    },
    /// Reading or writing the archive stream failed.
    #[error("{archive}: {op}: {source}")]
    Io {
        /// The archive.
        archive: String,
        /// The operation.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// Store trouble.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bad name in the archive.
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
}

/// The uncompressed-layer tar header mode and times used for entries berth writes.
pub(crate) fn file_header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}
