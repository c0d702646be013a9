//! The engine's error: one variant per module's error, plus the lifecycle's own.

use crate::options::OptionsError;
use crate::record::RecordError;
use crate::volumes::VolumeError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Options(#[from] OptionsError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Volume(#[from] VolumeError),
    #[error(transparent)]
    Image(#[from] berth_image::store::StoreError),
    #[error(transparent)]
    Network(#[from] berth_network::Error),
    #[error(transparent)]
    Cdi(#[from] berth_cdi::Error),
    #[error(transparent)]
    Gpu(#[from] berth_cdi::nvidia::DiscoveryError),
    #[error(transparent)]
    ImageSpec(#[from] berth_image::spec::SpecError),
    #[error(transparent)]
    Copy(#[from] crate::cp::CopyError),
    #[error(transparent)]
    Commit(#[from] berth_image::commit::CommitError),
    #[error("container {id}: {source}")]
    Runtime {
        id: String,
        source: berth_container::Error,
    },
    #[error("default seccomp profile: {0}")]
    Seccomp(#[from] berth_seccomp::Error),
    #[error("generated config.json: {field}: {reason}")]
    Config { field: String, reason: String },
    #[error("containers need root, or root of berth's user namespace (the berth command enters it for an ordinary user)")]
    NeedsRoot,
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    #[error("container id prefix {0:?} is ambiguous")]
    Ambiguous(String),
    #[error("container {name}: {state}: cannot {action}")]
    WrongState {
        name: String,
        state: String,
        action: &'static str,
    },
    /// Another start won the race to it.
    #[error("container {0}: already running")]
    AlreadyRunning(String),
    #[error("container {name}: {reason}")]
    Failed { name: String, reason: String },
    #[error("container {name}: the name is already in use by container {owner}")]
    NameInUse { name: String, owner: String },
    #[error(
        "image {image} is in use by container {container} (use --force to remove the name anyway)"
    )]
    ImageInUse { image: String, container: String },
    /// What a monitor reported when the container could not start, with the exit status
    /// docker gives a `run` that fails that way.
    #[error("{message}")]
    Reported { status: i32, message: String },
    #[error("{path}: {source}")]
    Path {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl Error {
    /// The exit status of a `run` or `exec` that failed this way: 127 for a program that is
    /// not there, 126 for one that cannot be executed, else 125 (berth's own failure), as
    /// docker and podman have it.
    pub fn run_status(&self) -> i32 {
        match self {
            Error::Runtime { source, .. } => {
                source.program_fault().map_or(125, |f| f.exit_status())
            }
            Error::Reported { status, .. } => *status,
            _ => 125,
        }
    }

    /// Whether this says that no container, image, volume or network has the name asked for
    /// (`inspect` then looks at the next kind).
    pub fn is_not_found(&self) -> bool {
        use berth_image::store::StoreError;
        matches!(
            self,
            Error::NoSuchContainer(_)
                | Error::Image(StoreError::NotFound(_))
                | Error::Volume(crate::volumes::VolumeError::NotFound(_))
                | Error::Network(berth_network::Error::Network(
                    berth_network::networks::NetworkError::NotFound(_)
                ))
        )
    }

    pub(crate) fn path(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Path { path, source }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }

    pub(crate) fn runtime(id: &str) -> impl FnOnce(berth_container::Error) -> Error + '_ {
        move |source| Error::Runtime {
            id: id.to_string(),
            source,
        }
    }
}
