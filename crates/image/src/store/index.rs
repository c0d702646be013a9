//! The image index: `index.json` of the OCI layout, one manifest descriptor per image
//! name (the full reference in `org.opencontainers.image.ref.name`). Changed only under
//! an exclusive flock on `index.lock`, replaced by rename so readers need no lock.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::blobs::write_atomic;
use super::lock::Lock;
use super::{io_err, Store, StoreError};
use crate::digest::Digest;
use crate::reference::Reference;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

#[derive(Serialize, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IndexJson {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Desc>,
}

/// A descriptor as stored in index.json.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Desc {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// A name in the index and the manifest it points to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRecord {
    /// The full reference, e.g. `docker.io/library/busybox:latest`.
    pub reference: Reference,
    /// The image manifest's digest.
    pub manifest: Digest,
    /// The manifest's media type (OCI or Docker schema 2).
    pub media_type: String,
    /// The manifest's size in bytes.
    pub size: u64,
}

impl Store {
    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    fn read_index(&self) -> Result<IndexJson, StoreError> {
        let p = self.index_path();
        self.memo.index(&p, || read_index_file(&p))
    }

    /// Every named image, in index order. Entries that do not parse are skipped.
    pub fn records(&self) -> Result<Vec<ImageRecord>, StoreError> {
        Ok(self
            .read_index()?
            .manifests
            .iter()
            .filter_map(to_record)
            .collect())
    }

    /// Applies `f` to the index under the index lock and writes it back.
    fn update_index<T>(&self, f: impl FnOnce(&mut Vec<Desc>) -> T) -> Result<T, StoreError> {
        let _lock = Lock::take(&self.dir.join("index.lock"), true)?;
        let mut idx = self.read_index()?;
        let out = f(&mut idx.manifests);
        idx.schema_version = 2;
        idx.media_type = Some(INDEX_MEDIA_TYPE.to_string());
        let body = serde_json::to_vec_pretty(&idx).map_err(|e| StoreError::Invalid {
            what: "index.json".into(),
            why: e.to_string(),
        })?;
        write_atomic(&self.tmp_dir(), &self.index_path(), &body)?;
        Ok(out)
    }

    /// Points `reference` at a manifest (replacing what it named before).
    pub fn set_name(
        &self,
        reference: &Reference,
        manifest: &Digest,
        media_type: &str,
        size: u64,
    ) -> Result<(), StoreError> {
        let name = reference.to_string();
        let desc = Desc {
            media_type: media_type.to_string(),
            digest: manifest.to_string(),
            size,
            annotations: [(REF_NAME.to_string(), name.clone())].into_iter().collect(),
        };
        self.update_index(|m| {
            m.retain(|d| d.annotations.get(REF_NAME) != Some(&name));
            m.push(desc);
        })
    }

    /// Removes names; returns the records that were removed.
    pub fn remove_names(&self, refs: &[Reference]) -> Result<Vec<ImageRecord>, StoreError> {
        let names: Vec<String> = refs.iter().map(ToString::to_string).collect();
        self.update_index(|m| {
            let (gone, keep): (Vec<Desc>, Vec<Desc>) = m.drain(..).partition(|d| {
                d.annotations
                    .get(REF_NAME)
                    .is_some_and(|n| names.contains(n))
            });
            *m = keep;
            gone.iter().filter_map(to_record).collect()
        })
    }
}

fn to_record(d: &Desc) -> Option<ImageRecord> {
    Some(ImageRecord {
        reference: Reference::parse(d.annotations.get(REF_NAME)?).ok()?,
        manifest: d.digest.parse().ok()?,
        media_type: d.media_type.clone(),
        size: d.size,
    })
}

/// Reads and parses `index.json` at `p` (none yet: an empty index).
fn read_index_file(p: &std::path::Path) -> Result<IndexJson, StoreError> {
    match std::fs::read(p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| StoreError::Invalid {
            what: p.display().to_string(),
            why: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IndexJson {
            schema_version: 2,
            ..Default::default()
        }),
        Err(e) => Err(io_err("read", p)(e)),
    }
}
