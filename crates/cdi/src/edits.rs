//! Container edits applied to an OCI config (as JSON, the form both the engine's generated
//! config and the runtime's bundle take): device nodes with their device cgroup rules,
//! mounts, environment, hooks, additional groups.

use crate::registry::Resolved;
use crate::spec::{ContainerEdits, DeviceNode};
use crate::Error;
use serde_json::{json, Value};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Applies the edits of `devices` to `config`: each spec's own edits once, then each
/// device's, in order.
pub fn apply(config: &mut Value, devices: &[Resolved<'_>]) -> Result<(), Error> {
    let mut specs_done: Vec<*const crate::spec::Spec> = Vec::new();
    for d in devices {
        if !specs_done.contains(&(d.spec as *const _)) {
            specs_done.push(d.spec);
            edit(config, &d.spec.container_edits, d.path)?;
        }
        edit(config, &d.device.container_edits, d.path)?;
    }
    Ok(())
}

fn edit(config: &mut Value, e: &ContainerEdits, spec_path: &Path) -> Result<(), Error> {
    for var in &e.env {
        set_env(config, var);
    }
    // In a user namespace no node can be made: the host's is bound instead (a runtime would
    // bind the host's node at the container's path, which a CDI hostPath need not be).
    let user_namespace = config["linux"]["namespaces"]
        .as_array()
        .is_some_and(|ns| ns.iter().any(|n| n["type"] == "user"));
    for n in &e.device_nodes {
        let (node, rule) = device_node(n, spec_path)?;
        match user_namespace {
            true => {
                let host = n.host_path.as_deref().unwrap_or(&n.path);
                let options = ["bind", "nosuid", "noexec"].map(String::from).to_vec();
                mount(config, "bind", host, &n.path, options);
            }
            false => with_array(&mut config["linux"]["devices"], |nodes| {
                nodes.retain(|x| x["path"] != node["path"]);
                nodes.push(node);
            }),
        }
        if let Some(rule) = rule {
            with_array(&mut config["linux"]["resources"]["devices"], |r| {
                r.push(rule)
            });
        }
    }
    for m in &e.mounts {
        let kind = m.kind.as_deref().unwrap_or("bind");
        let mut options = m.options.clone();
        if kind == "bind" && !options.iter().any(|o| o == "bind" || o == "rbind") {
            options.push("bind".into());
        }
        mount(config, kind, &m.host_path, &m.container_path, options);
    }
    for h in &e.hooks {
        let mut hook = json!({"path": h.path});
        // OCI's args include argv[0]; CDI's are passed as given, as the CDI library does.
        if !h.args.is_empty() {
            hook["args"] = json!(h.args);
        }
        if !h.env.is_empty() {
            hook["env"] = json!(h.env);
        }
        if let Some(t) = h.timeout {
            hook["timeout"] = json!(t);
        }
        with_array(&mut config["hooks"][h.hook_name.as_str()], |l| l.push(hook));
    }
    if !e.additional_gids.is_empty() {
        with_array(&mut config["process"]["user"]["additionalGids"], |gids| {
            for g in &e.additional_gids {
                if !gids.iter().any(|x| x == g) {
                    gids.push(json!(g));
                }
            }
        });
    }
    if let Some(rdt) = &e.intel_rdt {
        config["linux"]["intelRdt"] = rdt.clone();
    }
    Ok(())
}

/// A mount at `destination`, replacing one there.
fn mount(config: &mut Value, kind: &str, source: &str, destination: &str, options: Vec<String>) {
    let m = json!({"destination": destination, "source": source, "type": kind,
                   "options": options});
    with_array(&mut config["mounts"], |mounts| {
        mounts.retain(|x| x["destination"] != destination);
        mounts.push(m);
    });
}

/// `NAME=VALUE` in `process.env`, replacing an earlier value of NAME.
fn set_env(config: &mut Value, var: &str) {
    let name = var.split_once('=').map_or(var, |(n, _)| n);
    with_array(&mut config["process"]["env"], |env| {
        env.retain(|x| {
            x.as_str()
                .is_none_or(|s| s.split_once('=').map_or(s, |(n, _)| n) != name)
        });
        env.push(json!(var));
    });
}

/// The `linux.devices` entry of a node and its device cgroup rule (none for a fifo); what
/// the spec leaves out is read from the host's node.
fn device_node(n: &DeviceNode, spec_path: &Path) -> Result<(Value, Option<Value>), Error> {
    let host = n.host_path.as_deref().unwrap_or(&n.path);
    // As the CDI library: the host's node is read only for a missing type or number.
    let needs_host = match n.kind.as_deref() {
        None => true,
        Some("p") => false,
        Some(_) => n.major.is_none(),
    };
    let stat = match needs_host {
        true => Some(std::fs::metadata(host).map_err(|e| Error::Node {
            spec: spec_path.to_path_buf(),
            path: host.to_string(),
            reason: e.to_string(),
        })?),
        false => None,
    };
    let kind = match (&n.kind, &stat) {
        (Some(k), _) => k.clone(),
        (None, Some(m)) if m.file_type().is_char_device() => "c".into(),
        (None, Some(m)) if m.file_type().is_block_device() => "b".into(),
        (None, Some(m)) if m.file_type().is_fifo() => "p".into(),
        _ => {
            return Err(Error::Node {
                spec: spec_path.to_path_buf(),
                path: host.to_string(),
                reason: "not a device node".into(),
            })
        }
    };
    let (major, minor) = match (n.major, n.minor, &stat) {
        (Some(a), b, _) => (a, b.unwrap_or(0)),
        (None, _, Some(m)) => (
            i64::from(libc::major(m.rdev())),
            i64::from(libc::minor(m.rdev())),
        ),
        (None, _, None) => (0, 0),
    };
    let mode = n
        .file_mode
        .or_else(|| stat.as_ref().map(|m| m.mode() & 0o7777));
    let mut node = json!({"path": n.path, "type": kind, "major": major, "minor": minor});
    if let Some(m) = mode {
        node["fileMode"] = json!(m);
    }
    if let Some(u) = n.uid {
        node["uid"] = json!(u);
    }
    if let Some(g) = n.gid {
        node["gid"] = json!(g);
    }
    let rule = (kind != "p").then(|| {
        json!({"allow": true, "type": if kind == "b" { "b" } else { "c" },
               "major": major, "minor": minor,
               "access": n.permissions.as_deref().unwrap_or("rwm")})
    });
    Ok((node, rule))
}

/// Edits `v` as an array (anything else, missing included, starts as an empty one).
fn with_array(v: &mut Value, f: impl FnOnce(&mut Vec<Value>)) {
    let mut list = match v.take() {
        Value::Array(a) => a,
        _ => Vec::new(),
    };
    f(&mut list);
    *v = Value::Array(list);
}
