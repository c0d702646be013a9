//! `GET /containers/{id}/stats`: docker's stats document from the engine's samples (what
//! `berth stats` reads), one a second, or one only with `stream=0`.

use crate::body::{self, ChannelBody, Reply};
use crate::error::ApiError;
use crate::query::Query;
use crate::Service;
use berth_engine::stats::{Reading, Sample};
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Between two samples, as docker's.
const INTERVAL: Duration = Duration::from_secs(1);

/// The host's CPU time so far (all CPUs, every state), in nanoseconds, from /proc/stat, as
/// dockerd's `system_cpu_usage`.
fn system_cpu_ns() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|n| n.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    ticks * (1_000_000_000 / hz)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_json(s: Option<&(Sample, u64)>) -> Value {
    match s {
        Some((s, system)) => json!({
            "cpu_usage": {"total_usage": s.cpu_ns},
            "system_cpu_usage": system, "online_cpus": cpus(), "throttling_data": {},
        }),
        None => json!({"cpu_usage": {"total_usage": 0}, "throttling_data": {}}),
    }
}

/// One document: `now`, with `before` as its previous sample.
fn document(now: &(Sample, u64), before: Option<&(Sample, u64)>) -> Value {
    let s = &now.0;
    let time = |t: Option<&(Sample, u64)>| {
        t.map_or("0001-01-01T00:00:00Z".to_string(), |(s, _)| {
            s.at.to_string()
        })
    };
    json!({
        "read": s.at.to_string(),
        "preread": time(before),
        "id": s.id,
        "name": format!("/{}", s.name),
        "pids_stats": {"current": s.pids},
        "cpu_stats": cpu_json(Some(now)),
        "precpu_stats": cpu_json(before),
        // The engine's figure already leaves the inactive page cache out.
        "memory_stats": {"usage": s.memory, "limit": s.memory_limit, "stats": {}},
        // Only what the engine reads: bytes, not packets, errors or drops.
        "networks": {"eth0": {"rx_bytes": s.net_rx, "tx_bytes": s.net_tx}},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 0, "minor": 0, "op": "read", "value": s.block_read},
            {"major": 0, "minor": 0, "op": "write", "value": s.block_write},
        ]},
    })
}

impl Service {
    pub(crate) async fn stats(self: Arc<Self>, id: &str, q: Query) -> Result<Reply, ApiError> {
        let stream = q.get("stream").is_none_or(|v| v == "1" || v == "true");
        let one_shot = q.flag("one-shot");
        let what = vec![id.to_string()];
        let sample = move |e: &berth_engine::Engine| -> Result<Option<(Sample, u64)>, ApiError> {
            Ok(e.stats(&what, false)?.into_iter().find_map(|r| match r {
                Reading::Sample(s) => Some((s, system_cpu_ns())),
                Reading::Idle { .. } => None,
            }))
        };
        // An unknown container is a 404 before the stream starts.
        let first = {
            let sample = sample.clone();
            self.blocking(move |e, _| sample(e)).await?
        };
        let (tx, reply_body) = ChannelBody::channel(4);
        let me = Arc::clone(&self);
        tokio::task::spawn_blocking(move || {
            let Ok(engine) = me.engine() else { return };
            let send = |v: Value| tx.blocking_send(Bytes::from(format!("{v}\n"))).is_ok();
            let mut before = first;
            if !stream && one_shot {
                if let Some(s) = &before {
                    send(document(s, None));
                }
                return;
            }
            loop {
                std::thread::sleep(INTERVAL);
                let Ok(Some(now)) = sample(&engine) else {
                    // It stopped: docker sends one empty document and ends.
                    send(
                        json!({"read": "0001-01-01T00:00:00Z", "memory_stats": {}, "cpu_stats": {}}),
                    );
                    return;
                };
                if !send(document(&now, before.as_ref())) || !stream {
                    return;
                }
                before = Some(now);
            }
        });
        Ok(body::stream("application/json", reply_body))
    }
}
