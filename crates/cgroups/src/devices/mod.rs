//! `linux.resources.devices`: rules checked once, then written to the v1 devices controller
//! or compiled to a cgroup v2 BPF_CGROUP_DEVICE program.

pub(crate) mod bpf;
pub(crate) mod ebpf;

use std::os::fd::AsFd;
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{Error, Result};
use crate::fs::open_dir;

const R: &str = "devices";

/// Device types a rule can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DevKind {
    All,
    Char,
    Block,
}

/// Access bits, numbered as the kernel's BPF_DEVCG_ACC_* so the eBPF code can use them.
pub(crate) const ACC_MKNOD: u8 = 1;
pub(crate) const ACC_READ: u8 = 2;
pub(crate) const ACC_WRITE: u8 = 4;
pub(crate) const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// One validated rule; `None` major/minor is the wildcard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    pub allow: bool,
    pub kind: DevKind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

impl Rule {
    pub fn from_oci(d: &LinuxDeviceCgroup) -> Result<Rule> {
        let kind = match d.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => DevKind::All,
            LinuxDeviceType::C | LinuxDeviceType::U => DevKind::Char,
            LinuxDeviceType::B => DevKind::Block,
            LinuxDeviceType::P => {
                return Err(Error::invalid(
                    R,
                    d,
                    "FIFOs are not governed by the device cgroup",
                ))
            }
        };
        let num = |v: Option<i64>| match v {
            None | Some(-1) => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| Error::invalid(R, d, "major/minor must be -1 or a device number")),
        };
        let access = parse_access(d.access().as_deref().unwrap_or("rwm"))
            .ok_or_else(|| Error::invalid(R, d, "access is a combination of r, w and m"))?;
        let rule = Rule {
            allow: d.allow(),
            kind,
            major: num(d.major())?,
            minor: num(d.minor())?,
            access,
        };
        // The v1 kernel reads "a" as "every device, every access" whatever follows it, so a
        // narrower "a" rule would mean different things on v1 and v2.
        if kind == DevKind::All
            && (rule.major.is_some() || rule.minor.is_some() || access != ACC_ALL)
        {
            return Err(Error::invalid(
                R,
                d,
                "type a (all devices) cannot be narrowed by major, minor or access",
            ));
        }
        Ok(rule)
    }

    /// The line for v1 `devices.allow`/`devices.deny`, e.g. `c 1:3 rwm` or `a`.
    pub fn v1_line(&self) -> String {
        let kind = match self.kind {
            DevKind::All => return "a".to_string(),
            DevKind::Char => 'c',
            DevKind::Block => 'b',
        };
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        let mut acc = String::new();
        for (bit, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
            if self.access & bit != 0 {
                acc.push(c);
            }
        }
        format!("{kind} {}:{} {acc}", num(self.major), num(self.minor))
    }
}

fn parse_access(s: &str) -> Option<u8> {
    if s.is_empty() {
        return Some(ACC_ALL);
    }
    s.chars().try_fold(0u8, |acc, c| match c {
        'r' => Some(acc | ACC_READ),
        'w' => Some(acc | ACC_WRITE),
        'm' => Some(acc | ACC_MKNOD),
        _ => None,
    })
}

/// Validates every rule before anything is written.
pub(crate) fn rules(devices: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>> {
    devices.iter().map(Rule::from_oci).collect()
}

/// Attaches a program for `rules` to the cgroup2 directory `dir`, replacing the one an
/// earlier apply or update attached.
pub(crate) fn install_v2(dir: &Path, rules: &[Rule]) -> Result<()> {
    let fail = |op, source, log: String| Error::Bpf {
        op,
        path: dir.to_path_buf(),
        source,
        log: if log.is_empty() {
            log
        } else {
            format!(": {log}")
        },
    };
    let prog =
        bpf::load(&ebpf::program(rules)).map_err(|(e, log)| fail("BPF_PROG_LOAD", e, log))?;
    let cg = open_dir(dir)?;
    let (flags, old) =
        bpf::query(cg.as_fd()).map_err(|e| fail("BPF_PROG_QUERY", e, String::new()))?;
    if !old.is_empty() && flags & bpf::BPF_F_ALLOW_MULTI == 0 {
        // Someone attached a single, overridable program; attaching the same way replaces it.
        return bpf::attach(cg.as_fd(), prog.as_fd(), flags)
            .map_err(|e| fail("BPF_PROG_ATTACH", e, String::new()));
    }
    bpf::attach(cg.as_fd(), prog.as_fd(), bpf::BPF_F_ALLOW_MULTI)
        .map_err(|e| fail("BPF_PROG_ATTACH", e, String::new()))?;
    // Stacked programs must all allow an access, so until the old ones are gone the cgroup is
    // only ever more restricted than either list, never less.
    for id in old {
        let old_prog =
            bpf::prog_fd(id).map_err(|e| fail("BPF_PROG_GET_FD_BY_ID", e, String::new()))?;
        bpf::detach(cg.as_fd(), old_prog.as_fd())
            .map_err(|e| fail("BPF_PROG_DETACH", e, String::new()))?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    pub fn dev(
        allow: bool,
        t: Option<LinuxDeviceType>,
        maj: Option<i64>,
        min: Option<i64>,
        acc: &str,
    ) -> LinuxDeviceCgroup {
        let mut b = LinuxDeviceCgroupBuilder::default().allow(allow).access(acc);
        if let Some(t) = t {
            b = b.typ(t);
        }
        if let Some(m) = maj {
            b = b.major(m);
        }
        if let Some(m) = min {
            b = b.minor(m);
        }
        b.build().unwrap()
    }

    #[test]
    fn v1_lines() {
        let r = |d| Rule::from_oci(&d).unwrap().v1_line();
        assert_eq!(r(dev(false, None, None, None, "rwm")), "a");
        assert_eq!(
            r(dev(true, Some(LinuxDeviceType::C), Some(1), Some(3), "mwr")),
            "c 1:3 rwm"
        );
        assert_eq!(
            r(dev(true, Some(LinuxDeviceType::B), Some(8), None, "r")),
            "b 8:* r"
        );
        assert_eq!(
            r(dev(true, Some(LinuxDeviceType::U), Some(-1), Some(-1), "m")),
            "c *:* m"
        );
        assert_eq!(
            r(dev(true, Some(LinuxDeviceType::C), Some(5), Some(1), "")),
            "c 5:1 rwm"
        );
    }

    #[test]
    fn bad_rules() {
        let e = |d| Rule::from_oci(&d).unwrap_err().to_string();
        assert!(e(dev(true, Some(LinuxDeviceType::P), None, None, "rwm")).contains("FIFO"));
        assert!(e(dev(true, Some(LinuxDeviceType::C), Some(1), Some(3), "rx")).contains("access"));
        assert!(e(dev(true, Some(LinuxDeviceType::C), Some(-7), None, "r")).contains("major"));
        assert!(e(dev(true, Some(LinuxDeviceType::A), None, None, "r")).contains("type a"));
        assert!(e(dev(true, None, Some(1), None, "rwm")).contains("type a"));
    }
}
