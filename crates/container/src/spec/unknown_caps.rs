//! Capability names this build does not know are dropped with a warning, as runc and crun do,
//! so a config written for a newer kernel still runs.

use oci_spec::runtime::Capability;
use serde_json::Value;

/// Removes the unknown names from every set of `process.capabilities`; returns the config
/// again, or `None` if there was nothing to remove.
pub(super) fn drop_unknown(data: &[u8]) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(data).ok()?;
    let sets = v.pointer_mut("/process/capabilities")?.as_object_mut()?;
    let mut dropped = false;
    for (set, names) in sets.iter_mut() {
        let Some(names) = names.as_array_mut() else {
            continue;
        };
        names.retain(|n| {
            let known = serde_json::from_value::<Capability>(n.clone()).is_ok();
            if !known {
                tracing::warn!("process.capabilities.{set}: unknown capability {n}, ignored");
                dropped = true;
            }
            known
        });
    }
    dropped.then(|| serde_json::to_vec(&v).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_go_known_ones_stay() {
        let c =
            br#"{"process":{"capabilities":{"bounding":["CAP_KILL","CAP_UNKNOWN"],"ambient":[]}}}"#;
        let out: Value = serde_json::from_slice(&drop_unknown(c).unwrap()).unwrap();
        assert_eq!(
            out["process"]["capabilities"]["bounding"],
            serde_json::json!(["CAP_KILL"])
        );
        assert!(
            drop_unknown(br#"{"process":{"capabilities":{"bounding":["CAP_KILL"]}}}"#).is_none()
        );
    }
}
