//! The files by which a program learns that it runs in a container: docker's empty
//! `/.dockerenv` and podman's `/run/.containerenv` (which `systemd-detect-virt` reads). Both
//! are bind-mounted read-only, so they are neither in `diff` nor in a committed image, as
//! they are in no layer with docker. They are the same for every container, and so shared
//! ([`super::shared`]), except a `--privileged` container's `.containerenv`, which names it
//! and is written into its directory.

use crate::{Error, Record};
use std::path::{Path, PathBuf};

/// Each marker's file name, and its path in the container.
pub const MARKERS: [(&str, &str); 2] = [
    ("dockerenv", "/.dockerenv"),
    ("containerenv", "/run/.containerenv"),
];

/// Whether marker `file` is the container's own (a `--privileged` container's
/// `.containerenv` names it) rather than shared.
fn own(file: &str, privileged: bool) -> bool {
    file == "containerenv" && privileged
}

/// Where marker `file` of a container is mounted from: its directory `dir` for its own,
/// else `shared`.
pub fn source(file: &str, privileged: bool, dir: &Path, shared: &Path) -> PathBuf {
    match own(file, privileged) {
        true => dir.join(file),
        false => shared.join(file),
    }
}

/// `/run/.containerenv` in podman's format. It names the engine always; the container and
/// image only for a `--privileged` container, as podman does (others should not learn them).
fn containerenv(r: &Record) -> String {
    let mut t = format!("engine=\"berth-{}\"\n", env!("CARGO_PKG_VERSION"));
    if r.settings.privileged {
        t.push_str(&format!(
            "name=\"{}\"\nid=\"{}\"\nimage=\"{}\"\nimageid=\"{}\"\nrootless=0\n",
            r.name,
            r.id,
            r.image,
            r.image_id.trim_start_matches("sha256:")
        ));
    }
    t
}

/// Makes the markers of container `r` (whose directory is `dir`) where [`source`] finds
/// them.
pub fn write(dir: &Path, shared: &Path, r: &Record) -> Result<(), Error> {
    for (file, text) in [
        ("dockerenv", String::new()),
        ("containerenv", containerenv(r)),
    ] {
        match own(file, r.settings.privileged) {
            true => {
                let p = dir.join(file);
                std::fs::write(&p, text).map_err(Error::path(&p))?;
            }
            false => drop(super::shared::ensure(shared, file, text.as_bytes(), 0o444)?),
        }
    }
    Ok(())
}
