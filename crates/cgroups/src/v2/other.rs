//! v2 pids, hugetlb, rdma and the `unified` map.

use std::collections::HashMap;

use oci_spec::runtime::{LinuxHugepageLimit, LinuxPids, LinuxRdma};

use crate::error::{Error, Result};
use crate::fs::Dir;
use crate::values::{page_size, pids_max, rdma_line};

pub(super) fn pids(d: Dir<'_>, p: &LinuxPids) -> Result<()> {
    d.write("pids.limit", "pids.max", &pids_max(p.limit()))
}

/// Also used for the cgroup2 side of hybrid hosts.
pub(crate) fn hugetlb(d: Dir<'_>, limits: &[LinuxHugepageLimit]) -> Result<()> {
    for l in limits {
        let size = page_size(l.page_size())?;
        let v = l.limit().to_string();
        d.write("hugepageLimits", &format!("hugetlb.{size}.max"), &v)?;
        // Reservation accounting, where the kernel has it, is what the spec prefers.
        let rsvd = format!("hugetlb.{size}.rsvd.max");
        if d.has(&rsvd) {
            d.write("hugepageLimits", &rsvd, &v)?;
        }
    }
    Ok(())
}

pub(super) fn rdma(d: Dir<'_>, limits: &HashMap<String, LinuxRdma>) -> Result<()> {
    let mut devs: Vec<_> = limits.iter().collect();
    devs.sort_by_key(|(k, _)| k.as_str());
    for (dev, l) in devs {
        d.write("rdma", "rdma.max", &rdma_line(dev, l)?)?;
    }
    Ok(())
}

/// Each key is a file of the cgroup; a multi-line value is written a line at a time, since
/// files like io.max take one entry per write.
pub(super) fn unified(d: Dir<'_>, map: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<_> = map.keys().collect();
    keys.sort();
    for key in keys {
        let ok = !key.contains('/') && !key.starts_with('.') && key.contains('.');
        if !ok {
            return Err(Error::invalid(
                "unified",
                key,
                "keys are file names like memory.high",
            ));
        }
        let value = &map[key];
        if value.contains('\n') {
            for line in value.lines().filter(|l| !l.trim().is_empty()) {
                d.write("unified", key, line)?;
            }
        } else {
            d.write("unified", key, value)?;
        }
    }
    Ok(())
}
