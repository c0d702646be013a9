//! Capabilities, seccomp and what `--privileged` lifts.

use crate::options::{Seccomp, Settings};
use crate::Error;
use serde_json::{json, Value};

/// docker's default capabilities, which berth's default seccomp profile is made for.
const DEFAULT_CAPS: [&str; 14] = berth_seccomp::DEFAULT_CAPABILITIES;

/// Every capability berth itself holds (as podman: a host's root may lack some, and a
/// container cannot be given those).
pub(crate) fn all_caps() -> Vec<&'static str> {
    let last = berth_sys::caps::last_cap() as usize;
    let held = berth_sys::caps::get().map_or(u64::MAX, |s| s.permitted);
    berth_sys::caps::NAMES
        .iter()
        .take(last + 1)
        .enumerate()
        .filter(|(i, _)| held >> i & 1 == 1)
        .map(|(_, n)| *n)
        .collect()
}

/// The capability set: the defaults (all berth holds with `--privileged`), `--cap-add`,
/// `--cap-drop`.
/// As docker: adding `ALL` keeps all but the dropped ones, dropping `ALL` keeps only the
/// added ones.
pub(super) fn capabilities(s: &Settings) -> Vec<String> {
    let all = all_caps();
    let has_all = |l: &[String]| l.iter().any(|c| c == "ALL");
    let mut caps: Vec<&str> = if s.privileged || has_all(&s.cap_add) {
        all.clone()
    } else if has_all(&s.cap_drop) {
        Vec::new()
    } else {
        DEFAULT_CAPS.to_vec()
    };
    for c in s.cap_add.iter().filter(|c| *c != "ALL") {
        if !caps.contains(&c.as_str()) && all.contains(&c.as_str()) {
            caps.push(c);
        }
    }
    if !has_all(&s.cap_drop) {
        caps.retain(|c| !s.cap_drop.iter().any(|d| d == c));
    }
    caps.into_iter().map(String::from).collect()
}

pub(super) fn apply(v: &mut Value, s: &Settings) -> Result<(), Error> {
    let caps = capabilities(s);
    v["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    let linux = &mut v["linux"];
    let names: Vec<&str> = caps.iter().map(String::as_str).collect();
    let profile = match (&s.tuning.seccomp, s.privileged) {
        (_, true) | (Seccomp::Unconfined, _) => None,
        (Seccomp::Default, false) => Some(berth_seccomp::default_profile_for(&names)?),
        (Seccomp::File(path), false) => {
            let bytes = std::fs::read(path).map_err(Error::path(path))?;
            Some(berth_seccomp::user_profile(&bytes, &names)?)
        }
    };
    match profile {
        Some(p) => {
            linux["seccomp"] = serde_json::to_value(p).map_err(|e| Error::Config {
                field: "linux.seccomp".into(),
                reason: e.to_string(),
            })?
        }
        None => {
            if let Some(l) = linux.as_object_mut() {
                l.remove("seccomp");
            }
        }
    }
    if !s.privileged {
        return Ok(());
    }
    linux["maskedPaths"] = json!([]);
    linux["readonlyPaths"] = json!([]);
    linux["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
    // The host's device nodes too, as docker gives a privileged container.
    let mut devices = linux["devices"].as_array().cloned().unwrap_or_default();
    for d in host_devices(std::path::Path::new("/dev")) {
        if !devices.iter().any(|x| x["path"] == d["path"]) {
            devices.push(d);
        }
    }
    linux["devices"] = Value::Array(devices);
    // /sys and the cgroup tree writable.
    for m in v["mounts"].as_array_mut().into_iter().flatten() {
        if m["type"] == "sysfs" || m["type"] == "cgroup" {
            if let Some(o) = m["options"].as_array_mut() {
                o.retain(|x| x != "ro");
            }
        }
    }
    Ok(())
}

/// Every character and block device under `dir` (the host's /dev) as OCI `linux.devices`
/// entries, except what the runtime makes itself (`console`, `ptmx`, the `pts`, `shm`,
/// `mqueue` and `fd` trees).
fn host_devices(dir: &std::path::Path) -> Vec<Value> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        if ["console", "ptmx", "pts", "shm", "mqueue", "fd"]
            .iter()
            .any(|n| dir == std::path::Path::new("/dev") && name == *n)
        {
            continue;
        }
        let Ok(m) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let ft = m.file_type();
        let kind = if ft.is_char_device() {
            "c"
        } else if ft.is_block_device() {
            "b"
        } else {
            if ft.is_dir() {
                out.extend(host_devices(&path));
            }
            continue;
        };
        let rdev = m.rdev();
        out.push(json!({
            "path": path,
            "type": kind,
            "major": libc::major(rdev),
            "minor": libc::minor(rdev),
            "fileMode": m.mode() & 0o7777,
            "uid": m.uid(),
            "gid": m.gid(),
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;
    use super::*;
    use crate::options::RunOptions;

    fn caps_of(o: RunOptions) -> Vec<String> {
        capabilities(&o.check(&|_| None).unwrap())
    }

    #[test]
    fn capability_sets() {
        assert_eq!(caps_of(RunOptions::default()), DEFAULT_CAPS);
        let c = caps_of(RunOptions {
            cap_add: vec!["SYS_ADMIN".into()],
            cap_drop: vec!["net_raw".into()],
            ..Default::default()
        });
        assert!(c.contains(&"CAP_SYS_ADMIN".into()) && !c.contains(&"CAP_NET_RAW".into()));
        let only = caps_of(RunOptions {
            cap_drop: vec!["ALL".into()],
            cap_add: vec!["kill".into()],
            ..Default::default()
        });
        assert_eq!(only, ["CAP_KILL"]);
        let most = caps_of(RunOptions {
            cap_add: vec!["ALL".into()],
            cap_drop: vec!["CAP_SYS_ADMIN".into()],
            ..Default::default()
        });
        assert_eq!(most.len(), all_caps().len() - 1);
    }

    #[test]
    fn default_has_seccomp_privileged_has_nothing_in_the_way() {
        let v = config(RunOptions::default());
        assert!(v["linux"]["seccomp"]["syscalls"].as_array().unwrap().len() > 5);
        assert!(!v["linux"]["maskedPaths"].as_array().unwrap().is_empty());
        let p = config(RunOptions {
            privileged: true,
            ..Default::default()
        });
        assert!(p["linux"].get("seccomp").is_none());
        assert_eq!(p["linux"]["maskedPaths"], json!([]));
        assert_eq!(
            p["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            all_caps().len()
        );
        let sys = p["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["type"] == "sysfs");
        assert!(!sys.unwrap()["options"]
            .as_array()
            .unwrap()
            .contains(&json!("ro")));
        // The host's devices, each once.
        let devices = p["linux"]["devices"].as_array().unwrap();
        let null: Vec<_> = devices
            .iter()
            .filter(|d| d["path"] == "/dev/null")
            .collect();
        assert_eq!(null.len(), 1);
        assert!(devices.len() >= host_devices(std::path::Path::new("/dev")).len());
        assert!(!devices.iter().any(|d| d["path"] == "/dev/console"));
    }
}
