//! v2 memory controller.

use oci_spec::runtime::LinuxMemory;

use crate::convert::swap_to_v2;
use crate::error::{Error, Result};
use crate::fs::Dir;
use crate::values::{bytes_or_max, check_before_update};

pub(super) fn apply(d: Dir<'_>, m: &LinuxMemory, update: bool) -> Result<()> {
    #[allow(deprecated)] // v2 has no separate kernel memory limit at all
    let kernel = m.kernel();
    if kernel.is_some() || m.kernel_tcp().is_some() {
        return Err(Error::Unsupported {
            resource: "memory.kernel",
            reason: "cgroup v2 has no separate kernel memory limits (kernel, kernelTCP)",
        });
    }
    if m.swappiness().is_some() {
        return Err(Error::Unsupported {
            resource: "memory.swappiness",
            reason: "cgroup v2 has no per-cgroup swappiness",
        });
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(Error::Unsupported {
            resource: "memory.disableOOMKiller",
            reason: "cgroup v2 cannot disable the OOM killer",
        });
    }
    if m.use_hierarchy() == Some(false) {
        return Err(Error::Unsupported {
            resource: "memory.useHierarchy",
            reason: "cgroup v2 accounting is always hierarchical",
        });
    }
    if let (true, Some(true), Some(limit)) = (update, m.check_before_update(), m.limit()) {
        check_before_update(d, "memory.current", limit)?;
    }
    let swap = swap_to_v2(m.limit(), m.swap())?;
    if let Some(l) = m.limit() {
        d.write(
            "memory.limit",
            "memory.max",
            &bytes_or_max("memory.limit", l, "max")?,
        )?;
    }
    if let Some(s) = swap {
        d.write("memory.swap", "memory.swap.max", &s)?;
    }
    if let Some(r) = m.reservation() {
        let v = bytes_or_max("memory.reservation", r, "max")?;
        d.write("memory.reservation", "memory.low", &v)?;
    }
    Ok(())
}
