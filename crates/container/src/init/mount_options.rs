//! OCI mount `options` → what the kernel takes: mount attributes, propagation, superblock flags
//! and file-system data. Pure logic, unit-tested without root.

use libc::{c_ulong, MS_PRIVATE, MS_SHARED, MS_SLAVE, MS_UNBINDABLE};

const ATTR_RDONLY: u64 = 0x1;
const ATTR_NOSUID: u64 = 0x2;
const ATTR_NODEV: u64 = 0x4;
const ATTR_NOEXEC: u64 = 0x8;
/// The atime field of mount attributes: setting one mode must clear this mask.
const ATTR_ATIME: u64 = 0x70;
const ATTR_RELATIME: u64 = 0x0;
const ATTR_NOATIME: u64 = 0x10;
const ATTR_STRICTATIME: u64 = 0x20;
const ATTR_NODIRATIME: u64 = 0x80;
const ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// Attribute changes: bits to set and bits to clear.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attrs {
    pub set: u64,
    pub clear: u64,
}

impl Attrs {
    fn apply(&mut self, set: u64, clear: u64) {
        self.set = (self.set & !clear) | set;
        self.clear = (self.clear & !set) | clear;
    }

    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clear == 0
    }

    /// Whether this change makes the mount read-only.
    pub fn read_only(&self) -> bool {
        self.set & ATTR_RDONLY != 0
    }
}

/// A propagation change, e.g. `rslave` = `(MS_SLAVE, recursive)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Propagation {
    pub flag: c_ulong,
    pub recursive: bool,
}

/// One mount's options, sorted into what each system call needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// `bind` or `rbind` was given.
    pub bind: bool,
    /// `rbind`: submounts come along.
    pub recursive: bool,
    /// Attributes of the mount itself.
    pub attrs: Attrs,
    /// `r`-prefixed attributes (`rro`, `rnosuid`): the mount and all its submounts.
    pub recursive_attrs: Attrs,
    /// Atime modes (bits of the attribute's atime field) that the mount loses: it becomes
    /// relatime if it has one of them once `attrs` are set.
    pub atime_clear: u64,
    /// The same for the mount and all its submounts.
    pub recursive_atime_clear: u64,
    pub propagation: Vec<Propagation>,
    /// Superblock flags the VFS parses by name (`sync`, `dirsync`, `lazytime`, `mand`, `silent`).
    pub sb_flags: Vec<&'static str>,
    /// File-system specific `key[=value]` options.
    pub data: Vec<(String, Option<String>)>,
    /// `idmap` (`Some(false)`) or `ridmap` (`Some(true)`).
    pub idmap: Option<bool>,
    /// Mappings given in the option itself, crun's and podman's `idmap=uids=...;gids=...`.
    pub custom_idmap: Option<CustomIdmap>,
}

/// Mappings written into an `idmap=` option: `idmap=uids=0-1-10#10-100-10;gids=0-1-10`.
/// A kind not given is `None` (the container's mappings apply to it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomIdmap {
    pub uids: Option<Vec<IdRange>>,
    pub gids: Option<Vec<IdRange>>,
}

/// One range of a [`CustomIdmap`], `[@]FS-TO-SIZE`: file-system ids `FS..FS+SIZE` appear as
/// `TO..`, a host id, or with `@` an id of the container's user namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdRange {
    pub fs: u32,
    pub to: u32,
    pub size: u32,
    pub in_container: bool,
}

fn parse_custom_idmap(value: &str) -> Option<CustomIdmap> {
    let mut out = CustomIdmap::default();
    for part in value.split(';').filter(|p| !p.is_empty()) {
        let (kind, ranges) = part.split_once('=')?;
        let ranges = ranges
            .split('#')
            .map(parse_id_range)
            .collect::<Option<Vec<_>>>()?;
        match kind {
            "uids" => out.uids = Some(ranges),
            "gids" => out.gids = Some(ranges),
            _ => return None,
        }
    }
    Some(out)
}

fn parse_id_range(r: &str) -> Option<IdRange> {
    let (in_container, r) = match r.strip_prefix('@') {
        Some(rest) => (true, rest),
        None => (false, r),
    };
    // A leading `+` is accepted, as crun's strtol does.
    let n = r
        .split('-')
        .map(|x| x.strip_prefix('+').unwrap_or(x).parse::<u32>().ok())
        .collect::<Option<Vec<_>>>()?;
    let &[fs, to, size] = n.as_slice() else {
        return None;
    };
    (size > 0).then_some(IdRange {
        fs,
        to,
        size,
        in_container,
    })
}

/// Why an options list cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OptionError {
    #[error("empty option")]
    Empty,
    #[error("option {0:?} contains a NUL or comma")]
    Malformed(String),
    #[error("option {0:?}: want idmap=uids=[@]FS-TO-SIZE[#...];gids=[@]FS-TO-SIZE[#...]")]
    Idmap(String),
}

/// `(name, set, clear)` for options that change one mount's attributes.
const ATTR_OPTIONS: &[(&str, u64, u64)] = &[
    ("ro", ATTR_RDONLY, 0),
    ("rw", 0, ATTR_RDONLY),
    ("nosuid", ATTR_NOSUID, 0),
    ("suid", 0, ATTR_NOSUID),
    ("nodev", ATTR_NODEV, 0),
    ("dev", 0, ATTR_NODEV),
    ("noexec", ATTR_NOEXEC, 0),
    ("exec", 0, ATTR_NOEXEC),
    ("relatime", ATTR_RELATIME, ATTR_ATIME),
    ("noatime", ATTR_NOATIME, ATTR_ATIME),
    ("strictatime", ATTR_STRICTATIME, ATTR_ATIME),
    ("nodiratime", ATTR_NODIRATIME, 0),
    ("diratime", 0, ATTR_NODIRATIME),
    ("nosymfollow", ATTR_NOSYMFOLLOW, 0),
    ("symfollow", 0, ATTR_NOSYMFOLLOW),
];

/// Options that clear one atime mode, `(name, mode)`. The kernel sets a mode only by
/// replacing every one, so these become [`MountOptions::atime_clear`]: each mount that has
/// the mode becomes relatime (the mode without bits). `norelatime` clears relatime, which
/// is no bit at all: nothing changes (as runc and crun do).
const ATIME_CLEARS: &[(&str, u64)] = &[
    ("atime", ATTR_NOATIME),
    ("nostrictatime", ATTR_STRICTATIME),
    ("norelatime", ATTR_RELATIME),
];

/// Superblock flags `fsconfig` understands by name, and their negations (which are defaults).
const SB_FLAGS: &[&str] = &["sync", "dirsync", "lazytime", "mand", "silent"];
const SB_DEFAULTS: &[&str] = &[
    "async",
    "nolazytime",
    "nomand",
    "loud",
    "defaults",
    "iversion",
    "noiversion",
];

/// Propagation by name, as in `linux.rootfsPropagation` and mount options.
pub fn propagation(name: &str) -> Option<Propagation> {
    let (recursive, base) = match name.strip_prefix('r') {
        Some(b) if ["shared", "slave", "private", "unbindable"].contains(&b) => (true, b),
        _ => (false, name),
    };
    let flag = match base {
        "shared" => MS_SHARED,
        "slave" => MS_SLAVE,
        "private" => MS_PRIVATE,
        "unbindable" => MS_UNBINDABLE,
        _ => return None,
    };
    Some(Propagation { flag, recursive })
}

/// `idmap`, `ridmap`, `idmap=...`, `ridmap=...`: whether recursive, and the value.
pub fn idmap_option(o: &str) -> Option<(bool, Option<&str>)> {
    let (recursive, rest) = match o.strip_prefix('r') {
        Some(rest) => (true, rest),
        None => (false, o),
    };
    let value = rest.strip_prefix("idmap")?;
    match value.strip_prefix('=') {
        Some(v) => Some((recursive, Some(v))),
        None => value.is_empty().then_some((recursive, None)),
    }
}

/// An attribute option; one that sets an atime mode undoes earlier clears.
fn set_attr(attrs: &mut Attrs, atime_clear: &mut u64, set: u64, clear: u64) {
    attrs.apply(set, clear);
    if clear & ATTR_ATIME != 0 {
        *atime_clear = 0;
    }
}

/// An option that clears atime `mode`: out of a mode the list already set, else out of the
/// mounts that have it.
fn clear_atime(attrs: &mut Attrs, atime_clear: &mut u64, mode: u64) {
    if attrs.clear & ATTR_ATIME == 0 {
        *atime_clear |= mode;
    } else if attrs.set & ATTR_ATIME == mode {
        attrs.set &= !ATTR_ATIME;
    }
}

/// The atime mode (bits of the atime field) of a mount with `statfs` flags `st_flags`.
pub fn atime_mode(st_flags: libc::c_ulong) -> u64 {
    if st_flags & libc::ST_NOATIME != 0 {
        ATTR_NOATIME
    } else if st_flags & libc::ST_RELATIME != 0 {
        ATTR_RELATIME
    } else {
        ATTR_STRICTATIME
    }
}

/// The change that makes a mount relatime.
pub const TO_RELATIME: Attrs = Attrs {
    set: ATTR_RELATIME,
    clear: ATTR_ATIME,
};

/// Sorts an OCI options list. Later options win over earlier ones, as with mount(8).
pub fn parse(options: &[String]) -> Result<MountOptions, OptionError> {
    let mut out = MountOptions::default();
    for opt in options {
        let o = opt.as_str();
        if o.is_empty() {
            return Err(OptionError::Empty);
        }
        if o.contains('\0') || o.contains(',') {
            return Err(OptionError::Malformed(o.to_string()));
        }
        let recursive = o.strip_prefix('r');
        if let Some(&(_, set, clear)) = ATTR_OPTIONS.iter().find(|(n, ..)| *n == o) {
            set_attr(&mut out.attrs, &mut out.atime_clear, set, clear);
        } else if let Some(&(_, set, clear)) =
            recursive.and_then(|b| ATTR_OPTIONS.iter().find(|(n, ..)| *n == b))
        {
            set_attr(
                &mut out.recursive_attrs,
                &mut out.recursive_atime_clear,
                set,
                clear,
            );
        } else if let Some(&(_, mode)) = ATIME_CLEARS.iter().find(|(n, _)| *n == o) {
            clear_atime(&mut out.attrs, &mut out.atime_clear, mode);
        } else if let Some(&(_, mode)) =
            recursive.and_then(|b| ATIME_CLEARS.iter().find(|(n, _)| *n == b))
        {
            clear_atime(
                &mut out.recursive_attrs,
                &mut out.recursive_atime_clear,
                mode,
            );
        } else if o == "bind" {
            out.bind = true;
        } else if o == "rbind" {
            out.bind = true;
            out.recursive = true;
        } else if let Some(p) = propagation(o) {
            out.propagation.push(p);
        } else if let Some(f) = SB_FLAGS.iter().find(|f| **f == o) {
            out.sb_flags.push(f);
        } else if SB_DEFAULTS.contains(&o) || o.starts_with("X-mount.") || o == "tmpcopyup" {
            // Defaults need no action; X-mount.* are userspace hints for mount(8).
        } else if let Some((recursive, value)) = idmap_option(o) {
            out.idmap = Some(recursive);
            out.custom_idmap = match value {
                Some(v) if !v.is_empty() => {
                    Some(parse_custom_idmap(v).ok_or_else(|| OptionError::Idmap(o.to_string()))?)
                }
                _ => None,
            };
        } else {
            let (k, v) = match o.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (o.to_string(), None),
            };
            out.data.push((k, v));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(o: &[&str]) -> MountOptions {
        parse(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn attributes_and_data_are_split() {
        let m = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(m.attrs.set, ATTR_NOSUID | ATTR_STRICTATIME);
        assert_eq!(m.attrs.clear, ATTR_ATIME);
        assert_eq!(
            m.data,
            vec![
                ("mode".into(), Some("755".into())),
                ("size".into(), Some("65536k".into()))
            ]
        );
        assert!(!m.bind);
    }

    #[test]
    fn later_options_win() {
        let m = p(&["ro", "rw"]);
        assert_eq!(m.attrs.set & ATTR_RDONLY, 0);
        assert_eq!(m.attrs.clear & ATTR_RDONLY, ATTR_RDONLY);
        assert!(p(&["rw", "ro"]).attrs.read_only());
    }

    #[test]
    fn binds_recursive_attrs_and_propagation() {
        let m = p(&["rbind", "rro", "rslave", "private", "newinstance"]);
        assert!(m.bind && m.recursive);
        assert!(m.recursive_attrs.read_only());
        assert_eq!(
            m.propagation,
            vec![
                Propagation {
                    flag: MS_SLAVE,
                    recursive: true
                },
                Propagation {
                    flag: MS_PRIVATE,
                    recursive: false
                }
            ]
        );
        assert_eq!(m.data, vec![("newinstance".into(), None)]);
    }

    #[test]
    fn superblock_flags_and_noise() {
        let m = p(&["sync", "async", "defaults", "X-mount.mkdir", "idmap"]);
        assert_eq!(m.sb_flags, vec!["sync"]);
        assert!(m.data.is_empty());
        assert_eq!(m.idmap, Some(false));
    }

    #[test]
    fn idmap_options_with_their_own_mappings() {
        let m = p(&["rbind", "ridmap=uids=0-1-10#10-100-10;gids=@0-+2-5"]);
        assert_eq!(m.idmap, Some(true));
        let range = |fs, to, size, in_container| IdRange {
            fs,
            to,
            size,
            in_container,
        };
        assert_eq!(
            m.custom_idmap,
            Some(CustomIdmap {
                uids: Some(vec![range(0, 1, 10, false), range(10, 100, 10, false)]),
                gids: Some(vec![range(0, 2, 5, true)]),
            })
        );
        assert!(m.data.is_empty());
        let m = p(&["idmap="]);
        assert_eq!((m.idmap, m.custom_idmap), (Some(false), None));
        for bad in [
            "idmap=uids=0-1",
            "idmap=uids=0-1-0",
            "idmap=users=0-1-10",
            "idmap=uids=a-1-10",
            "idmap=uids",
        ] {
            assert!(
                matches!(parse(&[bad.to_string()]), Err(OptionError::Idmap(_))),
                "{bad}"
            );
        }
        assert_eq!(idmap_option("idmapx"), None);
    }

    #[test]
    fn atime_clears_touch_only_their_mode() {
        // Clearing a mode the list set: relatime.
        let m = p(&["noatime", "atime"]);
        assert_eq!(
            (m.attrs.set, m.attrs.clear, m.atime_clear),
            (0, ATTR_ATIME, 0)
        );
        let m = p(&["strictatime", "atime"]);
        assert_eq!(m.attrs.set, ATTR_STRICTATIME);
        // Otherwise left for the mounts that have it, recursive or not.
        let m = p(&["rbind", "ratime", "rnostrictatime", "nostrictatime"]);
        assert!(m.recursive_attrs.is_empty() && m.attrs.is_empty());
        assert_eq!(m.recursive_atime_clear, ATTR_NOATIME | ATTR_STRICTATIME);
        assert_eq!(m.atime_clear, ATTR_STRICTATIME);
        // norelatime clears no bit; a later mode wins over an earlier clear.
        let m = p(&["rnorelatime", "norelatime"]);
        assert_eq!((m.recursive_atime_clear, m.atime_clear), (0, 0));
        assert!(m.attrs.is_empty() && m.recursive_attrs.is_empty());
        let m = p(&["ratime", "rnoatime"]);
        assert_eq!(m.recursive_atime_clear, 0);
        assert_eq!(m.recursive_attrs.set, ATTR_NOATIME);
        assert_eq!(atime_mode(libc::ST_NOATIME | libc::ST_NODEV), ATTR_NOATIME);
        assert_eq!(atime_mode(libc::ST_RELATIME), ATTR_RELATIME);
        assert_eq!(atime_mode(0), ATTR_STRICTATIME);
    }

    #[test]
    fn malformed_options_are_rejected() {
        assert!(parse(&["".to_string()]).is_err());
        assert!(parse(&["a,b".to_string()]).is_err());
    }

    #[test]
    fn propagation_names() {
        assert_eq!(
            propagation("rshared"),
            Some(Propagation {
                flag: MS_SHARED,
                recursive: true
            })
        );
        assert_eq!(
            propagation("unbindable"),
            Some(Propagation {
                flag: MS_UNBINDABLE,
                recursive: false
            })
        );
        assert_eq!(propagation("rw"), None);
    }
}
