//! `inspect` of a container: its record, shaped as docker shows it, with the runtime's
//! state and the generated config's process.

use crate::options::CPU_PERIOD;
use crate::record::State;
use crate::{Engine, Error};
use serde_json::{json, Value};

impl Engine {
    /// The JSON `berth inspect` prints for container `what`.
    pub fn inspect(&self, what: &str) -> Result<Value, Error> {
        let r = self.container(what)?;
        let dir = self.containers.dir(&r.id);
        let config_path = dir.join("config.json");
        let config: Value = std::fs::read(&config_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let runtime = berth_container::state_cmd::state(&self.runtime, &r.id).ok();
        let pid = match r.state {
            State::Running => self.init(&r.id)?.map_or(0, |o| o.pid),
            _ => 0,
        };
        let paused = r.state == State::Running && self.paused(&r.id);
        let s = &r.settings;
        let t = &s.tuning;
        // --cpus is kept as a quota per CPU_PERIOD; docker shows it in billionths of a CPU.
        let nano_cpus = s
            .cpu_quota
            .map_or(0, |q| q * 1_000_000_000 / CPU_PERIOD as i64);
        let p = &config["process"];
        let log = self.containers.log_path(&r.id);
        Ok(json!({
            "Id": r.id,
            "Name": r.name,
            "Created": r.created,
            "Path": r.command.first(),
            "Args": r.command.get(1..).unwrap_or_default(),
            "Image": r.image_id,
            "RestartCount": r.restart_count,
            "ImageName": r.image,
            "State": {
                "Status": if paused { "paused".to_string() } else { r.state.to_string() },
                "Paused": paused,
                "Health": r.health,
                "Running": r.state == State::Running,
                "Restarting": r.state == State::Restarting,
                "OOMKilled": r.oom_killed,
                "Pid": pid,
                "ExitCode": r.exit_code,
                "EndReason": r.end_reason(),
                "Error": r.error.clone().unwrap_or_default(),
                "StartedAt": r.started_at,
                "FinishedAt": r.finished_at,
                "MonitorPid": r.monitor.map_or(0, |m| m.pid),
            },
            "Config": {
                "Hostname": config["hostname"],
                "User": p["user"],
                "Env": p["env"],
                "Cmd": r.command,
                "WorkingDir": p["cwd"],
                "Tty": s.tty,
                "OpenStdin": s.interactive,
                "StopSignal": r.stop_signal,
                "Labels": config["annotations"],
            },
            "HostConfig": {
                "AutoRemove": s.auto_remove,
                "RestartPolicy": {
                    "Name": s.restart.name(),
                    "MaximumRetryCount": match s.restart {
                        crate::options::Restart::OnFailure { max } => max.unwrap_or(0),
                        _ => 0,
                    },
                },
                "NetworkMode": s.network,
                "PortBindings": s.net.ports,
                "PublishAllPorts": s.net.publish_all,
                "Dns": s.net.dns,
                "DnsSearch": s.net.dns_search,
                "DnsOptions": s.net.dns_options,
                "ExtraHosts": s.net.add_hosts.iter().map(|h| format!("{}:{}", h.name, h.ip)).collect::<Vec<_>>(),
                "Privileged": s.privileged,
                "ReadonlyRootfs": s.read_only,
                "CapAdd": s.cap_add,
                "CapDrop": s.cap_drop,
                "Memory": s.memory.unwrap_or(0),
                "MemorySwap": t.memory_swap.unwrap_or(0),
                "MemoryReservation": t.memory_reservation.unwrap_or(0),
                "NanoCpus": nano_cpus,
                "CpuQuota": t.cpu_quota.unwrap_or(0),
                "CpuPeriod": t.cpu_period.unwrap_or(0),
                "CpuShares": t.cpu_shares.unwrap_or(0),
                "CpusetCpus": t.cpuset_cpus.clone().unwrap_or_default(),
                "CpusetMems": t.cpuset_mems.clone().unwrap_or_default(),
                "BlkioWeight": t.blkio_weight.unwrap_or(0),
                "PidsLimit": s.pids_limit.unwrap_or(0),
            },
            "NetworkSettings": self.network_settings(&r),
            "Mounts": s.mounts,
            "LogPath": if log.exists() { json!(log) } else { json!("") },
            "BundlePath": dir,
            "Rootfs": config["root"]["path"],
            "Runtime": runtime,
        }))
    }
}
