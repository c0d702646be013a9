//! `update`: runc's flags, or a resources JSON with `-r` (then the flags are ignored).

use anyhow::{bail, Context, Result};
use berth_container::Runtime;
use clap::Args;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Args, Debug, Default)]
pub struct UpdateArgs {
    /// A linux.resources JSON file to merge into the container's, or - for stdin; the
    /// other options are ignored then.
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes (suffixes k, m, g, ...; -1: none).
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit) in bytes.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit in bytes; -1: unlimited swap.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Kernel memory limit in bytes (cgroup v1 only).
    #[arg(long, allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer memory limit in bytes (cgroup v1 only).
    #[arg(long, allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long, alias = "cpu-shares")]
    pub cpu_share: Option<u64>,
    /// CFS quota in microseconds per period (-1: none).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds.
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CFS burst in microseconds.
    #[arg(long)]
    pub cpu_burst: Option<u64>,
    /// Realtime runtime in microseconds per realtime period.
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// Realtime period in microseconds.
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// SCHED_IDLE for the cgroup: 1, or 0 for the default.
    #[arg(long)]
    pub cpu_idle: Option<i64>,
    /// CPUs to use (0-3,7).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use.
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids (-1: none).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight, 10 to 1000.
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Intel RDT L3 cache schema (not supported).
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported).
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
    /// The container id.
    pub id: String,
}

pub fn run(rt: &Runtime, a: &UpdateArgs) -> Result<()> {
    let request = match &a.resources {
        Some(path) => {
            let data = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("read stdin")?
            } else {
                std::fs::read_to_string(path).with_context(|| path.display().to_string())?
            };
            serde_json::from_str(&data).context("parse the resources JSON")?
        }
        None => serde_json::from_value(from_flags(a)?)?,
    };
    berth_container::update::update(rt, &a.id, &request).with_context(|| format!("update {}", a.id))
}

/// The resources the flags set, in linux.resources' JSON shape.
fn from_flags(a: &UpdateArgs) -> Result<Value> {
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        bail!("Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported");
    }
    let mut r = json!({});
    for (key, v) in [
        ("limit", &a.memory),
        ("reservation", &a.memory_reservation),
        ("swap", &a.memory_swap),
        ("kernel", &a.kernel_memory),
        ("kernelTCP", &a.kernel_memory_tcp),
    ] {
        if let Some(v) = v {
            r["memory"][key] = json!(ram_in_bytes(v)?);
        }
    }
    let cpu: [(&str, Option<Value>); 9] = [
        ("shares", a.cpu_share.map(Value::from)),
        ("quota", a.cpu_quota.map(Value::from)),
        ("period", a.cpu_period.map(Value::from)),
        ("burst", a.cpu_burst.map(Value::from)),
        ("realtimeRuntime", a.cpu_rt_runtime.map(Value::from)),
        ("realtimePeriod", a.cpu_rt_period.map(Value::from)),
        ("idle", a.cpu_idle.map(Value::from)),
        ("cpus", a.cpuset_cpus.clone().map(Value::from)),
        ("mems", a.cpuset_mems.clone().map(Value::from)),
    ];
    for (key, v) in cpu {
        if let Some(v) = v {
            r["cpu"][key] = v;
        }
    }
    if let Some(l) = a.pids_limit {
        r["pids"]["limit"] = json!(l);
    }
    if let Some(w) = a.blkio_weight {
        r["blockIO"]["weight"] = json!(w);
    }
    Ok(r)
}

/// Bytes as runc (go-units' RAMInBytes) reads them: `-1`, or a number with an optional
/// binary unit (k, m, g, t, p; an `i` and a `b` may follow), any case: `512k`, `1.5GiB`.
fn ram_in_bytes(s: &str) -> Result<i64> {
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.trim().to_ascii_lowercase();
    let t = lower.strip_suffix('b').unwrap_or(&lower);
    let t = t.strip_suffix('i').unwrap_or(t);
    let (num, shift) = match t.chars().last() {
        Some(c @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            let shift = 10 * ("kmgtp".find(c).unwrap_or(0) as i32 + 1);
            (&t[..t.len() - 1], shift)
        }
        _ => (t, 0),
    };
    let num = num.trim_end();
    let value: f64 = Some(num)
        .filter(|n| n.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("invalid size {s:?}"))?;
    Ok((value * 2f64.powi(shift)) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_runc() {
        assert_eq!(ram_in_bytes("-1").unwrap(), -1);
        assert_eq!(ram_in_bytes("1048576").unwrap(), 1 << 20);
        assert_eq!(ram_in_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(ram_in_bytes("64M").unwrap(), 64 << 20);
        assert_eq!(ram_in_bytes("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(ram_in_bytes("512kb").unwrap(), 512 << 10);
        for bad in ["", "m", "-5", "12x", "1e3k"] {
            assert!(ram_in_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_become_resources() {
        let a = UpdateArgs {
            memory: Some("32m".into()),
            memory_swap: Some("-1".into()),
            cpu_quota: Some(-1),
            cpuset_cpus: Some("0".into()),
            pids_limit: Some(10),
            ..Default::default()
        };
        assert_eq!(
            from_flags(&a).unwrap(),
            json!({
                "memory": {"limit": 33554432, "swap": -1},
                "cpu": {"quota": -1, "cpus": "0"},
                "pids": {"limit": 10}
            })
        );
        assert!(from_flags(&UpdateArgs::default()).unwrap() == json!({}));
    }
}
