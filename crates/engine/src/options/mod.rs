//! The flags of `run` and `create`, and their checks. Everything that can be wrong with
//! them is found here, before anything exists on disk.

mod mounts;
mod net;
mod tuning;
mod update;
mod values;

pub use mounts::complete;
pub(crate) use mounts::volumes_from;
pub use net::{HostEntry, NetSettings};
pub use tuning::{
    BlockIo, BlockLimit, Device, DeviceRule, Seccomp, Sharing, Tuning, TuningFlags, Ulimit,
};

pub use update::UpdateOptions;
pub(crate) use values::size;
pub use values::{env_files, env_list, labels};

use crate::logging::{Driver, LogConfig};
use crate::volumes::VolumeSpec;
use mounts::{mount, tmpfs, volume};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
pub use values::CgroupManager;
use values::{caps, cgroup_parent, cpus, entrypoint, hostname, memory, pids_limit, restart};

/// A flag with a bad value; the message names the flag and the value.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("{flag} {value:?}: {reason}")]
    Bad {
        flag: &'static str,
        value: String,
        reason: String,
    },
}

pub fn bad(flag: &'static str, value: &str, reason: impl Into<String>) -> OptionsError {
    OptionsError::Bad {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// The flags as given on the command line.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub image: String,
    /// Replaces the image's Cmd when not empty.
    pub command: Vec<String>,
    pub name: Option<String>,
    pub detach: bool,
    /// `--rm`: remove the container when it exits.
    pub remove: bool,
    /// Its root filesystem's changes need not survive a crash (a build step's container,
    /// removed once they are committed): mounted `volatile`, as for `--rm`.
    pub volatile: bool,
    /// `KEY=VALUE`, or `KEY` to take the value from berth's environment.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// `""` clears the image's entrypoint; `["a","b"]` (JSON) gives several words.
    pub entrypoint: Option<String>,
    /// `[SOURCE:]CONTAINER[:OPTIONS]`: a host path, a volume name, or an anonymous volume.
    pub volumes: Vec<String>,
    /// `--mount type=bind|volume|tmpfs,...`.
    pub mounts: Vec<String>,
    /// `CONTAINER[:ro|rw]`: the binds and volumes of another container.
    pub volumes_from: Vec<String>,
    /// `PATH[:OPTIONS]`.
    pub tmpfs: Vec<String>,
    pub hostname: Option<String>,
    pub read_only: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `64m`, `1g`, bytes.
    pub memory: Option<String>,
    /// CPUs as a decimal number.
    pub cpus: Option<String>,
    pub pids_limit: Option<i64>,
    /// `--network`, each time given: `none`, `host`, `container:NAME`, or networks
    /// (default: the default bridge network).
    pub network: Vec<String>,
    /// `-p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`.
    pub publish: Vec<String>,
    /// `-P`: the image's exposed ports on free host ports.
    pub publish_all: bool,
    /// `--expose PORT[-PORT][/PROTO]`: ports it offers besides the image's (for `-P`).
    pub expose: Vec<String>,
    pub ip: Option<String>,
    pub ip6: Option<String>,
    pub mac_address: Option<String>,
    pub network_alias: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    /// `NAME:IP` (IP may be `host-gateway`).
    pub add_host: Vec<String>,
    /// `bandwidth=RATE`.
    pub network_opt: Vec<String>,
    /// The cgroup the container's own is made in: a path (default `/berth`), or a slice
    /// (default `machine.slice`) with the systemd cgroup manager.
    pub cgroup_parent: Option<String>,
    /// `systemd` or `cgroupfs` (default: systemd where it is the init, as podman decides).
    pub cgroup_manager: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    /// `json-file` (default), `k8s-file`, `journald`, `none`, `passthrough`.
    pub log_driver: Option<String>,
    /// `KEY=VALUE` options of the log driver.
    pub log_opts: Vec<String>,
    /// The finer limits, security options and namespaces.
    pub tuning: TuningFlags,
    /// `KEY=VALUE` labels.
    pub labels: Vec<String>,
    /// Files of `KEY=VALUE` label lines, before `--label`.
    pub label_files: Vec<PathBuf>,
    /// Files of `KEY=VALUE` lines for the environment, before `-e`.
    pub env_files: Vec<PathBuf>,
    /// `--init`: berth's small init as PID 1.
    pub init: bool,
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL.
    pub stop_timeout: Option<i64>,
    /// `no` (default), `on-failure[:N]`, `always`, `unless-stopped`.
    pub restart: Option<String>,
    pub domainname: Option<String>,
    /// A file to write the new container's id to; it must not exist (docker's `--cidfile`).
    pub cidfile: Option<PathBuf>,
    /// `--health-*` and `--no-healthcheck`.
    pub health: crate::health::HealthFlags,
}

/// When the container's monitor starts it again after it ends (`--restart`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "name")]
pub enum Restart {
    #[default]
    No,
    /// After a non-zero exit, at most `max` times.
    OnFailure { max: Option<u32> },
    /// Whatever the exit, unless stopped by hand; also when berth starts the restartable ones
    /// after a reboot.
    Always,
    /// As always, but not after a reboot when it had been stopped by hand.
    UnlessStopped,
}

impl Restart {
    /// docker's name of the policy.
    pub fn name(self) -> &'static str {
        match self {
            Restart::No => "no",
            Restart::OnFailure { .. } => "on-failure",
            Restart::Always => "always",
            Restart::UnlessStopped => "unless-stopped",
        }
    }
}

/// How the container is networked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// A network namespace of its own with only loopback.
    None,
    /// The host's network namespace.
    Host,
    /// A namespace of its own on bridge networks (the default).
    Bridge,
    /// Another container's network namespace.
    Container,
    /// A namespace of its own connected through pasta (rootless berth's default).
    Pasta,
    /// A namespace of its own connected through slirp4netns (rootless berth's default where
    /// pasta is not installed).
    Slirp4netns,
}

impl Network {
    /// The user-mode network that carries it (rootless), if any.
    pub fn user_net(self) -> Option<berth_network::UserNet> {
        match self {
            Network::Pasta => Some(berth_network::UserNet::Pasta),
            Network::Slirp4netns => Some(berth_network::UserNet::Slirp4netns),
            Network::None | Network::Host | Network::Bridge | Network::Container => None,
        }
    }
}

/// A mount asked for with `-v`, `--mount`, `--tmpfs` or `--volumes-from`, or an image's
/// VOLUME.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum UserMount {
    Bind {
        source: PathBuf,
        destination: String,
        /// Read-only, and with it every mount below the source (docker 25's `:ro`).
        read_only: bool,
        /// `:ro-non-recursive`: only the top mount read-only, as docker before 25.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        top_only: bool,
        /// `bind-recursive=disabled`: the mounts below the source do not come along.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        non_recursive: bool,
        /// `shared`, `slave`, `private` and their `r` forms (default `rprivate`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        propagation: Option<String>,
    },
    Tmpfs {
        destination: String,
        options: Vec<String>,
    },
    Volume {
        /// Empty in a parsed flag for an anonymous volume, until `create` names it.
        name: String,
        destination: String,
        read_only: bool,
        /// Made for this container (`-v /path`, `--mount` without a source, an image's
        /// VOLUME): `rm -v` and `--rm` remove it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        anonymous: bool,
        /// `nocopy`: an empty volume is not filled from the image.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        no_copy: bool,
        /// How it is made if it does not exist (`--mount volume-opt=`, `volume-label=`).
        #[serde(default, skip_serializing_if = "VolumeSpec::is_empty")]
        spec: VolumeSpec,
    },
}

impl UserMount {
    pub fn destination(&self) -> &str {
        match self {
            UserMount::Bind { destination, .. }
            | UserMount::Tmpfs { destination, .. }
            | UserMount::Volume { destination, .. } => destination,
        }
    }

    /// The volume it mounts, if it mounts one.
    pub fn volume(&self) -> Option<&str> {
        match self {
            UserMount::Volume { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// The checked flags, as the container record keeps them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub auto_remove: bool,
    pub tty: bool,
    pub interactive: bool,
    /// `KEY=VALUE` only.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub mounts: Vec<UserMount>,
    pub hostname: Option<String>,
    pub read_only: bool,
    pub privileged: bool,
    /// `CAP_*` names, or `ALL`.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub memory: Option<i64>,
    /// CFS quota in microseconds per 100 ms period.
    pub cpu_quota: Option<i64>,
    pub pids_limit: Option<i64>,
    pub network: Network,
    /// Networks, ports and names (older records: none).
    #[serde(default)]
    pub net: NetSettings,
    pub cgroup_parent: String,
    /// Who makes its cgroup (older records: berth itself).
    #[serde(default)]
    pub cgroup_manager: CgroupManager,
    /// Where its output goes (older records: a json-file log without options).
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub tuning: Tuning,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    /// `--stop-signal`, over the image's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(default)]
    pub restart: Restart,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    /// The health check: the flags' over the image's (set at create, which has the image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::health::HealthConfig>,
}

/// The CFS period `--cpus` is expressed in, as docker uses.
pub const CPU_PERIOD: u64 = 100_000;

impl RunOptions {
    /// `--log-driver` and `--log-opt`; passthrough only for a foreground run, which has a
    /// caller to pass the output to.
    fn log_config(&self) -> Result<LogConfig, OptionsError> {
        let c = LogConfig::parse(self.log_driver.as_deref(), &self.log_opts)?;
        if c.driver == Driver::Passthrough && self.detach {
            return Err(bad(
                "--log-driver",
                "passthrough",
                "a detached container has no caller to pass its output to",
            ));
        }
        Ok(c)
    }

    /// Checks every flag. `getenv` gives values for bare `-e KEY`.
    pub fn check(&self, getenv: &dyn Fn(&str) -> Option<String>) -> Result<Settings, OptionsError> {
        let mut mounts = Vec::new();
        for v in &self.volumes {
            mounts.push(volume(v)?);
        }
        for m in &self.mounts {
            mounts.push(mount(m)?);
        }
        for t in &self.tmpfs {
            mounts.push(tmpfs(t)?);
        }
        for (i, m) in mounts.iter().enumerate() {
            if mounts[..i]
                .iter()
                .any(|o| o.destination() == m.destination())
            {
                return Err(bad(
                    "-v/--mount/--tmpfs",
                    m.destination(),
                    "destination given twice",
                ));
            }
        }
        for f in &self.volumes_from {
            volumes_from(f)?;
        }
        if let Some(h) = &self.hostname {
            hostname(h)?;
        }
        if let Some(w) = &self.workdir {
            if !w.starts_with('/') {
                return Err(bad("--workdir", w, "must be an absolute path"));
            }
        }
        let memory = self.memory.as_deref().map(memory).transpose()?.flatten();
        if self.cpus.is_some()
            && (self.tuning.cpu_period.is_some() || self.tuning.cpu_quota.is_some())
        {
            return Err(bad(
                "--cpus",
                self.cpus.as_deref().unwrap_or_default(),
                "conflicts with --cpu-period and --cpu-quota",
            ));
        }
        let (network, net) = self.network_settings()?;
        let rootless = crate::rootless::active();
        let cgroup_manager = CgroupManager::choose(self.cgroup_manager.as_deref(), rootless)?;
        let mut env = env_files(&self.env_files, getenv)?;
        env.extend(env_list(&self.env, getenv)?);
        let restart = self
            .restart
            .as_deref()
            .map(restart)
            .transpose()?
            .unwrap_or_default();
        if restart != Restart::No && self.remove {
            return Err(bad(
                "--restart",
                self.restart.as_deref().unwrap_or_default(),
                "a container removed when it ends (--rm) cannot be restarted",
            ));
        }
        if let Some(s) = &self.stop_signal {
            if berth_sys::signal::parse(s).is_none() {
                return Err(bad("--stop-signal", s, "unknown signal"));
            }
        }
        Ok(Settings {
            auto_remove: self.remove,
            tty: self.tty,
            interactive: self.interactive,
            env,
            workdir: self.workdir.clone(),
            user: self.user.clone().filter(|u| !u.is_empty()),
            entrypoint: self.entrypoint.as_deref().map(entrypoint).transpose()?,
            command: (!self.command.is_empty()).then(|| self.command.clone()),
            mounts,
            hostname: self.hostname.clone(),
            read_only: self.read_only,
            privileged: self.privileged,
            cap_add: caps("--cap-add", &self.cap_add)?,
            cap_drop: caps("--cap-drop", &self.cap_drop)?,
            memory,
            cpu_quota: self.cpus.as_deref().map(cpus).transpose()?.flatten(),
            pids_limit: self.pids_limit.map(pids_limit).transpose()?,
            tuning: self.tuning.check(memory, network == Network::Host)?,
            network,
            net,
            cgroup_parent: cgroup_parent(self.cgroup_parent.as_deref(), cgroup_manager, rootless)?,
            cgroup_manager,
            log: self.log_config()?,
            labels: labels(&self.labels, &self.label_files)?,
            init: self.init,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            restart,
            health: self.health.check(None)?,
            domainname: match &self.domainname {
                Some(d) => {
                    hostname(d)
                        .map_err(|_| bad("--domainname", d, "want letters, digits, '-' and '.'"))?;
                    Some(d.clone())
                }
                None => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(o: RunOptions) -> Result<Settings, String> {
        o.check(&|k| (k == "FROM_HOST").then(|| "yes".to_string()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn whole_option_sets() {
        let s = check(RunOptions {
            env: vec!["A=1".into(), "FROM_HOST".into(), "UNSET".into()],
            entrypoint: Some(String::new()),
            cap_add: vec!["net_admin".into(), "all".into()],
            network: vec!["host".into()],
            command: vec!["echo".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.env, ["A=1", "FROM_HOST=yes"]);
        assert_eq!(s.entrypoint, Some(vec![]));
        assert_eq!(s.cap_add, ["CAP_NET_ADMIN", "ALL"]);
        assert_eq!(
            (s.network, s.command),
            (Network::Host, Some(vec!["echo".into()]))
        );
        assert_eq!(entrypoint(r#"["/a","b"]"#).unwrap(), ["/a", "b"]);
        for (o, flag) in [
            (
                RunOptions {
                    network: vec!["none".into(), "bridge".into()],
                    ..Default::default()
                },
                "--network",
            ),
            (
                RunOptions {
                    cap_drop: vec!["CAP_BOGUS".into()],
                    ..Default::default()
                },
                "--cap-drop",
            ),
            (
                RunOptions {
                    hostname: Some("a_b".into()),
                    ..Default::default()
                },
                "--hostname",
            ),
            (
                RunOptions {
                    workdir: Some("rel".into()),
                    ..Default::default()
                },
                "--workdir",
            ),
            (
                RunOptions {
                    env: vec!["=x".into()],
                    ..Default::default()
                },
                "--env",
            ),
            (
                RunOptions {
                    tmpfs: vec!["/a".into(), "/a/".into()],
                    ..Default::default()
                },
                "-v/--mount/--tmpfs",
            ),
            (
                RunOptions {
                    volumes_from: vec!["a:rx".into()],
                    ..Default::default()
                },
                "--volumes-from",
            ),
        ] {
            let e = check(o).unwrap_err();
            assert!(e.starts_with(flag), "{e}");
        }
    }
}
