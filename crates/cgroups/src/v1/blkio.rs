//! v1 blkio controller. Weights go to CFQ's files where the kernel still has them, else to
//! BFQ's (`blkio.bfq.*`), as runc and crun do.

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use super::V1;
use crate::error::{Error, Result};
use crate::fs::Dir;
use crate::values::dev;

pub(super) fn apply(v1: &V1, b: &LinuxBlockIo) -> Result<()> {
    if *b == LinuxBlockIo::default() {
        return Ok(());
    }
    let d = v1.need("blockIO", "blkio")?;
    let cfq_or_bfq = |cfq: &'static str, bfq: &'static str| if d.has(cfq) { cfq } else { bfq };
    // A weight of 0 is how Docker and runc spell "unset".
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        let file = cfq_or_bfq("blkio.weight", "blkio.bfq.weight");
        d.write("blockIO.weight", file, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|&w| w != 0) {
        d.write("blockIO.leafWeight", "blkio.leaf_weight", &w.to_string())?;
    }
    for wd in b.weight_device().iter().flatten() {
        let id = dev("blockIO.weightDevice", wd.major(), wd.minor())?;
        if wd.weight().is_none() && wd.leaf_weight().is_none() {
            return Err(Error::invalid(
                "blockIO.weightDevice",
                id,
                "needs weight or leafWeight",
            ));
        }
        if let Some(w) = wd.weight() {
            let file = cfq_or_bfq("blkio.weight_device", "blkio.bfq.weight_device");
            d.write("blockIO.weightDevice", file, &format!("{id} {w}"))?;
        }
        if let Some(w) = wd.leaf_weight() {
            d.write(
                "blockIO.weightDevice",
                "blkio.leaf_weight_device",
                &format!("{id} {w}"),
            )?;
        }
    }
    let throttles: [(
        &'static str,
        &'static str,
        &Option<Vec<LinuxThrottleDevice>>,
    ); 4] = [
        (
            "blockIO.throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blockIO.throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blockIO.throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blockIO.throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ];
    for (resource, file, list) in throttles {
        throttle(d, resource, file, list)?;
    }
    Ok(())
}

fn throttle(
    d: Dir<'_>,
    resource: &'static str,
    file: &str,
    list: &Option<Vec<LinuxThrottleDevice>>,
) -> Result<()> {
    for t in list.iter().flatten() {
        let id = dev(resource, t.major(), t.minor())?;
        d.write(resource, file, &format!("{id} {}", t.rate()))?;
    }
    Ok(())
}
