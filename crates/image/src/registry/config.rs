//! Per-registry settings: which registries may be reached over plain HTTP (or with
//! unverified TLS), and the CA certificates each one is verified against.
//!
//! `registries.toml` (in /etc/berth and in the `--config` directory):
//!
//! ```toml
//! [[registry]]
//! location = "127.0.0.1:5000"
//! insecure = true
//! ```
//!
//! CA certificates: every `*.crt` in `certs.d/HOST:PORT/` under /etc/berth and `--config`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::auth::{find_credentials, Credentials};
use super::RegistryError;

/// Settings for reaching registries, read from the system and user config directories.
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    insecure: Vec<String>,
    cert_dirs: Vec<PathBuf>,
    /// The user config directory (credentials written by `berth login` live here).
    pub config_dir: PathBuf,
    /// Treat every registry as insecure (`--tls-verify=false`).
    pub tls_verify_off: bool,
    /// Credentials given for this one transfer (the Docker API's `X-Registry-Auth`), used
    /// instead of those `berth login` saved.
    pub credentials: Option<Credentials>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    registry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    location: String,
    #[serde(default)]
    insecure: bool,
}

/// The system-wide configuration directory.
pub const SYSTEM_CONFIG_DIR: &str = "/etc/berth";

impl RegistryConfig {
    /// Reads `registries.toml` from the system directory and `config_dir`.
    pub fn load(config_dir: &Path) -> Result<RegistryConfig, RegistryError> {
        let mut cfg = RegistryConfig {
            config_dir: config_dir.to_path_buf(),
            ..Default::default()
        };
        for dir in [Path::new(SYSTEM_CONFIG_DIR), config_dir] {
            let p = dir.join("registries.toml");
            match std::fs::read_to_string(&p) {
                Ok(text) => {
                    let f: File = toml::from_str(&text).map_err(|e| RegistryError::Config {
                        path: p.clone(),
                        why: e.to_string().replace('\n', " "),
                    })?;
                    cfg.insecure.extend(
                        f.registry
                            .into_iter()
                            .filter(|e| e.insecure)
                            .map(|e| e.location),
                    );
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(RegistryError::Config {
                        path: p,
                        why: e.to_string(),
                    })
                }
            }
            cfg.cert_dirs.push(dir.join("certs.d"));
        }
        Ok(cfg)
    }

    /// The credentials for `host`: those given for this transfer, else the saved ones.
    pub fn credentials_for(&self, host: &str) -> Result<Option<Credentials>, RegistryError> {
        match &self.credentials {
            Some(c) => Ok(Some(c.clone())),
            None => find_credentials(&self.config_dir, host),
        }
    }

    /// Whether `host` may be reached over plain HTTP or unverified TLS.
    pub fn insecure(&self, host: &str) -> bool {
        self.tls_verify_off || self.insecure.iter().any(|h| h == host)
    }

    /// PEM CA certificate files for `host` (`certs.d/HOST/*.crt`).
    pub fn ca_files(&self, host: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for d in &self.cert_dirs {
            let Ok(list) = std::fs::read_dir(d.join(host)) else {
                continue;
            };
            for e in list.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "crt") {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    }
}
