//! A client for the OCI distribution API: authentication, manifests, blobs, pull, push.

mod auth;
mod client;
mod config;
mod platform;
mod pull;
mod push;
mod reader;

use std::path::PathBuf;

pub use auth::{
    auth_files, find_credentials, login_file, save_credentials, Challenge, Credentials,
};
pub use client::Client;
pub use config::{RegistryConfig, SYSTEM_CONFIG_DIR};
pub use platform::Platform;
pub use pull::{pull, PullOptions};
pub use push::push;

use crate::store::StoreError;

/// Errors talking to a registry; each names the registry URL or the reference.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The request could not be sent or the response not read.
    #[error("{url}: {}", describe_http(.source))]
    Http {
        /// The URL.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The registry answered with an unexpected status.
    #[error("{url}: HTTP {status}{detail}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The registry's error code and message, if it sent any (with a leading ": ").
        detail: String,
    },
    /// The registry wants credentials and none are configured.
    #[error("{registry}: authentication required (run `berth login {registry}`)")]
    AuthRequired {
        /// The registry host.
        registry: String,
    },
    /// The credentials were refused.
    #[error("{registry}: unauthorized: the registry refused the username or password")]
    BadCredentials {
        /// The registry host.
        registry: String,
    },
    /// No such tag or digest.
    #[error("{reference}: manifest unknown (no such tag or digest in the registry)")]
    ManifestUnknown {
        /// The reference.
        reference: String,
    },
    /// An index without a manifest for the wanted platform.
    #[error("{reference}: no manifest for platform {platform} (available: {available})")]
    NoPlatform {
        /// The reference.
        reference: String,
        /// The platform wanted.
        platform: String,
        /// The platforms the index offers.
        available: String,
    },
    /// The registry sent something berth does not understand.
    #[error("{what}: {why}")]
    Protocol {
        /// What (URL, reference, manifest).
        what: String,
        /// What is wrong.
        why: String,
    },
    /// A configuration or credentials file is unreadable or malformed.
    #[error("{}: {why}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Store trouble during pull or push.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// reqwest's Display omits the cause chain ("error sending request"); the cause is what
/// a user needs (connection refused, certificate unknown, timed out).
fn describe_http(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".to_string();
    }
    error_chain(e)
}

/// An error and its causes on one line, each cause once.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s.replace('\n', " ")
}
