//! Stats from cgroup v2 files, mapped onto runc's v1-shaped structure the way runc does.

use std::collections::BTreeMap;

use super::v1::{keyed_or_empty, num};
use super::{hugepage_sizes, parse_dev, BlkioEntry, Detail, Hugetlb, Stats};
use crate::error::Result;
use crate::fs::{keyed, Dir};

pub(crate) fn read(d: Dir<'_>, detail: Detail) -> Result<Stats> {
    let mut s = Stats::default();
    let full = detail == Detail::Full;
    let cpu = keyed_or_empty(d, "cpu.stat")?;
    s.cpu.usage.total = keyed(&cpu, "usage_usec") * 1000;
    s.cpu.usage.user = keyed(&cpu, "user_usec") * 1000;
    s.cpu.usage.kernel = keyed(&cpu, "system_usec") * 1000;
    s.cpu.throttling.periods = keyed(&cpu, "nr_periods");
    s.cpu.throttling.throttled_periods = keyed(&cpu, "nr_throttled");
    s.cpu.throttling.throttled_time = keyed(&cpu, "throttled_usec") * 1000;

    let m = &mut s.memory;
    m.raw = keyed_or_empty(d, "memory.stat")?.into_iter().collect();
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    m.usage.usage = num(d, "memory.current")?;
    m.usage.limit = num(d, "memory.max")?;
    s.pids.current = num(d, "pids.current")?;
    if full {
        m.usage.max = num(d, "memory.peak")?;
        m.usage.failcnt = keyed(&keyed_or_empty(d, "memory.events")?, "max");
        // v1's memsw counts memory plus swap; runc reports v2 the same way.
        if d.has("memory.swap.current") {
            m.swap.usage = num(d, "memory.swap.current")?.saturating_add(m.usage.usage);
            m.swap.limit = num(d, "memory.swap.max")?.saturating_add(m.usage.limit);
        }
        s.pids.limit = match num(d, "pids.max")? {
            u64::MAX => 0,
            n => n,
        };
    }

    let io = d.read_if_there("io.stat")?.unwrap_or_default();
    for line in io.lines() {
        let mut f = line.split_whitespace();
        let Some((major, minor)) = f.next().and_then(parse_dev) else {
            continue;
        };
        let kv: Vec<(&str, u64)> = f
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((k, v.parse().ok()?))
            })
            .collect();
        let get = |k: &str| kv.iter().find(|(x, _)| *x == k).map_or(0, |(_, v)| *v);
        let e = |op: &str, value| BlkioEntry {
            major,
            minor,
            op: op.to_string(),
            value,
        };
        s.blkio
            .io_service_bytes_recursive
            .push(e("Read", get("rbytes")));
        s.blkio
            .io_service_bytes_recursive
            .push(e("Write", get("wbytes")));
        s.blkio.io_serviced_recursive.push(e("Read", get("rios")));
        s.blkio.io_serviced_recursive.push(e("Write", get("wios")));
    }
    if full {
        s.hugetlb = hugetlb(d)?;
    }
    Ok(s)
}

/// hugetlb.<size>.current / .events; also the cgroup2 side of hybrid hosts.
pub(crate) fn hugetlb(d: Dir<'_>) -> Result<BTreeMap<String, Hugetlb>> {
    let mut out = BTreeMap::new();
    for size in hugepage_sizes() {
        let current = format!("hugetlb.{size}.current");
        if !d.has(&current) {
            continue;
        }
        let h = Hugetlb {
            usage: num(d, &current)?,
            max: 0,
            failcnt: keyed(
                &keyed_or_empty(d, &format!("hugetlb.{size}.events"))?,
                "max",
            ),
        };
        out.insert(size, h);
    }
    Ok(out)
}
