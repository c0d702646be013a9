//! v1 memory controller.

use oci_spec::runtime::LinuxMemory;

use super::V1;
use crate::error::{Error, Result};
use crate::fs::Dir;
use crate::values::{bytes_or_max, check_before_update};

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW: &str = "memory.memsw.limit_in_bytes";

pub(super) fn apply(v1: &V1, m: &LinuxMemory, update: bool) -> Result<()> {
    if *m == LinuxMemory::default() {
        return Ok(());
    }
    let d = v1.need("memory", "memory")?;
    if let (true, Some(true), Some(limit)) = (update, m.check_before_update(), m.limit()) {
        check_before_update(d, "memory.usage_in_bytes", limit)?;
    }
    limit_and_swap(d, m.limit(), m.swap())?;
    if let Some(r) = m.reservation() {
        let v = bytes_or_max("memory.reservation", r, "-1")?;
        d.write("memory.reservation", "memory.soft_limit_in_bytes", &v)?;
    }
    #[allow(deprecated)] // kernel memory limits: still applied where the kernel has the file
    if let Some(k) = m.kernel() {
        let v = bytes_or_max("memory.kernel", k, "-1")?;
        d.write("memory.kernel", "memory.kmem.limit_in_bytes", &v)?;
    }
    if let Some(k) = m.kernel_tcp() {
        let v = bytes_or_max("memory.kernelTCP", k, "-1")?;
        d.write("memory.kernelTCP", "memory.kmem.tcp.limit_in_bytes", &v)?;
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(Error::invalid("memory.swappiness", s, "must be 0..=100"));
        }
        d.write("memory.swappiness", "memory.swappiness", &s.to_string())?;
    }
    if let Some(off) = m.disable_oom_killer() {
        d.write(
            "memory.disableOOMKiller",
            "memory.oom_control",
            if off { "1" } else { "0" },
        )?;
    }
    if let Some(h) = m.use_hierarchy() {
        d.write(
            "memory.useHierarchy",
            "memory.use_hierarchy",
            if h { "1" } else { "0" },
        )?;
    }
    Ok(())
}

/// The kernel keeps memory.limit <= memory.memsw.limit at every step, so when both change
/// the order depends on whether memsw grows.
fn limit_and_swap(d: Dir<'_>, limit: Option<i64>, swap: Option<i64>) -> Result<()> {
    let limit = limit
        .map(|l| bytes_or_max("memory.limit", l, "-1"))
        .transpose()?;
    let swap = match (limit.as_deref(), swap) {
        // "unlimited memory" with swap unset means unlimited swap too, where swap is accounted.
        (Some("-1"), None) if d.has(MEMSW) => Some("-1".to_string()),
        (_, s) => s
            .map(|s| bytes_or_max("memory.swap", s, "-1"))
            .transpose()?,
    };
    match (limit, swap) {
        (Some(l), Some(s)) => {
            if !d.has(MEMSW) {
                return Err(Error::Missing {
                    resource: "memory.swap",
                    path: d.file(MEMSW),
                });
            }
            let grows = s == "-1" || {
                let current = d.read_u64(MEMSW)?;
                s.parse::<u64>().is_ok_and(|v| v > current)
            };
            if grows {
                d.write("memory.swap", MEMSW, &s)?;
                d.write("memory.limit", LIMIT, &l)
            } else {
                d.write("memory.limit", LIMIT, &l)?;
                d.write("memory.swap", MEMSW, &s)
            }
        }
        (Some(l), None) => d.write("memory.limit", LIMIT, &l),
        (None, Some(s)) => d.write("memory.swap", MEMSW, &s),
        (None, None) => Ok(()),
    }
}
