//! v1 cpu and cpuset controllers.

use oci_spec::runtime::LinuxCpu;

use super::V1;
use crate::error::{Error, Result};
use crate::values::quota;

pub(super) fn apply(v1: &V1, c: &LinuxCpu) -> Result<()> {
    // Shares of 0 is how Docker and runc spell "unset".
    let shares = c.shares().filter(|&s| s != 0);
    let cfs = shares.is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.burst().is_some()
        || c.idle().is_some()
        || c.realtime_runtime().is_some()
        || c.realtime_period().is_some();
    if cfs {
        let d = v1.need("cpu", "cpu")?;
        if let Some(s) = shares {
            if !(2..=262_144).contains(&s) {
                return Err(Error::invalid("cpu.shares", s, "must be 2..=262144"));
            }
            d.write("cpu.shares", "cpu.shares", &s.to_string())?;
        }
        let q = c.quota().map(|q| quota(q, "-1")).transpose()?;
        match (c.period(), q) {
            (Some(p), q) => {
                // A shorter period can be refused while the old quota/period ratio would
                // exceed the parent's; with a quota coming, set that first and retry.
                match (
                    d.write("cpu.period", "cpu.cfs_period_us", &p.to_string()),
                    &q,
                ) {
                    (Err(e), Some(q)) if e.raw_os_error() == Some(libc::EINVAL) => {
                        d.write("cpu.quota", "cpu.cfs_quota_us", q)?;
                        d.write("cpu.period", "cpu.cfs_period_us", &p.to_string())?;
                    }
                    (Err(e), _) => return Err(e),
                    (Ok(()), Some(q)) => d.write("cpu.quota", "cpu.cfs_quota_us", q)?,
                    (Ok(()), None) => {}
                }
            }
            (None, Some(q)) => d.write("cpu.quota", "cpu.cfs_quota_us", &q)?,
            (None, None) => {}
        }
        if let Some(b) = c.burst() {
            d.write("cpu.burst", "cpu.cfs_burst_us", &b.to_string())?;
        }
        if let Some(i) = c.idle() {
            d.write("cpu.idle", "cpu.idle", &i.to_string())?;
        }
        if let Some(p) = c.realtime_period() {
            d.write("cpu.realtimePeriod", "cpu.rt_period_us", &p.to_string())?;
        }
        if let Some(r) = c.realtime_runtime() {
            d.write("cpu.realtimeRuntime", "cpu.rt_runtime_us", &r.to_string())?;
        }
    }
    if let Some(cpus) = c.cpus() {
        v1.need("cpu.cpus", "cpuset")?
            .write("cpu.cpus", "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems() {
        v1.need("cpu.mems", "cpuset")?
            .write("cpu.mems", "cpuset.mems", mems)?;
    }
    Ok(())
}
