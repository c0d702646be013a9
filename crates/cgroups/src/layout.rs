//! Which cgroup hierarchies are mounted where, read once from /proc/self/mountinfo.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// cgroup v1 controllers the kernel may offer; anything else in a v1 mount's options
/// (`rw`, `xattr`, `release_agent=`, ...) is not a controller.
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// One mounted cgroup v1 hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// Where it is mounted, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    pub mount_point: PathBuf,
    /// The cgroup shown at the mount point (`/` unless a sub-cgroup was mounted).
    pub root: PathBuf,
    /// Its controllers and `name=` option, e.g. `["cpu", "cpuacct"]` or `["name=systemd"]`:
    /// the options to mount it with inside a container.
    pub controllers: Vec<String>,
}

impl Hierarchy {
    /// Whether this hierarchy carries `controller`.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// A cgroup2 mount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unified {
    /// Where it is mounted, e.g. `/sys/fs/cgroup` or `/sys/fs/cgroup/unified`.
    pub mount_point: PathBuf,
    /// The cgroup shown at the mount point.
    pub root: PathBuf,
}

/// The host's cgroup layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v1 controllers. `unified` is the cgroup2 mount of a hybrid host, used only for
    /// the controllers that live there (e.g. hugetlb on this project's CI host).
    V1 {
        /// The v1 hierarchies, one per distinct controller set.
        hierarchies: Vec<Hierarchy>,
        /// The cgroup2 mount, when the host is hybrid.
        unified: Option<Unified>,
    },
    /// Pure cgroup v2.
    V2(Unified),
}

/// Which driver a [`Layout`] calls for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Only v1 hierarchies.
    V1,
    /// v1 controllers plus a cgroup2 mount.
    Hybrid,
    /// Only cgroup2.
    V2,
}

impl Layout {
    /// Reads /proc/self/mountinfo.
    pub fn detect() -> Result<Layout> {
        let path = Path::new("/proc/self/mountinfo");
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        Layout::from_mountinfo(&text)
    }

    /// Parses mountinfo text. Any v1 mount with a controller makes the layout v1 (hybrid if a
    /// cgroup2 mount exists too); otherwise a cgroup2 mount makes it v2.
    pub fn from_mountinfo(text: &str) -> Result<Layout> {
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        let mut unified: Option<Unified> = None;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let m = parse_line(line)?;
            match m.fstype {
                "cgroup2" => {
                    // Prefer the conventional places when cgroup2 is mounted more than once.
                    let preferred = m.mount_point == Path::new("/sys/fs/cgroup")
                        || m.mount_point == Path::new("/sys/fs/cgroup/unified");
                    if unified.is_none() || preferred {
                        unified = Some(Unified {
                            mount_point: m.mount_point,
                            root: m.root,
                        });
                    }
                }
                "cgroup" => {
                    let controllers: Vec<String> = m
                        .super_options
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(str::to_string)
                        .collect();
                    // A bind mount of the same hierarchy elsewhere adds nothing.
                    if !controllers.is_empty()
                        && !hierarchies.iter().any(|h| h.controllers == controllers)
                    {
                        hierarchies.push(Hierarchy {
                            mount_point: m.mount_point,
                            root: m.root,
                            controllers,
                        });
                    }
                }
                _ => {}
            }
        }
        let has_controller = hierarchies
            .iter()
            .any(|h| h.controllers.iter().any(|c| !c.starts_with("name=")));
        match (has_controller, unified) {
            (true, unified) => Ok(Layout::V1 {
                hierarchies,
                unified,
            }),
            (false, Some(u)) => Ok(Layout::V2(u)),
            (false, None) => Err(Error::NotMounted),
        }
    }

    /// v1, hybrid or v2.
    pub fn kind(&self) -> Kind {
        match self {
            Layout::V1 { unified: None, .. } => Kind::V1,
            Layout::V1 { .. } => Kind::Hybrid,
            Layout::V2(_) => Kind::V2,
        }
    }
}

struct MountLine<'a> {
    root: PathBuf,
    mount_point: PathBuf,
    fstype: &'a str,
    super_options: &'a str,
}

fn parse_line(line: &str) -> Result<MountLine<'_>> {
    let bad = |reason| Error::Parse {
        file: "/proc/self/mountinfo",
        reason,
        line: line.to_string(),
    };
    let (pre, post) = line
        .split_once(" - ")
        .ok_or_else(|| bad("no ' - ' separator"))?;
    let pre: Vec<&str> = pre.split(' ').collect();
    let post: Vec<&str> = post.split(' ').collect();
    if pre.len() < 6 || post.len() < 3 {
        return Err(bad("too few fields"));
    }
    Ok(MountLine {
        root: PathBuf::from(unescape(pre[3])),
        mount_point: PathBuf::from(unescape(pre[4])),
        fstype: post[0],
        super_options: post[2],
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(d)) => {
                out.push(((d[0] - b'0') << 6) | ((d[1] - b'0') << 3) | (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// This project's CI host: v1 controllers, a named hierarchy, hugetlb on cgroup2.
    pub const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_host() {
        let l = Layout::from_mountinfo(HYBRID).unwrap();
        assert_eq!(l.kind(), Kind::Hybrid);
        let Layout::V1 {
            hierarchies,
            unified,
        } = l
        else {
            panic!()
        };
        let names: Vec<_> = hierarchies
            .iter()
            .map(|h| h.controllers.join(","))
            .collect();
        assert_eq!(names, ["cpu", "cpuacct", "memory", "name=systemd"]);
        assert_eq!(
            unified.unwrap().mount_point,
            Path::new("/sys/fs/cgroup/unified")
        );
    }

    #[test]
    fn pure_v2_and_comounted_v1() {
        let v2 = "25 20 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(Layout::from_mountinfo(v2).unwrap().kind(), Kind::V2);
        let v1 =
            "30 20 0:25 /docker/x /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                  31 20 0:25 /docker/x /mnt/again rw - cgroup cgroup rw,cpu,cpuacct\n";
        let Layout::V1 {
            hierarchies,
            unified,
        } = Layout::from_mountinfo(v1).unwrap()
        else {
            panic!()
        };
        assert!(unified.is_none());
        assert_eq!(hierarchies.len(), 1);
        assert!(hierarchies[0].has("cpuacct"));
        assert_eq!(hierarchies[0].root, Path::new("/docker/x"));
    }

    #[test]
    fn named_only_v1_with_cgroup2_is_v2() {
        let t = "1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n\
                 2 0 0:2 / /run/sd rw - cgroup cgroup rw,name=systemd\n";
        assert_eq!(Layout::from_mountinfo(t).unwrap().kind(), Kind::V2);
    }

    #[test]
    fn errors_and_escapes() {
        assert!(matches!(Layout::from_mountinfo(""), Err(Error::NotMounted)));
        let e = Layout::from_mountinfo("garbage line\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/proc/self/mountinfo") && e.contains("garbage line"),
            "{e}"
        );
        assert_eq!(unescape(r"/a\040b\134c"), r"/a b\c");
    }
}
