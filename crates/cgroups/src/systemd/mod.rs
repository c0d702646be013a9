//! The systemd driver: the container's cgroup is a transient scope that systemd makes for
//! the container's first process (`StartTransientUnit` with `Delegate=yes`), below a slice
//! named by `linux.cgroupsPath` in runc's `slice:prefix:name` form. Everything else (the
//! resources systemd has no property for, freezing, stats, killing) goes through the files
//! of the cgroup systemd made, as with the cgroupfs driver.

mod bus;
mod properties;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use properties::UnitProperties;

/// Which systemd: the system's (root) or the calling user's own manager (rootless).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bus {
    /// PID 1, through the system bus.
    #[default]
    System,
    /// The user's manager, through the user's session bus.
    User,
}

/// A container's unit, as kept in its state: enough for `update` and `delete` to find it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Unit {
    /// `prefix-name.scope`.
    pub name: String,
    /// The slice it lives in, e.g. `system.slice`.
    pub slice: String,
    #[serde(default)]
    pub bus: Bus,
}

/// The default prefix of a container's scope: `berth-<id>.scope`.
pub const DEFAULT_PREFIX: &str = "berth";

impl Unit {
    /// Reads `linux.cgroupsPath` as runc's systemd driver does: `slice:prefix:name` gives the
    /// scope `prefix-name.scope` (`name.scope` without a prefix) in `slice`; an empty slice
    /// is `system.slice` (`user.slice` for the user's manager); an absent or empty path is
    /// `:berth:<id>`.
    pub fn from_spec(path: Option<&Path>, id: &str, bus: Bus) -> Result<Unit> {
        let raw = path
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let reject = |reason| Error::CgroupsPath {
            path: raw.clone(),
            reason,
        };
        let (slice, prefix, name) = if raw.is_empty() {
            ("", DEFAULT_PREFIX, id)
        } else {
            match raw.split(':').collect::<Vec<_>>()[..] {
                [slice, prefix, name] => (slice, prefix, name),
                _ => return Err(reject("the systemd driver expects slice:prefix:name")),
            }
        };
        if name.is_empty() {
            return Err(reject("the name part (slice:prefix:name) is empty"));
        }
        if name.ends_with(".slice") {
            return Err(reject(
                "the name part is a slice; berth makes a scope for each container",
            ));
        }
        let name = match prefix {
            "" => format!("{name}.scope"),
            p => format!("{p}-{name}.scope"),
        };
        if !valid_unit_name(&name) {
            return Err(reject(
                "the scope's name may hold only ASCII letters, digits, ':', '-', '_', '.' and '\\' (at most 255)",
            ));
        }
        let slice = match (slice, bus) {
            ("", Bus::System) => "system.slice".to_string(),
            ("", Bus::User) => "user.slice".to_string(),
            (s, _) => s.to_string(),
        };
        expand_slice(&slice).map_err(reject)?;
        Ok(Unit { name, slice, bus })
    }

    /// The scope's cgroup, relative to the manager's root cgroup: the slice's own path (one
    /// directory per dash-separated level) and the scope.
    pub fn relative_path(&self) -> Result<PathBuf> {
        let slice = expand_slice(&self.slice).map_err(|reason| Error::CgroupsPath {
            path: self.slice.clone(),
            reason,
        })?;
        Ok(slice.join(&self.name))
    }
}

fn valid_unit_name(name: &str) -> bool {
    name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":-_.\\".contains(&b))
}

/// `a-b-c.slice` → `a.slice/a-b.slice/a-b-c.slice`, `-.slice` (the root slice) → empty, as
/// systemd nests slices by their dashes.
pub(crate) fn expand_slice(slice: &str) -> std::result::Result<PathBuf, &'static str> {
    let Some(base) = slice.strip_suffix(".slice") else {
        return Err("the slice must be a unit named *.slice");
    };
    if base == "-" {
        return Ok(PathBuf::new());
    }
    if base.is_empty()
        || base.starts_with('-')
        || base.ends_with('-')
        || base.contains("--")
        || !valid_unit_name(slice)
    {
        return Err("not a valid slice name (systemd nests slices by single dashes)");
    }
    let mut path = PathBuf::new();
    let mut prefix = String::new();
    for part in base.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path)
}

/// The user manager's own cgroup (`.../user@UID.service`), below which its slices live:
/// from our cgroup2 path in /proc/self/cgroup, or (a command started from a login session's
/// scope, whose processes the manager has systemd move) the standard place below
/// `mount_point`. `uid` is the user's id in the parent user namespace (the host's, for
/// rootless berth).
pub(crate) fn user_manager_root(own_v2: &Path, mount_point: &Path, uid: u32) -> Result<PathBuf> {
    let service = format!("user@{uid}.service");
    let mut root = PathBuf::from("/");
    for c in own_v2.components().skip(1) {
        root.push(c);
        if c.as_os_str() == service.as_str() {
            return Ok(root);
        }
    }
    let standard = PathBuf::from(format!("/user.slice/user-{uid}.slice/{service}"));
    if mount_point
        .join(standard.strip_prefix("/").unwrap_or(&standard))
        .is_dir()
    {
        return Ok(standard);
    }
    Err(Error::CgroupsPath {
        path: own_v2.display().to_string(),
        reason: "the user's systemd driver needs the user's manager (user@UID.service), which is not running; log in through systemd, or use the cgroupfs driver",
    })
}

pub(crate) use bus::{start_scope, stop_unit, update_unit};

#[cfg(test)]
mod tests;
