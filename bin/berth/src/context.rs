//! Global options and what commands derive from them (the store, registry settings).

use std::path::PathBuf;

use crate::log::LogLevel;
use anyhow::Context as _;
use berth_engine::start::MonitorCommand;
use berth_engine::Engine;
use berth_image::registry::RegistryConfig;
use berth_image::store::Store;

/// Options every command accepts.
#[derive(clap::Args)]
pub struct GlobalArgs {
    /// Directory of berth's state (image store, containers) [default: /var/lib/berth;
    /// rootless: $XDG_DATA_HOME/berth, else ~/.local/share/berth].
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Directory of user configuration (auth.json, registries.toml, certs.d, network.toml).
    #[arg(long, global = true, value_name = "DIR")]
    config: Option<PathBuf>,
    /// Messages from this level up go to stderr (before the command, as in docker).
    #[arg(short = 'l', long, value_enum, default_value = "warn")]
    pub log_level: LogLevel,
    /// Debug messages too (--log-level debug).
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// Who makes new containers' cgroups: systemd or cgroupfs (default: systemd where it is
    /// the init).
    #[arg(long, global = true, value_name = "MANAGER", value_parser = ["systemd", "cgroupfs"])]
    cgroup_manager: Option<String>,
    /// Where CDI specs are read (default /etc/cdi and /var/run/cdi, the latter first); may
    /// be given more than once.
    #[arg(long = "cdi-spec-dir", global = true, value_name = "DIR")]
    cdi_spec_dirs: Vec<PathBuf>,
}

impl GlobalArgs {
    /// Made absolute here: a monitor runs in another directory, and paths derived from
    /// the root end up in OCI configs.
    pub fn into_context(self) -> anyhow::Result<Context> {
        let config = self.config.unwrap_or_else(default_config_dir);
        let absolute = |p: PathBuf, flag: &str| {
            std::path::absolute(&p).with_context(|| format!("{flag} {}", p.display()))
        };
        let root = match self.root {
            Some(r) => r,
            None => default_root()?,
        };
        Ok(Context {
            root: absolute(root, "--root")?,
            config: absolute(config, "--config")?,
            cgroup_manager: self.cgroup_manager,
            cdi_spec_dirs: self.cdi_spec_dirs,
        })
    }
}

/// Root's store is the host's; an ordinary user's (now root of its berth namespace) is in
/// its home directory.
fn default_root() -> anyhow::Result<PathBuf> {
    if berth_sys::ids::geteuid() == 0 && !berth_sys::ids::in_user_namespace() {
        return Ok(PathBuf::from("/var/lib/berth"));
    }
    let dir = berth_engine::rootless::data_dir()
        .context("neither XDG_DATA_HOME nor HOME is set: give berth a --root")?;
    // The user's images and containers are the user's alone.
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// `$XDG_CONFIG_HOME/berth`, else `~/.config/berth`.
fn default_config_dir() -> PathBuf {
    match (
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    ) {
        (Some(x), _) if !x.is_empty() => PathBuf::from(x).join("berth"),
        (_, Some(h)) => PathBuf::from(h).join(".config/berth"),
        _ => PathBuf::from("/etc/berth"),
    }
}

/// What commands work with.
pub struct Context {
    pub root: PathBuf,
    pub config: PathBuf,
    /// `--cgroup-manager`, for the containers this command makes.
    pub cgroup_manager: Option<String>,
    /// `--cdi-spec-dir`s, when given.
    pub cdi_spec_dirs: Vec<PathBuf>,
}

impl Context {
    pub fn store(&self) -> anyhow::Result<Store> {
        Store::open(&self.root)
            .with_context(|| format!("opening the image store under {}", self.root.display()))
    }

    /// Records an image event (docker's actions: pull, push, tag, untag, delete, load,
    /// import, save) in the events journal.
    pub fn image_event(&self, action: &str, id: &str, name: &str) {
        berth_engine::journal::Journal::new(&self.root).record(
            "image",
            action,
            id,
            &[("name", name)],
        );
    }

    /// The container engine over the same root.
    pub fn engine(&self) -> anyhow::Result<Engine> {
        Ok(Engine::open(&self.root)?
            .with_network_config(&self.config)?
            .with_cdi_spec_dirs(&self.cdi_spec_dirs))
    }

    /// How to start a container's monitor: `berth-monitor` (see its source), else this
    /// binary's hidden `monitor` command.
    pub fn monitor_command(&self) -> MonitorCommand {
        let program = berth_engine::start::helper_program();
        MonitorCommand {
            program,
            args: vec![
                "--root".into(),
                self.root.clone().into(),
                "--config".into(),
                self.config.clone().into(),
                "monitor".into(),
            ],
        }
    }

    /// Registry settings; `tls_verify = false` allows plain HTTP and unverified TLS.
    pub fn registry_config(&self, tls_verify: bool) -> anyhow::Result<RegistryConfig> {
        let mut cfg = RegistryConfig::load(&self.config)?;
        cfg.tls_verify_off = !tls_verify;
        Ok(cfg)
    }
}
