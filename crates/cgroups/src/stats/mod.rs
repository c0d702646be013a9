//! Resource usage in the shape of runc's `events --stats` JSON (`data` of a `stats` event),
//! without network interfaces, Intel RDT and PSI.

mod v1;
mod v2;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub(crate) use v1::read as read_v1;
pub(crate) use v2::read as read_v2;

/// How much of a cgroup's stats to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Everything runc's `events --stats` reports.
    Full,
    /// What `berth stats` shows: total CPU time, memory use and limit with memory.stat,
    /// block I/O bytes and tasks. A third of the files: a `stats` of many containers spends
    /// its time looking up cgroup files.
    Summary,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// All stats of a container's cgroup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: Cpu,
    /// Memory usage and limits.
    pub memory: Memory,
    /// Task count and limit.
    pub pids: Pids,
    /// Block I/O counters.
    pub blkio: Blkio,
    /// Per hugepage size (`2MB`, `1GB`, ...).
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

/// CPU stats.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// Usage in nanoseconds.
    pub usage: CpuUsage,
    /// CFS bandwidth throttling.
    pub throttling: Throttling,
}

/// CPU time, nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Total.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Per CPU (v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Per CPU in kernel mode (v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// Per CPU in user mode (v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    /// In kernel mode.
    pub kernel: u64,
    /// In user mode.
    pub user: u64,
}

/// CFS bandwidth throttling counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    /// Enforcement periods that have elapsed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Total time throttled, nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// Memory stats.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// Page cache bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory+swap (as v1 counts it; v2's swap plus memory).
    pub swap: MemoryEntry,
    /// Kernel memory (v1 only).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1 only).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat as it stands.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// One memory counter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEntry {
    /// Limit in bytes (`u64::MAX` for none).
    pub limit: u64,
    /// Current usage.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// Task stats.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pids {
    /// Tasks now.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: u64,
    /// Limit (0 for none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// Block I/O counters, recursive over the cgroup's tree.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    /// Bytes per device and operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// I/O requests per device and operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// One block I/O counter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    /// Device major.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub major: u64,
    /// Device minor.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard` or `Total`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// The count.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// One hugepage size's stats.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hugetlb {
    /// Bytes in use.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak (v1) bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// Hugepage sizes the kernel offers, named as cgroup files name them (`2MB`, `1GB`).
pub(crate) fn hugepage_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(Path::new("/sys/kernel/mm/hugepages")) else {
        return Vec::new();
    };
    let mut sizes: Vec<String> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(match kb {
                kb if kb >= 1 << 20 && kb % (1 << 20) == 0 => format!("{}GB", kb >> 20),
                kb if kb >= 1 << 10 && kb % (1 << 10) == 0 => format!("{}MB", kb >> 10),
                kb => format!("{kb}KB"),
            })
        })
        .collect();
    sizes.sort();
    sizes
}

/// `maj:min key=value ...` or `maj:min Op value` lines: the device numbers.
fn parse_dev(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_matches_runc() {
        let mut s = Stats::default();
        s.cpu.usage.total = 5;
        s.cpu.throttling.throttled_periods = 2;
        s.memory.kernel_tcp.limit = 7;
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["cpu"]["usage"]["total"], 5);
        assert_eq!(v["cpu"]["usage"]["kernel"], 0);
        assert_eq!(v["cpu"]["throttling"]["throttledPeriods"], 2);
        assert!(v["cpu"]["throttling"].get("periods").is_none());
        assert_eq!(v["memory"]["kernelTCP"]["limit"], 7);
        assert_eq!(v["memory"]["usage"]["failcnt"], 0);
        assert!(v["pids"].as_object().unwrap().is_empty());
        let back: Stats = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }
}
