//! `commit`: a container's changes as a new image (see `berth_image::commit`). Its config
//! is the container's as docker makes it (the image's, with `run`'s `-e`, `-u`, `-w`,
//! `--entrypoint`, command, labels and stop signal on top) with the `-c` instructions
//! applied; those are checked before anything is made. A running container is frozen
//! (its cgroup's freezer, as `berth pause` does) while its changes are read, as docker's
//! `commit --pause` (the default) does; one already paused stays paused.

use crate::options::Settings;
use crate::{Engine, Error, Record};
use berth_image::commit::{self as image_commit, CommitOptions as ImageOptions};
use berth_image::spec::merge_env;
use berth_image::store::Image;
use berth_image::Reference;
use serde_json::{json, Map, Value};

/// The flags of `commit`.
#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    /// `REPOSITORY[:TAG]`; without it the image is named after its ID.
    pub reference: Option<String>,
    pub author: Option<String>,
    pub message: Option<String>,
    /// `-c` Dockerfile instructions.
    pub changes: Vec<String>,
    /// Freeze a running container while its changes are read.
    pub pause: bool,
}

/// Signals that would end `berth` while the container is frozen: they wait until it is
/// thawed (a SIGKILL cannot be held off, and then the container stays frozen).
const HELD: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

impl Engine {
    /// Commits container `what`; returns the new image.
    pub fn commit(&self, what: &str, o: &CommitOptions) -> Result<Image, Error> {
        let r = self.container(what)?;
        let reference = o
            .reference
            .as_deref()
            .map(Reference::parse_local)
            .transpose()
            .map_err(|e| Error::Failed {
                name: r.name.clone(),
                reason: format!("commit: {e}"),
            })?;
        let base = self.store.image(&r.image_id)?;
        let own = self.container_config(&base, &r.settings)?;
        let opts = ImageOptions {
            config: image_commit::config(own, &o.changes)?,
            author: o.author.clone(),
            comment: o.message.clone(),
            created_by: r.command.join(" "),
        };
        let changes = self.read_changes(&r, o.pause)?;
        Ok(changes.into_image(&base, &opts, reference.as_ref())?)
    }

    /// Commits stopped container `what` with the config and history entry of `opts` as
    /// they are (a build step's: not the container's own config); names the image
    /// `reference`, else after its ID. Its changes move into the store as the new layer's
    /// snapshot: the container can only be removed afterwards.
    pub fn commit_and_consume(
        &self,
        what: &str,
        opts: &ImageOptions,
        reference: Option<&Reference>,
    ) -> Result<Image, Error> {
        let r = self.container(what)?;
        let base = self.store.image(&r.image_id)?;
        let changes = self.read_changes(&r, false)?.adopting_upper();
        Ok(changes.into_image(&base, opts, reference)?)
    }

    /// Packs the container's changes, frozen if `pause` and it runs (and is not paused).
    fn read_changes(&self, r: &Record, pause: bool) -> Result<image_commit::Changes<'_>, Error> {
        let mounts = self.mount_points(r)?;
        let mut freeze = pause && self.init(&r.id)?.is_some() && !self.paused(&r.id);
        let can_pause = |id| {
            berth_container::pause::can_pause(&self.runtime, id).map_err(Error::runtime(&r.name))
        };
        if freeze && !can_pause(&r.id)? {
            // podman's rootless default: its commit does not pause either.
            tracing::warn!(
                "container {} has no cgroup to freeze (rootless, none delegated): committing it running",
                r.name
            );
            freeze = false;
        }
        if !freeze {
            return Ok(image_commit::pack_changes(&self.store, &r.id, &mounts)?);
        }
        let mask = berth_sys::signal::block(&HELD).map_err(Error::io("block signals"))?;
        let paused = berth_container::pause::pause(&self.runtime, &r.id);
        // It may have stopped since: then there is nothing to hold still.
        let paused = match paused {
            Err(_) if self.init(&r.id)?.is_none() => false,
            p => p.map(|()| true).map_err(Error::runtime(&r.name))?,
        };
        let packed = image_commit::pack_changes(&self.store, &r.id, &mounts);
        let resumed = match paused {
            true => berth_container::pause::resume(&self.runtime, &r.id)
                .map_err(Error::runtime(&r.name)),
            false => Ok(()),
        };
        berth_sys::signal::restore_mask(&mask).map_err(Error::io("restore the signal mask"))?;
        match (packed, resumed) {
            (Ok(c), Ok(())) => Ok(c),
            (Err(e), Ok(())) => Err(e.into()),
            (Ok(_), Err(e)) => Err(e),
            // The cause first, the failed cleanup beside it.
            (Err(e), Err(thaw)) => Err(Error::Failed {
                name: r.name.clone(),
                reason: format!("{e}; and thawing it failed: {thaw}"),
            }),
        }
    }

    /// The container's config in the image's terms, as docker commits it.
    fn container_config(&self, base: &Image, s: &Settings) -> Result<Map<String, Value>, Error> {
        let raw: Value = serde_json::from_slice(&self.store.read_blob(&base.id)?).map_err(|e| {
            Error::Failed {
                name: base.id.to_string(),
                reason: format!("image config: {e}"),
            }
        })?;
        let mut c = raw["config"].as_object().cloned().unwrap_or_default();
        let env: Vec<String> = c
            .get("Env")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        c.insert("Env".into(), json!(merge_env(env, &s.env)));
        if let Some(ep) = &s.entrypoint {
            let ep = if ep.is_empty() {
                Value::Null
            } else {
                json!(ep)
            };
            c.insert("Entrypoint".into(), ep);
            // `run --entrypoint` drops the image's Cmd.
            c.insert("Cmd".into(), Value::Null);
        }
        if let Some(cmd) = &s.command {
            c.insert("Cmd".into(), json!(cmd));
        }
        for (key, value) in [
            ("User", &s.user),
            ("WorkingDir", &s.workdir),
            ("StopSignal", &s.stop_signal),
        ] {
            if let Some(v) = value {
                c.insert(key.into(), json!(v));
            }
        }
        if !s.labels.is_empty() {
            let mut labels = c
                .get("Labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (k, v) in &s.labels {
                labels.insert(k.clone(), json!(v));
            }
            c.insert("Labels".into(), Value::Object(labels));
        }
        Ok(c)
    }
}
