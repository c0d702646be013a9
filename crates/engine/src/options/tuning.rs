//! The finer flags of `run` and `create`: cgroup limits beyond `-m`/`--cpus`/`--pids-limit`,
//! rlimits, sysctls, devices, security options, namespaces shared with the host or another
//! container. Each is checked as docker checks it, with docker's limits.

use super::{bad, OptionsError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The flags as given.
#[derive(Clone, Debug, Default)]
pub struct TuningFlags {
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub blkio_weight: Option<u16>,
    pub shm_size: Option<String>,
    pub oom_score_adj: Option<i32>,
    /// `NAME=SOFT[:HARD]`.
    pub ulimits: Vec<String>,
    /// `KEY=VALUE`.
    pub sysctls: Vec<String>,
    /// `HOST[:CONTAINER[:PERMISSIONS]]`, or a CDI device's `VENDOR/CLASS=NAME`.
    pub devices: Vec<String>,
    /// docker's `--gpus` (`all`, a count, `device=0,1`).
    pub gpus: Option<String>,
    /// `TYPE MAJOR:MINOR ACCESS` (`c 1:3 rwm`, `a *:* rwm`).
    pub device_cgroup_rules: Vec<String>,
    /// `seccomp=PROFILE|unconfined`, `no-new-privileges[=true|false]`, `label=disable`.
    pub security_opts: Vec<String>,
    /// Group names (of the image's /etc/group) or ids.
    pub group_add: Vec<String>,
    /// CFS period and quota in microseconds, as given (instead of `--cpus`).
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    /// 0 to 100.
    pub memory_swappiness: Option<u64>,
    pub oom_kill_disable: bool,
    /// `DEVICE:RATE` throttles and `DEVICE:WEIGHT` weights.
    pub device_read_bps: Vec<String>,
    pub device_write_bps: Vec<String>,
    pub device_read_iops: Vec<String>,
    pub device_write_iops: Vec<String>,
    pub blkio_weight_device: Vec<String>,
    /// `host` or `private`.
    pub cgroupns: Option<String>,
    /// `KEY=VALUE` OCI annotations.
    pub annotations: Vec<String>,
    /// `host`, `private`, or `container:NAME`, per namespace.
    pub pid: Option<String>,
    pub ipc: Option<String>,
    pub uts: Option<String>,
}

/// Where a container's pid, ipc or uts namespace comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    /// A namespace of its own.
    #[default]
    Private,
    /// The host's.
    Host,
    /// Another container's (its name or id as given), joined when this one starts.
    Container(String),
}

/// The seccomp filter a container gets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seccomp {
    /// berth's default profile for the container's capabilities.
    #[default]
    Default,
    Unconfined,
    /// A profile file (docker's format or OCI's), read when the container is created.
    File(PathBuf),
}

/// One `--ulimit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// `RLIMIT_NOFILE` and so on.
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// A host device given to the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub host: PathBuf,
    pub container: String,
    /// `rwm` or a part of it.
    pub access: String,
}

/// A block device's limit (`--device-read-bps /dev/vda:1mb`, `--blkio-weight-device
/// /dev/vda:200`), by the device's numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockLimit {
    pub major: u64,
    pub minor: u64,
    pub value: u64,
}

/// The block IO limits, per device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BlockIo {
    pub read_bps: Vec<BlockLimit>,
    pub write_bps: Vec<BlockLimit>,
    pub read_iops: Vec<BlockLimit>,
    pub write_iops: Vec<BlockLimit>,
    pub weights: Vec<BlockLimit>,
}

impl BlockIo {
    fn is_empty(&self) -> bool {
        *self == BlockIo::default()
    }
}

/// A `--device-cgroup-rule`: `major`/`minor` `None` for `*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    /// `a`, `b` or `c`.
    pub kind: String,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

/// The checked flags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Tuning {
    /// Memory plus swap, bytes; -1 for no limit on swap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset_mems: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blkio_weight: Option<u16>,
    /// /dev/shm's size in bytes (docker's default: 64 MiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<Ulimit>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
    /// CDI devices by name (`nvidia.com/gpu=all`), resolved when the config is made.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cdi_devices: Vec<String>,
    /// `--gpus` as given: read against the GPUs berth finds when the config is made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpus: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_rules: Vec<DeviceRule>,
    pub seccomp: Seccomp,
    pub no_new_privileges: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    pub pid: Sharing,
    pub ipc: Sharing,
    pub uts: Sharing,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_swappiness: Option<u64>,
    pub oom_kill_disable: bool,
    #[serde(skip_serializing_if = "BlockIo::is_empty")]
    pub block_io: BlockIo,
    /// The host's cgroup namespace (`--cgroupns host`).
    pub host_cgroupns: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl TuningFlags {
    /// Checks the flags; `memory` is `-m`'s value, which `--memory-swap` and
    /// `--memory-reservation` are checked against; `host_network` whether net.* sysctls
    /// would reach the host.
    pub(super) fn check(
        &self,
        memory: Option<i64>,
        host_network: bool,
    ) -> Result<Tuning, OptionsError> {
        let size = |flag: &'static str, v: &str| super::values::size(flag, v);
        let memory_swap = match self.memory_swap.as_deref() {
            None => None,
            Some("-1") => Some(-1),
            Some(v) => {
                let swap = size("--memory-swap", v)?;
                let Some(m) = memory else {
                    return Err(bad("--memory-swap", v, "needs --memory as well"));
                };
                if (swap as i64) < m {
                    return Err(bad("--memory-swap", v, "must be at least --memory"));
                }
                Some(swap as i64)
            }
        };
        let memory_reservation = match self.memory_reservation.as_deref() {
            None => None,
            Some(v) => {
                let r = size("--memory-reservation", v)? as i64;
                if memory.is_some_and(|m| r > m) {
                    return Err(bad("--memory-reservation", v, "must be at most --memory"));
                }
                Some(r)
            }
        };
        let cpu_shares = match self.cpu_shares {
            None | Some(0) => None,
            Some(n @ 2..=262_144) => Some(n),
            Some(n) => return Err(bad("--cpu-shares", &n.to_string(), "want 2 to 262144")),
        };
        let blkio_weight = match self.blkio_weight {
            None | Some(0) => None,
            Some(n @ 10..=1000) => Some(n),
            Some(n) => return Err(bad("--blkio-weight", &n.to_string(), "want 10 to 1000")),
        };
        if let Some(n) = self.oom_score_adj.filter(|n| !(-1000..=1000).contains(n)) {
            return Err(bad("--oom-score-adj", &n.to_string(), "want -1000 to 1000"));
        }
        let cpuset = |flag: &'static str, v: &Option<String>, online: &str| {
            v.as_deref()
                .map(|s| cpu_list(flag, s, online).map(|()| s.to_string()))
                .transpose()
        };
        let online = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let mut t = Tuning {
            memory_swap,
            memory_reservation,
            cpu_shares,
            cpuset_cpus: cpuset(
                "--cpuset-cpus",
                &self.cpuset_cpus,
                &online("/sys/devices/system/cpu/online"),
            )?,
            cpuset_mems: cpuset(
                "--cpuset-mems",
                &self.cpuset_mems,
                &online("/sys/devices/system/node/online"),
            )?,
            blkio_weight,
            shm_size: self
                .shm_size
                .as_deref()
                .map(|v| size("--shm-size", v))
                .transpose()?,
            oom_score_adj: self.oom_score_adj,
            ..Default::default()
        };
        for u in &self.ulimits {
            t.ulimits.push(ulimit(u)?);
        }
        for s in &self.sysctls {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| bad("--sysctl", s, "want KEY=VALUE"))?;
            sysctl_allowed(k, host_network).map_err(|why| bad("--sysctl", s, why))?;
            t.sysctls.insert(k.to_string(), v.to_string());
        }
        for d in &self.devices {
            match berth_cdi::names::is_qualified(d) {
                true => {
                    berth_cdi::names::parse(d).map_err(|why| bad("--device", d, why))?;
                    t.cdi_devices.push(d.clone());
                }
                false => t.devices.push(device(d)?),
            }
        }
        t.gpus = self.gpus.clone();
        for r in &self.device_cgroup_rules {
            t.device_rules.push(device_rule(r)?);
        }
        for o in &self.security_opts {
            security_opt(o, &mut t)?;
        }
        t.group_add = self.group_add.clone();
        t.cpu_period = match self.cpu_period {
            Some(p @ 1000..=1_000_000) => Some(p),
            Some(p) => {
                return Err(bad(
                    "--cpu-period",
                    &p.to_string(),
                    "want 1000 to 1000000 (µs)",
                ))
            }
            None => None,
        };
        t.cpu_quota = match self.cpu_quota {
            Some(q) if q != -1 && q < 1000 => {
                return Err(bad(
                    "--cpu-quota",
                    &q.to_string(),
                    "want at least 1000 (µs), or -1",
                ))
            }
            q => q,
        };
        t.memory_swappiness = match self.memory_swappiness {
            Some(n @ 0..=100) => Some(n),
            Some(n) => return Err(bad("--memory-swappiness", &n.to_string(), "want 0 to 100")),
            None => None,
        };
        t.oom_kill_disable = self.oom_kill_disable;
        let limits = |flag: &'static str, list: &[String], rate: bool| {
            list.iter()
                .map(|l| block_limit(flag, l, rate))
                .collect::<Result<Vec<_>, _>>()
        };
        t.block_io = BlockIo {
            read_bps: limits("--device-read-bps", &self.device_read_bps, true)?,
            write_bps: limits("--device-write-bps", &self.device_write_bps, true)?,
            read_iops: limits("--device-read-iops", &self.device_read_iops, false)?,
            write_iops: limits("--device-write-iops", &self.device_write_iops, false)?,
            weights: limits("--blkio-weight-device", &self.blkio_weight_device, false)?,
        };
        if let Some(w) = t
            .block_io
            .weights
            .iter()
            .find(|w| !(10..=1000).contains(&w.value))
        {
            return Err(bad(
                "--blkio-weight-device",
                &w.value.to_string(),
                "want 10 to 1000",
            ));
        }
        t.host_cgroupns = match self.cgroupns.as_deref() {
            None | Some("private") => false,
            Some("host") => true,
            Some(v) => return Err(bad("--cgroupns", v, "want host or private")),
        };
        for a in &self.annotations {
            let (k, v) = a
                .split_once('=')
                .ok_or_else(|| bad("--annotation", a, "want KEY=VALUE"))?;
            t.annotations.insert(k.to_string(), v.to_string());
        }
        t.pid = sharing("--pid", self.pid.as_deref())?;
        t.ipc = sharing("--ipc", self.ipc.as_deref())?;
        t.uts = sharing("--uts", self.uts.as_deref())?;
        Ok(t)
    }
}

/// `0-3,5` within the host's online list (`0-1`): docker refuses CPUs the host lacks.
fn cpu_list(flag: &'static str, s: &str, online: &str) -> Result<(), OptionsError> {
    let parse = |list: &str| -> Option<Vec<u32>> {
        let mut out = Vec::new();
        for part in list.trim().split(',').filter(|p| !p.is_empty()) {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                    if a > b || b - a > 4096 {
                        return None;
                    }
                    out.extend(a..=b);
                }
                None => out.push(part.parse().ok()?),
            }
        }
        (!out.is_empty()).then_some(out)
    };
    let want = parse(s).ok_or_else(|| bad(flag, s, "want a list such as 0-2,4"))?;
    let have = parse(online).unwrap_or_default();
    match want.iter().find(|c| !have.contains(c)) {
        Some(c) if !have.is_empty() => Err(bad(
            flag,
            s,
            format!("{c} is not online here ({})", online.trim()),
        )),
        _ => Ok(()),
    }
}

fn ulimit(u: &str) -> Result<Ulimit, OptionsError> {
    const NAMES: [&str; 16] = [
        "as",
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ];
    let (name, values) = u
        .split_once('=')
        .ok_or_else(|| bad("--ulimit", u, "want NAME=SOFT[:HARD]"))?;
    if !NAMES.contains(&name) {
        return Err(bad("--ulimit", u, format!("unknown limit {name:?}")));
    }
    let value = |v: &str| match v {
        "unlimited" | "-1" => Some(u64::MAX),
        v => v.parse().ok(),
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (value(s), value(h)),
        None => (value(values), value(values)),
    };
    let (Some(soft), Some(hard)) = (soft, hard) else {
        return Err(bad("--ulimit", u, "want numbers or unlimited"));
    };
    if soft > hard {
        return Err(bad("--ulimit", u, "the soft limit is above the hard one"));
    }
    Ok(Ulimit {
        name: format!("RLIMIT_{}", name.to_ascii_uppercase()),
        soft,
        hard,
    })
}

/// docker's rule: only sysctls the kernel keeps per namespace, and no `net.*` on the host's
/// network.
fn sysctl_allowed(key: &str, host_network: bool) -> Result<(), String> {
    const IPC: [&str; 6] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
    ];
    let ipc = IPC.contains(&key)
        || key == "kernel.shmmni"
        || key == "kernel.shm_rmid_forced"
        || key.starts_with("fs.mqueue.");
    if ipc {
        return Ok(());
    }
    if key.starts_with("net.") {
        return match host_network {
            true => Err("net.* sysctls would change the host's network".into()),
            false => Ok(()),
        };
    }
    if key == "kernel.domainname" || key == "kernel.hostname" {
        return Ok(());
    }
    Err("not a sysctl of the container's own namespaces".into())
}

/// `/dev/sda[:/dev/xvda[:rwm]]`: the host path must be a device node.
fn device(d: &str) -> Result<Device, OptionsError> {
    let parts: Vec<&str> = d.split(':').collect();
    let (host, container, access) = match parts[..] {
        [h] => (h, h, "rwm"),
        [h, c] if c.chars().all(|x| "rwm".contains(x)) && !c.is_empty() => (h, h, c),
        [h, c] => (h, c, "rwm"),
        [h, c, a] => (h, c, a),
        _ => return Err(bad("--device", d, "want HOST[:CONTAINER[:PERMISSIONS]]")),
    };
    if access.is_empty() || !access.chars().all(|x| "rwm".contains(x)) {
        return Err(bad("--device", d, "permissions are a part of rwm"));
    }
    if !container.starts_with('/') {
        return Err(bad("--device", d, "the container path must be absolute"));
    }
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(host).map_err(|e| bad("--device", d, format!("{host}: {e}")))?;
    let ft = meta.file_type();
    if !ft.is_char_device() && !ft.is_block_device() {
        return Err(bad("--device", d, format!("{host} is not a device")));
    }
    Ok(Device {
        host: PathBuf::from(host),
        container: container.to_string(),
        access: access.to_string(),
    })
}

/// `/dev/vda:1mb` (a rate, with `rate`) or `/dev/vda:1000`: the device's numbers and the value.
fn block_limit(flag: &'static str, l: &str, rate: bool) -> Result<BlockLimit, OptionsError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let (path, value) = l
        .rsplit_once(':')
        .ok_or_else(|| bad(flag, l, "want DEVICE:VALUE"))?;
    let value = match rate {
        true => super::values::size(flag, value)?,
        false => value
            .parse()
            .map_err(|_| bad(flag, l, "want a whole number"))?,
    };
    let m = std::fs::metadata(path).map_err(|e| bad(flag, l, format!("{path}: {e}")))?;
    if !m.file_type().is_block_device() {
        return Err(bad(flag, l, format!("{path} is not a block device")));
    }
    Ok(BlockLimit {
        major: libc::major(m.rdev()).into(),
        minor: libc::minor(m.rdev()).into(),
        value,
    })
}

/// `c 1:3 rwm`, `a *:* m`.
fn device_rule(r: &str) -> Result<DeviceRule, OptionsError> {
    let err = || {
        bad(
            "--device-cgroup-rule",
            r,
            "want TYPE MAJOR:MINOR ACCESS, as c 1:3 rwm",
        )
    };
    let mut w = r.split_whitespace();
    let (Some(kind), Some(numbers), Some(access), None) = (w.next(), w.next(), w.next(), w.next())
    else {
        return Err(err());
    };
    if !["a", "b", "c"].contains(&kind)
        || access.is_empty()
        || !access.chars().all(|x| "rwm".contains(x))
    {
        return Err(err());
    }
    let (major, minor) = numbers.split_once(':').ok_or_else(err)?;
    let number = |n: &str| match n {
        "*" => Ok(None),
        n => n.parse().map(Some).map_err(|_| err()),
    };
    Ok(DeviceRule {
        kind: kind.to_string(),
        major: number(major)?,
        minor: number(minor)?,
        access: access.to_string(),
    })
}

fn security_opt(o: &str, t: &mut Tuning) -> Result<(), OptionsError> {
    let (k, v) = o.split_once(['=', ':']).unwrap_or((o, ""));
    match (k, v) {
        ("seccomp", "unconfined") => t.seccomp = Seccomp::Unconfined,
        ("seccomp", "") => {
            return Err(bad(
                "--security-opt",
                o,
                "seccomp= wants a profile file or unconfined",
            ))
        }
        ("seccomp", path) => {
            let p = std::fs::canonicalize(path)
                .map_err(|e| bad("--security-opt", o, format!("{path}: {e}")))?;
            t.seccomp = Seccomp::File(p);
        }
        ("no-new-privileges", "" | "true") => t.no_new_privileges = true,
        ("no-new-privileges", "false") => t.no_new_privileges = false,
        // berth gives containers no SELinux or AppArmor label: nothing to switch off.
        ("label", "disable") | ("apparmor", "unconfined") => {}
        ("label" | "apparmor", _) => {
            return Err(bad(
                "--security-opt",
                o,
                "berth applies no SELinux or AppArmor labels (label=disable is accepted)",
            ))
        }
        _ => {
            return Err(bad(
                "--security-opt",
                o,
                "want seccomp=PROFILE|unconfined, no-new-privileges[=true|false] or label=disable",
            ))
        }
    }
    Ok(())
}

/// `--pid`, `--ipc`, `--uts`: `host`, `private`, or `container:NAME`.
fn sharing(flag: &'static str, v: Option<&str>) -> Result<Sharing, OptionsError> {
    match v {
        None | Some("private" | "" | "shareable") => Ok(Sharing::Private),
        Some("host") => Ok(Sharing::Host),
        Some(s) => match s.strip_prefix("container:") {
            Some(name) if !name.is_empty() => Ok(Sharing::Container(name.to_string())),
            _ => Err(bad(flag, s, "want host, private or container:NAME")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: TuningFlags) -> Result<Tuning, String> {
        f.check(Some(64 << 20), false).map_err(|e| e.to_string())
    }

    #[test]
    fn limits_as_docker_checks_them() {
        let t = check(TuningFlags {
            memory_swap: Some("128m".into()),
            memory_reservation: Some("32m".into()),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".into()),
            blkio_weight: Some(300),
            shm_size: Some("1g".into()),
            oom_score_adj: Some(-500),
            ulimits: vec!["nofile=1024:2048".into(), "core=unlimited".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (t.memory_swap, t.memory_reservation),
            (Some(128 << 20), Some(32 << 20))
        );
        assert_eq!(
            (t.cpu_shares, t.blkio_weight, t.shm_size),
            (Some(512), Some(300), Some(1 << 30))
        );
        assert_eq!(
            t.ulimits[0],
            Ulimit {
                name: "RLIMIT_NOFILE".into(),
                soft: 1024,
                hard: 2048
            }
        );
        assert_eq!(t.ulimits[1].hard, u64::MAX);
        let bad: Vec<TuningFlags> = vec![
            TuningFlags {
                memory_swap: Some("32m".into()),
                ..Default::default()
            },
            TuningFlags {
                memory_reservation: Some("1g".into()),
                ..Default::default()
            },
            TuningFlags {
                cpu_shares: Some(1),
                ..Default::default()
            },
            TuningFlags {
                blkio_weight: Some(5),
                ..Default::default()
            },
            TuningFlags {
                oom_score_adj: Some(1001),
                ..Default::default()
            },
            TuningFlags {
                cpuset_cpus: Some("9999".into()),
                ..Default::default()
            },
            TuningFlags {
                cpuset_cpus: Some("a-b".into()),
                ..Default::default()
            },
            TuningFlags {
                ulimits: vec!["nofile=2:1".into()],
                ..Default::default()
            },
            TuningFlags {
                ulimits: vec!["bogus=1".into()],
                ..Default::default()
            },
            TuningFlags {
                sysctls: vec!["kernel.panic=1".into()],
                ..Default::default()
            },
            TuningFlags {
                devices: vec!["/etc/passwd".into()],
                ..Default::default()
            },
            TuningFlags {
                device_cgroup_rules: vec!["x 1:3 rwm".into()],
                ..Default::default()
            },
            TuningFlags {
                security_opts: vec!["apparmor=myprofile".into()],
                ..Default::default()
            },
            TuningFlags {
                security_opts: vec!["seccomp=/no/such.json".into()],
                ..Default::default()
            },
            TuningFlags {
                pid: Some("container:".into()),
                ..Default::default()
            },
        ];
        for f in bad {
            let e = check(f).unwrap_err();
            assert!(e.starts_with("--"), "{e}");
        }
        // swap needs -m.
        let e = TuningFlags {
            memory_swap: Some("1g".into()),
            ..Default::default()
        }
        .check(None, false)
        .unwrap_err();
        assert!(e.to_string().contains("--memory"));
    }

    #[test]
    fn security_devices_and_namespaces() {
        let t = check(TuningFlags {
            sysctls: vec!["net.ipv4.ip_forward=1".into(), "kernel.shmmax=100".into()],
            devices: vec!["/dev/null:/dev/mynull:r".into(), "/dev/zero:rw".into()],
            device_cgroup_rules: vec!["c 1:* rwm".into(), "a *:* m".into()],
            security_opts: vec![
                "no-new-privileges".into(),
                "seccomp=unconfined".into(),
                "label=disable".into(),
            ],
            pid: Some("host".into()),
            ipc: Some("container:db".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(t.sysctls.len(), 2);
        assert_eq!(t.devices[0].container, "/dev/mynull");
        assert_eq!(
            (
                t.devices[1].container.as_str(),
                t.devices[1].access.as_str()
            ),
            ("/dev/zero", "rw")
        );
        assert_eq!(
            t.device_rules[0],
            DeviceRule {
                kind: "c".into(),
                major: Some(1),
                minor: None,
                access: "rwm".into()
            }
        );
        assert!(t.no_new_privileges);
        assert_eq!(t.seccomp, Seccomp::Unconfined);
        assert_eq!(
            (t.pid, t.ipc, t.uts),
            (
                Sharing::Host,
                Sharing::Container("db".into()),
                Sharing::Private
            )
        );
        let e = TuningFlags {
            sysctls: vec!["net.ipv4.ip_forward=1".into()],
            ..Default::default()
        }
        .check(None, true)
        .unwrap_err();
        assert!(e.to_string().contains("host"));
    }
}
