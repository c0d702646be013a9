//! The build cache: every step's image named after what made it, in the store's own
//! index, so the store's locking, `gc` and `rmi` rules apply to it as to any image.

use berth_image::digest::Digest;
use berth_image::reference::Reference;
use berth_image::store::{Store, StoreError};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// The repository the cached steps are named in (`berth images` shows them with `-a`).
pub const CACHE_REPOSITORY: &str = "localhost/berth-build-cache";

/// A step's key: its parent image, the instruction as it ran (`created_by`, variables
/// expanded), the config it leaves, and what it copied (`content`).
pub(crate) fn key(
    parent: &Digest,
    created_by: &str,
    config: &Map<String, Value>,
    content: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        parent.to_string().as_bytes(),
        created_by.as_bytes(),
        Value::Object(config.clone()).to_string().as_bytes(),
        content.as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The name a step's image has in the store.
pub(crate) fn reference(key: &str) -> Result<Reference, String> {
    Reference::parse(&format!("{CACHE_REPOSITORY}:{key}")).map_err(|e| e.to_string())
}

/// Drops every cached step's name and the cache mounts under `root` (`builder prune`);
/// returns how many steps. The caller's `gc` then removes what no other image uses.
pub fn prune(store: &Store, root: &std::path::Path) -> Result<usize, StoreError> {
    let caches = root.join("build-mounts/cache");
    match std::fs::remove_dir_all(&caches) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(StoreError::Io {
                op: "remove",
                path: caches,
                source: e,
            })
        }
        _ => {}
    }
    let cached: Vec<Reference> = store
        .records()?
        .into_iter()
        .map(|r| r.reference)
        .filter(|r| r.name() == CACHE_REPOSITORY)
        .collect();
    Ok(store.remove_names(&cached)?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_every_part() {
        let d: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let e: Digest = format!("sha256:{}", "b".repeat(64)).parse().unwrap();
        let c = Map::new();
        let k = key(&d, "RUN x", &c, "");
        assert_eq!(k.len(), 64);
        assert_eq!(k, key(&d, "RUN x", &c, ""));
        assert_ne!(k, key(&e, "RUN x", &c, ""));
        assert_ne!(k, key(&d, "RUN y", &c, ""));
        assert_ne!(k, key(&d, "RUN x", &c, "files"));
        // Parts are length-prefixed: moving a boundary changes the key.
        assert_ne!(key(&d, "ab", &c, "c"), key(&d, "a", &c, "bc"));
        assert_eq!(
            reference(&k).unwrap().to_string(),
            format!("{CACHE_REPOSITORY}:{k}")
        );
    }
}
