//! v1 pids, hugetlb, net_cls/net_prio, rdma and devices.

use std::collections::HashMap;

use oci_spec::runtime::{
    LinuxDeviceCgroup, LinuxHugepageLimit, LinuxNetwork, LinuxPids, LinuxRdma,
};

use super::V1;
use crate::devices;
use crate::error::{Error, Result};
use crate::v2;
use crate::values::{page_size, pids_max, rdma_line};

pub(super) fn pids(v1: &V1, p: &LinuxPids) -> Result<()> {
    v1.need("pids.limit", "pids")?
        .write("pids.limit", "pids.max", &pids_max(p.limit()))
}

/// hugetlb is a v1 controller on older hosts and lives on the cgroup2 side of hybrid ones.
pub(super) fn hugetlb(v1: &V1, limits: &[LinuxHugepageLimit]) -> Result<()> {
    if limits.is_empty() {
        return Ok(());
    }
    if let Some(d) = v1.dir("hugetlb") {
        for l in limits {
            let file = format!("hugetlb.{}.limit_in_bytes", page_size(l.page_size())?);
            d.write("hugepageLimits", &file, &l.limit().to_string())?;
        }
        return Ok(());
    }
    match &v1.unified {
        Some(u) => {
            u.enable("hugepageLimits", &["hugetlb"])?;
            v2::other::hugetlb(u.dir(), limits)
        }
        None => Err(Error::NoController {
            resource: "hugepageLimits",
            controller: "hugetlb",
        }),
    }
}

pub(super) fn network(v1: &V1, n: &LinuxNetwork) -> Result<()> {
    if let Some(id) = n.class_id() {
        v1.need("network.classID", "net_cls")?.write(
            "network.classID",
            "net_cls.classid",
            &id.to_string(),
        )?;
    }
    for p in n.priorities().iter().flatten() {
        let line = format!("{} {}", p.name(), p.priority());
        v1.need("network.priorities", "net_prio")?.write(
            "network.priorities",
            "net_prio.ifpriomap",
            &line,
        )?;
    }
    Ok(())
}

pub(super) fn rdma(v1: &V1, limits: &HashMap<String, LinuxRdma>) -> Result<()> {
    let mut devs: Vec<_> = limits.iter().collect();
    devs.sort_by_key(|(k, _)| k.as_str());
    for (dev, l) in devs {
        let line = rdma_line(dev, l)?;
        v1.need("rdma", "rdma")?.write("rdma", "rdma.max", &line)?;
    }
    Ok(())
}

pub(super) fn devices(v1: &V1, list: &[LinuxDeviceCgroup]) -> Result<()> {
    let rules = devices::rules(list)?;
    if rules.is_empty() {
        return Ok(());
    }
    let d = v1.need("devices", "devices")?;
    for r in rules {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        d.write("devices", file, &r.v1_line())?;
    }
    Ok(())
}
