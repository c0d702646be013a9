//! `import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image.
//! The layer is stored uncompressed, so its digest is also its diff ID.

use std::io::{BufRead, BufReader, Read};

use oci_spec::image::{ImageConfiguration, ImageManifest};
use serde_json::{json, Map, Value};

use super::ArchiveError;
use crate::layer::{ingest, Needs};
use crate::media::{self, Compression};
use crate::reference::Reference;
use crate::registry::Platform;
use crate::store::{layers_of, Image, Staging, Store};

/// Settings for the new image.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Dockerfile-style instructions: `CMD`, `ENTRYPOINT`, `ENV`, `WORKDIR`, `USER`,
    /// `EXPOSE`, `VOLUME`, `LABEL`, `STOPSIGNAL`.
    pub changes: Vec<String>,
    /// History comment.
    pub message: Option<String>,
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
    for c in &opts.changes {
        apply_change(&mut config, c).map_err(|why| invalid(format!("--change {c:?}: {why}")))?;
    }
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
    let config_bytes = serde_json::to_vec(&config_doc).map_err(|e| invalid(e.to_string()))?;
    let config_digest = staging.add_blob(&config_bytes)?;
    let manifest_doc = json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": { "mediaType": media::OCI_CONFIG, "digest": config_digest.to_string(), "size": config_bytes.len() },
        "layers": [{ "mediaType": media::OCI_LAYER_TAR, "digest": diff_id.to_string(), "size": size }],
    });
    let manifest_bytes = serde_json::to_vec(&manifest_doc).map_err(|e| invalid(e.to_string()))?;
    let manifest: ImageManifest =
        serde_json::from_slice(&manifest_bytes).map_err(|e| invalid(e.to_string()))?;
    let cfg: ImageConfiguration =
        serde_json::from_slice(&config_bytes).map_err(|e| invalid(e.to_string()))?;
    for l in layers_of(&manifest, &cfg, archive)? {
        let needs = Needs {
            blob: false,
            snapshot: !staging.has_snapshot(&l.chain_id),
        };
        if !needs.none() {
            let p = staging.blob_path(&l.blob);
            let f = std::fs::File::open(&p).map_err(io("open layer"))?;
            ingest(&staging, &l, &needs, f)?;
        }
    }
    let manifest_digest = staging.add_blob(&manifest_bytes)?;
    staging.commit()?;
    store.set_name(
        reference,
        &manifest_digest,
        media::OCI_MANIFEST,
        manifest_bytes.len() as u64,
    )?;
    Ok(store.image_by_manifest(&manifest_digest)?)
}

/// Applies one `INSTRUCTION args` to the config's `config` object.
fn apply_change(config: &mut Map<String, Value>, change: &str) -> Result<(), String> {
    let (instr, rest) = change
        .trim()
        .split_once(char::is_whitespace)
        .ok_or("expected INSTRUCTION ARGUMENTS")?;
    let rest = rest.trim();
    let list = |rest: &str| -> Result<Value, String> {
        if rest.starts_with('[') {
            serde_json::from_str::<Vec<String>>(rest)
                .map(|v| json!(v))
                .map_err(|e| format!("bad JSON list: {e}"))
        } else {
            Ok(json!(["/bin/sh", "-c", rest]))
        }
    };
    let key_values = |rest: &str| -> Vec<(String, String)> {
        match rest.split_once('=') {
            Some(_) => rest
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                .collect(),
            None => rest
                .split_once(char::is_whitespace)
                .map(|(k, v)| vec![(k.to_string(), v.trim().to_string())])
                .unwrap_or_default(),
        }
    };
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.insert("Cmd".into(), list(rest)?);
        }
        "ENTRYPOINT" => {
            config.insert("Entrypoint".into(), list(rest)?);
        }
        "WORKDIR" => {
            config.insert("WorkingDir".into(), json!(rest));
        }
        "USER" => {
            config.insert("User".into(), json!(rest));
        }
        "STOPSIGNAL" => {
            config.insert("StopSignal".into(), json!(rest));
        }
        "ENV" => {
            let env = config.entry("Env").or_insert_with(|| json!([]));
            let arr = env.as_array_mut().ok_or("Env is not a list")?;
            for (k, v) in key_values(rest) {
                arr.retain(|e| e.as_str().and_then(|s| s.split('=').next()) != Some(k.as_str()));
                arr.push(json!(format!("{k}={v}")));
            }
        }
        "LABEL" => {
            let labels = config.entry("Labels").or_insert_with(|| json!({}));
            let obj = labels.as_object_mut().ok_or("Labels is not an object")?;
            for (k, v) in key_values(rest) {
                obj.insert(k, json!(v));
            }
        }
        "EXPOSE" | "VOLUME" => {
            let key = if instr.eq_ignore_ascii_case("EXPOSE") {
                "ExposedPorts"
            } else {
                "Volumes"
            };
            // Both take words; VOLUME also a JSON list, as in a Dockerfile.
            let items: Vec<String> = match rest.starts_with('[') && key == "Volumes" {
                true => serde_json::from_str(rest).map_err(|e| format!("bad JSON list: {e}"))?,
                false => rest.split_whitespace().map(String::from).collect(),
            };
            let obj = config.entry(key).or_insert_with(|| json!({}));
            let obj = obj.as_object_mut().ok_or("not an object")?;
            for item in items {
                let item = if key == "ExposedPorts" && !item.contains('/') {
                    format!("{item}/tcp")
                } else {
                    item
                };
                obj.insert(item, json!({}));
            }
        }
        other => return Err(format!("unsupported instruction {other}")),
    }
    Ok(())
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
    fn changes() {
        let mut c = Map::new();
        apply_change(&mut c, r#"CMD ["/bin/sh"]"#).unwrap();
        apply_change(&mut c, "ENTRYPOINT echo hi").unwrap();
        apply_change(&mut c, "ENV A=1 B=2").unwrap();
        apply_change(&mut c, "EXPOSE 80 53/udp").unwrap();
        apply_change(&mut c, "LABEL k=v").unwrap();
        apply_change(&mut c, r#"VOLUME ["/data", "/logs"]"#).unwrap();
        apply_change(&mut c, "VOLUME /cache").unwrap();
        assert_eq!(
            c["Volumes"],
            json!({"/data": {}, "/logs": {}, "/cache": {}})
        );
        assert!(apply_change(&mut c, r#"VOLUME ["/x""#).is_err());
        assert_eq!(c["Cmd"], json!(["/bin/sh"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(c["Env"], json!(["A=1", "B=2"]));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert!(apply_change(&mut c, "RUN x").is_err());
        assert_eq!(rfc3339_now().len(), 20);
    }
}
