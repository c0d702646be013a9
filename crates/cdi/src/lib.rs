//! berth-cdi: the Container Device Interface, as podman, containerd and CRI-O read it. A
//! vendor (or `berth cdi generate`) writes spec files to `/etc/cdi` or `/var/run/cdi`; a
//! container asks for devices by name (`berth run --device nvidia.com/gpu=all`, or the
//! `cdi.k8s.io/*` annotations a Kubernetes device plugin has containerd or CRI-O pass to
//! berth-runtime); their edits (device nodes, mounts, environment, hooks, groups) go into
//! the container's OCI config.

pub mod edits;
pub mod ldcache;
pub mod names;
pub mod nvidia;
pub mod registry;
pub mod spec;

pub use registry::{Registry, Resolved, DEFAULT_DIRS};
pub use spec::Spec;

use serde_json::Value;
use std::path::PathBuf;

/// The annotation prefix of CDI device requests (values: comma-separated device names).
pub const ANNOTATION_PREFIX: &str = "cdi.k8s.io/";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {field}: {reason}")]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },
    #[error("CDI device {name:?}: {reason}")]
    BadName { name: String, reason: String },
    #[error("unknown CDI device {name} ({hint})")]
    Unknown { name: String, hint: String },
    #[error("CDI device {name} is defined in both {first} and {second}")]
    Conflict {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{spec}: device node {path}: {reason}")]
    Node {
        spec: PathBuf,
        path: String,
        reason: String,
    },
}

/// The device names that `annotations` (an OCI config's) ask for, in key order.
pub fn annotated_devices(annotations: &Value) -> Vec<String> {
    let Some(map) = annotations.as_object() else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = map
        .keys()
        .filter(|k| k.starts_with(ANNOTATION_PREFIX))
        .collect();
    keys.sort();
    keys.iter()
        .filter_map(|k| map[k.as_str()].as_str())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect()
}

/// Resolves `names` in `registry` and applies their edits to `config`.
pub fn inject<S: AsRef<str>>(
    config: &mut Value,
    registry: &Registry,
    names: &[S],
) -> Result<(), Error> {
    let devices = registry.resolve(names)?;
    edits::apply(config, &devices)
}

#[cfg(test)]
mod tests;
