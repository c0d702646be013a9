//! `cgroup` mounts inside the container. With its own cgroup namespace the container gets
//! fresh cgroup file systems (rooted at its cgroup by the kernel); without one, or where the
//! kernel refuses (v1 in a user namespace), it gets bind mounts of its own cgroup directories
//! from the host, never the host's whole tree.

use super::error::{Context, InitError};
use super::mount_options::MountOptions;
use super::mounts::{attach, bind, fs_tree, target, Env};
use super::resolve;
use crate::mountinfo::{self, MountInfo};
use berth_sys::mount::{self as sysmount, MountAttr};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// One cgroup hierarchy of the host.
struct Hierarchy {
    /// Directory name under the container's `/sys/fs/cgroup` (`cpu`, `systemd`, `unified`).
    name: String,
    mount_point: PathBuf,
    v2: bool,
    /// `fsconfig` options that select this v1 hierarchy (`cpu`, `name=systemd`).
    select: Vec<(String, Option<String>)>,
    /// The key in `/proc/self/cgroup` (`cpu,cpuacct`, `name=systemd`, `` for v2).
    key: String,
}

fn hierarchies(mounts: &[MountInfo]) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for m in mounts {
        let name = m.mount_point.file_name().map(|n| n.to_string_lossy().into_owned());
        match m.fs_type.as_str() {
            "cgroup2" => out.push(Hierarchy {
                name: if m.mount_point == Path::new("/sys/fs/cgroup") { String::new() } else { name.unwrap_or_default() },
                mount_point: m.mount_point.clone(),
                v2: true,
                select: Vec::new(),
                key: String::new(),
            }),
            "cgroup" => {
                let mut select = Vec::new();
                let mut keys = Vec::new();
                for o in m.super_options.split(',') {
                    if let Some(n) = o.strip_prefix("name=") {
                        select.push(("name".to_string(), Some(n.to_string())));
                        keys.push(o.to_string());
                    } else if is_controller(o) {
                        select.push((o.to_string(), None));
                        keys.push(o.to_string());
                    }
                }
                out.push(Hierarchy {
                    name: name.unwrap_or_default(),
                    mount_point: m.mount_point.clone(),
                    v2: false,
                    select,
                    key: keys.join(","),
                })
            }
            _ => {}
        }
    }
    out
}

fn is_controller(o: &str) -> bool {
    !matches!(o, "rw" | "ro" | "none" | "noprefix" | "xattr" | "clone_children" | "nsdelegate" | "memory_recursiveprot" | "favordynmods")
        && !o.contains('=')
}

/// The calling process's cgroup path in each hierarchy, from `/proc/self/cgroup`.
fn own_paths() -> Vec<(String, PathBuf)> {
    std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let key = it.next()?.to_string();
            let path = PathBuf::from(it.next()?);
            Some((key, path))
        })
        .collect()
}

/// Mounts the cgroup file systems on `dest` (usually `/sys/fs/cgroup`).
pub fn mount(env: &Env<'_>, dest: &Path, opts: &MountOptions) -> Result<(), InitError> {
    let all = mountinfo::read_self().ctx(|| "read /proc/self/mountinfo")?;
    let hs: Vec<Hierarchy> = hierarchies(&all)
        .into_iter()
        .filter(|h| h.mount_point.starts_with("/sys/fs/cgroup"))
        .collect();
    let own = own_paths();
    if let Some(h) = hs.iter().find(|h| h.v2 && h.name.is_empty()) {
        // Pure cgroup v2: one file system at `dest`.
        return one(env, h, dest, opts, &own);
    }
    // v1 (and hybrid): a tmpfs with a directory per hierarchy.
    let tmpfs = MountOptions {
        data: vec![("mode".into(), Some("755".into()))],
        attrs: super::mount_options::Attrs { set: opts.attrs.set & !1, clear: 0 },
        ..MountOptions::default()
    };
    super::mounts::new_fs(env, "tmpfs", Some(Path::new("cgroup")), dest, &tmpfs)?;
    for h in &hs {
        let sub = dest.join(&h.name);
        one(env, h, &sub, opts, &own)?;
        // Comounted controllers (`cpu,cpuacct`) are also reachable by each name, as on the host.
        if h.name.contains(',') {
            for c in h.name.split(',') {
                let (dir, name) = resolve::parent_and_name(env.root, &dest.join(c))
                    .ctx(|| format!("create {}", dest.join(c).display()))?;
                let _ = berth_sys::fs::symlinkat(Path::new(&h.name), dir.as_fd(), &name);
            }
        }
    }
    if opts.attrs.read_only() {
        let fd = resolve::handle(env.root, dest, false).ctx(|| format!("open {}", dest.display()))?;
        let ro = MountAttr { set: 1, ..MountAttr::default() };
        sysmount::mount_setattr(fd.as_fd(), false, &ro).ctx(|| format!("make {} read-only", dest.display()))?;
    }
    Ok(())
}

/// One hierarchy at `dest`: a fresh mount inside a cgroup namespace, else a bind mount of the
/// container's own directory in it.
fn one(env: &Env<'_>, h: &Hierarchy, dest: &Path, opts: &MountOptions, own: &[(String, PathBuf)]) -> Result<(), InitError> {
    if env.cgroupns {
        let o = MountOptions { data: h.select.clone(), ..opts.clone() };
        let typ = if h.v2 { "cgroup2" } else { "cgroup" };
        match fs_tree(typ, Some(Path::new("cgroup")), &o) {
            Ok(tree) => {
                let t = target(env, dest, true)?;
                return attach(tree.as_fd(), t.as_fd(), &MountOptions { attrs: Default::default(), ..opts.clone() })
                    .ctx(|| format!("mount {typ} on {}", dest.display()));
            }
            // v1 cannot be mounted from a user namespace: fall back to the bind below.
            Err((e, _)) if e.raw_os_error() == Some(libc::EPERM) && env.in_userns => {}
            Err((e, msg)) => {
                return Err(InitError {
                    what: format!("mount {typ} on {}{}", dest.display(), msg.map(|m| format!(" ({m})")).unwrap_or_default()),
                    source: e,
                })
            }
        }
    }
    let rel = own
        .iter()
        .find(|(k, _)| *k == h.key)
        .map(|(_, p)| p.strip_prefix("/").unwrap_or(p).to_path_buf())
        .unwrap_or_default();
    let mut o = opts.clone();
    o.recursive = true;
    bind(env, &h.mount_point.join(rel), dest, &o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_v1_and_v2_hierarchies() {
        let t = "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw shared:9 - cgroup cgroup rw,cpu,cpuacct\n\
                 31 25 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n\
                 32 25 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let hs = hierarchies(&mountinfo::parse(t));
        assert_eq!(hs.len(), 3);
        assert_eq!(hs[0].name, "cpu,cpuacct");
        assert_eq!(hs[0].key, "cpu,cpuacct");
        assert_eq!(hs[1].key, "name=systemd");
        assert_eq!(hs[1].select, vec![("name".to_string(), Some("systemd".to_string()))]);
        assert!(hs[2].v2 && hs[2].name == "unified" && hs[2].key.is_empty());
    }
}
