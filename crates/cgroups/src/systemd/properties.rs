//! Unit properties: the OCI resources systemd has a property for, in systemd's own units,
//! and the `org.systemd.property.*` annotations passed through as runc passes them.
//!
//! The cgroup files are written afterwards by the cgroupfs code either way; the properties
//! keep systemd's view of the unit the same, so a `daemon-reload` does not undo the limits
//! and `systemctl show` tells the truth.

use oci_spec::runtime::LinuxResources;
use zbus::zvariant::Value;

use crate::convert;
use crate::error::{Error, Result};

/// systemd's "infinity" for limits.
const INFINITY: u64 = u64::MAX;

/// The annotation prefix whose keys name unit properties.
pub const ANNOTATION_PREFIX: &str = "org.systemd.property.";

/// Properties of a unit, in the order systemd is to apply them (a later one wins).
#[derive(Debug, Default)]
pub struct UnitProperties(pub(crate) Vec<(String, Value<'static>)>);

impl UnitProperties {
    fn push(&mut self, name: &str, value: impl Into<Value<'static>>) {
        self.0.push((name.to_string(), value.into()));
    }

    /// The properties for `r`: systemd's cgroup v2 names (`MemoryMax`, `CPUWeight`, ...)
    /// when `v2`, its v1 names otherwise (`MemoryLimit`, `CPUShares`, ...).
    pub(crate) fn for_resources(r: &LinuxResources, v2: bool) -> Result<UnitProperties> {
        let mut p = UnitProperties::default();
        for a in ["MemoryAccounting", "CPUAccounting", "TasksAccounting"] {
            p.push(a, true);
        }
        p.push(
            if v2 {
                "IOAccounting"
            } else {
                "BlockIOAccounting"
            },
            true,
        );
        if let Some(m) = r.memory() {
            if let Some(limit) = m.limit() {
                let max = if limit < 0 { INFINITY } else { limit as u64 };
                p.push(if v2 { "MemoryMax" } else { "MemoryLimit" }, max);
            }
            if v2 {
                match convert::swap_to_v2(m.limit(), m.swap())?.as_deref() {
                    Some("max") => p.push("MemorySwapMax", INFINITY),
                    Some(n) => p.push("MemorySwapMax", parse_u64("memory.swap", n)?),
                    None => {}
                }
                if let Some(low) = m.reservation().filter(|r| *r > 0) {
                    p.push("MemoryLow", low as u64);
                }
            }
        }
        if let Some(c) = r.cpu() {
            if let Some(shares) = c.shares().filter(|s| *s > 0) {
                match v2 {
                    true => p.push("CPUWeight", convert::shares_to_weight(shares)),
                    false => p.push("CPUShares", shares),
                }
            }
            let period = c.period().filter(|p| *p > 0).unwrap_or(100_000);
            match c.quota() {
                Some(q) if q > 0 => {
                    // systemd keeps quotas per second in steps of 10 ms; the exact value goes
                    // to cpu.max / cpu.cfs_quota_us right after.
                    let per_sec = (q as u64).saturating_mul(1_000_000) / period;
                    p.push("CPUQuotaPerSecUSec", per_sec.div_ceil(10_000) * 10_000);
                }
                Some(_) => p.push("CPUQuotaPerSecUSec", INFINITY),
                None => {}
            }
            if c.period().is_some_and(|p| p > 0) {
                p.push("CPUQuotaPeriodUSec", period);
            }
            if v2 {
                if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                    p.push("AllowedCPUs", bitmask("cpu.cpus", cpus)?);
                }
                if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                    p.push("AllowedMemoryNodes", bitmask("cpu.mems", mems)?);
                }
            }
        }
        if let Some(pids) = r.pids() {
            let max = if pids.limit() > 0 {
                pids.limit() as u64
            } else {
                INFINITY
            };
            p.push("TasksMax", max);
        }
        if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
            match v2 {
                true => p.push(
                    "IOWeight",
                    convert::blkio_weight_to_io_weight("blockIO.weight", w)?,
                ),
                false => p.push("BlockIOWeight", u64::from(w)),
            }
        }
        Ok(p)
    }

    /// The `org.systemd.property.NAME=VALUE` annotations, in key order. VALUE is GVariant
    /// text as runc reads it: `true`/`false`, a number (a bare one is a uint64), a typed
    /// number (`uint32 5`, `int64 -1`, `double 0.5`), or a quoted string. A NAME ending in
    /// `Sec` takes seconds and is passed as `NAMEUSec` in microseconds, as runc does. The
    /// properties berth sets to make the unit (`PIDs`, `Delegate`, `Slice`) are refused.
    pub fn from_annotations<'a>(
        annotations: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<UnitProperties> {
        let mut list: Vec<_> = annotations
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix(ANNOTATION_PREFIX).map(|n| (k, n, v)))
            .collect();
        list.sort();
        let mut p = UnitProperties::default();
        for (key, name, value) in list {
            let refuse = |reason| Error::Property {
                key: key.clone(),
                value: value.clone(),
                reason,
            };
            if !name.starts_with(|c: char| c.is_ascii_uppercase())
                || !name.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(refuse("not a systemd property name"));
            }
            if ["PIDs", "Delegate", "Slice"].contains(&name) {
                return Err(refuse("berth sets this property itself"));
            }
            if let Some(base) = name.strip_suffix("Sec").filter(|b| !b.ends_with('U')) {
                let secs = number_text(value)
                    .and_then(|t| t.parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| refuse("a *Sec property takes a number of seconds"))?;
                p.push(&format!("{base}USec"), (secs * 1e6).round() as u64);
                continue;
            }
            p.0.push((
                name.to_string(),
                gvariant(value).ok_or_else(|| {
                    refuse("not a value berth can pass (a boolean, a number or a quoted string)")
                })?,
            ));
        }
        Ok(p)
    }
}

/// The number in `uint64 5`, `double 0.5` or `5`.
fn number_text(value: &str) -> Option<&str> {
    let v = value.trim();
    Some(v.split_once(' ').map_or(v, |(_, n)| n.trim()))
}

fn gvariant(text: &str) -> Option<Value<'static>> {
    let t = text.trim();
    match t {
        "true" => return Some(Value::from(true)),
        "false" => return Some(Value::from(false)),
        _ => {}
    }
    for q in ['\'', '"'] {
        if let Some(inner) = t.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return Some(Value::from(inner.to_string()));
        }
    }
    let (kind, n) = t.split_once(' ').map_or(("", t), |(k, n)| (k, n.trim()));
    Some(match kind {
        "" | "uint64" => Value::from(n.parse::<u64>().ok()?),
        "int64" => Value::from(n.parse::<i64>().ok()?),
        "uint32" => Value::from(n.parse::<u32>().ok()?),
        "int32" => Value::from(n.parse::<i32>().ok()?),
        "uint16" => Value::from(n.parse::<u16>().ok()?),
        "int16" => Value::from(n.parse::<i16>().ok()?),
        "byte" => Value::from(n.parse::<u8>().ok()?),
        "double" => Value::from(n.parse::<f64>().ok()?),
        _ => return None,
    })
}

fn parse_u64(resource: &'static str, n: &str) -> Result<u64> {
    n.parse()
        .map_err(|_| Error::invalid(resource, n, "not a byte count"))
}

/// A cpuset list (`0-3,8`) as systemd's byte mask: bit i of byte i/8 for CPU or node i.
fn bitmask(resource: &'static str, list: &str) -> Result<Vec<u8>> {
    let bad = || Error::invalid(resource, list, "expected a list like 0-3,8");
    let mut mask = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
        if a > b || b >= 8192 {
            return Err(bad());
        }
        for i in a..=b {
            if mask.len() <= i / 8 {
                mask.resize(i / 8 + 1, 0);
            }
            mask[i / 8] |= 1 << (i % 8);
        }
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn names(p: &UnitProperties) -> Vec<(String, String)> {
        p.0.iter()
            .map(|(n, v)| (n.clone(), v.to_string()))
            .collect()
    }

    fn get(p: &UnitProperties, name: &str) -> Option<String> {
        p.0.iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_string())
    }

    #[test]
    fn resources_in_systemds_v2_names() {
        let r = res(
            r#"{"memory": {"limit": 67108864, "swap": 134217728, "reservation": 1048576},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-2,9"},
            "pids": {"limit": 100}, "blockIO": {"weight": 500}}"#,
        );
        let p = UnitProperties::for_resources(&r, true).unwrap();
        assert_eq!(get(&p, "MemoryMax").unwrap(), "uint64 67108864");
        assert_eq!(get(&p, "MemorySwapMax").unwrap(), "uint64 67108864");
        assert_eq!(get(&p, "MemoryLow").unwrap(), "uint64 1048576");
        assert_eq!(get(&p, "CPUWeight").unwrap(), "uint64 100");
        assert_eq!(get(&p, "CPUQuotaPerSecUSec").unwrap(), "uint64 500000");
        assert_eq!(get(&p, "CPUQuotaPeriodUSec").unwrap(), "uint64 100000");
        assert_eq!(get(&p, "AllowedCPUs").unwrap(), "[byte 0x07, 0x02]");
        assert_eq!(get(&p, "TasksMax").unwrap(), "uint64 100");
        assert_eq!(get(&p, "IOAccounting").unwrap(), "true");
        assert!(get(&p, "IOWeight").is_some());
        assert!(get(&p, "MemoryLimit").is_none());
    }

    #[test]
    fn resources_in_systemds_v1_names_and_infinity() {
        let r = res(
            r#"{"memory": {"limit": -1}, "cpu": {"shares": 512, "quota": 1000},
            "pids": {"limit": 0}, "blockIO": {"weight": 300}}"#,
        );
        let p = UnitProperties::for_resources(&r, false).unwrap();
        let max = format!("uint64 {}", u64::MAX);
        assert_eq!(get(&p, "MemoryLimit").unwrap(), max);
        assert_eq!(get(&p, "CPUShares").unwrap(), "uint64 512");
        // 1 ms per 100 ms is 10 ms a second, systemd's step.
        assert_eq!(get(&p, "CPUQuotaPerSecUSec").unwrap(), "uint64 10000");
        assert_eq!(get(&p, "TasksMax").unwrap(), max);
        assert_eq!(get(&p, "BlockIOWeight").unwrap(), "uint64 300");
        assert!(get(&p, "MemorySwapMax").is_none() && get(&p, "AllowedCPUs").is_none());
        // A swap below the limit is the same error as with the cgroupfs driver.
        let bad = res(r#"{"memory": {"limit": 100, "swap": 50}}"#);
        assert!(UnitProperties::for_resources(&bad, true).is_err());
    }

    #[test]
    fn annotations_pass_through_as_runc_reads_them() {
        let a: HashMap<String, String> = [
            ("org.systemd.property.CollectMode", "'inactive-or-failed'"),
            ("org.systemd.property.TimeoutStopSec", "uint64 5"),
            ("org.systemd.property.CPUWeight", "uint64 42"),
            ("org.systemd.property.MemoryMax", "1000000"),
            ("org.systemd.property.IOAccounting", "false"),
            ("org.systemd.property.Nice", "int32 -5"),
            ("other.annotation", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let p = UnitProperties::from_annotations(&a).unwrap();
        assert_eq!(
            names(&p),
            [
                ("CPUWeight", "uint64 42"),
                ("CollectMode", "\"inactive-or-failed\""),
                ("IOAccounting", "false"),
                ("MemoryMax", "uint64 1000000"),
                ("Nice", "-5"),
                ("TimeoutStopUSec", "uint64 5000000"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        for (k, v) in [
            ("org.systemd.property.PIDs", "1"),
            ("org.systemd.property.Delegate", "false"),
            ("org.systemd.property.lower", "1"),
            ("org.systemd.property.X", "[1, 2]"),
            ("org.systemd.property.X", "uint32 -1"),
            ("org.systemd.property.TimeoutSec", "soon"),
        ] {
            let one = HashMap::from([(k.to_string(), v.to_string())]);
            let e = UnitProperties::from_annotations(&one)
                .unwrap_err()
                .to_string();
            assert!(e.contains(k) && e.contains(v), "{e}");
        }
    }

    #[test]
    fn cpu_lists_are_byte_masks() {
        assert_eq!(bitmask("r", "0").unwrap(), [1]);
        assert_eq!(bitmask("r", "7-8").unwrap(), [0x80, 1]);
        assert_eq!(bitmask("r", "1,3").unwrap(), [0x0a]);
        for bad in ["", "a", "3-1", "1-", "99999"] {
            assert!(bitmask("r", bad).is_err(), "{bad}");
        }
    }
}
