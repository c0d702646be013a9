//! `load`: a docker-archive or oci-archive into the store. The archive is extracted into
//! a staging area, every blob is checked against its digest, layers are unpacked, and
//! only then is anything committed and named.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
use serde_json::json;

use super::docker::Entry;
use super::extract::extract;
use super::oci::name_from_annotations;
use super::ArchiveError;
use crate::digest::Digest;
use crate::layer::{ingest, Needs};
use crate::media::{self, Compression};
use crate::reference::Reference;
use crate::registry::Platform;
use crate::store::{layers_of, Staging, Store, StoreError};

/// Loads every image in the archive; returns the names it gave them.
pub fn load(
    store: &Store,
    input: &mut dyn Read,
    archive: &str,
) -> Result<Vec<Reference>, ArchiveError> {
    let _lock = store.content_lock()?;
    let staging = Staging::new(store)?;
    let dir = staging.scratch_dir()?;
    extract(input, &dir, archive)?;
    let invalid = |why: String| ArchiveError::Invalid {
        archive: archive.to_string(),
        why,
    };
    let images = if dir.join("index.json").is_file() {
        load_oci(&staging, &dir, archive)?
    } else if dir.join("manifest.json").is_file() {
        load_docker(&staging, &dir, archive)?
    } else {
        return Err(invalid(
            "neither an oci-archive (index.json) nor a docker-archive (manifest.json)".into(),
        ));
    };
    if images.is_empty() {
        return Err(invalid("no images in the archive".into()));
    }
    staging.commit()?;
    let mut names = Vec::new();
    for (manifest, size, media_type, refs) in images {
        for r in refs {
            store.set_name(&r, &manifest, &media_type, size)?;
            names.push(r);
        }
    }
    Ok(names)
}

/// A loaded image: manifest digest, size, media type and names.
type Loaded = (Digest, u64, String, Vec<Reference>);

fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    archive: &str,
) -> Result<T, ArchiveError> {
    let bytes = fs::read(path).map_err(|source| ArchiveError::Io {
        archive: archive.to_string(),
        op: "read",
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ArchiveError::Invalid {
        archive: archive.to_string(),
        why: format!("{}: {e}", path.display()),
    })
}

fn load_oci(staging: &Staging<'_>, dir: &Path, archive: &str) -> Result<Vec<Loaded>, ArchiveError> {
    let index: ImageIndex = read_json(&dir.join("index.json"), archive)?;
    let blob_path = |d: &Digest| dir.join("blobs/sha256").join(d.hex());
    let mut out: Vec<Loaded> = Vec::new();
    for desc in index.manifests() {
        let mut digest = Digest::try_from(desc.digest()).map_err(StoreError::from)?;
        let mut media_type = desc.media_type().to_string();
        if media::is_index(&media_type) {
            // A multi-platform image: keep this host's manifest.
            let inner: ImageIndex = read_json(&blob_path(&digest), archive)?;
            let host = Platform::host();
            let Some(m) = inner.manifests().iter().find(|m| {
                m.platform().as_ref().is_some_and(|p| {
                    host.matches(
                        &p.os().to_string(),
                        &p.architecture().to_string(),
                        p.variant().as_deref(),
                    )
                })
            }) else {
                continue;
            };
            digest = Digest::try_from(m.digest()).map_err(StoreError::from)?;
            media_type = m.media_type().to_string();
        }
        let fallback = Path::new(archive)
            .file_stem()
            .map(|s| s.to_string_lossy().to_lowercase())
            .unwrap_or_else(|| "image".into());
        let fallback: String = fallback
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let names: Vec<Reference> = name_from_annotations(
            desc.annotations().as_ref(),
            if fallback.is_empty() {
                "image"
            } else {
                &fallback
            },
        )
        .into_iter()
        .collect();
        let (manifest_bytes, size) = adopt(staging, &blob_path(&digest), &digest, archive)?;
        let manifest: ImageManifest =
            serde_json::from_slice(&manifest_bytes).map_err(|e| ArchiveError::Invalid {
                archive: archive.to_string(),
                why: format!("manifest {digest}: {e}"),
            })?;
        let config_digest =
            Digest::try_from(manifest.config().digest()).map_err(StoreError::from)?;
        let (config_bytes, _) =
            adopt(staging, &blob_path(&config_digest), &config_digest, archive)?;
        let config: ImageConfiguration =
            serde_json::from_slice(&config_bytes).map_err(|e| ArchiveError::Invalid {
                archive: archive.to_string(),
                why: format!("config {config_digest}: {e}"),
            })?;
        for l in layers_of(&manifest, &config, archive)? {
            let needs = Needs::of(staging, &l);
            if needs.blob {
                let p = blob_path(&l.blob);
                staging.adopt_blob(&p, Some(&l.blob), &format!("{archive}: layer {}", l.blob))?;
            }
            unpack_staged(staging, &l)?;
        }
        match out.iter_mut().find(|o| o.0 == digest) {
            Some(o) => o.3.extend(names),
            None => out.push((digest, size, media_type, names)),
        }
    }
    Ok(out)
}

/// Adopts a small blob (manifest, config) and returns its bytes and size; a blob the
/// store already has (or that an earlier descriptor adopted) is read from there.
fn adopt(
    staging: &Staging<'_>,
    path: &Path,
    digest: &Digest,
    archive: &str,
) -> Result<(Vec<u8>, u64), ArchiveError> {
    if path.exists() {
        staging.adopt_blob(path, Some(digest), &format!("{archive}: blob {digest}"))?;
    } else if !staging.has_blob(digest) {
        return Err(ArchiveError::Invalid {
            archive: archive.to_string(),
            why: format!("blob {digest} is missing"),
        });
    }
    let p = staging.blob_path(digest);
    let bytes = fs::read(&p).map_err(|source| ArchiveError::Io {
        archive: archive.to_string(),
        op: "read",
        source,
    })?;
    let size = bytes.len() as u64;
    Ok((bytes, size))
}

/// Unpacks a layer whose blob is staged or stored, unless its snapshot exists.
fn unpack_staged(staging: &Staging<'_>, l: &crate::store::Layer) -> Result<(), ArchiveError> {
    let needs = Needs {
        blob: false,
        snapshot: !staging.has_snapshot(&l.chain_id),
    };
    if needs.none() {
        return Ok(());
    }
    let p = staging.blob_path(&l.blob);
    let f = fs::File::open(&p).map_err(|e| StoreError::Io {
        op: "open blob",
        path: p.clone(),
        source: e,
    })?;
    ingest(staging, l, &needs, f)?;
    Ok(())
}

fn load_docker(
    staging: &Staging<'_>,
    dir: &Path,
    archive: &str,
) -> Result<Vec<Loaded>, ArchiveError> {
    let entries: Vec<Entry> = read_json(&dir.join("manifest.json"), archive)?;
    let invalid = |why: String| ArchiveError::Invalid {
        archive: archive.to_string(),
        why,
    };
    let mut out = Vec::new();
    // Images in one archive share layer files; each is adopted (moved) once.
    let mut adopted: HashMap<String, (Digest, u64, &str)> = HashMap::new();
    for e in entries {
        let config_path = member(dir, &e.config, archive)?;
        let config_bytes = fs::read(&config_path).map_err(|source| ArchiveError::Io {
            archive: archive.to_string(),
            op: "read config",
            source,
        })?;
        let config_digest = Digest::of(&config_bytes);
        let config: ImageConfiguration = serde_json::from_slice(&config_bytes)
            .map_err(|err| invalid(format!("{}: {err}", e.config)))?;
        staging.add_blob(&config_bytes)?;
        let mut layer_descs = Vec::new();
        for path in &e.layers {
            let (digest, size, media_type) = match adopted.get(path) {
                Some(v) => v.clone(),
                None => {
                    let p = member(dir, path, archive)?;
                    let mut head = [0u8; 4];
                    let n = fs::File::open(&p)
                        .and_then(|mut f| f.read(&mut head))
                        .map_err(|source| ArchiveError::Io {
                            archive: archive.to_string(),
                            op: "read layer",
                            source,
                        })?;
                    let media_type = match Compression::sniff(&head[..n]) {
                        Compression::None => media::OCI_LAYER_TAR,
                        Compression::Gzip => media::OCI_LAYER_GZIP,
                        Compression::Zstd => media::OCI_LAYER_ZSTD,
                    };
                    let (digest, size) = staging.adopt_blob(&p, None, path)?;
                    adopted.insert(path.clone(), (digest.clone(), size, media_type));
                    (digest, size, media_type)
                }
            };
            layer_descs.push(
                json!({ "mediaType": media_type, "digest": digest.to_string(), "size": size }),
            );
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": { "mediaType": media::OCI_CONFIG, "digest": config_digest.to_string(), "size": config_bytes.len() },
            "layers": layer_descs,
        });
        let manifest_bytes =
            serde_json::to_vec(&manifest).map_err(|err| invalid(err.to_string()))?;
        let m: ImageManifest =
            serde_json::from_slice(&manifest_bytes).map_err(|err| invalid(err.to_string()))?;
        for l in layers_of(&m, &config, archive)? {
            unpack_staged(staging, &l)?;
        }
        let digest = staging.add_blob(&manifest_bytes)?;
        let names = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| Reference::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        out.push((
            digest,
            manifest_bytes.len() as u64,
            media::OCI_MANIFEST.to_string(),
            names,
        ));
    }
    Ok(out)
}

/// A path named in manifest.json, checked to stay inside the extracted archive.
fn member(dir: &Path, name: &str, archive: &str) -> Result<PathBuf, ArchiveError> {
    let parts = crate::unpack::checked_components(name.as_bytes()).map_err(|why| {
        ArchiveError::Invalid {
            archive: archive.to_string(),
            why: format!("manifest.json names {name:?}: {why}"),
        }
    })?;
    let mut p = dir.to_path_buf();
    p.extend(parts);
    Ok(p)
}
