//! `push`: upload an image's blobs that the registry lacks (mounting them from another
//! repository of the same registry when berth knows one that has them; large blobs in
//! chunks), then its manifest.

use std::io::Read;

use reqwest::blocking::Response;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;

use super::client::check_status;
use super::{Client, RegistryConfig, RegistryError};
use crate::digest::Digest;
use crate::progress::Progress;
use crate::reference::Reference;
use crate::store::{Image, Store, StoreError};

/// Blobs larger than this go up in PATCH chunks of this size.
const CHUNK: u64 = 16 << 20;

/// Pushes the local `image` to `dest`; returns the manifest digest.
pub fn push(
    store: &Store,
    image: &Image,
    dest: &Reference,
    cfg: &RegistryConfig,
    progress: &dyn Progress,
) -> Result<Digest, RegistryError> {
    let creds = cfg.credentials_for(dest.registry())?;
    let client = Client::new(dest.registry(), cfg, creds)?;
    let repo = dest.repository();
    // Repositories on the same registry that this image was pulled from or pushed to.
    let sources: Vec<String> = image
        .names
        .iter()
        .filter(|n| n.registry() == dest.registry() && n.repository() != repo)
        .map(|n| n.repository().to_string())
        .collect();
    let mut blobs: Vec<(Digest, u64)> = Vec::new();
    for l in image.layers()? {
        blobs.push((l.blob, l.size));
    }
    blobs.push((image.id.clone(), image.manifest.config().size()));
    for (digest, size) in &blobs {
        let id = digest.short().to_string();
        let status = push_blob(&client, store, repo, digest, *size, &sources, progress)?;
        progress.finish(&id, status);
    }
    let raw = store.read_blob(&image.manifest_digest)?;
    let url = client.url(&format!("{repo}/manifests/{}", dest.manifest_ref()));
    let resp = client.send(&push_scope(repo, None), |h| {
        h.put(&url)
            .header(CONTENT_TYPE, image.manifest_media_type.as_str())
            .body(raw.clone())
    })?;
    check_status(resp, &url)?;
    Ok(image.manifest_digest.clone())
}

fn push_scope(repo: &str, from: Option<&str>) -> String {
    match from {
        Some(f) => format!("repository:{repo}:pull,push repository:{f}:pull"),
        None => format!("repository:{repo}:pull,push"),
    }
}

fn push_blob(
    client: &Client,
    store: &Store,
    repo: &str,
    digest: &Digest,
    size: u64,
    sources: &[String],
    progress: &dyn Progress,
) -> Result<&'static str, RegistryError> {
    let scope = push_scope(repo, None);
    let url = client.url(&format!("{repo}/blobs/{digest}"));
    let resp = client.send(&scope, |h| h.head(&url))?;
    if resp.status() == StatusCode::OK {
        return Ok("exists");
    }
    let mut upload: Option<String> = None;
    for from in sources {
        let u = client.url(&format!("{repo}/blobs/uploads/?mount={digest}&from={from}"));
        let resp = client.send(&push_scope(repo, Some(from)), |h| h.post(&u))?;
        if resp.status() == StatusCode::CREATED {
            return Ok("mounted");
        }
        if resp.status() == StatusCode::ACCEPTED {
            upload = Some(location(client, &resp, &u)?);
            break;
        }
    }
    let mut loc = match upload {
        Some(l) => l,
        None => {
            let u = client.url(&format!("{repo}/blobs/uploads/"));
            let resp = check_status(client.send(&scope, |h| h.post(&u))?, &u)?;
            location(client, &resp, &u)?
        }
    };
    let id = digest.short().to_string();
    progress.begin(&id, "blob", size);
    let mut file = store.open_blob(digest)?;
    let path = store.blob_path(digest);
    let mut read_chunk = |len: u64| -> Result<Vec<u8>, RegistryError> {
        let mut buf = Vec::new();
        (&mut file)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| StoreError::Io {
                op: "read blob",
                path: path.clone(),
                source: e,
            })?;
        Ok(buf)
    };
    if size > CHUNK {
        let mut offset = 0u64;
        while offset < size {
            let chunk = read_chunk(CHUNK)?;
            let end = offset + chunk.len() as u64 - 1;
            let len = chunk.len();
            let resp = client.send(&scope, |h| {
                h.patch(&loc)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_RANGE, format!("{offset}-{end}"))
                    .header(CONTENT_LENGTH, len)
                    .body(chunk.clone())
            })?;
            let resp = check_status(resp, &loc)?;
            loc = location(client, &resp, &loc)?;
            offset = end + 1;
            progress.advance(&id, len as u64);
        }
        let u = with_digest(&loc, digest);
        check_status(
            client.send(&scope, |h| h.put(&u).header(CONTENT_LENGTH, 0))?,
            &u,
        )?;
    } else {
        let body = read_chunk(size)?;
        let u = with_digest(&loc, digest);
        let resp = client.send(&scope, |h| {
            h.put(&u)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(body.clone())
        })?;
        check_status(resp, &u)?;
        progress.advance(&id, size);
    }
    Ok("pushed")
}

fn with_digest(loc: &str, digest: &Digest) -> String {
    let sep = if loc.contains('?') { '&' } else { '?' };
    format!("{loc}{sep}digest={digest}")
}

/// The upload URL from a Location header, made absolute.
fn location(client: &Client, resp: &Response, url: &str) -> Result<String, RegistryError> {
    let loc = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| RegistryError::Protocol {
            what: url.to_string(),
            why: "upload response without Location".into(),
        })?;
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return Ok(loc.to_string());
    }
    let base = client.url("");
    let origin = base.trim_end_matches("/v2/");
    Ok(format!(
        "{origin}{}{loc}",
        if loc.starts_with('/') { "" } else { "/" }
    ))
}
