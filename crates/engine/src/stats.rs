//! `stats`: a running container's use of CPU, memory, network, block IO and tasks, read from
//! its cgroup and its network namespace; the caller turns two samples into rates.

use crate::record::{Owner, State};
use crate::status::owner;
use crate::time::Timestamp;
use crate::{Engine, Error};
use berth_cgroups::Detail;

/// What a container has used so far, at one moment.
#[derive(Clone, Debug)]
pub struct Sample {
    pub id: String,
    pub name: String,
    /// When it was read, and when the container started.
    pub at: Timestamp,
    pub started: Option<Timestamp>,
    /// CPU time of all its processes, nanoseconds.
    pub cpu_ns: u64,
    /// Memory in use without the inactive page cache, as docker counts it; its limit
    /// (the host's memory when it has none).
    pub memory: u64,
    pub memory_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
}

impl Engine {
    /// A sample of container `what`, which must be running.
    pub fn stats(&self, what: &str) -> Result<Sample, Error> {
        let r = self.settled(what)?;
        if r.state != State::Running {
            return Err(Error::WrongState {
                name: r.name,
                state: r.state.to_string(),
                action: "show its stats",
            });
        }
        let not_running = || Error::WrongState {
            name: r.name.clone(),
            state: "stopped".into(),
            action: "show its stats",
        };
        let (_, glance) = self.glance(&r.id)?.ok_or_else(not_running)?;
        let init = Some(owner(&glance))
            .filter(Owner::alive)
            .ok_or_else(not_running)?;
        let s = match &glance.cgroup {
            Some(cgroup) => cgroup
                .stats(Detail::Summary)
                .map_err(|e| Error::runtime(&r.name)(e.into()))?,
            // Rootless without a delegated cgroup: nothing to read.
            None => Default::default(),
        };
        let inactive = ["total_inactive_file", "inactive_file"]
            .iter()
            .find_map(|k| s.memory.raw.get(*k))
            .copied()
            .unwrap_or(0);
        let host_memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok())
            })
            .map_or(u64::MAX, |kib| kib * 1024);
        let io = |op: &str| {
            s.blkio
                .io_service_bytes_recursive
                .iter()
                .filter(|e| e.op.eq_ignore_ascii_case(op))
                .map(|e| e.value)
                .sum()
        };
        let (net_rx, net_tx) = net_bytes(init.pid);
        Ok(Sample {
            at: Timestamp::now(),
            started: r.started_at,
            cpu_ns: s.cpu.usage.total,
            memory: s.memory.usage.usage.saturating_sub(inactive),
            memory_limit: s.memory.usage.limit.min(host_memory),
            net_rx,
            net_tx,
            block_read: io("Read"),
            block_write: io("Write"),
            pids: s.pids.current,
            id: r.id,
            name: r.name,
        })
    }
}

/// Bytes received and sent on every interface but loopback of the network namespace of
/// `pid` (`/proc/PID/net/dev`).
fn net_bytes(pid: i32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    text.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim() != "lo")
        .filter_map(|(_, v)| {
            let f: Vec<u64> = v
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            Some((*f.first()?, *f.get(8)?))
        })
        .fold((0, 0), |(rx, tx), (r, t)| (rx + r, tx + t))
}
