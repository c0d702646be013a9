//! A CDI spec file: its shape (the CDI specification, versions 0.3.0 to 0.8.0) and the
//! checks a spec must pass before any of its edits reach a container.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use crate::Error;

/// The oldest and newest `cdiVersion` read: 0.3.0 is the first with today's layout.
const VERSIONS: std::ops::RangeInclusive<u32> = 3..=8;

/// One spec file: a kind (`vendor.com/class`) and its devices.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    pub cdi_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub devices: Vec<Device>,
    /// Edits every device of this spec brings along.
    #[serde(default, skip_serializing_if = "ContainerEdits::is_empty")]
    pub container_edits: ContainerEdits,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Device {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub container_edits: ContainerEdits,
}

/// What a device adds to a container's OCI config.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerEdits {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_nodes: Vec<DeviceNode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// Passed on as the OCI `linux.intelRdt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_rdt: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
}

impl ContainerEdits {
    pub fn is_empty(&self) -> bool {
        self == &ContainerEdits::default()
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceNode {
    /// Where the node is in the container (and on the host, without `hostPath`).
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    /// `c`, `b`, `u` or `p`; read from the host's node when missing.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<u32>,
    /// The device cgroup's access, a part of `rwm` (all of it when missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hook {
    pub hook_name: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mount {
    pub host_path: String,
    pub container_path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The OCI hooks a CDI hook may name.
const HOOK_NAMES: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

impl Spec {
    /// Reads a spec file, JSON or YAML by its extension, and checks it.
    pub fn load(path: &Path) -> Result<Spec, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let json = path.extension().is_some_and(|e| e == "json");
        let parsed = match json {
            true => {
                serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
                    .map_err(|e| (e.path().to_string(), e.into_inner().to_string()))
            }
            false => serde_path_to_error::deserialize(serde_norway::Deserializer::from_str(&text))
                .map_err(|e| (e.path().to_string(), e.into_inner().to_string())),
        };
        let spec: Spec = parsed.map_err(|(field, reason)| Error::Invalid {
            path: path.to_path_buf(),
            field: match field.as_str() {
                "." | "?" => "(document)".into(),
                _ => field,
            },
            reason,
        })?;
        spec.check().map_err(|(field, reason)| Error::Invalid {
            path: path.to_path_buf(),
            field,
            reason,
        })?;
        Ok(spec)
    }

    /// The spec's own rules; the field at fault and why.
    pub fn check(&self) -> Result<(), (String, String)> {
        let bad = |field: &str, reason: String| Err((field.to_string(), reason));
        let minor = self
            .cdi_version
            .strip_prefix("0.")
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse::<u32>().ok());
        if !minor.is_some_and(|m| VERSIONS.contains(&m)) {
            return bad(
                "cdiVersion",
                format!(
                    "{:?} is not a version from 0.3.0 to 0.8.x",
                    self.cdi_version
                ),
            );
        }
        if let Err(why) = crate::names::check_kind(&self.kind) {
            return bad("kind", why);
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, d) in self.devices.iter().enumerate() {
            if let Err(why) = crate::names::check_device_name(&d.name) {
                return bad(&format!("devices[{i}].name"), why);
            }
            if !seen.insert(d.name.as_str()) {
                return bad(&format!("devices[{i}].name"), format!("{:?} twice", d.name));
            }
            d.container_edits
                .check()
                .or_else(|(f, why)| bad(&format!("devices[{i}].containerEdits.{f}"), why))?;
        }
        self.container_edits
            .check()
            .or_else(|(f, why)| bad(&format!("containerEdits.{f}"), why))
    }
}

impl ContainerEdits {
    fn check(&self) -> Result<(), (String, String)> {
        let bad = |field: String, reason: String| Err((field, reason));
        for (i, e) in self.env.iter().enumerate() {
            if !e.contains('=') || e.starts_with('=') {
                return bad(format!("env[{i}]"), format!("{e:?} is not NAME=VALUE"));
            }
        }
        for (i, n) in self.device_nodes.iter().enumerate() {
            let field = |f: &str| format!("deviceNodes[{i}].{f}");
            if !n.path.starts_with('/') {
                return bad(field("path"), format!("{:?} is not absolute", n.path));
            }
            if n.host_path.as_ref().is_some_and(|h| !h.starts_with('/')) {
                return bad(field("hostPath"), "not absolute".into());
            }
            if let Some(k) = &n.kind {
                if !matches!(k.as_str(), "c" | "b" | "u" | "p") {
                    return bad(field("type"), format!("{k:?} is none of c, b, u, p"));
                }
            }
            if let Some(p) = &n.permissions {
                if p.is_empty() || !p.chars().all(|c| "rwm".contains(c)) {
                    return bad(field("permissions"), format!("{p:?} is not a part of rwm"));
                }
            }
            if n.major.is_some_and(|m| m < 0) || n.minor.is_some_and(|m| m < 0) {
                return bad(field("major"), "negative device number".into());
            }
        }
        for (i, h) in self.hooks.iter().enumerate() {
            if !HOOK_NAMES.contains(&h.hook_name.as_str()) {
                return bad(
                    format!("hooks[{i}].hookName"),
                    format!("{:?} is none of {}", h.hook_name, HOOK_NAMES.join(", ")),
                );
            }
            if !h.path.starts_with('/') {
                return bad(
                    format!("hooks[{i}].path"),
                    format!("{:?} is not absolute", h.path),
                );
            }
        }
        for (i, m) in self.mounts.iter().enumerate() {
            if m.host_path.is_empty() {
                return bad(format!("mounts[{i}].hostPath"), "empty".into());
            }
            if !m.container_path.starts_with('/') {
                return bad(
                    format!("mounts[{i}].containerPath"),
                    format!("{:?} is not absolute", m.container_path),
                );
            }
        }
        Ok(())
    }
}
