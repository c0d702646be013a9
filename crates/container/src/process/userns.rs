//! Id maps of a new user namespace, written by the parent: directly when it may, else through
//! the setuid helpers `newuidmap`/`newgidmap` (ranges beyond the caller's own id).

use berth_sys::ids;
use oci_spec::runtime::LinuxIdMapping;
use std::path::PathBuf;
use std::process::Command;

/// Why the maps could not be written.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{helper} {pid}: {reason}")]
    Helper {
        helper: &'static str,
        pid: i32,
        reason: String,
    },
}

fn text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Whether an unprivileged caller may write `maps` itself: only its own id, once.
fn only_self(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.host_id() == own && m.size() == 1)
}

/// Writes the uid and gid maps of process `pid`'s user namespace.
pub fn write(pid: i32, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<(), MapError> {
    let privileged = ids::geteuid() == 0;
    if privileged || only_self(uid, ids::geteuid()) {
        write_file(pid, "uid_map", &text(uid))?;
    } else {
        helper("newuidmap", pid, uid)?;
    }
    if privileged {
        write_file(pid, "gid_map", &text(gid))
    } else if only_self(gid, ids::getegid()) {
        // An unprivileged writer must give up setgroups first (user_namespaces(7)).
        write_file(pid, "setgroups", "deny")?;
        write_file(pid, "gid_map", &text(gid))
    } else {
        helper("newgidmap", pid, gid)
    }
}

fn write_file(pid: i32, name: &str, data: &str) -> Result<(), MapError> {
    let path = PathBuf::from(format!("/proc/{pid}/{name}"));
    std::fs::write(&path, data).map_err(|source| MapError::Write { path, source })
}

fn helper(helper: &'static str, pid: i32, maps: &[LinuxIdMapping]) -> Result<(), MapError> {
    let mut cmd = Command::new(helper);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = cmd.output().map_err(|e| MapError::Helper {
        helper,
        pid,
        reason: e.to_string(),
    })?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(MapError::Helper {
            helper,
            pid,
            reason: format!("{}: {msg}", out.status),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: u32, h: u32, s: u32) -> LinuxIdMapping {
        serde_json::from_str(&format!(r#"{{"containerID":{c},"hostID":{h},"size":{s}}}"#)).unwrap()
    }

    #[test]
    fn map_text_and_self_rule() {
        assert_eq!(
            text(&[m(0, 1000, 1), m(1, 100000, 65536)]),
            "0 1000 1\n1 100000 65536\n"
        );
        assert!(only_self(&[m(0, 1000, 1)], 1000));
        assert!(!only_self(&[m(0, 1000, 2)], 1000));
        assert!(!only_self(&[m(0, 1000, 1), m(1, 5, 1)], 1000));
    }
}
