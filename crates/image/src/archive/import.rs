//! `import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image.
//! The layer is stored uncompressed, so its digest is also its diff ID.

use std::io::{BufRead, BufReader, Read};

use oci_spec::image::{ImageConfiguration, ImageManifest};
use serde_json::{json, Map, Value};

use super::ArchiveError;
use crate::layer::{ingest, Needs};
use crate::media::{self, Compression};
use crate::reference::Reference;
use crate::registry::{error_chain, Platform};
use crate::store::{layers_of, Image, Staging, Store};

/// Settings for the new image.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Dockerfile instructions (see [`crate::change`]).
    pub changes: Vec<String>,
    /// History comment.
    pub message: Option<String>,
}

/// Whether `import`'s source names a URL to fetch rather than a file (docker's rule).
pub fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// The body of an http(s) URL, streamed as it arrives (`import URL`); a status other than
/// 2xx is an error naming the URL.
pub fn fetch(url: &str) -> Result<impl Read, ArchiveError> {
    let fail = |why: String| ArchiveError::Invalid {
        archive: url.to_string(),
        why,
    };
    // No overall timeout: a root filesystem may take long; a stalled connection does not.
    let client = reqwest::blocking::Client::builder()
        .timeout(None)
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| fail(error_chain(&e)))?;
    let resp = client.get(url).send().map_err(|e| fail(error_chain(&e)))?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP {}", resp.status())));
    }
    Ok(resp)
}

/// Imports `input` as image `reference`.
pub fn import(
    store: &Store,
    input: &mut dyn Read,
    reference: &Reference,
    opts: &ImportOptions,
    archive: &str,
) -> Result<Image, ArchiveError> {
    let invalid = |why: String| ArchiveError::Invalid {
        archive: archive.to_string(),
        why,
    };
    let mut config = Map::new();
    config.insert(
        "Env".into(),
        json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]),
    );
    crate::change::apply(&mut config, &opts.changes)
        .map_err(|e| invalid(format!("--change {e}")))?;
    let _lock = store.content_lock()?;
    let staging = Staging::new(store)?;
    let io = |op| {
        move |source| ArchiveError::Io {
            archive: archive.to_string(),
            op,
            source,
        }
    };
    let mut buf = BufReader::with_capacity(1 << 20, input);
    let compression = Compression::sniff(buf.fill_buf().map_err(io("read"))?);
    let mut decoded = compression.decoder(buf).map_err(io("decompress"))?;
    let mut w = staging.blob_writer()?;
    std::io::copy(&mut decoded, &mut w).map_err(io("read"))?;
    let (diff_id, size) = staging.finish_blob(w, None, archive)?;
    let now = rfc3339_now();
    let host = Platform::host();
    let config_doc = json!({
        "created": now,
        "architecture": host.architecture,
        "os": host.os,
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": [diff_id.to_string()] },
        "history": [{ "created": now, "created_by": "berth import", "comment": opts.message.clone().unwrap_or_default() }],
    });
    let layer =
        json!({ "mediaType": media::OCI_LAYER_TAR, "digest": diff_id.to_string(), "size": size });
    let kinds = (media::OCI_MANIFEST, media::OCI_CONFIG);
    store_image(
        store,
        staging,
        &config_doc,
        kinds,
        vec![layer],
        Some(reference),
        archive,
    )
}

/// Stages `config` and a manifest of the media types `kinds` (manifest, config) over
/// `layers` (descriptors of blobs staged or stored already), unpacks the layers the store
/// has no snapshot of, moves everything into the store and names the image `reference`,
/// or without one `localhost/<the first 12 digits of its ID>`: the store keeps named images
/// only, and that name is also how the ID's short form finds it.
pub(crate) fn store_image(
    store: &Store,
    staging: Staging<'_>,
    config: &Value,
    kinds: (&str, &str),
    layers: Vec<Value>,
    reference: Option<&Reference>,
    what: &str,
) -> Result<Image, ArchiveError> {
    let invalid = |e: serde_json::Error| ArchiveError::Invalid {
        archive: what.to_string(),
        why: e.to_string(),
    };
    let config_bytes = serde_json::to_vec(config).map_err(invalid)?;
    let config_digest = staging.add_blob(&config_bytes)?;
    let manifest_doc = json!({
        "schemaVersion": 2,
        "mediaType": kinds.0,
        "config": { "mediaType": kinds.1, "digest": config_digest.to_string(), "size": config_bytes.len() },
        "layers": layers,
    });
    let manifest_bytes = serde_json::to_vec(&manifest_doc).map_err(invalid)?;
    let manifest: ImageManifest = serde_json::from_slice(&manifest_bytes).map_err(invalid)?;
    let cfg: ImageConfiguration = serde_json::from_slice(&config_bytes).map_err(invalid)?;
    for l in layers_of(&manifest, &cfg, what)? {
        let needs = Needs {
            blob: false,
            snapshot: !staging.has_snapshot(&l.chain_id),
        };
        if !needs.none() {
            let p = staging.blob_path(&l.blob);
            let f = std::fs::File::open(&p).map_err(|source| ArchiveError::Io {
                archive: what.to_string(),
                op: "open layer",
                source,
            })?;
            ingest(&staging, &l, &needs, f)?;
        }
    }
    let manifest_digest = staging.add_blob(&manifest_bytes)?;
    let by_id;
    let reference = match reference {
        Some(r) => r,
        None => {
            by_id = Reference::parse_local(&config_digest.hex()[..12])?;
            &by_id
        }
    };
    staging.commit()?;
    store.set_name(
        reference,
        &manifest_digest,
        kinds.0,
        manifest_bytes.len() as u64,
    )?;
    Ok(store.image_by_manifest(&manifest_digest)?)
}

/// The current UTC time as RFC 3339 (what image configs use for `created`).
pub(crate) fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_has_its_length() {
        assert_eq!(rfc3339_now().len(), 20);
    }
}
