//! The `local` driver's options, as docker's: `type` (a file system type, `none` for a
//! bind), `device` (what is mounted) and `o` (mount options, `bind` among them), e.g.
//! `type=tmpfs,device=tmpfs,o=size=100m` or `type=none,o=bind,device=/srv/data`. The
//! `_data` of a volume with them is a mount, made when a container that uses it is created
//! or starts and detached when the last one stops (see [`super::lifecycle`]).

use super::VolumeError;
use berth_container::init::mount_options::{self, MountOptions};
use berth_container::mountinfo;
use berth_sys::fs as sysfs;
use berth_sys::mount::{self as sysmount, FsContext, MountAttr};
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

const KEYS: [&str; 3] = ["type", "device", "o"];

fn bad(option: &str, reason: impl Into<String>) -> VolumeError {
    VolumeError::BadOption {
        option: option.to_string(),
        reason: reason.into(),
    }
}

fn parse_o(o: &str) -> Result<MountOptions, VolumeError> {
    let list: Vec<String> = match o {
        "" => Vec::new(),
        _ => o.split(',').map(String::from).collect(),
    };
    mount_options::parse(&list).map_err(|e| bad("o", e.to_string()))
}

/// Checks options as docker's local driver does: known keys only, `type` and `device`
/// together, `o` only with both; and what would fail only at the first mount: a bind needs
/// `o=bind` and an absolute device.
pub fn check_options(options: &BTreeMap<String, String>) -> Result<(), VolumeError> {
    if let Some(k) = options.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(bad(
            k,
            "unknown option of the local driver (type, device, o)",
        ));
    }
    let get = |k: &str| options.get(k).map(String::as_str);
    let (fs_type, device, o) = (get("type"), get("device"), get("o"));
    match (fs_type, device, o) {
        (None, None, None) => return Ok(()),
        (Some(_), None, _) => return Err(bad("type", "needs device")),
        (None, Some(_), _) => return Err(bad("device", "needs type")),
        (None, None, Some(_)) => return Err(bad("o", "needs type and device")),
        _ => {}
    }
    let opts = parse_o(o.unwrap_or_default())?;
    if fs_type == Some("none") && !opts.bind {
        return Err(bad("type", "none is a bind: it needs o=bind"));
    }
    if opts.bind && !device.is_some_and(|d| d.starts_with('/')) {
        return Err(bad("device", "a bind's device must be an absolute path"));
    }
    Ok(())
}

/// Whether something is mounted on `path`.
pub(super) fn mounted(path: &Path) -> Result<bool, VolumeError> {
    let real = match std::fs::canonicalize(path) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(super::io_err(path)(e)),
    };
    let mounts =
        mountinfo::read_self().map_err(super::io_err(Path::new("/proc/self/mountinfo")))?;
    Ok(mounts.iter().any(|m| m.mount_point == real))
}

/// Mounts volume `name`'s device on its `data` directory, unless it is mounted already.
pub(super) fn mount(
    name: &str,
    options: &BTreeMap<String, String>,
    data: &Path,
) -> Result<(), VolumeError> {
    if mounted(data)? {
        return Ok(());
    }
    let get = |k: &str| options.get(k).map(String::as_str).unwrap_or_default();
    let (fs_type, device) = (get("type"), get("device"));
    let fail = |reason: String| VolumeError::Mount {
        name: name.to_string(),
        device: device.to_string(),
        fs_type: fs_type.to_string(),
        reason,
    };
    let opts = parse_o(get("o"))?;
    let tree = match opts.bind {
        true => sysmount::open_tree(None, Path::new(device), true, opts.recursive)
            .and_then(|t| set_attrs(t.as_fd(), &opts).map(|()| t))
            .map_err(|e| fail(e.to_string()))?,
        false => new_fs(fs_type, device, &opts).map_err(fail)?,
    };
    let target =
        sysfs::open(data, libc::O_PATH | libc::O_DIRECTORY, 0).map_err(super::io_err(data))?;
    sysmount::move_mount(tree.as_fd(), target.as_fd()).map_err(|e| fail(e.to_string()))
}

/// A detached mount of a new file system, with the kernel's own words when it fails.
fn new_fs(fs_type: &str, device: &str, opts: &MountOptions) -> Result<OwnedFd, String> {
    let fs = FsContext::open(fs_type).map_err(|e| e.to_string())?;
    let configured = (|| {
        fs.set("source", Some(device))?;
        for flag in &opts.sb_flags {
            fs.set(flag, None)?;
        }
        for (k, v) in &opts.data {
            fs.set(k, v.as_deref())?;
        }
        fs.mount(opts.attrs.set)
    })();
    configured.map_err(|e| match fs.kernel_message() {
        Some(m) => format!("{e}: {m}"),
        None => e.to_string(),
    })
}

/// The options' attributes on a detached bind.
fn set_attrs(tree: BorrowedFd<'_>, opts: &MountOptions) -> io::Result<()> {
    for (recursive, a) in [(false, opts.attrs), (true, opts.recursive_attrs)] {
        if !a.is_empty() {
            let attr = MountAttr {
                set: a.set,
                clear: a.clear,
                ..MountAttr::default()
            };
            sysmount::mount_setattr(tree, recursive, &attr)?;
        }
    }
    Ok(())
}

/// Detaches whatever is mounted on `path`, a mount stacked on another included.
pub(super) fn unmount(path: &Path) -> Result<(), VolumeError> {
    for _ in 0..16 {
        if !mounted(path)? {
            return Ok(());
        }
        sysmount::umount2(path, libc::MNT_DETACH).map_err(super::io_err(path))?;
    }
    Err(super::io_err(path)(io::Error::other(
        "still mounted after 16 unmounts",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_as_dockers_local_driver() {
        for good in [
            opts(&[]),
            opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=100m")]),
            opts(&[("type", "none"), ("o", "bind"), ("device", "/srv")]),
            opts(&[("type", "ext4"), ("device", "/dev/vdb1")]),
        ] {
            check_options(&good).unwrap();
        }
        for (bad, option) in [
            (opts(&[("size", "1g")]), "size"),
            (opts(&[("type", "tmpfs")]), "type"),
            (opts(&[("device", "tmpfs")]), "device"),
            (opts(&[("o", "size=1m")]), "o"),
            (opts(&[("type", "none"), ("device", "/srv")]), "type"),
            (
                opts(&[("type", "none"), ("o", "bind"), ("device", "srv")]),
                "device",
            ),
            (
                opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "a,,b")]),
                "o",
            ),
        ] {
            match check_options(&bad) {
                Err(VolumeError::BadOption { option: o, .. }) => assert_eq!(o, option),
                r => panic!("{bad:?}: {r:?}"),
            }
        }
    }
}
