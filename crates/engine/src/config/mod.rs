//! The OCI runtime config of a container: berth's defaults (`default_spec`, with the default
//! seccomp profile), then the image's process, then the flags. Built as JSON and checked by
//! the runtime core's own parser and validator before anything exists on disk.

mod etc;
pub mod init;
pub mod markers;
mod mounts;
mod resources;
mod security;
mod shared;
mod tuning;

pub(crate) use mounts::stubbed;
pub(crate) use security::all_caps;
pub use tuning::join_at_start;

pub use etc::{hosts_text, EtcFiles};

use crate::options::{CgroupManager, Network, Settings};
use crate::Error;
use berth_image::spec::ContainerSpec;
use serde_json::{json, Value};
use std::path::Path;

/// What the config is made from.
pub struct Inputs<'a> {
    pub id: &'a str,
    /// The image's process with the flags that change it applied (`image_spec`).
    pub spec: &'a ContainerSpec,
    pub settings: &'a Settings,
    pub hostname: &'a str,
    /// The caller's terminal size, for `-t`.
    pub console: Option<(u16, u16)>,
    /// The container's directory, holding the generated /etc files.
    pub dir: &'a Path,
    /// `ROOT/containers/shared`, the files every container may mount (see `shared`).
    pub shared: &'a Path,
    /// `ROOT/volumes`, where the volumes it mounts are.
    pub volumes: &'a Path,
    pub etc: &'a EtcFiles,
    /// Where the root filesystem will be mounted (`root.path`).
    pub root: &'a Path,
    /// Where CDI specs are read, lowest priority first.
    pub cdi_spec_dirs: &'a [std::path::PathBuf],
}

/// The sections of `linux.resources` that a container's settings make, device list aside:
/// what `update` changes.
pub(crate) const LIMITS: [&str; 4] = ["memory", "cpu", "pids", "blockIO"];

/// `linux.resources` for `settings` with only the [`LIMITS`] sections, as [`build`] makes
/// them.
pub(crate) fn limits(settings: &Settings) -> Value {
    let mut v = json!({"linux": {"resources": {}}});
    resources::apply(&mut v, settings);
    tuning::resources(&mut v["linux"]["resources"], &settings.tuning);
    v["linux"]["resources"].take()
}

/// Builds the config.
pub fn build(i: &Inputs<'_>) -> Result<Value, Error> {
    let mut v = berth_container::spec::default_spec(false, 0, 0)?;
    v["process"] = process(i, &v["process"]);
    v["root"] = json!({"path": i.root, "readonly": i.settings.read_only});
    v["hostname"] = json!(i.hostname);
    if let Some(d) = &i.settings.domainname {
        v["domainname"] = json!(d);
    }
    mounts::apply(&mut v, i);
    security::apply(&mut v, i.settings)?;
    resources::apply(&mut v, i.settings);
    tuning::apply(&mut v, i)?;
    cdi_devices(&mut v, i)?;
    if i.settings.network == Network::Host {
        if let Some(ns) = v["linux"]["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "network");
        }
    }
    v["linux"]["cgroupsPath"] = json!(match i.settings.cgroup_manager {
        CgroupManager::Systemd => format!("{}:berth:{}", i.settings.cgroup_parent, i.id),
        CgroupManager::Cgroupfs => format!("{}/{}", i.settings.cgroup_parent, i.id),
    });
    // The image's labels, then the container's over them.
    let mut labels = i.spec.labels.clone();
    labels.extend(
        i.settings
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    // `--annotation`s, over the labels (docker's annotations are the runtime's too).
    let a = &i.settings.tuning.annotations;
    labels.extend(a.iter().map(|(k, v)| (k.clone(), v.clone())));
    if !labels.is_empty() {
        v["annotations"] = json!(labels);
    }
    Ok(v)
}

/// The edits of the CDI devices asked for, and of `--gpus` (read against, and a spec made
/// from, what the NVIDIA driver shows now, above any spec file).
fn cdi_devices(v: &mut Value, i: &Inputs<'_>) -> Result<(), Error> {
    use berth_cdi::nvidia::{driver_root, requested, Driver};
    let t = &i.settings.tuning;
    if t.cdi_devices.is_empty() && t.gpus.is_none() {
        return Ok(());
    }
    let mut registry = berth_cdi::Registry::load(i.cdi_spec_dirs);
    let mut names = t.cdi_devices.clone();
    if let Some(g) = &t.gpus {
        let bad = |why: String| crate::options::bad("--gpus", g, why);
        let driver = Driver::discover(&driver_root()).map_err(|e| bad(e.to_string()))?;
        names.extend(requested(g, &driver).map_err(bad)?);
        registry.add("(the NVIDIA driver)", driver.spec()?);
    }
    Ok(berth_cdi::inject(v, &registry, &names)?)
}

/// The image's process with docker's additions: `HOSTNAME`, and `TERM` with a terminal.
fn process(i: &Inputs<'_>, defaults: &Value) -> Value {
    let s = i.spec;
    let has = |env: &[String], key: &str| env.iter().any(|e| e.split('=').next() == Some(key));
    let mut env = s.env.clone();
    if !has(&env, "HOSTNAME") {
        env.insert(1.min(env.len()), format!("HOSTNAME={}", i.hostname));
    }
    if i.settings.tty && !has(&env, "TERM") {
        env.push("TERM=xterm".into());
    }
    let mut user = json!({"uid": s.user.uid, "gid": s.user.gid});
    let mut gids = s.user.additional_gids.clone();
    if crate::rootless::setgroups_denied() {
        // A user namespace mapping one id may not set groups: only the primary one counts.
        gids.retain(|&g| g != s.user.gid);
        if !gids.is_empty() {
            tracing::warn!(
                "supplementary groups {gids:?} ignored: berth's user namespace maps only your \
                 own ids (add subordinate ids to /etc/subuid and /etc/subgid)"
            );
            gids.clear();
        }
    }
    if !gids.is_empty() {
        user["additionalGids"] = json!(gids);
    }
    let mut p = json!({
        "terminal": i.settings.tty,
        "user": user,
        "args": init::args(i.settings.init, &s.args),
        "env": env,
        "cwd": s.cwd,
        "rlimits": defaults["rlimits"],
        // As docker and podman: setuid programs in the image work.
        "noNewPrivileges": false,
    });
    if let (true, Some((rows, cols))) = (i.settings.tty, i.console) {
        p["consoleSize"] = json!({"height": rows, "width": cols});
    }
    p
}

/// Checks the config with the runtime core's own parser and validator; returns it as
/// `config.json`'s bytes (compact: the runtime parses every byte of it at each start).
pub fn check(v: &Value) -> Result<Vec<u8>, Error> {
    let bytes = serde_json::to_vec(v).map_err(|e| Error::Config {
        field: "(document)".into(),
        reason: e.to_string(),
    })?;
    let spec = berth_container::spec::parse(&bytes)
        .map_err(|(field, reason)| Error::Config { field, reason })?;
    berth_container::spec::validate(&spec).map_err(|e| Error::Config {
        field: "validate".into(),
        reason: e.to_string(),
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::RunOptions;
    use berth_image::spec::Identity;

    pub(super) fn inputs_for(o: RunOptions, f: impl FnOnce(&Inputs<'_>) -> Value) -> Value {
        let settings = o.check(&|_| None).unwrap();
        let spec = ContainerSpec {
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into(), "HOME=/root".into()],
            cwd: "/".into(),
            user: Identity {
                uid: 33,
                gid: 33,
                additional_gids: vec![4],
                home: None,
            },
            labels: [("org.test".to_string(), "1".to_string())].into(),
            ..Default::default()
        };
        let etc = EtcFiles::new("abc", settings.network);
        f(&Inputs {
            id: "abc",
            spec: &spec,
            settings: &settings,
            hostname: "abc",
            console: Some((24, 80)),
            dir: Path::new("/c"),
            shared: Path::new("/s"),
            volumes: Path::new("/v"),
            etc: &etc,
            root: Path::new("/r/merged"),
            cdi_spec_dirs: &[],
        })
    }

    pub(super) fn config(o: RunOptions) -> Value {
        inputs_for(o, |i| {
            let v = build(i).unwrap();
            check(&v).unwrap();
            v
        })
    }

    #[test]
    fn image_process_and_defaults() {
        let v = config(RunOptions {
            tty: true,
            cgroup_manager: Some("cgroupfs".into()),
            ..Default::default()
        });
        let p = &v["process"];
        assert_eq!(p["args"], json!(["sh"]));
        assert_eq!(
            p["env"],
            json!(["PATH=/bin", "HOSTNAME=abc", "HOME=/root", "TERM=xterm"])
        );
        assert_eq!(
            p["user"],
            json!({"uid": 33, "gid": 33, "additionalGids": [4]})
        );
        assert_eq!(p["consoleSize"], json!({"height": 24, "width": 80}));
        assert_eq!(p["noNewPrivileges"], json!(false));
        assert_eq!(v["root"]["readonly"], json!(false));
        assert_eq!(v["hostname"], json!("abc"));
        assert_eq!(v["linux"]["cgroupsPath"], json!("/berth/abc"));
        assert_eq!(v["annotations"]["org.test"], json!("1"));
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.iter().any(|n| n["type"] == "network"));
    }

    #[test]
    fn systemds_cgroups_are_scopes_in_a_slice() {
        let systemd = |parent: Option<&str>| {
            config(RunOptions {
                cgroup_manager: Some("systemd".into()),
                cgroup_parent: parent.map(str::to_string),
                ..Default::default()
            })["linux"]["cgroupsPath"]
                .clone()
        };
        assert_eq!(systemd(None), json!("machine.slice:berth:abc"));
        assert_eq!(systemd(Some("mine.slice")), json!("mine.slice:berth:abc"));
    }

    #[test]
    fn host_network_shares_the_namespace() {
        let v = config(RunOptions {
            network: vec!["host".into()],
            read_only: true,
            ..Default::default()
        });
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert!(!ns.iter().any(|n| n["type"] == "network"));
        assert_eq!(v["root"]["readonly"], json!(true));
    }
}
