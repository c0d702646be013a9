//! Files that many containers bind-mount read-only and that are the same for all of them
//! (docker's `/.dockerenv`, podman's `/run/.containerenv` of an unprivileged container,
//! berth-init): one copy in `ROOT/containers/shared/`, made the first time a container
//! needs it (or again when a new berth changed it), so a start makes and a removal deletes
//! no file for them. A bind mount holds the inode it was made from: replacing a file (by
//! rename) never changes what a running container sees.

use crate::Error;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The shared file `name` in `shared` (`ROOT/containers/shared`), with `content` and
/// `mode`; written only when it is missing or differs.
pub(crate) fn ensure(
    shared: &Path,
    name: &str,
    content: &[u8],
    mode: u32,
) -> Result<PathBuf, Error> {
    let path = shared.join(name);
    let same = std::fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o7777 == mode)
        && std::fs::read(&path).is_ok_and(|c| c == content);
    if same {
        return Ok(path);
    }
    std::fs::create_dir_all(shared).map_err(Error::path(shared))?;
    // Made whole under another name, then renamed: a container being created at the same
    // time binds either the old file or the new one, never a half-written one.
    berth_container::state::write_atomic_mode(&path, content, mode).map_err(Error::path(&path))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_and_replaced_when_it_differs() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = tmp.path().join("shared");
        let p = ensure(&shared, "f", b"one", 0o444).unwrap();
        let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        let first = ino(&p);
        assert_eq!(ensure(&shared, "f", b"one", 0o444).unwrap(), p);
        assert_eq!(ino(&p), first, "the same content is not written again");
        ensure(&shared, "f", b"two", 0o444).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_ne!(ino(&p), first, "a new inode: mounts of the old one keep it");
        ensure(&shared, "f", b"two", 0o555).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            0o555
        );
        assert_eq!(
            std::fs::read_dir(&shared).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
