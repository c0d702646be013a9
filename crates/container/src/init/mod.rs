//! The steps the container's init takes inside its namespaces, one concern per module. The
//! stage that sequences them is `process::init`.

pub mod attrs;
pub mod cgroupfs;
pub mod console;
pub mod devices;
pub mod error;
pub mod exec;
pub mod identity;
pub mod mount_options;
pub mod mounts;
pub mod resolve;
pub mod rootfs;

pub use error::{InitError, ProgramFault};
