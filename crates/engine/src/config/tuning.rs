//! The finer flags in the config: cgroup limits, rlimits, sysctls, devices, no_new_privs,
//! namespaces shared with the host or another container. (The seccomp choice is made with
//! the capabilities, in `security`.)

use super::Inputs;
use crate::options::{Sharing, Tuning};
use crate::Error;
use serde_json::{json, Value};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

pub(super) fn apply(v: &mut Value, i: &Inputs<'_>) -> Result<(), Error> {
    let t = &i.settings.tuning;
    resources(&mut v["linux"]["resources"], t);
    process(&mut v["process"], t);
    if !t.sysctls.is_empty() {
        v["linux"]["sysctl"] = json!(t.sysctls);
    }
    devices(&mut v["linux"], t)?;
    if let Some(size) = t.shm_size {
        for m in v["mounts"].as_array_mut().into_iter().flatten() {
            if m["destination"] == "/dev/shm" {
                if let Some(o) = m["options"].as_array_mut() {
                    o.retain(|x| !x.as_str().is_some_and(|s| s.starts_with("size=")));
                    o.push(json!(format!("size={size}")));
                }
            }
        }
    }
    namespaces(v, t);
    Ok(())
}

pub(super) fn resources(r: &mut Value, t: &Tuning) {
    let memory = &mut r["memory"];
    if let Some(s) = t.memory_swap {
        memory["swap"] = json!(s);
    }
    if let Some(s) = t.memory_reservation {
        memory["reservation"] = json!(s);
    }
    if memory.as_object().is_some_and(|m| m.is_empty()) || memory.is_null() {
        if let Some(o) = r.as_object_mut() {
            o.remove("memory");
        }
    }
    let cpu = [
        ("shares", t.cpu_shares.map(|n| json!(n))),
        ("cpus", t.cpuset_cpus.as_ref().map(|s| json!(s))),
        ("mems", t.cpuset_mems.as_ref().map(|s| json!(s))),
    ];
    for (k, val) in cpu {
        if let Some(val) = val {
            r["cpu"][k] = val;
        }
    }
    for (k, val) in [
        ("period", t.cpu_period.map(|n| json!(n))),
        ("quota", t.cpu_quota.map(|n| json!(n))),
    ] {
        if let Some(val) = val {
            r["cpu"][k] = val;
        }
    }
    if let Some(n) = t.memory_swappiness {
        r["memory"]["swappiness"] = json!(n);
    }
    if t.oom_kill_disable {
        r["memory"]["disableOOMKiller"] = json!(true);
    }
    if let Some(w) = t.blkio_weight {
        r["blockIO"]["weight"] = json!(w);
    }
    let b = &t.block_io;
    let devices = |list: &[crate::options::BlockLimit], key: &str| -> Vec<Value> {
        list.iter()
            .map(|l| json!({"major": l.major, "minor": l.minor, key: l.value}))
            .collect()
    };
    for (k, list) in [
        ("throttleReadBpsDevice", &b.read_bps),
        ("throttleWriteBpsDevice", &b.write_bps),
        ("throttleReadIOPSDevice", &b.read_iops),
        ("throttleWriteIOPSDevice", &b.write_iops),
    ] {
        if !list.is_empty() {
            r["blockIO"][k] = json!(devices(list, "rate"));
        }
    }
    if !b.weights.is_empty() {
        r["blockIO"]["weightDevice"] = json!(devices(&b.weights, "weight"));
    }
}

fn process(p: &mut Value, t: &Tuning) {
    if let Some(n) = t.oom_score_adj {
        p["oomScoreAdj"] = json!(n);
    }
    if t.no_new_privileges {
        p["noNewPrivileges"] = json!(true);
    }
    if !t.ulimits.is_empty() {
        let mut limits: Vec<Value> = p["rlimits"].as_array().cloned().unwrap_or_default();
        limits.retain(|l| !t.ulimits.iter().any(|u| l["type"] == u.name.as_str()));
        limits.extend(
            t.ulimits
                .iter()
                .map(|u| json!({"type": u.name, "soft": u.soft, "hard": u.hard})),
        );
        p["rlimits"] = Value::Array(limits);
    }
}

/// `--device` nodes (made in the container with the host's numbers) and their device-cgroup
/// rules, then `--device-cgroup-rule`s.
fn devices(linux: &mut Value, t: &Tuning) -> Result<(), Error> {
    let mut nodes: Vec<Value> = linux["devices"].as_array().cloned().unwrap_or_default();
    let mut rules: Vec<Value> = linux["resources"]["devices"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for d in &t.devices {
        let m = std::fs::metadata(&d.host).map_err(Error::path(&d.host))?;
        let kind = if m.file_type().is_block_device() {
            "b"
        } else {
            "c"
        };
        let (major, minor) = (libc::major(m.rdev()), libc::minor(m.rdev()));
        nodes.retain(|n| n["path"] != d.container.as_str());
        nodes.push(
            json!({"path": d.container, "type": kind, "major": major, "minor": minor,
                          "fileMode": m.mode() & 0o7777, "uid": m.uid(), "gid": m.gid()}),
        );
        rules.push(
            json!({"allow": true, "type": kind, "major": major, "minor": minor,
                          "access": d.access}),
        );
    }
    for r in &t.device_rules {
        let mut rule = json!({"allow": true, "type": r.kind, "access": r.access});
        if let Some(n) = r.major {
            rule["major"] = json!(n);
        }
        if let Some(n) = r.minor {
            rule["minor"] = json!(n);
        }
        rules.push(rule);
    }
    linux["devices"] = Value::Array(nodes);
    linux["resources"]["devices"] = Value::Array(rules);
    Ok(())
}

/// `--pid/--ipc/--uts host` leave the namespace out; `container:NAME` is joined by path
/// when the container starts ([`join_at_start`]).
fn namespaces(v: &mut Value, t: &Tuning) {
    for (kind, sharing) in [("pid", &t.pid), ("ipc", &t.ipc), ("uts", &t.uts)] {
        if *sharing == Sharing::Host {
            if let Some(ns) = v["linux"]["namespaces"].as_array_mut() {
                ns.retain(|n| n["type"] != kind);
            }
        }
    }
    if t.host_cgroupns {
        if let Some(ns) = v["linux"]["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "cgroup");
        }
    }
    // Without a UTS namespace of its own the container has the host's name.
    if t.uts != Sharing::Private {
        if let Some(o) = v.as_object_mut() {
            o.remove("hostname");
        }
    }
    // The host's IPC namespace comes with the host's /dev/shm, as in docker.
    if t.ipc == Sharing::Host {
        for m in v["mounts"].as_array_mut().into_iter().flatten() {
            if m["destination"] == "/dev/shm" {
                *m = json!({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
                            "options": ["rbind", "rprivate"]});
            }
        }
    }
}

/// Points the config's namespaces shared with other containers at those containers' inits:
/// `(type, pid)` pairs, resolved when the container starts.
pub fn join_at_start(config: &mut Value, joins: &[(&str, i32)]) {
    let Some(ns) = config["linux"]["namespaces"].as_array_mut() else {
        return;
    };
    for (kind, pid) in joins {
        // The OCI type and the file under /proc/PID/ns differ for one kind.
        let file = if *kind == "network" { "net" } else { kind };
        ns.retain(|n| n["type"] != *kind);
        ns.push(json!({"type": kind, "path": format!("/proc/{pid}/ns/{file}")}));
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;
    use crate::options::{RunOptions, TuningFlags};
    use serde_json::json;

    #[test]
    fn the_finer_flags_reach_the_config() {
        let v = config(RunOptions {
            memory: Some("64m".into()),
            tuning: TuningFlags {
                memory_swap: Some("128m".into()),
                cpu_shares: Some(512),
                blkio_weight: Some(300),
                shm_size: Some("1m".into()),
                oom_score_adj: Some(100),
                ulimits: vec!["nofile=10:20".into()],
                sysctls: vec!["kernel.shmmax=100".into()],
                devices: vec!["/dev/null:/dev/other:r".into()],
                device_cgroup_rules: vec!["c 42:* rm".into()],
                security_opts: vec!["no-new-privileges".into()],
                pid: Some("host".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        let r = &v["linux"]["resources"];
        assert_eq!(r["memory"], json!({"limit": 64 << 20, "swap": 128 << 20}));
        assert_eq!(
            (r["cpu"]["shares"].clone(), r["blockIO"]["weight"].clone()),
            (json!(512), json!(300))
        );
        let p = &v["process"];
        assert_eq!(
            (p["oomScoreAdj"].clone(), p["noNewPrivileges"].clone()),
            (json!(100), json!(true))
        );
        assert!(p["rlimits"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20})));
        assert_eq!(v["linux"]["sysctl"], json!({"kernel.shmmax": "100"}));
        let other = v["linux"]["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["path"] == "/dev/other")
            .unwrap()
            .clone();
        assert_eq!(
            (other["major"].clone(), other["minor"].clone()),
            (json!(1), json!(3))
        );
        let rules = r["devices"].as_array().unwrap();
        assert!(rules
            .contains(&json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"})));
        assert!(rules.contains(&json!({"allow": true, "type": "c", "major": 42, "access": "rm"})));
        let shm = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/dev/shm")
            .unwrap()
            .clone();
        assert!(shm["options"]
            .as_array()
            .unwrap()
            .contains(&json!("size=1048576")));
        assert!(!v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "pid"));
        let mut c = v.clone();
        super::join_at_start(&mut c, &[("ipc", 42)]);
        assert!(c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "ipc", "path": "/proc/42/ns/ipc"})));
    }
}
