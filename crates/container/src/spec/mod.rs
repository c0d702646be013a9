//! The bundle's `config.json`: loading, and the checks that catch a bad config before any
//! namespace, mount or cgroup exists.

mod capabilities;
mod template;
mod validate;

pub use capabilities::drop_unavailable;
pub use template::default_spec;
pub use validate::{escapes_root, validate};
pub(crate) use validate::{id_out_of_range, out_of_range};

use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

/// What is wrong with a bundle's configuration. Every message names the field or path.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {field}: {message}")]
    Parse {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error("config.json: {field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl SpecError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SpecError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// crun's annotation for keeping the runtime's supplementary groups in the container.
pub fn keeps_original_groups(spec: &Spec) -> bool {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get("run.oci.keep_original_groups"))
        .is_some_and(|v| v == "1" || v == "true")
}

/// The config with the edits of the CDI devices its `cdi.k8s.io/*` annotations name (as
/// containerd and CRI-O pass a device plugin's), checked again; unchanged without them.
pub fn with_cdi_devices(spec: Spec, dirs: &[PathBuf]) -> Result<Spec, SpecError> {
    let wanted = spec.annotations().as_ref().is_some_and(|a| {
        a.keys()
            .any(|k| k.starts_with(berth_cdi::ANNOTATION_PREFIX))
    });
    if !wanted {
        return Ok(spec);
    }
    let invalid = |e: &dyn std::fmt::Display| SpecError::invalid("annotations", e.to_string());
    let mut config = serde_json::to_value(&spec).map_err(|e| invalid(&e))?;
    let names = berth_cdi::annotated_devices(&config["annotations"]);
    let registry = berth_cdi::Registry::load(dirs);
    berth_cdi::inject(&mut config, &registry, &names).map_err(|e| invalid(&e))?;
    let spec: Spec = serde_json::from_value(config).map_err(|e| invalid(&e))?;
    validate(&spec)?;
    Ok(spec)
}

/// Reads and validates `BUNDLE/config.json`.
pub fn load(bundle: &Path) -> Result<Spec, SpecError> {
    load_file(&bundle.join("config.json"))
}

/// Reads and validates the config at `path`.
pub fn load_file(path: &Path) -> Result<Spec, SpecError> {
    let path = path.to_path_buf();
    let data = std::fs::read(&path).map_err(|source| SpecError::Read {
        path: path.clone(),
        source,
    })?;
    let spec = parse(&data).map_err(|(field, message)| SpecError::Parse {
        path,
        field,
        message,
    })?;
    validate(&spec)?;
    Ok(spec)
}

/// Parses a config, reporting the JSON path of the first bad field (`linux.namespaces[2].type`).
/// Unknown capability names are ignored.
pub fn parse(data: &[u8]) -> Result<Spec, (String, String)> {
    match parse_exact(data) {
        Err(e) if e.0.starts_with("process.capabilities.") => {
            capabilities::drop_unknown(data).map_or(Err(e), |fixed| parse_exact(&fixed))
        }
        r => r,
    }
}

/// A valid config is parsed without path tracking, which allocates a segment per field; only a
/// bad one is parsed again to locate its error.
fn parse_exact(data: &[u8]) -> Result<Spec, (String, String)> {
    serde_json::from_slice(data).or_else(|_| locate_error(data))
}

fn locate_error(data: &[u8]) -> Result<Spec, (String, String)> {
    let de = &mut serde_json::Deserializer::from_slice(data);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = match e.path().to_string() {
            p if p == "." => "(document)".to_string(),
            p => p,
        };
        (field, e.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_error_names_the_field() {
        let bad = br#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "linux":{"namespaces":[{"type":"pid"},{"type":"bogus"}]}}"#;
        let (field, msg) = parse(bad).unwrap_err();
        assert_eq!(field, "linux.namespaces[1].type");
        assert!(msg.contains("bogus"), "{msg}");
    }

    #[test]
    fn malformed_json_is_located() {
        let (field, msg) = parse(b"{\"ociVersion\": ").unwrap_err();
        assert!(msg.contains("line 1"), "{field}: {msg}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
    }
}
