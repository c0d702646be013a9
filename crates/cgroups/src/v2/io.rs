//! v2 io controller. Weights go to BFQ's io.bfq.weight unchanged when it exists, else to
//! io.weight converted from the v1 range, as crun does.

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use crate::convert::blkio_weight_to_io_weight;
use crate::error::{Error, Result};
use crate::fs::Dir;
use crate::values::dev;

const BFQ: &str = "io.bfq.weight";

pub(super) fn apply(d: Dir<'_>, b: &LinuxBlockIo) -> Result<()> {
    // A weight of 0 is how Docker and runc spell "unset".
    let leaf = b.leaf_weight().is_some_and(|w| w != 0)
        || b.weight_device()
            .iter()
            .flatten()
            .any(|w| w.leaf_weight().is_some());
    if leaf {
        return Err(Error::Unsupported {
            resource: "blockIO.leafWeight",
            reason: "cgroup v2 has no leaf weights",
        });
    }
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        weight(d, "blockIO.weight", None, w)?;
    }
    for wd in b.weight_device().iter().flatten() {
        let id = dev("blockIO.weightDevice", wd.major(), wd.minor())?;
        let w = wd
            .weight()
            .ok_or_else(|| Error::invalid("blockIO.weightDevice", &id, "needs a weight"))?;
        weight(d, "blockIO.weightDevice", Some(&id), w)?;
    }
    let throttles: [(&'static str, &str, &Option<Vec<LinuxThrottleDevice>>); 4] = [
        (
            "blockIO.throttleReadBpsDevice",
            "rbps",
            b.throttle_read_bps_device(),
        ),
        (
            "blockIO.throttleWriteBpsDevice",
            "wbps",
            b.throttle_write_bps_device(),
        ),
        (
            "blockIO.throttleReadIOPSDevice",
            "riops",
            b.throttle_read_iops_device(),
        ),
        (
            "blockIO.throttleWriteIOPSDevice",
            "wiops",
            b.throttle_write_iops_device(),
        ),
    ];
    for (resource, key, list) in throttles {
        for t in list.iter().flatten() {
            let id = dev(resource, t.major(), t.minor())?;
            // v1 clears a throttle with 0; v2 spells that "max".
            let rate = match t.rate() {
                0 => "max".to_string(),
                r => r.to_string(),
            };
            d.write(resource, "io.max", &format!("{id} {key}={rate}"))?;
        }
    }
    Ok(())
}

/// The default weight (`device` None) or one device's.
fn weight(d: Dir<'_>, resource: &'static str, device: Option<&str>, w: u16) -> Result<()> {
    let line = |v: String| device.map_or(v.clone(), |id| format!("{id} {v}"));
    if d.has(BFQ) {
        d.write(resource, BFQ, &line(w.to_string()))
    } else {
        let v = blkio_weight_to_io_weight(resource, w)?;
        d.write(resource, "io.weight", &line(v.to_string()))
    }
}
