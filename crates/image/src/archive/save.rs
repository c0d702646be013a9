//! `save`: images to a docker-archive or oci-archive tar stream.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Seek, Write};

use serde_json::json;

use super::docker::{familiar, Entry};
use super::oci::{CONTAINERD_NAME, REF_NAME};
use super::{file_header, ArchiveError, Format};
use crate::media::{self, Compression};
use crate::reference::Reference;
use crate::store::{Image, Staging, Store};

/// The names an archive of `img` carries when the user named it `name`: that name when it
/// is one of the image's, else (an id) all of its names.
pub fn names_to_save(img: &Image, name: &str) -> Vec<Reference> {
    match img.names.iter().find(|n| {
        Reference::parse(name).ok().as_ref() == Some(*n)
            || Reference::parse_local(name).ok().as_ref() == Some(*n)
    }) {
        Some(n) => vec![n.clone()],
        None => img.names.clone(),
    }
}

/// Writes `images` (each with the names to record for it) to `out`.
pub fn save(
    store: &Store,
    images: &[(Image, Vec<Reference>)],
    format: Format,
    out: &mut dyn Write,
    archive: &str,
) -> Result<(), ArchiveError> {
    let mut w = Writer {
        tar: tar::Builder::new(out),
        archive,
        written: HashSet::new(),
    };
    match format {
        Format::DockerArchive => save_docker(store, images, &mut w)?,
        Format::OciArchive => save_oci(store, images, &mut w)?,
    }
    w.tar.finish().map_err(w.io("write"))?;
    Ok(())
}

struct Writer<'a> {
    tar: tar::Builder<&'a mut dyn Write>,
    archive: &'a str,
    written: HashSet<String>,
}

impl Writer<'_> {
    fn io(&self, op: &'static str) -> impl FnOnce(io::Error) -> ArchiveError {
        let archive = self.archive.to_string();
        move |source| ArchiveError::Io {
            archive,
            op,
            source,
        }
    }

    fn bytes(&mut self, path: &str, data: &[u8]) -> Result<(), ArchiveError> {
        let mut h = file_header(data.len() as u64);
        self.tar
            .append_data(&mut h, path, data)
            .map_err(self.io("write"))
    }

    /// Appends a file once (images may share layers).
    fn file(&mut self, path: &str, f: &mut File, size: u64) -> Result<(), ArchiveError> {
        if !self.written.insert(path.to_string()) {
            return Ok(());
        }
        let mut h = file_header(size);
        self.tar
            .append_data(&mut h, path, f)
            .map_err(self.io("write"))
    }
}

fn save_docker(
    store: &Store,
    images: &[(Image, Vec<Reference>)],
    w: &mut Writer<'_>,
) -> Result<(), ArchiveError> {
    let mut entries = Vec::new();
    for (img, names) in images {
        let config_name = format!("{}.json", img.id.hex());
        if w.written.insert(config_name.clone()) {
            w.bytes(&config_name, &store.read_blob(&img.id)?)?;
        }
        let mut layers = Vec::new();
        for l in img.layers()? {
            // docker-archive layers are plain tars named by diff ID.
            let name = format!("{}.tar", l.diff_id.hex());
            if !w.written.contains(&name) {
                let mut f = uncompressed(store, &l.blob, l.compression, w)?;
                let size = f.metadata().map_err(w.io("stat"))?.len();
                w.file(&name, &mut f, size)?;
            }
            layers.push(name);
        }
        entries.push(Entry {
            config: config_name,
            repo_tags: Some(names.iter().map(familiar).collect()),
            layers,
        });
    }
    let manifest = serde_json::to_vec(&entries).map_err(|e| ArchiveError::Invalid {
        archive: w.archive.to_string(),
        why: e.to_string(),
    })?;
    w.bytes("manifest.json", &manifest)
}

/// The layer as a plain tar: the blob itself, or a temporary decompressed copy.
fn uncompressed(
    store: &Store,
    blob: &crate::Digest,
    c: Compression,
    w: &Writer<'_>,
) -> Result<File, ArchiveError> {
    if c == Compression::None {
        return Ok(store.open_blob(blob)?);
    }
    let staging = Staging::new(store)?;
    let path = staging.scratch_dir()?.join("layer.tar");
    let mut out = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(w.io("create temporary file"))?;
    // Unlinked right away: the open file is all that is needed, and nothing is left behind.
    drop(staging);
    let mut dec = c
        .decoder(BufReader::new(store.open_blob(blob)?))
        .map_err(w.io("decompress"))?;
    io::copy(&mut dec, &mut out).map_err(w.io("decompress"))?;
    out.rewind().map_err(w.io("seek"))?;
    Ok(out)
}

fn save_oci(
    store: &Store,
    images: &[(Image, Vec<Reference>)],
    w: &mut Writer<'_>,
) -> Result<(), ArchiveError> {
    w.bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut manifests = Vec::new();
    let mut docker_entries = Vec::new();
    for (img, names) in images {
        let mut blobs = vec![img.manifest_digest.clone(), img.id.clone()];
        let layers = img.layers()?;
        blobs.extend(layers.iter().map(|l| l.blob.clone()));
        for d in &blobs {
            let mut f = store.open_blob(d)?;
            let size = f.metadata().map_err(w.io("stat"))?.len();
            w.file(&format!("blobs/sha256/{}", d.hex()), &mut f, size)?;
        }
        let size = store.read_blob(&img.manifest_digest)?.len();
        let desc = |name: Option<&Reference>| {
            let mut annotations = BTreeMap::new();
            if let Some(n) = name {
                annotations.insert(REF_NAME, n.to_string());
                annotations.insert(CONTAINERD_NAME, n.to_string());
            }
            json!({ "mediaType": img.manifest_media_type, "digest": img.manifest_digest.to_string(), "size": size, "annotations": annotations })
        };
        if names.is_empty() {
            manifests.push(desc(None));
        }
        manifests.extend(names.iter().map(|n| desc(Some(n))));
        // docker (25+) loads an OCI layout that also carries its manifest.json.
        docker_entries.push(Entry {
            config: format!("blobs/sha256/{}", img.id.hex()),
            repo_tags: Some(names.iter().map(familiar).collect()),
            layers: layers
                .iter()
                .map(|l| format!("blobs/sha256/{}", l.blob.hex()))
                .collect(),
        });
    }
    let index =
        json!({ "schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": manifests });
    let bad = |e: serde_json::Error| ArchiveError::Invalid {
        archive: w.archive.to_string(),
        why: e.to_string(),
    };
    let index = serde_json::to_vec(&index).map_err(bad)?;
    let docker = serde_json::to_vec(&docker_entries).map_err(bad)?;
    w.bytes("index.json", &index)?;
    w.bytes("manifest.json", &docker)
}
