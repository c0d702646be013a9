//! `stats`: a running container's use of CPU, memory, network, block IO and tasks, read from
//! its cgroup and its network namespace; the caller turns two samples into rates.

use crate::record::{Owner, Record, State};
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

/// What `stats` shows of one container.
#[derive(Clone, Debug)]
pub enum Reading {
    /// A running container's use so far.
    Sample(Sample),
    /// One that does not run (asked for by name, or with `-a`): nothing to read.
    Idle { id: String, name: String },
}

impl Engine {
    /// The readings of the containers `what` names, or with none named, of every running
    /// container (and with `all`, every other one as idle). One pass over the records: each
    /// is loaded once, and the host's memory read once.
    pub fn stats(&self, what: &[String], all: bool) -> Result<Vec<Reading>, Error> {
        let host_memory = host_memory();
        let records = match what.is_empty() {
            true => {
                let mut rs = Vec::new();
                for id in self.containers.ids()? {
                    rs.extend(self.refresh(&id)?);
                }
                // Newest first, as `ps`.
                rs.sort_by_key(|r: &Record| std::cmp::Reverse(r.created));
                rs
            }
            false => what
                .iter()
                .map(|w| self.settled(w))
                .collect::<Result<_, _>>()?,
        };
        let idle = |r: Record| Reading::Idle {
            id: r.id,
            name: r.name,
        };
        // Containers that do not run are shown (idle) when named, or with `-a`.
        let shown = all || !what.is_empty();
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            if r.state != State::Running {
                if shown {
                    out.push(idle(r));
                }
                continue;
            }
            match self.sample(&r, host_memory)? {
                Some(s) => out.push(Reading::Sample(s)),
                // Stopped since its record was read.
                None if shown => out.push(idle(r)),
                None => {}
            }
        }
        Ok(out)
    }

    /// A sample of running container `r`; `None` once its init is gone.
    fn sample(&self, r: &Record, host_memory: u64) -> Result<Option<Sample>, Error> {
        let Some((_, glance)) = self.glance(&r.id)? else {
            return Ok(None);
        };
        let Some(init) = Some(owner(&glance)).filter(Owner::alive) else {
            return Ok(None);
        };
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
        let io = |op: &str| {
            s.blkio
                .io_service_bytes_recursive
                .iter()
                .filter(|e| e.op.eq_ignore_ascii_case(op))
                .map(|e| e.value)
                .sum()
        };
        let (net_rx, net_tx) = net_bytes(init.pid);
        Ok(Some(Sample {
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
            id: r.id.clone(),
            name: r.name.clone(),
        }))
    }
}

/// The host's memory in bytes (`MemTotal`), the limit shown for a container without one.
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(u64::MAX, |kib| kib * 1024)
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
