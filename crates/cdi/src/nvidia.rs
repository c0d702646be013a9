//! NVIDIA GPUs found without the NVIDIA Container Toolkit: the driver's version and GPUs
//! from what its kernel module publishes (`/sys/module/nvidia/version`,
//! `/proc/driver/nvidia/gpus/*/information`), the device nodes, and the driver's user-space
//! files (its libraries through the loader's cache, kept where their real file carries the
//! driver's version, as the driver installs them; its programs on the usual paths). The
//! result is the CDI spec `nvidia-ctk cdi generate` would write, kind `nvidia.com/gpu`, one
//! device per GPU by index and by UUID, and `all` (spelled out).

use crate::spec::{ContainerEdits, Device, DeviceNode, Mount, Spec};
use std::path::{Path, PathBuf};

pub const KIND: &str = "nvidia.com/gpu";

/// Library names (prefixes of the loader cache's names) of the driver's compute and
/// management stack, as the toolkit mounts them.
const LIBRARIES: [&str; 14] = [
    "libcuda.so",
    "libcudadebugger.so",
    "libnvidia-ml.so",
    "libnvidia-ptxjitcompiler.so",
    "libnvidia-nvvm.so",
    "libnvidia-cfg.so",
    "libnvidia-opencl.so",
    "libnvidia-gpucomp.so",
    "libnvidia-allocator.so",
    "libnvidia-pkcs11.so",
    "libnvidia-pkcs11-openssl3.so",
    "libnvidia-encode.so",
    "libnvidia-opticalflow.so",
    "libnvcuvid.so",
];

/// The driver's programs a container may call.
const PROGRAMS: [&str; 5] = [
    "nvidia-smi",
    "nvidia-debugdump",
    "nvidia-persistenced",
    "nvidia-cuda-mps-control",
    "nvidia-cuda-mps-server",
];

/// Where the programs are looked for.
const PROGRAM_DIRS: [&str; 4] = ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"];

/// Device nodes every GPU needs.
const CONTROL_NODES: [&str; 4] = [
    "/dev/nvidiactl",
    "/dev/nvidia-uvm",
    "/dev/nvidia-uvm-tools",
    "/dev/nvidia-modeset",
];

/// Sockets of the driver's daemons, mounted when they run.
const SOCKETS: [&str; 2] = [
    "/run/nvidia-persistenced/socket",
    "/run/nvidia-fabricmanager/socket",
];

/// Where the driver's files are: `/`, or `$NVIDIA_DRIVER_ROOT` (the toolkit's variable,
/// for a driver installed in another tree).
pub fn driver_root() -> PathBuf {
    std::env::var_os("NVIDIA_DRIVER_ROOT")
        .filter(|r| !r.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("no NVIDIA driver: {0} is missing (is the nvidia kernel module loaded?)")]
    NoDriver(String),
    #[error("no NVIDIA GPU: the driver lists none in {0}")]
    NoGpu(String),
    #[error("NVIDIA GPU {0}: its device node is missing")]
    NoNode(String),
}

/// One GPU as the driver lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpu {
    pub minor: u32,
    pub uuid: String,
    pub model: String,
    pub bus: String,
}

/// What is found under a driver root (`/`, or where a driver's files were put).
#[derive(Debug, Clone)]
pub struct Driver {
    pub root: PathBuf,
    pub version: String,
    /// In PCI bus order, as NVML numbers them.
    pub gpus: Vec<Gpu>,
}

impl Driver {
    pub fn discover(root: &Path) -> Result<Driver, DiscoveryError> {
        let at = |p: &str| root.join(p.trim_start_matches('/'));
        let version = match std::fs::read_to_string(at("/sys/module/nvidia/version")) {
            Ok(v) => v.trim().to_string(),
            Err(_) => version_from_proc(&at("/proc/driver/nvidia/version"))?,
        };
        let gpus_dir = at("/proc/driver/nvidia/gpus");
        let mut gpus: Vec<Gpu> = std::fs::read_dir(&gpus_dir)
            .map_err(|_| DiscoveryError::NoGpu(gpus_dir.display().to_string()))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let info = std::fs::read_to_string(e.path().join("information")).ok()?;
                gpu_from_information(&info, &e.file_name().to_string_lossy())
            })
            .collect();
        if gpus.is_empty() {
            return Err(DiscoveryError::NoGpu(gpus_dir.display().to_string()));
        }
        gpus.sort_by(|a, b| a.bus.cmp(&b.bus));
        Ok(Driver {
            root: root.to_path_buf(),
            version,
            gpus,
        })
    }

    /// The host path of a path of the driver's tree.
    fn host(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// The CDI spec of this driver's GPUs.
    pub fn spec(&self) -> Result<Spec, DiscoveryError> {
        let mut devices = Vec::new();
        let mut every = ContainerEdits::default();
        for (index, g) in self.gpus.iter().enumerate() {
            let path = format!("/dev/nvidia{}", g.minor);
            if !self.host(&path).exists() {
                return Err(DiscoveryError::NoNode(format!("{index} ({path})")));
            }
            let edits = ContainerEdits {
                device_nodes: vec![self.node(&path)],
                ..Default::default()
            };
            every.device_nodes.push(self.node(&path));
            for name in [index.to_string(), g.uuid.clone()] {
                devices.push(Device {
                    name,
                    annotations: Default::default(),
                    container_edits: edits.clone(),
                });
            }
        }
        // Spelled out, as nvidia-ctk writes it: other engines' CDI libraries do not expand
        // `=all` themselves.
        devices.push(Device {
            name: "all".into(),
            annotations: Default::default(),
            container_edits: every,
        });
        let mut common = ContainerEdits {
            device_nodes: CONTROL_NODES
                .iter()
                .filter(|n| self.host(n).exists())
                .map(|n| self.node(n))
                .collect(),
            ..Default::default()
        };
        common.mounts = self.libraries();
        common.mounts.extend(self.programs());
        common
            .mounts
            .extend(self.mounted_if_there(&SOCKETS, &["nosuid", "nodev", "bind", "noexec"]));
        let firmware = format!("/lib/firmware/nvidia/{}", self.version);
        common.mounts.extend(
            self.mounted_if_there(&[firmware.as_str()], &["ro", "nosuid", "nodev", "bind"]),
        );
        Ok(Spec {
            cdi_version: "0.5.0".into(),
            kind: KIND.into(),
            annotations: Default::default(),
            devices,
            container_edits: common,
        })
    }

    fn node(&self, path: &str) -> DeviceNode {
        DeviceNode {
            path: path.into(),
            host_path: (self.root != Path::new("/")).then(|| self.host(path).display().to_string()),
            ..Default::default()
        }
    }

    /// The driver's libraries: each real file (its name ends in the driver's version) at its
    /// path, and again at the name the loader looks for (`libcuda.so.1`), bound read-only
    /// (the toolkit makes symbolic links with a hook instead).
    fn libraries(&self) -> Vec<Mount> {
        let data = std::fs::read(self.host("/etc/ld.so.cache")).unwrap_or_default();
        let suffix = format!(".so.{}", self.version);
        let mut out: Vec<Mount> = Vec::new();
        for e in crate::ldcache::parse(&data) {
            if !LIBRARIES.iter().any(|l| e.name.starts_with(l)) {
                continue;
            }
            let Some(real) = self.resolve(&e.path) else {
                continue;
            };
            if !real.ends_with(&suffix) {
                continue;
            }
            for container_path in [real.clone(), e.path.clone()] {
                if out.iter().any(|m| m.container_path == container_path) {
                    continue;
                }
                out.push(Mount {
                    host_path: self.host(&real).display().to_string(),
                    container_path,
                    options: vec!["ro".into(), "nosuid".into(), "nodev".into(), "bind".into()],
                    kind: None,
                });
            }
        }
        out
    }

    /// Follows symbolic links inside the driver's tree; the final path, in the tree.
    fn resolve(&self, path: &str) -> Option<String> {
        let mut p = PathBuf::from(path);
        for _ in 0..16 {
            match std::fs::read_link(self.host(&p.display().to_string())) {
                Ok(target) if target.is_absolute() => p = target,
                Ok(target) => p = p.parent()?.join(target),
                Err(_) => break,
            }
        }
        let host = self.host(&p.display().to_string());
        host.is_file().then(|| p.display().to_string())
    }

    fn programs(&self) -> Vec<Mount> {
        PROGRAMS
            .iter()
            .filter_map(|name| {
                PROGRAM_DIRS
                    .iter()
                    .map(|d| format!("{d}/{name}"))
                    .find(|p| self.host(p).is_file())
            })
            .map(|p| Mount {
                host_path: self.host(&p).display().to_string(),
                container_path: p,
                options: vec!["ro".into(), "nosuid".into(), "nodev".into(), "bind".into()],
                kind: None,
            })
            .collect()
    }

    fn mounted_if_there(&self, paths: &[&str], options: &[&str]) -> Vec<Mount> {
        paths
            .iter()
            .filter(|p| self.host(p).exists())
            .map(|p| Mount {
                host_path: self.host(p).display().to_string(),
                container_path: p.to_string(),
                options: options.iter().map(|o| o.to_string()).collect(),
                kind: None,
            })
            .collect()
    }
}

/// `NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024`.
fn version_from_proc(path: &Path) -> Result<String, DiscoveryError> {
    let text = std::fs::read_to_string(path)
        .map_err(|_| DiscoveryError::NoDriver(path.display().to_string()))?;
    text.lines()
        .find_map(|l| l.strip_prefix("NVRM version:"))
        .and_then(|l| {
            l.split_whitespace()
                .find(|w| w.contains('.') && w.chars().all(|c| c.is_ascii_digit() || c == '.'))
        })
        .map(String::from)
        .ok_or_else(|| DiscoveryError::NoDriver(path.display().to_string()))
}

/// A GPU from its `information` file (`Model:`, `Device Minor:`, `GPU UUID:`).
fn gpu_from_information(info: &str, bus: &str) -> Option<Gpu> {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    Some(Gpu {
        minor: field("Device Minor:")?.parse().ok()?,
        uuid: field("GPU UUID:")?,
        model: field("Model:").unwrap_or_default(),
        bus: bus.to_string(),
    })
}

/// docker's `--gpus` value (`all`, a count, `device=0,2` or `device=GPU-...`, with
/// `capabilities=` and `driver=nvidia` accepted) as the CDI names of `driver`'s GPUs.
pub fn requested(value: &str, driver: &Driver) -> Result<Vec<String>, String> {
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    // Items are comma-separated, and so are the values of `device=` and `capabilities=`: a
    // part without `=` after one of those continues its list.
    let mut items: Vec<String> = Vec::new();
    for part in value.split(',') {
        match items.last_mut() {
            Some(last)
                if !part.contains('=')
                    && (last.starts_with("device=") || last.starts_with("capabilities=")) =>
            {
                last.push(',');
                last.push_str(part);
            }
            _ => items.push(part.to_string()),
        }
    }
    let count = driver.gpus.len();
    let first = |n: &str| -> Result<Vec<String>, String> {
        let n: usize = n
            .parse()
            .map_err(|_| format!("{n:?} is not all or a count"))?;
        match n <= count {
            true => Ok((0..n).map(|i| i.to_string()).collect()),
            false => Err(format!("{n} GPUs asked for, this host has {count}")),
        }
    };
    let mut ids: Option<Vec<String>> = None;
    for item in &items {
        match item.split_once('=') {
            None if item == "all" => ids = Some(vec!["all".into()]),
            None => ids = Some(first(item)?),
            Some(("count", "all")) => ids = Some(vec!["all".into()]),
            Some(("count", n)) => ids = Some(first(n)?),
            Some(("device", list)) => {
                let list: Vec<String> = list.split(',').map(String::from).collect();
                for id in &list {
                    let known = id.parse::<usize>().is_ok_and(|i| i < count)
                        || driver.gpus.iter().any(|g| &g.uuid == id);
                    if !known {
                        return Err(format!("no GPU {id:?} (this host has {count})"));
                    }
                }
                ids = Some(list);
            }
            Some(("driver", "nvidia")) | Some(("capabilities", _)) => {}
            Some((k, v)) => return Err(format!("{k}={v} is not understood")),
        }
    }
    let ids = ids.ok_or("no GPUs named")?;
    Ok(ids.into_iter().map(|i| format!("{KIND}={i}")).collect())
}
