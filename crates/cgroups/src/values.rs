//! Value formats shared by the v1 and v2 drivers.

use oci_spec::runtime::LinuxRdma;

use crate::error::{Error, Result};
use crate::fs::Dir;

/// A byte value where -1 means "no limit", spelt `unlimited` in the file's own words.
pub(crate) fn bytes_or_max(resource: &'static str, v: i64, unlimited: &str) -> Result<String> {
    match v {
        -1 => Ok(unlimited.to_string()),
        v if v < 0 => Err(Error::invalid(resource, v, "must be -1 or a byte count")),
        v => Ok(v.to_string()),
    }
}

/// `pids.max`: a positive count, or "max" for 0/-1 (the spec's "no limit"; a literal 0
/// would leave the container unable to fork anything at all).
pub(crate) fn pids_max(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_string()
    }
}

/// CFS quota: -1 is "no limit".
pub(crate) fn quota(v: i64, unlimited: &str) -> Result<String> {
    match v {
        -1 => Ok(unlimited.to_string()),
        v if v <= 0 => Err(Error::invalid(
            "cpu.quota",
            v,
            "must be -1 or a positive count of microseconds",
        )),
        v => Ok(v.to_string()),
    }
}

/// `major:minor` of a block device from the spec's int64 fields.
pub(crate) fn dev(resource: &'static str, major: i64, minor: i64) -> Result<String> {
    if major < 0 || minor < 0 {
        return Err(Error::invalid(
            resource,
            format!("{major}:{minor}"),
            "device numbers must not be negative",
        ));
    }
    Ok(format!("{major}:{minor}"))
}

/// Checks a hugepage size such as `2MB` or `1GB` (the part of the file names between dots).
pub(crate) fn page_size(size: &str) -> Result<&str> {
    let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &size[digits.len()..];
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && ["KB", "MB", "GB"].contains(&unit);
    if ok {
        Ok(size)
    } else {
        Err(Error::invalid(
            "hugepageLimits",
            size,
            "page size is <number>KB, MB or GB",
        ))
    }
}

/// A line for `rdma.max`: `mlx5_1 hca_handle=3 hca_object=10000`.
pub(crate) fn rdma_line(device: &str, l: &LinuxRdma) -> Result<String> {
    if device.is_empty() || device.contains(char::is_whitespace) {
        return Err(Error::invalid("rdma", device, "not a device name"));
    }
    let mut line = device.to_string();
    if let Some(h) = l.hca_handles() {
        line.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = l.hca_objects() {
        line.push_str(&format!(" hca_object={o}"));
    }
    if l.hca_handles().is_none() && l.hca_objects().is_none() {
        return Err(Error::invalid(
            "rdma",
            device,
            "needs hcaHandles or hcaObjects",
        ));
    }
    Ok(line)
}

/// checkBeforeUpdate: refuse a memory limit below the current usage.
pub(crate) fn check_before_update(d: Dir<'_>, usage_file: &str, limit: i64) -> Result<()> {
    if limit < 0 {
        return Ok(());
    }
    let usage = d.read_u64(usage_file)?;
    if (limit as u64) < usage {
        return Err(Error::Invalid {
            resource: "memory.limit",
            value: limit.to_string(),
            reason: "below the current usage and checkBeforeUpdate is set",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxRdmaBuilder;

    #[test]
    fn formats() {
        assert_eq!(bytes_or_max("m", -1, "max").unwrap(), "max");
        assert_eq!(bytes_or_max("m", 4096, "-1").unwrap(), "4096");
        assert!(bytes_or_max("m", -2, "max").is_err());
        assert_eq!(pids_max(10), "10");
        assert_eq!(pids_max(0), "max");
        assert_eq!(pids_max(-1), "max");
        assert_eq!(quota(-1, "max").unwrap(), "max");
        assert!(quota(0, "max").is_err());
        assert_eq!(dev("b", 8, 16).unwrap(), "8:16");
        assert!(dev("b", -8, 16).is_err());
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size("2MB").unwrap(), "2MB");
        assert_eq!(page_size("64KB").unwrap(), "64KB");
        for bad in ["2M", "MB", "2 MB", "../x", "2mb", ""] {
            assert!(page_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rdma() {
        let l = LinuxRdmaBuilder::default()
            .hca_handles(3u32)
            .build()
            .unwrap();
        assert_eq!(rdma_line("mlx5_1", &l).unwrap(), "mlx5_1 hca_handle=3");
        assert!(rdma_line("mlx5_1", &LinuxRdma::default()).is_err());
        assert!(rdma_line("a b", &l).is_err());
    }
}
