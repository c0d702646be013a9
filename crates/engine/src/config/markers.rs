//! The files by which a program learns that it runs in a container: docker's empty
//! `/.dockerenv` and podman's `/run/.containerenv` (which `systemd-detect-virt` reads). Both
//! are written into the container's directory and bind-mounted read-only, so they are
//! neither in `diff` nor in a committed image, as they are in no layer with docker.

use crate::{Error, Record};
use std::path::Path;

/// Each marker's file in the container's directory, and its path in the container.
pub const MARKERS: [(&str, &str); 2] = [
    ("dockerenv", "/.dockerenv"),
    ("containerenv", "/run/.containerenv"),
];

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

/// Writes the markers of container `r` into its directory `dir`.
pub fn write(dir: &Path, r: &Record) -> Result<(), Error> {
    for (file, text) in [
        ("dockerenv", String::new()),
        ("containerenv", containerenv(r)),
    ] {
        let p = dir.join(file);
        std::fs::write(&p, text).map_err(Error::path(&p))?;
    }
    Ok(())
}
