//! Who the container's process is: groups, gid, uid and its five capability sets, switched in
//! the order that keeps the runtime able to finish (bounding set while privileged, ids with
//! KEEPCAPS so the permitted set survives, then the final sets).

use super::error::{Context, InitError};
use berth_sys::{caps, ids};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, Process};

/// The capability sets as bit masks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapMasks {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

fn mask(set: &Option<Capabilities>) -> u64 {
    set.iter()
        .flatten()
        .filter_map(|c| caps::from_name(&c.to_string()))
        .fold(0u64, |m, n| m | (1u64 << n))
}

/// The config's capabilities as masks; a missing `capabilities` object means none at all.
pub fn cap_masks(c: Option<&LinuxCapabilities>) -> CapMasks {
    let Some(c) = c else {
        return CapMasks::default();
    };
    CapMasks {
        bounding: mask(c.bounding()),
        effective: mask(c.effective()),
        permitted: mask(c.permitted()),
        inheritable: mask(c.inheritable()),
        ambient: mask(c.ambient()),
    }
}

/// What to do with the supplementary groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Groups {
    /// Set them to `additionalGids`.
    Set,
    /// Keep the runtime's own (crun's `run.oci.keep_original_groups` annotation).
    Keep,
    /// `setgroups` is denied in this user namespace: only an empty list can be honoured.
    Denied,
}

/// Switches to the process's user and capabilities, handling supplementary groups as `groups`
/// says.
pub fn switch(p: &Process, groups: Groups) -> Result<(), InitError> {
    let u = p.user();
    let masks = cap_masks(p.capabilities().as_ref());
    let last = caps::last_cap();
    caps::limit_bounding(masks.bounding, last).ctx(|| "drop capabilities from the bounding set")?;
    caps::set_keep_caps(true).ctx(|| "prctl(PR_SET_KEEPCAPS)")?;
    if groups == Groups::Set {
        let gids = u.additional_gids().clone().unwrap_or_default();
        ids::setgroups(&gids).ctx(|| format!("setgroups {gids:?}"))?;
    } else if groups == Groups::Denied
        && u.additional_gids().as_ref().is_some_and(|g| !g.is_empty())
    {
        return Err(InitError::check(
            "process.user.additionalGids",
            "cannot be set: setgroups is denied in this user namespace",
        ));
    }
    ids::setresgid(u.gid()).ctx(|| format!("setgid {}", u.gid()))?;
    ids::setresuid(u.uid()).ctx(|| format!("setuid {}", u.uid()))?;
    let sets = caps::Sets {
        effective: masks.effective,
        permitted: masks.permitted,
        inheritable: masks.inheritable,
    };
    caps::set(sets).ctx(|| "capset")?;
    // The kernel only lets a capability be ambient if it is permitted and inheritable; runc
    // and crun raise what qualifies and pass over the rest, and configs rely on that.
    let ambient = masks.ambient & masks.permitted & masks.inheritable;
    caps::set_ambient(ambient, last).ctx(|| "raise ambient capabilities")?;
    caps::set_keep_caps(false).ctx(|| "prctl(PR_SET_KEEPCAPS)")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_from_config() {
        let c: LinuxCapabilities = serde_json::from_str(
            r#"{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_KILL"],"ambient":[]}"#,
        )
        .unwrap();
        let m = cap_masks(Some(&c));
        assert_eq!(m.bounding, 1 | (1 << 5));
        assert_eq!(m.effective, 1 << 5);
        assert_eq!(m.permitted, 0);
        assert_eq!(cap_masks(None), CapMasks::default());
    }
}
