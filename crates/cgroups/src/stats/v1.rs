//! Stats from v1 controller files. A controller that is not mounted, or a file this kernel
//! lacks, leaves its numbers at zero.

use super::{hugepage_sizes, parse_dev, BlkioEntry, Detail, Hugetlb, MemoryEntry, Stats};
use crate::error::Result;
use crate::fs::{keyed, parse_keyed, Dir};
use crate::v1::V1;

pub(crate) fn read(v1: &V1, detail: Detail) -> Result<Stats> {
    let mut s = Stats::default();
    let full = detail == Detail::Full;
    if let Some(d) = v1.dir("cpuacct") {
        s.cpu.usage.total = num(d, "cpuacct.usage")?;
    }
    if let Some(d) = v1.dir("cpuacct").filter(|_| full) {
        let u = &mut s.cpu.usage;
        u.percpu = list(d, "cpuacct.usage_percpu")?;
        u.percpu_kernel = list(d, "cpuacct.usage_percpu_sys")?;
        u.percpu_user = list(d, "cpuacct.usage_percpu_user")?;
        // cpuacct.stat counts USER_HZ ticks.
        let stat = keyed_or_empty(d, "cpuacct.stat")?;
        let ns_per_tick = 1_000_000_000 / clock_ticks();
        u.user = keyed(&stat, "user") * ns_per_tick;
        u.kernel = keyed(&stat, "system") * ns_per_tick;
    }
    if let Some(d) = v1.dir("cpu").filter(|_| full) {
        let stat = keyed_or_empty(d, "cpu.stat")?;
        let t = &mut s.cpu.throttling;
        t.periods = keyed(&stat, "nr_periods");
        t.throttled_periods = keyed(&stat, "nr_throttled");
        t.throttled_time = keyed(&stat, "throttled_time");
    }
    if let Some(d) = v1.dir("memory") {
        let m = &mut s.memory;
        m.raw = keyed_or_empty(d, "memory.stat")?.into_iter().collect();
        m.cache = m
            .raw
            .get("total_cache")
            .or(m.raw.get("cache"))
            .copied()
            .unwrap_or(0);
        if full {
            m.usage = entry(d, "memory")?;
            m.swap = entry(d, "memory.memsw")?;
            m.kernel = entry(d, "memory.kmem")?;
            m.kernel_tcp = entry(d, "memory.kmem.tcp")?;
        } else {
            m.usage.usage = num(d, "memory.usage_in_bytes")?;
            m.usage.limit = num(d, "memory.limit_in_bytes")?;
        }
    }
    if let Some(d) = v1.dir("pids") {
        s.pids.current = num(d, "pids.current")?;
        if full {
            s.pids.limit = match num(d, "pids.max")? {
                u64::MAX => 0,
                n => n,
            };
        }
    }
    if let Some(d) = v1.dir("blkio") {
        s.blkio.io_service_bytes_recursive = blkio(d, "blkio.throttle.io_service_bytes_recursive")?;
        if full {
            s.blkio.io_serviced_recursive = blkio(d, "blkio.throttle.io_serviced_recursive")?;
        }
    }
    if !full {
        return Ok(s);
    }
    if let Some(d) = v1.dir("hugetlb") {
        for size in hugepage_sizes() {
            let h = Hugetlb {
                usage: num(d, &format!("hugetlb.{size}.usage_in_bytes"))?,
                max: num(d, &format!("hugetlb.{size}.max_usage_in_bytes"))?,
                failcnt: num(d, &format!("hugetlb.{size}.failcnt"))?,
            };
            s.hugetlb.insert(size, h);
        }
    } else if let Some(u) = &v1.unified {
        s.hugetlb = super::v2::hugetlb(u.dir())?;
    }
    Ok(s)
}

/// A number file, 0 when the file does not exist here.
pub(super) fn num(d: Dir<'_>, file: &str) -> Result<u64> {
    Ok(d.read_u64_if_there(file)?.unwrap_or(0))
}

pub(super) fn keyed_or_empty(d: Dir<'_>, file: &str) -> Result<Vec<(String, u64)>> {
    Ok(d.read_if_there(file)?
        .map(|text| parse_keyed(&text))
        .unwrap_or_default())
}

fn list(d: Dir<'_>, file: &str) -> Result<Vec<u64>> {
    Ok(d.read_if_there(file)?
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect())
}

fn entry(d: Dir<'_>, prefix: &str) -> Result<MemoryEntry> {
    Ok(MemoryEntry {
        limit: num(d, &format!("{prefix}.limit_in_bytes"))?,
        usage: num(d, &format!("{prefix}.usage_in_bytes"))?,
        max: num(d, &format!("{prefix}.max_usage_in_bytes"))?,
        failcnt: num(d, &format!("{prefix}.failcnt"))?,
    })
}

/// `8:0 Read 4096` lines; the closing `Total N` line has no device and is skipped.
fn blkio(d: Dir<'_>, file: &str) -> Result<Vec<BlkioEntry>> {
    Ok(d.read_if_there(file)?
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (major, minor) = parse_dev(f.next()?)?;
            let op = f.next()?.to_string();
            let value = f.next()?.parse().ok()?;
            Some(BlkioEntry {
                major,
                minor,
                op,
                value,
            })
        })
        .collect())
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}
