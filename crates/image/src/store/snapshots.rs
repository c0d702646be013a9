//! Snapshots: each layer unpacked once, into `snapshots/<chain ID>`, used as an
//! overlayfs lower directory. The chain ID names the whole stack below, so the same
//! diff on another base gets its own snapshot (its whiteouts mean something else there).

use std::path::PathBuf;

use super::Store;
use crate::digest::Digest;

/// Chain IDs for a stack of diff IDs (bottom first): the first is the diff ID itself,
/// each next one is sha256("<parent chain ID> <diff ID>").
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => Digest::of(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

impl Store {
    /// Directory of the snapshot for this chain ID.
    pub fn snapshot_path(&self, chain: &Digest) -> PathBuf {
        self.dir.join("snapshots").join(chain.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_definition() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let ch = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ch[0], a);
        assert_eq!(ch[1], Digest::of(format!("{a} {b}").as_bytes()));
    }
}
