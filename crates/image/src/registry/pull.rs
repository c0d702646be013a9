//! `pull`: resolve a reference to one platform's manifest, then fetch the config and
//! the layers in parallel, each streamed through verification into its snapshot.
//!
//! Downloads run `parallel` at once, but unpacking is bounded by the cores: each unpack
//! already keeps two threads busy (decompression, file creation), and more unpackers
//! than that only race for the file system's inode allocator (on journal-less ext4 each
//! new inode scans the recently deleted ones; four unpackers made pulls 2-4x slower).
//! A layer that finds no free unpack slot is downloaded to its blob first and unpacked
//! from there when a slot frees up.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};

use super::reader::BlobReader;
use super::{Client, Platform, RegistryConfig, RegistryError};
use crate::digest::Digest;
use crate::layer::{ingest, Needs};
use crate::media;
use crate::progress::Progress;
use crate::reference::Reference;
use crate::store::{layers_of, Image, Layer, Staging, Store, StoreError};

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The platform to pick from multi-platform images.
    pub platform: Platform,
    /// Registry settings and credentials location.
    pub config: RegistryConfig,
    /// Layers fetched at once.
    pub parallel: usize,
}

fn protocol(what: &str, why: impl ToString) -> RegistryError {
    RegistryError::Protocol {
        what: what.to_string(),
        why: why.to_string(),
    }
}

fn verify(bytes: &[u8], expected: &Digest, what: &str) -> Result<(), RegistryError> {
    let actual = Digest::of(bytes);
    if actual != *expected {
        return Err(StoreError::DigestMismatch {
            what: what.to_string(),
            expected: expected.clone(),
            actual,
        }
        .into());
    }
    Ok(())
}

/// Pulls `reference` into `store` and names it there; returns the stored image.
pub fn pull(
    store: &Store,
    reference: &Reference,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Image, RegistryError> {
    let creds = opts.config.credentials_for(reference.registry())?;
    let client = Client::new(reference.registry(), &opts.config, creds)?;
    let full = reference.to_string();
    let repo = reference.repository();
    let (bytes, media_type) = resolve_manifest(&client, reference, &opts.platform)?;
    let manifest_digest = Digest::of(&bytes);
    let manifest: ImageManifest = serde_json::from_slice(&bytes)
        .map_err(|e| protocol(&format!("{full}: manifest {manifest_digest}"), e))?;
    let config_digest = Digest::try_from(manifest.config().digest()).map_err(StoreError::from)?;
    progress.message(&format!("{full}: manifest {manifest_digest}"));

    let _lock = store.content_lock()?;
    let staging = Staging::new(store)?;
    let config_bytes = if store.has_blob(&config_digest) {
        store.read_blob(&config_digest)?
    } else {
        let b = client.blob_bytes(repo, &config_digest.to_string())?;
        verify(&b, &config_digest, &format!("{full}: config"))?;
        staging.add_blob(&b)?;
        b
    };
    let config: ImageConfiguration = serde_json::from_slice(&config_bytes)
        .map_err(|e| protocol(&format!("{full}: config {config_digest}"), e))?;
    let (os, arch) = (config.os().to_string(), config.architecture().to_string());
    if !opts
        .platform
        .matches(&os, &arch, config.variant().as_deref())
    {
        return Err(RegistryError::NoPlatform {
            reference: full,
            platform: opts.platform.to_string(),
            available: format!("{os}/{arch}"),
        });
    }
    let layers = layers_of(&manifest, &config, &full)?;
    fetch_layers(
        &client,
        repo,
        &staging,
        &layers,
        opts.parallel.max(1),
        progress,
    )?;
    staging.add_blob(&bytes)?;
    staging.commit()?;
    store.set_name(reference, &manifest_digest, &media_type, bytes.len() as u64)?;
    Ok(store.image_by_manifest(&manifest_digest)?)
}

/// Fetches the manifest the reference names; for an index, the one for `platform`.
fn resolve_manifest(
    client: &Client,
    reference: &Reference,
    platform: &Platform,
) -> Result<(Vec<u8>, String), RegistryError> {
    let full = reference.to_string();
    let repo = reference.repository();
    let (bytes, media_type) = client.manifest(repo, &reference.manifest_ref(), &full)?;
    if let Some(d) = reference.digest() {
        verify(&bytes, d, &format!("{full}: manifest"))?;
    }
    if !media::is_index(&media_type) {
        return Ok((bytes, media_type));
    }
    let index: ImageIndex =
        serde_json::from_slice(&bytes).map_err(|e| protocol(&format!("{full}: index"), e))?;
    let mut available = Vec::new();
    let chosen = index.manifests().iter().find(|m| {
        let Some(p) = m.platform() else { return false };
        available.push(format!("{}/{}", p.os(), p.architecture()));
        platform.matches(
            &p.os().to_string(),
            &p.architecture().to_string(),
            p.variant().as_deref(),
        )
    });
    let Some(desc) = chosen else {
        return Err(RegistryError::NoPlatform {
            reference: full,
            platform: platform.to_string(),
            available: available.join(", "),
        });
    };
    let digest = Digest::try_from(desc.digest()).map_err(StoreError::from)?;
    let (bytes, media_type) = client.manifest(repo, &digest.to_string(), &full)?;
    verify(&bytes, &digest, &format!("{full}: manifest for {platform}"))?;
    Ok((bytes, media_type))
}

/// Runs `parallel` workers over the layers; the first failure stops new work and is
/// returned (lowest layer first, for a stable message).
fn fetch_layers(
    client: &Client,
    repo: &str,
    staging: &Staging<'_>,
    layers: &[Layer],
    parallel: usize,
    progress: &dyn Progress,
) -> Result<(), RegistryError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots =
        UnpackSlots::new(std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)));
    let errors: Mutex<Vec<(usize, RegistryError)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..parallel.min(layers.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= layers.len() || failed.load(Ordering::SeqCst) {
                    break;
                }
                if let Err(e) = fetch_layer(client, repo, staging, &layers[i], &slots, progress) {
                    failed.store(true, Ordering::SeqCst);
                    if let Ok(mut v) = errors.lock() {
                        v.push((i, e));
                    }
                }
            });
        }
    });
    let mut errors = errors.into_inner().unwrap_or_default();
    errors.sort_by_key(|(i, _)| *i);
    match errors.into_iter().next() {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

fn fetch_layer(
    client: &Client,
    repo: &str,
    staging: &Staging<'_>,
    layer: &Layer,
    slots: &UnpackSlots,
    progress: &dyn Progress,
) -> Result<(), RegistryError> {
    let id = layer.blob.short().to_string();
    let needs = Needs::of(staging, layer);
    if needs.none() {
        progress.finish(&id, "already present");
        return Ok(());
    }
    let download = || {
        progress.begin(&id, "layer", layer.size);
        BlobReader::new(
            client,
            repo,
            layer.blob.to_string(),
            layer.size,
            progress,
            id.clone(),
        )
    };
    if !needs.snapshot {
        ingest(staging, layer, &needs, download())?;
    } else if !needs.blob {
        let _slot = slots.take();
        unpack_stored(staging, layer)?;
    } else if let Some(_slot) = slots.try_take() {
        ingest(staging, layer, &needs, download())?;
    } else {
        let blob_only = Needs {
            blob: true,
            snapshot: false,
        };
        ingest(staging, layer, &blob_only, download())?;
        let _slot = slots.take();
        unpack_stored(staging, layer)?;
    }
    progress.finish(&id, "done");
    Ok(())
}

/// Unpacks a layer whose blob is already staged or stored.
fn unpack_stored(staging: &Staging<'_>, layer: &Layer) -> Result<(), RegistryError> {
    let p = staging.blob_path(&layer.blob);
    let f = std::fs::File::open(&p).map_err(|e| StoreError::Io {
        op: "open blob",
        path: p,
        source: e,
    })?;
    let unpack_only = Needs {
        blob: false,
        snapshot: true,
    };
    Ok(ingest(staging, layer, &unpack_only, f)?)
}

/// A counting semaphore for unpackers.
struct UnpackSlots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// Gives its slot back when dropped, also on an error return.
struct SlotGuard<'a>(&'a UnpackSlots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut free) = self.0.free.lock() {
            *free += 1;
        }
        self.0.freed.notify_one();
    }
}

impl UnpackSlots {
    fn new(n: usize) -> UnpackSlots {
        UnpackSlots {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    /// Takes a slot if one is free now.
    fn try_take(&self) -> Option<SlotGuard<'_>> {
        match self.free.lock() {
            Ok(mut free) if *free > 0 => {
                *free -= 1;
                Some(SlotGuard(self))
            }
            Ok(_) => None,
            // A poisoned lock means a worker panicked; unpack rather than wait forever.
            Err(_) => Some(SlotGuard(self)),
        }
    }

    /// Waits for a free slot.
    fn take(&self) -> SlotGuard<'_> {
        if let Ok(mut free) = self.free.lock() {
            while *free == 0 {
                match self.freed.wait(free) {
                    Ok(f) => free = f,
                    Err(_) => return SlotGuard(self),
                }
            }
            *free -= 1;
        }
        SlotGuard(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpack_slots_bound_the_unpackers_and_come_back_on_drop() {
        let slots = UnpackSlots::new(1);
        let first = slots.try_take();
        assert!(first.is_some());
        assert!(slots.try_take().is_none());
        drop(first);
        let again = slots.take();
        assert!(slots.try_take().is_none());
        // A waiter wakes when the holder finishes.
        std::thread::scope(|s| {
            let waiter = s.spawn(|| drop(slots.take()));
            std::thread::sleep(std::time::Duration::from_millis(20));
            drop(again);
            waiter.join().unwrap();
        });
        assert!(slots.try_take().is_some());
    }
}
