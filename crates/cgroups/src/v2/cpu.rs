//! v2 cpu and cpuset controllers.

use oci_spec::runtime::LinuxCpu;

use crate::convert::shares_to_weight;
use crate::error::{Error, Result};
use crate::fs::Dir;
use crate::values::quota;

pub(super) fn apply(d: Dir<'_>, c: &LinuxCpu) -> Result<()> {
    if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
        return Err(Error::Unsupported {
            resource: "cpu.realtimeRuntime",
            reason: "the cgroup v2 cpu controller has no realtime bandwidth",
        });
    }
    // Shares of 0 is how Docker and runc spell "unset".
    if let Some(s) = c.shares().filter(|&s| s != 0) {
        d.write("cpu.shares", "cpu.weight", &shares_to_weight(s).to_string())?;
    }
    let q = c.quota().map(|q| quota(q, "max")).transpose()?;
    let max = match (q, c.period()) {
        (Some(q), Some(p)) => Some(format!("{q} {p}")),
        // cpu.max takes the quota alone and keeps the period.
        (Some(q), None) => Some(q),
        // The period alone needs the current quota beside it.
        (None, Some(p)) => {
            let cur = d.read("cpu.max")?;
            let q = cur.split_whitespace().next().unwrap_or("max").to_string();
            Some(format!("{q} {p}"))
        }
        (None, None) => None,
    };
    if let Some(v) = max {
        d.write("cpu.quota", "cpu.max", &v)?;
    }
    if let Some(b) = c.burst() {
        d.write("cpu.burst", "cpu.max.burst", &b.to_string())?;
    }
    if let Some(i) = c.idle() {
        d.write("cpu.idle", "cpu.idle", &i.to_string())?;
    }
    if let Some(cpus) = c.cpus() {
        d.write("cpu.cpus", "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems() {
        d.write("cpu.mems", "cpuset.mems", mems)?;
    }
    Ok(())
}
