//! `commit`: a container's changes as a new image. Its overlay upper directory is packed
//! as one more (uncompressed) layer with OCI whiteouts on top of its image's layers, and
//! the config says what the container ran, with a history entry. It is stored as `import`
//! stores an image: staged, the new layer unpacked into its snapshot, then named.
//!
//! Two steps, so the caller can hold the container still (freeze it) only while its
//! changes are read: [`pack_changes`], then [`Changes::into_image`].

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::archive::{rfc3339_now, store_image, ArchiveError};
use crate::change::{self, ChangeError};
use crate::digest::Digest;
use crate::media;
use crate::pack::{Format, PackError, Packer};
use crate::reference::Reference;
use crate::store::{io_err, Image, Lock, SnapshotMeta, Staging, Store, StoreError};
use crate::sys;

/// Errors from committing a container.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// A `-c` instruction that is not valid.
    #[error("--change {0}")]
    Change(#[from] ChangeError),
    /// The changes could not be packed.
    #[error("container {container}: its changes: {source}")]
    Pack {
        /// The container.
        container: String,
        /// What went wrong.
        source: PackError,
    },
    /// Storing the image failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// Store trouble.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the new image says besides its layers.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The config's `config` object (docker's field names): what the container ran, with
    /// the changes applied (see [`config`]).
    pub config: Map<String, Value>,
    /// `-a`: the image's and the history entry's author.
    pub author: Option<String>,
    /// `-m`: the history entry's comment.
    pub comment: Option<String>,
    /// The history entry's `created_by`: the container's command.
    pub created_by: String,
}

/// The container's config with `changes` applied: checked before anything is made.
pub fn config(
    mut container: Map<String, Value>,
    changes: &[String],
) -> Result<Map<String, Value>, CommitError> {
    change::apply(&mut container, changes)?;
    Ok(container)
}

/// A container's changes packed into a staging area of the store.
pub struct Changes<'s> {
    store: &'s Store,
    staging: Staging<'s>,
    /// The layer's digest (also its diff ID: it is not compressed) and size; None when the
    /// container changed nothing (docker then adds no layer, only history).
    layer: Option<(Digest, u64)>,
    /// The container whose changes these are, with the names the layer left out.
    upper_of: Option<(String, Vec<PathBuf>)>,
    /// Its upper directory becomes the layer's snapshot ([`Changes::adopting_upper`]).
    adopt: bool,
    _lock: Lock,
}

/// Packs container `id`'s changes (its upper directory) as a layer blob, without the empty
/// mount points the runtime made at `mount_points` (absolute paths).
pub fn pack_changes<'s>(
    store: &'s Store,
    id: &str,
    mount_points: &[PathBuf],
) -> Result<Changes<'s>, CommitError> {
    let upper = store.rootfs(id)?.upper;
    let mut mount_points = mount_points.to_vec();
    // An empty directory of the stub layer in the changes is a copy-up of the stub (made
    // when the runtime put a mount point of its own inside it), not a change.
    mount_points.extend(
        store
            .stub_paths(id)?
            .into_iter()
            .filter(|(_, dir)| *dir)
            .map(|(p, _)| p),
    );
    let mount_points = &mount_points[..];
    // Nothing changed: docker then adds no layer, only history.
    if store.rootfs_changes(id, mount_points)?.is_empty() {
        return no_changes(store);
    }
    let lock = store.content_lock()?;
    let staging = Staging::new(store)?;
    let dir = File::open(&upper).map_err(io_err("open", &upper))?;
    let pack_err = |source| CommitError::Pack {
        container: id.to_string(),
        source,
    };
    let names: Vec<PathBuf> = mount_points
        .iter()
        .map(|m| m.strip_prefix("/").unwrap_or(m).to_path_buf())
        .collect();
    let rootless = sys::rootless();
    let mut p = Packer::new(staging.blob_writer()?, Format::OverlayUpper { rootless })
        .mount_points(names.clone());
    p.add_children(dir.as_fd()).map_err(pack_err)?;
    let w = p.finish().map_err(pack_err)?;
    let layer = Some(staging.finish_blob(w, None, &format!("changes of {id}"))?);
    Ok(Changes {
        store,
        staging,
        layer,
        upper_of: Some((id.to_string(), names)),
        adopt: false,
        _lock: lock,
    })
}

/// No changes: an image made from these has its base's layers and one more history entry
/// (a Dockerfile's ENV, LABEL, CMD...).
pub fn no_changes(store: &Store) -> Result<Changes<'_>, CommitError> {
    let lock = store.content_lock()?;
    Ok(Changes {
        store,
        staging: Staging::new(store)?,
        layer: None,
        upper_of: None,
        adopt: false,
        _lock: lock,
    })
}

/// The empty image (`FROM scratch`): no layers, this host's platform, named `reference`.
pub fn scratch(store: &Store, reference: &Reference) -> Result<Image, CommitError> {
    let _lock = store.content_lock()?;
    let staging = Staging::new(store)?;
    let p = crate::registry::Platform::host();
    let config = json!({
        "architecture": p.architecture,
        "os": p.os,
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": [] },
        "history": [],
    });
    let kinds = (media::OCI_MANIFEST, media::OCI_CONFIG);
    Ok(store_image(
        store,
        staging,
        &config,
        kinds,
        Vec::new(),
        Some(reference),
        "scratch",
    )?)
}

impl Changes<'_> {
    /// Moves the container's upper directory into the store as the new layer's snapshot,
    /// instead of unpacking the layer again: the files are written once. The container's
    /// root filesystem is unmounted and left without changes, so it can only be removed
    /// afterwards (a build step's container is).
    pub fn adopting_upper(mut self) -> Self {
        self.adopt = true;
        self
    }

    /// Unmounts container `id`'s root filesystem, removes from its upper directory what
    /// the layer left out (empty mount points), and stages the directory as the snapshot
    /// of `chain`.
    fn adopt(&self, id: &str, left_out: &[PathBuf], chain: &Digest) -> Result<(), CommitError> {
        let rootfs = self.store.rootfs(id)?;
        match sys::umount(&rootfs.path) {
            Err(e) if e.raw_os_error() != Some(libc::EINVAL) => {
                return Err(io_err("unmount", &rootfs.path)(e).into())
            }
            _ => {}
        }
        let mut names = left_out.to_vec();
        // Deepest first: a directory is empty once the mount points in it are gone.
        names.sort_by_key(|n| std::cmp::Reverse(n.components().count()));
        for n in names {
            let p = rootfs.upper.join(&n);
            let gone = match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => std::fs::remove_dir(&p),
                Ok(m) if m.is_file() && m.len() == 0 => std::fs::remove_file(&p),
                _ => Ok(()),
            };
            match gone {
                Err(e) if e.raw_os_error() != Some(libc::ENOTEMPTY) => {
                    return Err(io_err("remove", &p)(e).into())
                }
                _ => {}
            }
        }
        let meta = SnapshotMeta::default();
        Ok(self.staging.adopt_snapshot(chain, &rootfs.upper, &meta)?)
    }

    /// Stores the image: `base`'s layers and these changes, with `opts`; names it
    /// `reference`, or without one after its ID (the store keeps named images only).
    pub fn into_image(
        self,
        base: &Image,
        opts: &CommitOptions,
        reference: Option<&Reference>,
    ) -> Result<Image, CommitError> {
        let what = format!("image {}", base.id);
        let invalid = |why: String| StoreError::Invalid {
            what: what.clone(),
            why,
        };
        let parse = |bytes: &[u8]| -> Result<Value, StoreError> {
            serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))
        };
        let manifest = parse(&self.store.read_blob(&base.manifest_digest)?)?;
        let mut config = parse(&self.store.read_blob(&base.id)?)?;
        let now = rfc3339_now();
        let mut entry = json!({ "created": now, "created_by": opts.created_by });
        if let Some(a) = &opts.author {
            entry["author"] = json!(a);
            config["author"] = json!(a);
        }
        if let Some(c) = &opts.comment {
            entry["comment"] = json!(c);
        }
        let mut layers = manifest["layers"].as_array().cloned().unwrap_or_default();
        match &self.layer {
            Some((digest, size)) => {
                let diff_ids = config["rootfs"]["diff_ids"]
                    .as_array_mut()
                    .ok_or_else(|| invalid("config has no rootfs.diff_ids".into()))?;
                diff_ids.push(json!(digest.to_string()));
                if let (true, Some((id, left_out))) = (self.adopt, &self.upper_of) {
                    let chain = base
                        .layers()?
                        .last()
                        .map(|l| Digest::of(format!("{} {digest}", l.chain_id).as_bytes()))
                        .unwrap_or_else(|| digest.clone());
                    self.adopt(id, left_out, &chain)?;
                }
                // A layer of the kind the base manifest's other layers are.
                let media_type = match base.manifest_media_type.as_str() {
                    media::OCI_MANIFEST => media::OCI_LAYER_TAR,
                    _ => DOCKER_LAYER_TAR,
                };
                layers.push(
                    json!({ "mediaType": media_type, "digest": digest.to_string(), "size": size }),
                );
            }
            None => entry["empty_layer"] = json!(true),
        }
        config["created"] = json!(now);
        config["config"] = Value::Object(opts.config.clone());
        match config["history"].as_array_mut() {
            Some(h) => h.push(entry),
            None => config["history"] = json!([entry]),
        }
        let config_type = manifest["config"]["mediaType"]
            .as_str()
            .unwrap_or(media::OCI_CONFIG)
            .to_string();
        let kinds = (base.manifest_media_type.as_str(), config_type.as_str());
        let image = store_image(
            self.store,
            self.staging,
            &config,
            kinds,
            layers,
            reference,
            &what,
        )?;
        Ok(image)
    }
}

/// Docker schema 2's uncompressed layer.
const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_apply_over_the_container_config() {
        let mut c = Map::new();
        c.insert("Cmd".into(), json!(["sh"]));
        c.insert("Env".into(), json!(["A=1"]));
        let out = config(c, &["ENV B=2".into(), "CMD [\"top\"]".into()]).unwrap();
        assert_eq!(out["Env"], json!(["A=1", "B=2"]));
        assert_eq!(out["Cmd"], json!(["top"]));
        assert!(matches!(
            config(Map::new(), &["RUN x".into()]),
            Err(CommitError::Change(_))
        ));
    }
}
