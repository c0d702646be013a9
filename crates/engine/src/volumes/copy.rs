//! Copy-up, as docker does it: a volume that is empty when a container that mounts it is
//! created gets what the image has at the mount's destination, files with their owners,
//! modes, times and hard links, and the owner and mode of that directory itself. The copy
//! is a tar stream from the container's root (the destination resolved inside it, then read
//! through fds only, as `cp` and `commit` read) through the image store's unpacker, which
//! keeps every write inside the volume.

use super::VolumeError;
use berth_image::pack::{Format, Packer};
use berth_image::unpack::{self, Options};
use berth_sys::fs::{self as sysfs, Resolve};
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// Fills volume `name`'s `data` from `destination` under the container root `root`, if the
/// volume is empty and the image has a directory there.
pub(crate) fn copy_up(
    name: &str,
    root: &Path,
    destination: &str,
    data: &Path,
) -> Result<(), VolumeError> {
    let fail = |reason: String| VolumeError::CopyUp {
        name: name.to_string(),
        path: destination.to_string(),
        reason,
    };
    let empty = std::fs::read_dir(data)
        .map_err(super::io_err(data))?
        .next()
        .is_none();
    if !empty {
        return Ok(());
    }
    let root_fd =
        sysfs::open(root, libc::O_PATH | libc::O_DIRECTORY, 0).map_err(super::io_err(root))?;
    let rel = Path::new(destination.trim_start_matches('/'));
    let source = match sysfs::openat2(
        root_fd.as_fd(),
        rel,
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        Resolve::InRoot,
    ) {
        Ok(fd) => fd,
        // Nothing there in the image, or not a directory: nothing to copy.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => return Ok(()),
        Err(e) => return Err(fail(e.to_string())),
    };
    let target = std::fs::File::open(data).map_err(super::io_err(data))?;
    let (mut reader, writer) = io::pipe().map_err(|e| fail(e.to_string()))?;
    let (packed, unpacked) = std::thread::scope(|s| {
        // Packed from the resolved fd, never by path: hard links stay links, a file's
        // capabilities stay with it.
        let packer = s.spawn(move || {
            let mut p = Packer::new(writer, Format::Plain);
            p.add(source.as_fd(), Path::new("."))?;
            p.finish().map(drop)
        });
        let unpacked = unpack::unpack(&mut reader, target.into(), Options::default(), "copy-up");
        // The packer must never write into a pipe nobody reads (SIGPIPE, or a full pipe).
        let drained = io::copy(&mut reader, &mut io::sink());
        let packed = match packer.join() {
            Ok(p) => p.map_err(|e| e.to_string()),
            Err(_) => Err("the packing thread panicked".to_string()),
        };
        (
            packed.and(drained.map(drop).map_err(|e| e.to_string())),
            unpacked,
        )
    });
    packed.map_err(fail)?;
    unpacked.map(drop).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn fills_an_empty_volume_from_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, data) = (tmp.path().join("root"), tmp.path().join("data"));
        std::fs::create_dir_all(root.join("srv/app/sub")).unwrap();
        std::fs::create_dir(&data).unwrap();
        std::fs::write(root.join("srv/app/sub/f"), "seed").unwrap();
        std::fs::hard_link(root.join("srv/app/sub/f"), root.join("srv/app/hard")).unwrap();
        std::fs::set_permissions(root.join("srv/app"), PermissionsExt::from_mode(0o710)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("srv/app/link")).unwrap();
        // A link to the destination resolves inside the root.
        std::os::unix::fs::symlink("/srv/app", root.join("app")).unwrap();
        copy_up("v1", &root, "/app", &data).unwrap();
        assert_eq!(std::fs::read_to_string(data.join("sub/f")).unwrap(), "seed");
        let inode = |p: &str| std::fs::metadata(data.join(p)).unwrap().ino();
        assert_eq!(inode("hard"), inode("sub/f"), "a hard link stays one");
        assert_eq!(
            std::fs::read_link(data.join("link")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(std::fs::metadata(&data).unwrap().mode() & 0o7777, 0o710);
        // Not empty any more: left alone.
        std::fs::write(root.join("srv/app/new"), "").unwrap();
        copy_up("v1", &root, "/app", &data).unwrap();
        assert!(!data.join("new").exists());
        // Nothing at the destination, or a file there: nothing to copy.
        let other = tmp.path().join("other");
        std::fs::create_dir(&other).unwrap();
        copy_up("v2", &root, "/missing", &other).unwrap();
        copy_up("v2", &root, "/srv/app/sub/f", &other).unwrap();
        assert_eq!(std::fs::read_dir(&other).unwrap().count(), 0);
    }
}
