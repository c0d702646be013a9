//! The working directory, made inside the container's root when the image lacks it (docker
//! does so for `-w` and WORKDIR). Each step is resolved by the kernel inside the root
//! (`openat2(RESOLVE_IN_ROOT)`), so a symlink in the image cannot lead it out.

use crate::Error;
use berth_sys::fs::{self as sysfs, Resolve};
use std::os::fd::AsFd;
use std::path::{Component, Path, PathBuf};

/// Creates `cwd` (and its parents) below `root` if missing.
pub(crate) fn make_workdir(root: &Path, cwd: &str) -> Result<(), Error> {
    let at = |p: &Path| Error::io(format!("make the working directory {cwd}: {}", p.display()));
    let root_fd =
        sysfs::open(root, libc::O_PATH | libc::O_DIRECTORY, 0).map_err(Error::path(root))?;
    let open_dir = |p: &Path| {
        sysfs::openat2(
            root_fd.as_fd(),
            p,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            Resolve::InRoot,
        )
    };
    let mut path = PathBuf::from("/");
    for c in Path::new(cwd).components() {
        let Component::Normal(name) = c else {
            continue;
        };
        let parent = open_dir(&path).map_err(at(&path))?;
        match sysfs::mkdirat(parent.as_fd(), Path::new(name), 0o755) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(at(&path.join(name))(e))
            }
            _ => path.push(name),
        }
    }
    open_dir(&path).map(drop).map_err(at(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_inside_the_root_even_through_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside) = (tmp.path().join("root"), tmp.path().join("outside"));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        make_workdir(&root, "/app/src").unwrap();
        assert!(root.join("app/src").is_dir());
        // An absolute link resolves inside the root, where its target does not exist.
        assert!(make_workdir(&root, "/escape/x").is_err());
        // A climbing link stops at the root.
        std::fs::create_dir(root.join("outside")).unwrap();
        std::os::unix::fs::symlink("../../outside", root.join("climb")).unwrap();
        make_workdir(&root, "/climb/y").unwrap();
        assert!(root.join("outside/y").is_dir());
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
        std::fs::write(root.join("file"), "").unwrap();
        assert!(make_workdir(&root, "/file/x").is_err());
        make_workdir(&root, "/").unwrap();
    }
}
