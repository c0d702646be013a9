//! Conversions of the OCI (cgroup v1 shaped) values to cgroup v2 files, as runc and crun do.

use crate::error::{Error, Result};

/// v1 `cpu.shares` [2, 262144] to v2 `cpu.weight` [1, 10000] with crun's (and runc's since
/// 1.3.2) log-quadratic curve, which keeps the defaults aligned: 2 → 1, 1024 → 100,
/// 262144 → 10000.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    10f64.powf(exponent).ceil() as u64
}

/// v1 `blkio.weight` [10, 1000] to v2 `io.weight` [1, 10000], linearly.
pub(crate) fn blkio_weight_to_io_weight(resource: &'static str, weight: u16) -> Result<u64> {
    if !(10..=1000).contains(&weight) {
        return Err(Error::invalid(
            resource,
            weight,
            "io.weight needs a blkio weight in 10..=1000",
        ));
    }
    Ok(1 + (u64::from(weight) - 10) * 9999 / 990)
}

/// OCI `memory.swap` is memory+swap; v2 `memory.swap.max` is swap alone.
/// Returns the value for memory.swap.max, `None` when nothing is to be written.
pub(crate) fn swap_to_v2(limit: Option<i64>, swap: Option<i64>) -> Result<Option<String>> {
    const R: &str = "memory.swap";
    match (limit, swap) {
        // "unlimited memory" with no swap given means unlimited swap too, as on v1.
        (Some(-1), None) => Ok(Some("max".into())),
        (_, None) => Ok(None),
        (_, Some(-1)) => Ok(Some("max".into())),
        (_, Some(s)) if s < 0 => Err(Error::invalid(R, s, "must be -1 or a byte count")),
        (Some(-1), Some(s)) => Ok(Some(s.to_string())),
        (None, Some(s)) => Err(Error::invalid(
            R,
            s,
            "cgroup v2 needs memory.limit to turn memory+swap into a swap limit",
        )),
        (Some(l), Some(s)) if s < l => Err(Error::invalid(
            R,
            s,
            "memory+swap must not be below memory.limit",
        )),
        (Some(l), Some(s)) => Ok(Some((s - l).to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_fits_min_default_max() {
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1_000_000), 10_000);
        assert_eq!(shares_to_weight(512), 59);
        assert_eq!(shares_to_weight(2048), 174);
        let mut last = 0;
        for s in (2..262_144).step_by(997) {
            let w = shares_to_weight(s);
            assert!(w >= last && (1..=10_000).contains(&w));
            last = w;
        }
    }

    #[test]
    fn blkio_weight() {
        assert_eq!(blkio_weight_to_io_weight("w", 10).unwrap(), 1);
        assert_eq!(blkio_weight_to_io_weight("w", 500).unwrap(), 4950);
        assert_eq!(blkio_weight_to_io_weight("w", 1000).unwrap(), 10_000);
        assert!(blkio_weight_to_io_weight("w", 5).is_err());
        assert!(blkio_weight_to_io_weight("w", 1001).is_err());
    }

    #[test]
    fn swap() {
        let s = |l, s| swap_to_v2(l, s);
        assert_eq!(s(Some(100), Some(300)).unwrap().as_deref(), Some("200"));
        assert_eq!(s(Some(100), Some(100)).unwrap().as_deref(), Some("0"));
        assert_eq!(s(Some(-1), None).unwrap().as_deref(), Some("max"));
        assert_eq!(s(Some(100), Some(-1)).unwrap().as_deref(), Some("max"));
        assert_eq!(s(Some(-1), Some(300)).unwrap().as_deref(), Some("300"));
        assert_eq!(s(Some(100), None).unwrap(), None);
        assert!(s(None, Some(300)).is_err());
        assert!(s(Some(300), Some(100))
            .unwrap_err()
            .to_string()
            .contains("below"));
        assert!(s(Some(300), Some(-5)).is_err());
    }
}
