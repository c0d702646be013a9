//! `POST /containers/create`: docker's container config and `HostConfig`, turned into the
//! options `berth create` takes, so that a container made through the API is the container
//! the same flags make. A setting berth cannot honour is refused by name, not dropped.

use crate::error::ApiError;
use berth_engine::RunOptions;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A field docker sends as a string or a list of strings (`Cmd`, `Entrypoint`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Words {
    One(String),
    Many(Vec<String>),
}

impl Words {
    fn list(self) -> Vec<String> {
        match self {
            Words::One(s) => vec![s],
            Words::Many(v) => v,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub tty: bool,
    pub open_stdin: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Words>,
    pub entrypoint: Option<Words>,
    pub image: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub working_dir: String,
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub healthcheck: Option<Healthcheck>,
    pub network_disabled: bool,
    pub host_config: HostConfig,
    pub networking_config: Option<NetworkingConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Healthcheck {
    pub test: Option<Vec<String>>,
    pub interval: i64,
    pub timeout: i64,
    pub start_period: i64,
    pub retries: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    pub mounts: Option<Vec<Mount>>,
    pub tmpfs: Option<BTreeMap<String, String>>,
    pub volumes_from: Option<Vec<String>>,
    pub auto_remove: bool,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub memory_swappiness: Option<i64>,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub blkio_weight: u16,
    pub pids_limit: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    pub oom_score_adj: i32,
    pub shm_size: i64,
    pub network_mode: String,
    pub port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    pub publish_all_ports: bool,
    pub dns: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub restart_policy: Option<RestartPolicy>,
    pub log_config: Option<LogConfig>,
    pub init: Option<bool>,
    pub cgroup_parent: String,
    pub cgroupns_mode: String,
    pub pid_mode: String,
    pub ipc_mode: String,
    pub uts_mode: String,
    pub security_opt: Option<Vec<String>>,
    pub sysctls: Option<BTreeMap<String, String>>,
    pub ulimits: Option<Vec<Ulimit>>,
    pub devices: Option<Vec<Device>>,
    pub device_cgroup_rules: Option<Vec<String>>,
    pub group_add: Option<Vec<String>>,
    pub annotations: Option<BTreeMap<String, String>>,
    pub userns_mode: String,
    pub runtime: String,
    pub isolation: String,
    pub links: Option<Vec<String>>,
    pub device_requests: Option<Vec<DeviceRequest>>,
    pub volume_driver: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    #[serde(rename = "Type")]
    pub kind: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub bind_options: Option<BindOptions>,
    pub tmpfs_options: Option<TmpfsOptions>,
    pub volume_options: Option<VolumeOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    pub propagation: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    pub size_bytes: i64,
    pub mode: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    pub no_copy: bool,
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Device {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

/// docker's `--gpus` (driver `nvidia` or none, with the `gpu` capability) and CDI devices
/// (driver `cdi`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceRequest {
    pub driver: String,
    pub count: i64,
    #[serde(rename = "DeviceIDs")]
    pub device_ids: Option<Vec<String>>,
    pub capabilities: Option<Vec<Vec<String>>>,
}

impl DeviceRequest {
    /// As berth's `--gpus` value, or CDI device names.
    fn flags(&self) -> Result<DeviceFlag, ApiError> {
        let ids = self.device_ids.clone().unwrap_or_default();
        let gpu = self
            .capabilities
            .iter()
            .flatten()
            .any(|set| set.iter().any(|c| c == "gpu"));
        match self.driver.as_str() {
            "cdi" => Ok(DeviceFlag::Cdi(ids)),
            "" | "nvidia" if gpu || self.driver == "nvidia" => {
                Ok(DeviceFlag::Gpus(match (ids.is_empty(), self.count) {
                    (false, _) => format!("device={}", ids.join(",")),
                    (true, -1) => "all".into(),
                    (true, n) => n.to_string(),
                }))
            }
            other => Err(ApiError::bad_request(format!(
                "HostConfig.DeviceRequests: driver {other:?} with capabilities {:?}: berth \
                 serves NVIDIA GPUs and CDI devices only",
                self.capabilities.clone().unwrap_or_default()
            ))),
        }
    }
}

enum DeviceFlag {
    Gpus(String),
    Cdi(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    pub endpoints_config: Option<BTreeMap<String, Option<Endpoint>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Endpoint {
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<IpamConfig>,
    pub mac_address: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IpamConfig {
    #[serde(rename = "IPv4Address")]
    pub ipv4: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6: String,
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The options of `berth create --name NAME` for a create request.
pub fn run_options(name: Option<String>, b: CreateBody) -> Result<RunOptions, ApiError> {
    if b.image.is_empty() {
        return Err(ApiError::bad_request("config: Image is required"));
    }
    let h = b.host_config;
    refuse_unsupported(&h)?;
    let mut o = RunOptions {
        image: b.image,
        name: name.filter(|n| !n.is_empty()),
        detach: true,
        remove: h.auto_remove,
        env: b.env.unwrap_or_default(),
        workdir: some(&b.working_dir),
        user: some(&b.user),
        hostname: some(&b.hostname),
        domainname: some(&b.domainname),
        tty: b.tty,
        interactive: b.open_stdin,
        read_only: h.readonly_rootfs,
        privileged: h.privileged,
        cap_add: h.cap_add.unwrap_or_default(),
        cap_drop: h.cap_drop.unwrap_or_default(),
        volumes: h.binds.unwrap_or_default(),
        volumes_from: h.volumes_from.unwrap_or_default(),
        tmpfs: tmpfs(h.tmpfs.unwrap_or_default()),
        pids_limit: h.pids_limit.filter(|&p| p != 0),
        dns: h.dns.unwrap_or_default(),
        dns_search: h.dns_search.unwrap_or_default(),
        dns_option: h.dns_options.unwrap_or_default(),
        add_host: h.extra_hosts.unwrap_or_default(),
        publish_all: h.publish_all_ports,
        init: h.init.unwrap_or(false),
        cgroup_parent: some(&h.cgroup_parent),
        stop_signal: b.stop_signal.filter(|s| !s.is_empty()),
        stop_timeout: b.stop_timeout,
        labels: b
            .labels
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        expose: b.exposed_ports.unwrap_or_default().into_keys().collect(),
        ..RunOptions::default()
    };
    // The image's entrypoint is replaced by the first word; the others go before the
    // command, as docker runs `ENTRYPOINT` + `CMD`. An empty list clears it.
    if let Some(e) = b.entrypoint {
        let words = e.list();
        o.entrypoint = Some(serde_json::to_string(&words).unwrap_or_default());
    }
    if let Some(c) = b.cmd {
        o.command = c.list();
    }
    o.mounts = h.mounts.unwrap_or_default().iter().map(mount).collect();
    if h.memory > 0 {
        o.memory = Some(h.memory.to_string());
    }
    if h.nano_cpus > 0 {
        o.cpus = Some(format!("{}", h.nano_cpus as f64 / 1e9));
    }
    let t = &mut o.tuning;
    t.memory_swap = (h.memory_swap != 0).then(|| h.memory_swap.to_string());
    t.memory_reservation = (h.memory_reservation > 0).then(|| h.memory_reservation.to_string());
    t.memory_swappiness = h.memory_swappiness.filter(|&s| s >= 0).map(|s| s as u64);
    t.cpu_shares = (h.cpu_shares > 0).then_some(h.cpu_shares as u64);
    t.cpu_period = (h.cpu_period > 0).then_some(h.cpu_period as u64);
    t.cpu_quota = (h.cpu_quota > 0).then_some(h.cpu_quota);
    t.cpuset_cpus = some(&h.cpuset_cpus);
    t.cpuset_mems = some(&h.cpuset_mems);
    t.blkio_weight = (h.blkio_weight > 0).then_some(h.blkio_weight);
    t.oom_kill_disable = h.oom_kill_disable.unwrap_or(false);
    t.oom_score_adj = (h.oom_score_adj != 0).then_some(h.oom_score_adj);
    t.shm_size = (h.shm_size > 0).then(|| h.shm_size.to_string());
    t.security_opts = h.security_opt.unwrap_or_default();
    t.sysctls = pairs(h.sysctls);
    t.annotations = pairs(h.annotations);
    t.group_add = h.group_add.unwrap_or_default();
    t.device_cgroup_rules = h.device_cgroup_rules.unwrap_or_default();
    t.ulimits = h
        .ulimits
        .unwrap_or_default()
        .iter()
        .map(|u| format!("{}={}:{}", u.name, u.soft, u.hard))
        .collect();
    t.devices = h
        .devices
        .unwrap_or_default()
        .iter()
        .map(|d| {
            if berth_cdi::names::is_qualified(&d.path_on_host) {
                return d.path_on_host.clone();
            }
            let inside = some(&d.path_in_container).unwrap_or_else(|| d.path_on_host.clone());
            let perms = some(&d.cgroup_permissions).unwrap_or_else(|| "rwm".into());
            format!("{}:{inside}:{perms}", d.path_on_host)
        })
        .collect();
    for r in h.device_requests.iter().flatten() {
        match r.flags()? {
            DeviceFlag::Gpus(g) => t.gpus = Some(g),
            DeviceFlag::Cdi(names) => t.devices.extend(names),
        }
    }
    t.cgroupns = some(&h.cgroupns_mode);
    t.pid = some(&h.pid_mode);
    t.ipc = some(&h.ipc_mode).filter(|m| m != "shareable");
    t.uts = some(&h.uts_mode);
    if let Some(p) = h
        .restart_policy
        .filter(|p| !p.name.is_empty() && p.name != "no")
    {
        o.restart = Some(match p.maximum_retry_count {
            n if n > 0 && p.name == "on-failure" => format!("on-failure:{n}"),
            _ => p.name,
        });
    }
    if let Some(l) = h.log_config {
        o.log_driver = some(&l.kind);
        o.log_opts = pairs(l.config);
    }
    o.publish = publish(h.port_bindings.unwrap_or_default());
    networks(
        &mut o,
        &h.network_mode,
        b.network_disabled,
        b.networking_config,
    )?;
    if let Some(hc) = b.healthcheck {
        health(&mut o, hc);
    }
    Ok(o)
}

/// Settings berth does not have: an error naming the field when one is asked for.
fn refuse_unsupported(h: &HostConfig) -> Result<(), ApiError> {
    let asked = [
        ("HostConfig.UsernsMode", !h.userns_mode.is_empty()),
        (
            "HostConfig.Runtime",
            !h.runtime.is_empty() && h.runtime != "berth" && h.runtime != "runc",
        ),
        (
            "HostConfig.Isolation",
            !h.isolation.is_empty() && h.isolation != "default",
        ),
        (
            "HostConfig.Links",
            h.links.as_ref().is_some_and(|l| !l.is_empty()),
        ),
        (
            "HostConfig.VolumeDriver",
            !h.volume_driver.is_empty() && h.volume_driver != "local",
        ),
    ];
    match asked.iter().find(|(_, on)| *on) {
        Some((field, _)) => Err(ApiError::bad_request(format!(
            "{field}: not supported by berth"
        ))),
        None => Ok(()),
    }
}

fn pairs(m: Option<BTreeMap<String, String>>) -> Vec<String> {
    m.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

fn tmpfs(m: BTreeMap<String, String>) -> Vec<String> {
    m.into_iter()
        .map(|(path, opts)| match opts.is_empty() {
            true => path,
            false => format!("{path}:{opts}"),
        })
        .collect()
}

/// A `Mounts` entry as `--mount` takes it.
fn mount(m: &Mount) -> String {
    let mut s = format!("type={}", m.kind);
    if !m.source.is_empty() {
        s += &format!(",source={}", m.source);
    }
    s += &format!(",target={}", m.target);
    if m.read_only {
        s += ",readonly";
    }
    if let Some(p) = m.bind_options.as_ref().and_then(|b| some(&b.propagation)) {
        s += &format!(",bind-propagation={p}");
    }
    if let Some(t) = &m.tmpfs_options {
        if t.size_bytes > 0 {
            s += &format!(",tmpfs-size={}", t.size_bytes);
        }
        if t.mode != 0 {
            s += &format!(",tmpfs-mode={:o}", t.mode);
        }
    }
    if m.volume_options.as_ref().is_some_and(|v| v.no_copy) {
        s += ",volume-nocopy";
    }
    s
}

/// `PortBindings` as `-p` values: `[ip:]hostPort:containerPort/proto`.
fn publish(bindings: BTreeMap<String, Option<Vec<PortBinding>>>) -> Vec<String> {
    let mut out = Vec::new();
    for (port, hosts) in bindings {
        let hosts = hosts.unwrap_or_default();
        if hosts.is_empty() {
            out.push(port.clone());
        }
        for b in hosts {
            let ip = match b.host_ip.as_str() {
                "" => String::new(),
                ip if ip.contains(':') => format!("[{ip}]:"),
                ip => format!("{ip}:"),
            };
            out.push(format!("{ip}{}:{port}", b.host_port));
        }
    }
    out
}

/// `NetworkMode` and the endpoints: docker's `default` is berth's default bridge.
fn networks(
    o: &mut RunOptions,
    mode: &str,
    disabled: bool,
    config: Option<NetworkingConfig>,
) -> Result<(), ApiError> {
    if disabled {
        o.network = vec!["none".into()];
        return Ok(());
    }
    let endpoints = config.and_then(|c| c.endpoints_config).unwrap_or_default();
    match mode {
        "" | "default" => {}
        m => o.network.push(m.to_string()),
    }
    for (name, e) in endpoints {
        // docker's client names the default `bridge` here; berth's default is the same.
        let default_bridge = o.network.is_empty() && name == "bridge";
        if !default_bridge && !o.network.contains(&name) {
            o.network.push(name);
        }
        let Some(e) = e else { continue };
        o.network_alias.extend(e.aliases.unwrap_or_default());
        if let Some(ipam) = e.ipam_config {
            o.ip = some(&ipam.ipv4).or(o.ip.take());
            o.ip6 = some(&ipam.ipv6).or(o.ip6.take());
        }
        o.mac_address = some(&e.mac_address).or(o.mac_address.take());
    }
    Ok(())
}

/// A `Healthcheck` (durations in nanoseconds) as the `--health-*` flags.
fn health(o: &mut RunOptions, hc: Healthcheck) {
    let h = &mut o.health;
    match hc.test.as_deref() {
        Some([first, ..]) if first == "NONE" => h.none = true,
        Some([first, rest @ ..]) if first == "CMD-SHELL" => h.cmd = Some(rest.join(" ")),
        Some([first, rest @ ..]) if first == "CMD" => h.exec = Some(rest.to_vec()),
        _ => {}
    }
    let ns = |n: i64| (n > 0).then(|| format!("{n}ns"));
    h.interval = ns(hc.interval);
    h.timeout = ns(hc.timeout);
    h.start_period = ns(hc.start_period);
    h.retries = (hc.retries > 0).then_some(hc.retries);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<RunOptions, ApiError> {
        run_options(Some("web".into()), serde_json::from_value(v).unwrap())
    }

    #[test]
    fn the_docker_clis_run_request_becomes_create_flags() {
        let o = parse(serde_json::json!({
            "Image": "busybox", "Cmd": ["sh", "-c", "echo hi"], "Entrypoint": null,
            "Env": ["A=1"], "Tty": false, "OpenStdin": true, "WorkingDir": "/tmp",
            "Labels": {"x": "y"}, "ExposedPorts": {"80/tcp": {}},
            "HostConfig": {
                "AutoRemove": true, "Binds": ["/srv:/data:ro"], "Memory": 67108864,
                "NanoCpus": 1500000000, "NetworkMode": "default",
                "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
                "RestartPolicy": {"Name": "no"}, "LogConfig": {"Type": "", "Config": {}},
                "Tmpfs": {"/run": "size=1m"}, "UnknownField": 3
            },
            "NetworkingConfig": {"EndpointsConfig": {"bridge": {}}}
        }))
        .unwrap();
        assert_eq!(o.name.as_deref(), Some("web"));
        assert_eq!(o.command, ["sh", "-c", "echo hi"]);
        assert!(o.remove && o.interactive && !o.tty);
        assert_eq!(o.volumes, ["/srv:/data:ro"]);
        assert_eq!(o.memory.as_deref(), Some("67108864"));
        assert_eq!(o.cpus.as_deref(), Some("1.5"));
        assert_eq!(o.publish, ["127.0.0.1:8080:80/tcp"]);
        assert_eq!(o.tmpfs, ["/run:size=1m"]);
        assert_eq!(o.labels, ["x=y"]);
        assert!(o.network.is_empty(), "{:?}", o.network);
        assert_eq!(o.restart, None);
        assert_eq!(o.log_driver, None);
    }

    #[test]
    fn entrypoint_lists_and_networks_map_over() {
        let o = parse(serde_json::json!({
            "Image": "busybox", "Entrypoint": ["sh", "-c"], "Cmd": "date",
            "HostConfig": {"NetworkMode": "appnet",
                "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}},
            "NetworkingConfig": {"EndpointsConfig": {"appnet": {"Aliases": ["db"],
                "IPAMConfig": {"IPv4Address": "10.9.0.7"}}}},
            "Healthcheck": {"Test": ["CMD", "/bin/check", "-q"], "Interval": 2000000000}
        }))
        .unwrap();
        assert_eq!(o.health.exec, Some(vec!["/bin/check".into(), "-q".into()]));
        assert_eq!(o.health.interval.as_deref(), Some("2000000000ns"));
        assert_eq!(o.entrypoint.as_deref(), Some(r#"["sh","-c"]"#));
        assert_eq!(o.command, ["date"]);
        assert_eq!(o.network, ["appnet"]);
        assert_eq!(o.network_alias, ["db"]);
        assert_eq!(o.ip.as_deref(), Some("10.9.0.7"));
        assert_eq!(o.restart.as_deref(), Some("on-failure:3"));
    }

    #[test]
    fn what_berth_lacks_is_refused_by_name() {
        let e = parse(serde_json::json!({"Image": "busybox",
            "HostConfig": {"UsernsMode": "host"}}))
        .unwrap_err();
        assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        assert!(e.message.contains("HostConfig.UsernsMode"), "{}", e.message);
        let e = parse(serde_json::json!({"Cmd": ["true"]})).unwrap_err();
        assert!(e.message.contains("Image is required"), "{}", e.message);
    }
}
