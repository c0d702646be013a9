//! Single values: environment, entrypoint, hostname, capabilities, sizes, limits.

use super::{bad, OptionsError, CPU_PERIOD};
use serde::{Deserialize, Serialize};

/// `KEY=VALUE` entries; a bare `KEY` takes `getenv`'s value and is left out when unset.
pub fn env_list(
    list: &[String],
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, OptionsError> {
    let mut out = Vec::new();
    for e in list {
        match e.split_once('=') {
            Some(("", _)) => return Err(bad("--env", e, "empty variable name")),
            Some(_) => out.push(e.clone()),
            None if e.is_empty() => return Err(bad("--env", e, "empty variable name")),
            // As docker: a bare name takes berth's value, and is left out when unset.
            None => out.extend(getenv(e).map(|v| format!("{e}={v}"))),
        }
    }
    Ok(out)
}

/// The lines of files of `KEY=VALUE` (docker's `--env-file`): empty lines and `#` comments
/// skipped, a bare `KEY` as for `-e`.
pub fn env_files(
    files: &[std::path::PathBuf],
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, OptionsError> {
    let mut lines = Vec::new();
    for f in files {
        let shown = f.display().to_string();
        let text =
            std::fs::read_to_string(f).map_err(|e| bad("--env-file", &shown, e.to_string()))?;
        lines.extend(
            text.lines()
                .map(|l| l.trim_start())
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    env_list(&lines, getenv)
}

/// `--label KEY=VALUE` (a bare `KEY` has an empty value) and the lines of `--label-file`s.
pub fn labels(
    list: &[String],
    files: &[std::path::PathBuf],
) -> Result<std::collections::BTreeMap<String, String>, OptionsError> {
    let mut lines: Vec<String> = Vec::new();
    for f in files {
        let shown = f.display().to_string();
        let text =
            std::fs::read_to_string(f).map_err(|e| bad("--label-file", &shown, e.to_string()))?;
        lines.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    lines.extend(list.iter().cloned());
    let mut out = std::collections::BTreeMap::new();
    for l in lines {
        let (k, v) = l.split_once('=').unwrap_or((&l, ""));
        if k.is_empty() {
            return Err(bad("--label", &l, "empty label name"));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

pub(super) fn entrypoint(s: &str) -> Result<Vec<String>, OptionsError> {
    if s.starts_with('[') {
        return serde_json::from_str(s).map_err(|e| {
            bad(
                "--entrypoint",
                s,
                format!("not a JSON array of strings: {e}"),
            )
        });
    }
    Ok(if s.is_empty() {
        Vec::new()
    } else {
        vec![s.to_string()]
    })
}

pub(super) fn hostname(h: &str) -> Result<(), OptionsError> {
    let ok = !h.is_empty()
        && h.len() <= 64
        && h.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(bad(
            "--hostname",
            h,
            "want letters, digits, '-' and '.', at most 64 characters",
        ))
    }
}

/// `CAP_NET_ADMIN`, `net_admin` → `CAP_NET_ADMIN`; `ALL` stays.
pub(super) fn caps(flag: &'static str, list: &[String]) -> Result<Vec<String>, OptionsError> {
    list.iter()
        .map(|c| {
            if c.eq_ignore_ascii_case("all") {
                return Ok("ALL".to_string());
            }
            berth_sys::caps::from_name(c)
                .and_then(|n| berth_sys::caps::NAMES.get(n as usize))
                .map(|n| n.to_string())
                .ok_or_else(|| bad(flag, c, "unknown capability"))
        })
        .collect()
}

/// `64m`, `1g`, `512k`, `100b`, `1048576`, `1.5g`: bytes, below what the kernel counts in
/// pages in a signed long.
pub(crate) fn size(flag: &'static str, s: &str) -> Result<u64, OptionsError> {
    let lower = s.to_ascii_lowercase();
    let t = lower
        .strip_suffix('b')
        .filter(|t| !t.is_empty())
        .unwrap_or(&lower);
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k')) => (&t[..i], 1u64 << 10),
        Some((i, 'm')) => (&t[..i], 1 << 20),
        Some((i, 'g')) => (&t[..i], 1 << 30),
        Some((i, 't')) => (&t[..i], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| bad(flag, s, "want a size such as 64m or 1g"))?;
    const MAX: f64 = (i64::MAX / 4096 * 4096) as f64;
    let bytes = n * mult as f64;
    if bytes >= MAX {
        return Err(bad(flag, s, "more than the kernel can limit"));
    }
    Ok(bytes as u64)
}

/// `-m`: a [`size`] of at least 6 MiB as docker requires; `0` is no limit, as in docker.
pub(super) fn memory(s: &str) -> Result<Option<i64>, OptionsError> {
    let bytes = size("--memory", s)?;
    if bytes == 0 {
        return Ok(None);
    }
    if bytes < 6 << 20 {
        return Err(bad("--memory", s, "the minimum is 6m"));
    }
    Ok(Some(bytes as i64))
}

/// CPUs → a CFS quota per [`CPU_PERIOD`], from 0.01 to what this host has; `0` is no limit,
/// as in docker.
pub(super) fn cpus(s: &str) -> Result<Option<i64>, OptionsError> {
    let n: f64 = s
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| bad("--cpus", s, "want a positive number such as 0.5 or 2"))?;
    if n == 0.0 {
        return Ok(None);
    }
    let have = std::thread::available_parallelism().map_or(1, |n| n.get());
    if n < 0.01 || n > have as f64 {
        return Err(bad(
            "--cpus",
            s,
            format!("want 0.01 to {have}: this host has {have} CPUs"),
        ));
    }
    Ok(Some((n * CPU_PERIOD as f64).round() as i64))
}

pub(super) fn pids_limit(n: i64) -> Result<i64, OptionsError> {
    if n == 0 || n < -1 {
        return Err(bad(
            "--pids-limit",
            &n.to_string(),
            "want a positive number, or -1 for no limit",
        ));
    }
    Ok(n)
}

/// Who makes a container's cgroup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupManager {
    /// berth, in the cgroup filesystems.
    #[default]
    Cgroupfs,
    /// systemd, a transient scope per container (`berth-<id>.scope`) in a slice.
    Systemd,
}

impl CgroupManager {
    /// `--cgroup-manager`; without one, systemd where it is the init (/run/systemd/system,
    /// as podman and sd_booted decide), berth's own otherwise. `rootless`: systemd only where
    /// the user's manager can delegate (cgroup v2) and its bus is there.
    pub fn choose(flag: Option<&str>, rootless: bool) -> Result<CgroupManager, OptionsError> {
        match flag {
            Some("systemd") => Ok(CgroupManager::Systemd),
            Some("cgroupfs") => Ok(CgroupManager::Cgroupfs),
            Some(other) => Err(bad("--cgroup-manager", other, "want systemd or cgroupfs")),
            None if std::path::Path::new("/run/systemd/system").is_dir()
                && (!rootless || users_manager_reachable()) =>
            {
                Ok(CgroupManager::Systemd)
            }
            None => Ok(CgroupManager::Cgroupfs),
        }
    }
}

/// Whether the hierarchy is cgroup v2 alone and the user's systemd bus is there: the socket
/// DBUS_SESSION_BUS_ADDRESS names (a bus of another kind, such as dbus-launch's abstract
/// one, has no systemd on it), else `$XDG_RUNTIME_DIR/bus`.
fn users_manager_reachable() -> bool {
    let socket = match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        Ok(address) if !address.is_empty() => address
            .strip_prefix("unix:path=")
            .map(|p| std::path::PathBuf::from(p.split(',').next().unwrap_or(p))),
        _ => std::env::var_os("XDG_RUNTIME_DIR").map(|d| std::path::Path::new(&d).join("bus")),
    };
    socket.is_some_and(|s| s.exists())
        && std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The parent of a container's cgroup: an absolute cgroup path of plain names (default
/// `/berth`; rootless, `berth` beside the cgroup berth runs in, as the runtime resolves a
/// relative path: a delegated subtree's), or for systemd a slice (default `machine.slice`
/// as podman; rootless, the user manager's `user.slice`).
pub(super) fn cgroup_parent(
    given: Option<&str>,
    manager: CgroupManager,
    rootless: bool,
) -> Result<String, OptionsError> {
    let plain = |n: &str| {
        n != "."
            && n != ".."
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    };
    if manager == CgroupManager::Systemd {
        let s = given.unwrap_or(if rootless {
            "user.slice"
        } else {
            "machine.slice"
        });
        if !s.ends_with(".slice") || !plain(s) {
            return Err(bad(
                "--cgroup-parent",
                s,
                "with the systemd cgroup manager, want a slice (NAME.slice)",
            ));
        }
        return Ok(s.to_string());
    }
    let s = match given {
        Some(s) => s,
        None if rootless => return Ok("berth".to_string()),
        None => "/berth",
    };
    let names: Vec<&str> = s.split('/').skip(1).filter(|n| !n.is_empty()).collect();
    if !s.starts_with('/') || names.is_empty() || !names.iter().all(|n| plain(n)) {
        return Err(bad(
            "--cgroup-parent",
            s,
            "want an absolute cgroup path of letters, digits, '_', '.', '-'",
        ));
    }
    Ok(format!("/{}", names.join("/")))
}

/// `--restart no|on-failure[:N]|always|unless-stopped`.
pub(super) fn restart(s: &str) -> Result<super::Restart, OptionsError> {
    use super::Restart;
    Ok(match s.split_once(':') {
        None if s == "no" => Restart::No,
        None if s == "always" => Restart::Always,
        None if s == "unless-stopped" => Restart::UnlessStopped,
        None if s == "on-failure" => Restart::OnFailure { max: None },
        Some(("on-failure", n)) => Restart::OnFailure {
            max: Some(
                n.parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad("--restart", s, "on-failure:N wants a positive count"))?,
            ),
        },
        _ => {
            return Err(bad(
                "--restart",
                s,
                "want no, on-failure[:N], always or unless-stopped",
            ))
        }
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_limits() {
        assert_eq!(memory("64m").unwrap(), Some(64 << 20));
        assert_eq!(memory("1G").unwrap(), Some(1 << 30));
        assert_eq!(memory("1.5g").unwrap(), Some(3 << 29));
        assert_eq!(memory("10485760").unwrap(), Some(10 << 20));
        assert_eq!(memory("8mb").unwrap(), Some(8 << 20));
        assert_eq!(memory("0").unwrap(), None);
        assert!(memory("1m").unwrap_err().to_string().contains("minimum"));
        for huge in ["99999999999999999999g", "8388608t", "1e30"] {
            let e = memory(huge).unwrap_err().to_string();
            assert!(e.contains("more than the kernel can limit"), "{huge}: {e}");
        }
        for b in ["", "m", "x1", "-5m", "12q", "nan", "inf"] {
            assert!(memory(b).is_err(), "{b}");
        }
        assert_eq!(cpus("0.5").unwrap(), Some(50_000));
        assert_eq!(cpus("0.01").unwrap(), Some(1_000));
        assert_eq!(cpus("0").unwrap(), None);
        for b in ["0.0001", "0.009", "1e9", "x", "-1"] {
            assert!(cpus(b).is_err(), "{b}");
        }
        assert!(pids_limit(0).is_err() && pids_limit(-1).is_ok());
        let fs = CgroupManager::Cgroupfs;
        assert_eq!(cgroup_parent(Some("/a/b/"), fs, false).unwrap(), "/a/b");
        assert_eq!(cgroup_parent(None, fs, false).unwrap(), "/berth");
        assert_eq!(cgroup_parent(None, fs, true).unwrap(), "berth");
        for b in ["a", "/", "/a/../b", "/a b", "x.slice"] {
            assert!(cgroup_parent(Some(b), fs, true).is_err(), "{b}");
        }
        let sd = CgroupManager::Systemd;
        assert_eq!(cgroup_parent(None, sd, false).unwrap(), "machine.slice");
        assert_eq!(cgroup_parent(None, sd, true).unwrap(), "user.slice");
        assert_eq!(
            cgroup_parent(Some("a-b.slice"), sd, false).unwrap(),
            "a-b.slice"
        );
        for b in ["/berth", "a", "a/b.slice", "a b.slice"] {
            let e = cgroup_parent(Some(b), sd, false).unwrap_err().to_string();
            assert!(e.contains("slice") && e.contains(b), "{e}");
        }
        assert!(CgroupManager::choose(Some("systemd"), true).unwrap() == sd);
        assert!(CgroupManager::choose(Some("x"), false).is_err());
    }
}
