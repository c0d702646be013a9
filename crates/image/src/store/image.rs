//! Images in the store: a manifest and its config, found by name or ID.

use oci_spec::image::{ImageConfiguration, ImageManifest};

use super::{chain_ids, Store, StoreError};
use crate::digest::Digest;
use crate::media::Compression;
use crate::reference::Reference;

/// An image read from the store.
#[derive(Debug, Clone)]
pub struct Image {
    /// Names that point at this manifest.
    pub names: Vec<Reference>,
    /// The manifest digest.
    pub manifest_digest: Digest,
    /// The manifest media type.
    pub manifest_media_type: String,
    /// The manifest.
    pub manifest: ImageManifest,
    /// The config digest: the image ID.
    pub id: Digest,
    /// The config.
    pub config: ImageConfiguration,
}

/// One layer of an image.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Digest of the blob as stored/transferred.
    pub blob: Digest,
    /// Size of the blob.
    pub size: u64,
    /// The blob's media type.
    pub media_type: String,
    /// How the blob is compressed.
    pub compression: Compression,
    /// Digest of the uncompressed tar.
    pub diff_id: Digest,
    /// Chain ID of the stack up to and including this layer.
    pub chain_id: Digest,
}

impl Image {
    /// The layers, bottom first, with diff and chain IDs from the config.
    pub fn layers(&self) -> Result<Vec<Layer>, StoreError> {
        layers_of(
            &self.manifest,
            &self.config,
            &self.manifest_digest.to_string(),
        )
    }
}

/// Pairs manifest layers with the config's diff IDs and computes chain IDs.
pub fn layers_of(
    manifest: &ImageManifest,
    config: &ImageConfiguration,
    what: &str,
) -> Result<Vec<Layer>, StoreError> {
    let invalid = |why: String| StoreError::Invalid {
        what: format!("image {what}"),
        why,
    };
    let diff_ids = config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| d.parse::<Digest>())
        .collect::<Result<Vec<_>, _>>()?;
    if diff_ids.len() != manifest.layers().len() {
        return Err(invalid(format!(
            "{} layers in manifest but {} diff IDs in config",
            manifest.layers().len(),
            diff_ids.len()
        )));
    }
    let chains = chain_ids(&diff_ids);
    manifest
        .layers()
        .iter()
        .zip(diff_ids.into_iter().zip(chains))
        .map(|(l, (diff_id, chain_id))| {
            let media_type = l.media_type().to_string();
            let compression = Compression::of_layer(&media_type)
                .ok_or_else(|| invalid(format!("unsupported layer media type {media_type}")))?;
            Ok(Layer {
                blob: Digest::try_from(l.digest())?,
                size: l.size(),
                media_type,
                compression,
                diff_id,
                chain_id,
            })
        })
        .collect()
}

/// Parses JSON of type T, naming `what` in the error.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Invalid {
        what: what.to_string(),
        why: e.to_string(),
    })
}

impl Store {
    /// Reads the image whose manifest has this digest.
    pub fn image_by_manifest(&self, manifest_digest: &Digest) -> Result<Image, StoreError> {
        let raw = self.read_blob(manifest_digest)?;
        let what = format!("manifest {manifest_digest}");
        let manifest: ImageManifest = parse_json(&raw, &what)?;
        let media_type = manifest
            .media_type()
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| crate::media::OCI_MANIFEST.to_string());
        let id = Digest::try_from(manifest.config().digest())?;
        let config: ImageConfiguration =
            parse_json(&self.read_blob(&id)?, &format!("config {id}"))?;
        let names = self
            .records()?
            .into_iter()
            .filter(|r| r.manifest == *manifest_digest)
            .map(|r| r.reference)
            .collect();
        Ok(Image {
            names,
            manifest_digest: manifest_digest.clone(),
            manifest_media_type: media_type,
            manifest,
            id,
            config,
        })
    }

    /// Finds an image by name (as Docker normalizes it, then under `localhost/`), by
    /// image ID or ID prefix, or by manifest digest.
    pub fn image(&self, name: &str) -> Result<Image, StoreError> {
        let digest = self.find(name)?;
        self.image_by_manifest(&digest)
    }

    /// The manifest digest an image name or ID refers to.
    pub fn find(&self, name: &str) -> Result<Digest, StoreError> {
        let records = self.records()?;
        let mut candidates = Vec::new();
        if let Ok(r) = Reference::parse(name) {
            candidates.push(r);
        }
        if Reference::is_short(name) {
            if let Ok(r) = Reference::parse_local(name) {
                candidates.push(r);
            }
        }
        for c in &candidates {
            if let Some(rec) = records.iter().find(|r| r.reference == *c) {
                return Ok(rec.manifest.clone());
            }
            // name@digest: any record of that repository pinned to or pointing at it
            if let (Some(d), None) = (c.digest(), c.tag()) {
                if records
                    .iter()
                    .any(|r| r.manifest == *d && r.reference.name() == c.name())
                    || self.has_blob(d)
                {
                    return Ok(d.clone());
                }
            }
        }
        self.find_by_id(name, &records)
    }

    fn find_by_id(&self, name: &str, records: &[super::ImageRecord]) -> Result<Digest, StoreError> {
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() < 3 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound(name.to_string()));
        }
        let mut found: Vec<Digest> = Vec::new();
        for r in records {
            let id = self.read_blob(&r.manifest).ok().and_then(|raw| {
                let m: ImageManifest = serde_json::from_slice(&raw).ok()?;
                Digest::try_from(m.config().digest()).ok()
            });
            let hit =
                r.manifest.hex().starts_with(hex) || id.is_some_and(|i| i.hex().starts_with(hex));
            if hit && !found.contains(&r.manifest) {
                found.push(r.manifest.clone());
            }
        }
        match found.len() {
            0 => Err(StoreError::NotFound(name.to_string())),
            1 => Ok(found.remove(0)),
            _ => Err(StoreError::Ambiguous(name.to_string())),
        }
    }
}
