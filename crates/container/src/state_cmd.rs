//! `state` and the report `list` prints: the runtime-spec state plus runc's extra fields.

use crate::state::{ContainerDir, Saved, Status};
use crate::{Error, Runtime};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;

/// A container's state as printed by `state`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// The state of container `id`.
pub fn state(rt: &Runtime, id: &str) -> Result<Report, Error> {
    let dir = rt.root.peek(id)?;
    report(&dir, id)
}

pub(crate) fn report(dir: &ContainerDir, id: &str) -> Result<Report, Error> {
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref())?;
    Ok(match saved {
        Some(s) => from_saved(&s, status),
        None => Report {
            oci_version: oci_spec::runtime::VERSION.to_string(),
            id: id.to_string(),
            status,
            pid: 0,
            bundle: PathBuf::new(),
            rootfs: PathBuf::new(),
            created: String::new(),
            owner: String::new(),
            annotations: HashMap::new(),
        },
    })
}

fn from_saved(s: &Saved, status: Status) -> Report {
    let root = s
        .config
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_default();
    Report {
        oci_version: s.config.version().to_string(),
        id: s.id.clone(),
        status,
        pid: if status == Status::Stopped { 0 } else { s.pid },
        bundle: s.bundle.clone(),
        rootfs: if root.is_absolute() {
            root
        } else {
            s.bundle.join(root)
        },
        created: s.created.clone(),
        owner: owner_name(s.owner),
        annotations: s.annotations(),
    }
}

fn owner_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| format!("#{uid}"))
}
