//! `cgroup` mounts inside the container. With its own cgroup namespace the container gets
//! fresh cgroup file systems (rooted at its cgroup by the kernel); without one, or where the
//! kernel refuses (v1 in a user namespace), it gets bind mounts of its own cgroup directories,
//! never the host's whole tree. What each hierarchy is comes from the cgroup driver.

use super::error::{Context, InitError};
use super::mount_options::{Attrs, MountOptions};
use super::mounts::{attach, bind, fs_tree, new_fs, target, Env};
use super::resolve;
use berth_cgroups::CgroupMount;
use berth_sys::mount::{self as sysmount, MountAttr};
use std::os::fd::AsFd;
use std::path::Path;

/// Mounts the container's cgroups on `dest` (usually `/sys/fs/cgroup`).
pub fn mount(env: &Env<'_>, dest: &Path, opts: &MountOptions) -> Result<(), InitError> {
    let hs = env.cgroups;
    if hs.is_empty() {
        if env.cgroupns {
            // No cgroup of its own but a namespace: a cgroup2 view rooted where it is.
            return one(env, None, dest, opts);
        }
        return Err(InitError::check(
            format!("mount cgroup on {}", dest.display()),
            "the container has no cgroup of its own and no cgroup namespace",
        ));
    }
    if let [only] = hs {
        if only.fstype == "cgroup2" {
            return one(env, Some(only), dest, opts);
        }
    }
    // v1 (and hybrid): a tmpfs with a directory per hierarchy, made read-only at the end.
    let tmpfs = MountOptions {
        data: vec![("mode".into(), Some("755".into()))],
        attrs: Attrs {
            set: opts.attrs.set & !ATTR_RDONLY,
            clear: 0,
        },
        ..MountOptions::default()
    };
    new_fs(env, "tmpfs", Some(Path::new("cgroup")), dest, &tmpfs)?;
    let mut dirs = resolve::Dirs::new(env.root);
    for h in hs {
        let name = h
            .mount_point
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        one(env, Some(h), &dest.join(&name), opts)?;
        // Comounted controllers (`cpu,cpuacct`) are also reachable by each name, as on hosts.
        if name.contains(',') {
            for c in name.split(',') {
                let link = dest.join(c);
                let (dir, file) = dirs
                    .parent_and_name(&link)
                    .ctx(|| format!("create {}", link.display()))?;
                let _ = berth_sys::fs::symlinkat(Path::new(&name), dir, &file);
            }
        }
    }
    if opts.attrs.read_only() {
        let fd =
            resolve::handle(env.root, dest, false).ctx(|| format!("open {}", dest.display()))?;
        let ro = MountAttr {
            set: ATTR_RDONLY,
            ..MountAttr::default()
        };
        sysmount::mount_setattr(fd.as_fd(), false, &ro)
            .ctx(|| format!("make {} read-only", dest.display()))?;
    }
    Ok(())
}

const ATTR_RDONLY: u64 = 0x1;

/// One hierarchy at `dest`: a fresh mount inside a cgroup namespace, else a bind mount of the
/// container's own directory in it.
fn one(
    env: &Env<'_>,
    h: Option<&CgroupMount>,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), InitError> {
    let typ = h.map_or("cgroup2", |h| h.fstype);
    if env.cgroupns {
        let select = h
            .iter()
            .flat_map(|h| h.options.iter())
            .map(|o| match o.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (o.clone(), None),
            });
        let o = MountOptions {
            data: select.collect(),
            ..opts.clone()
        };
        match fs_tree(typ, Some(Path::new("cgroup")), &o) {
            Ok(tree) => {
                let t = target(env, dest, true)?;
                let rest = MountOptions {
                    attrs: Attrs::default(),
                    ..opts.clone()
                };
                return attach(tree.as_fd(), t.as_fd(), &rest, None)
                    .ctx(|| format!("mount {typ} on {}", dest.display()));
            }
            // v1 cannot be mounted from a user namespace: fall back to the bind below.
            Err((e, _))
                if e.raw_os_error() == Some(libc::EPERM) && env.in_userns && h.is_some() => {}
            Err((e, msg)) => {
                let why = msg.map(|m| format!(" ({m})")).unwrap_or_default();
                return Err(InitError {
                    what: format!("mount {typ} on {}{why}", dest.display()),
                    source: e,
                });
            }
        }
    }
    let Some(h) = h else {
        return Err(InitError::check(
            format!("mount cgroup on {}", dest.display()),
            "no cgroup to bind",
        ));
    };
    let mut o = opts.clone();
    o.recursive = true;
    bind(env, &h.cgroup_dir, dest, &o)
}
