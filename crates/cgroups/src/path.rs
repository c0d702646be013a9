//! `linux.cgroupsPath` as runc's cgroupfs driver reads it, and where it lands in each
//! hierarchy.
//!
//! * absolute (`/a/b`): below each hierarchy's mount point;
//! * relative (`a/b`): below the runtime's own cgroup in that v1 hierarchy, and below the
//!   *parent* of its own cgroup on cgroup2 (the own cgroup holds processes, so controllers
//!   could not be enabled for a child of it);
//! * empty or absent: relative, named after the container id.
//!
//! `..` never climbs above the hierarchy: paths are cleaned lexically first.
//! `slice:prefix:name` is the systemd driver's syntax (`crate::systemd`), an error here.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::layout::{Hierarchy, Unified};

/// A cleaned `linux.cgroupsPath`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CgroupsPath {
    /// Below the hierarchy's mount point; never `/` itself.
    Absolute(PathBuf),
    /// Below the runtime's own cgroup; never empty.
    Relative(PathBuf),
}

impl CgroupsPath {
    /// Resolves the OCI value for container `id`.
    pub fn from_spec(path: Option<&Path>, id: &str) -> Result<CgroupsPath> {
        let raw = path
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let reject = |reason| Error::CgroupsPath {
            path: raw.clone(),
            reason,
        };
        if raw.is_empty() {
            if id.is_empty() || id.contains('/') || id == "." || id == ".." {
                return Err(reject("empty, and the container id cannot name a cgroup"));
            }
            return Ok(CgroupsPath::Relative(PathBuf::from(id)));
        }
        if !raw.starts_with('/') && raw.split(':').count() == 3 {
            return Err(reject(
                "slice:prefix:name is the systemd cgroup driver's form: pass --systemd-cgroup",
            ));
        }
        let cleaned = clean(Path::new(&raw));
        if cleaned.as_os_str().is_empty() {
            return Err(reject("resolves to the root cgroup"));
        }
        Ok(if raw.starts_with('/') {
            CgroupsPath::Absolute(cleaned)
        } else {
            CgroupsPath::Relative(cleaned)
        })
    }
}

/// Lexical cleaning with `/` as the floor: the result is relative and has no `.`/`..`.
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The runtime's own cgroups, from /proc/self/cgroup; needed for relative paths only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnCgroups {
    /// `(controllers, path)` per line; controllers empty for the cgroup2 line.
    entries: Vec<(Vec<String>, PathBuf)>,
}

impl OwnCgroups {
    /// Reads /proc/self/cgroup.
    pub fn current() -> Result<OwnCgroups> {
        let path = Path::new("/proc/self/cgroup");
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        OwnCgroups::parse(&text)
    }

    /// Parses `id:controllers:path` lines.
    pub fn parse(text: &str) -> Result<OwnCgroups> {
        let mut entries = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(Error::Parse {
                    file: "/proc/self/cgroup",
                    reason: "expected id:controllers:path",
                    line: line.to_string(),
                });
            };
            let ctrls = ctrls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            entries.push((ctrls, PathBuf::from(path)));
        }
        Ok(OwnCgroups { entries })
    }

    fn v1(&self, h: &Hierarchy) -> Option<&Path> {
        self.entries
            .iter()
            .find(|(c, _)| {
                !c.is_empty() && c.iter().all(|x| h.has(x)) && c.len() == h.controllers.len()
            })
            .map(|(_, p)| p.as_path())
    }

    pub(crate) fn v2(&self) -> Option<&Path> {
        self.entries
            .iter()
            .find(|(c, _)| c.is_empty())
            .map(|(_, p)| p.as_path())
    }
}

/// The directory of `path` in v1 hierarchy `h`.
pub(crate) fn v1_dir(h: &Hierarchy, path: &CgroupsPath, own: &OwnCgroups) -> Result<PathBuf> {
    match path {
        CgroupsPath::Absolute(p) => Ok(h.mount_point.join(p)),
        CgroupsPath::Relative(p) => {
            let mine = own.v1(h).ok_or_else(|| Error::CgroupsPath {
                path: p.display().to_string(),
                reason: "relative, but /proc/self/cgroup lists no cgroup of ours for a mounted hierarchy",
            })?;
            Ok(h.mount_point.join(below_root(mine, &h.root)).join(p))
        }
    }
}

/// The directory of `path` on the cgroup2 mount `u`.
pub(crate) fn v2_dir(u: &Unified, path: &CgroupsPath, own: &OwnCgroups) -> Result<PathBuf> {
    match path {
        CgroupsPath::Absolute(p) => Ok(u.mount_point.join(p)),
        CgroupsPath::Relative(p) => {
            let mine = own.v2().ok_or_else(|| Error::CgroupsPath {
                path: p.display().to_string(),
                reason: "relative, but /proc/self/cgroup has no cgroup2 line",
            })?;
            let parent = mine.parent().unwrap_or(mine);
            Ok(u.mount_point.join(below_root(parent, &u.root)).join(p))
        }
    }
}

/// `cgroup` as seen below a mount whose root is `root` (relative, so it can be joined).
fn below_root(cgroup: &Path, root: &Path) -> PathBuf {
    clean(cgroup.strip_prefix(root).unwrap_or(cgroup))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(mp: &str, root: &str, c: &[&str]) -> Hierarchy {
        Hierarchy {
            mount_point: mp.into(),
            root: root.into(),
            controllers: c.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn spec_values() {
        let p = |s: &str| CgroupsPath::from_spec(Some(Path::new(s)), "ctr");
        assert_eq!(p("/a/b").unwrap(), CgroupsPath::Absolute("a/b".into()));
        assert_eq!(
            p("/a/../../b/./c").unwrap(),
            CgroupsPath::Absolute("b/c".into())
        );
        assert_eq!(p("x/../../y").unwrap(), CgroupsPath::Relative("y".into()));
        assert_eq!(p("").unwrap(), CgroupsPath::Relative("ctr".into()));
        assert_eq!(
            CgroupsPath::from_spec(None, "ctr").unwrap(),
            CgroupsPath::Relative("ctr".into())
        );
        let e = p("system.slice:berth:ctr").unwrap_err().to_string();
        assert!(
            e.contains("systemd") && e.contains("system.slice:berth:ctr"),
            "{e}"
        );
        assert!(p("/").unwrap_err().to_string().contains("root cgroup"));
        assert!(p("/..").is_err());
        assert!(CgroupsPath::from_spec(None, "a/b").is_err());
        // An absolute path may contain colons: only the relative 3-part form is systemd's.
        assert!(p("/a:b:c").is_ok());
    }

    #[test]
    fn dirs_per_hierarchy() {
        let own = OwnCgroups::parse(
            "4:memory:/process_api/abc\n3:cpu,cpuacct:/\n1:name=systemd:/user.slice\n0::/svc/runtime\n",
        )
        .unwrap();
        let mem = h("/sys/fs/cgroup/memory", "/", &["memory"]);
        let cpu = h("/sys/fs/cgroup/cpu,cpuacct", "/", &["cpu", "cpuacct"]);
        let rel = CgroupsPath::Relative("c1".into());
        let abs = CgroupsPath::Absolute("berth/c1".into());
        assert_eq!(
            v1_dir(&mem, &rel, &own).unwrap(),
            Path::new("/sys/fs/cgroup/memory/process_api/abc/c1")
        );
        assert_eq!(
            v1_dir(&cpu, &rel, &own).unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/c1")
        );
        assert_eq!(
            v1_dir(&mem, &abs, &own).unwrap(),
            Path::new("/sys/fs/cgroup/memory/berth/c1")
        );
        let u = Unified {
            mount_point: "/sys/fs/cgroup".into(),
            root: "/".into(),
        };
        // cgroup2: relative to the parent of our own cgroup.
        assert_eq!(
            v2_dir(&u, &rel, &own).unwrap(),
            Path::new("/sys/fs/cgroup/svc/c1")
        );
        assert_eq!(
            v2_dir(&u, &abs, &own).unwrap(),
            Path::new("/sys/fs/cgroup/berth/c1")
        );
        let pids = h("/sys/fs/cgroup/pids", "/", &["pids"]);
        assert!(v1_dir(&pids, &rel, &own).is_err());
    }

    #[test]
    fn mount_root_is_stripped() {
        let own = OwnCgroups::parse("5:pids:/docker/x/inner\n").unwrap();
        let pids = h("/sys/fs/cgroup/pids", "/docker/x", &["pids"]);
        let rel = CgroupsPath::Relative("c".into());
        assert_eq!(
            v1_dir(&pids, &rel, &own).unwrap(),
            Path::new("/sys/fs/cgroup/pids/inner/c")
        );
    }
}
