//! Capabilities the container cannot have are dropped with a warning, as runc and crun do:
//! names this build does not know (so a config written for a newer kernel still runs), and
//! capabilities the runtime cannot give (`capset` would fail with EPERM).

use berth_sys::caps;
use oci_spec::runtime::{Capabilities, Capability, Process};
use serde_json::Value;
use std::collections::BTreeSet;

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

/// Removes from every capability set of `p` what the runtime cannot give, with one warning
/// naming them: a capability this kernel lacks, or, outside a user namespace (where the
/// process holds every capability of its own namespace), one the runtime does not hold.
pub fn drop_unavailable(p: &mut Process, in_userns: bool) {
    let Some(mut sets) = p.capabilities().clone() else {
        return;
    };
    let available = available(in_userns);
    let mut dropped = BTreeSet::new();
    let mut keep = |set: &Option<Capabilities>| {
        set.as_ref().map(|s| {
            s.iter()
                .copied()
                .filter(|c| {
                    let name = c.to_string();
                    let ok = caps::from_name(&name).is_some_and(|n| available & (1 << n) != 0);
                    if !ok {
                        dropped.insert(format!("CAP_{}", name.trim_start_matches("CAP_")));
                    }
                    ok
                })
                .collect::<Capabilities>()
        })
    };
    let (b, e, i, pm, a) = (
        keep(sets.bounding()),
        keep(sets.effective()),
        keep(sets.inheritable()),
        keep(sets.permitted()),
        keep(sets.ambient()),
    );
    if dropped.is_empty() {
        return;
    }
    let names: Vec<String> = dropped.into_iter().collect();
    tracing::warn!(
        "process.capabilities: {} not available to the runtime, ignored",
        names.join(", ")
    );
    sets.set_bounding(b);
    sets.set_effective(e);
    sets.set_inheritable(i);
    sets.set_permitted(pm);
    sets.set_ambient(a);
    p.set_capabilities(Some(sets));
}

/// The capabilities the runtime can give, as a mask.
fn available(in_userns: bool) -> u64 {
    let known = u64::MAX >> (63 - caps::last_cap().min(63));
    if in_userns {
        return known;
    }
    // Without its own user namespace the process keeps the runtime's permitted set at most.
    caps::get().map_or(known, |s| known & s.permitted)
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

    #[test]
    fn in_a_user_namespace_every_known_capability_is_available() {
        let mut p: Process = serde_json::from_str(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},"capabilities":{"bounding":["CAP_KILL","CAP_SYS_ADMIN"],"ambient":[]}}"#,
        )
        .unwrap();
        let before = p.clone();
        drop_unavailable(&mut p, true);
        assert_eq!(p, before);
        assert_eq!(available(true).count_ones(), caps::last_cap() + 1);
    }
}
