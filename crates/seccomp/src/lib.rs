//! berth's seccomp: the OCI `linux.seccomp` object compiled into a classic BPF program that
//! is plain data, installed with one raw `seccomp(2)`.
//!
//! libseccomp runs only where the filter is compiled (the runtime's parent, before fork);
//! the container's init needs nothing but [`Filter::install`]. How the runtime uses it:
//!
//! ```text
//! parent, before fork:   let filter = Filter::compile_cached(&seccomp, &cache_dir)?;  // or compile
//!                        (pass `filter` to the init: it is Serialize + Deserialize, or inherited by fork)
//! init, before pivot:    let agent = match seccomp.listener_path() {               // only if filter.uses_notify()
//!                            Some(p) if filter.uses_notify() => Some(ListenerSocket::connect(p)?),
//!                            _ => None };
//! init, last before exec: prctl(PR_SET_NO_NEW_PRIVS) if configured;
//!                        let listener = filter.install()?;   // without no_new_privs this needs
//!                        // CAP_SYS_ADMIN: then install before the uid switch and capability drop
//!                        if let (Some(fd), Some(agent)) = (listener, agent) {
//!                            agent.send(fd, &process_state(state, host_pid, metadata))?; }
//!                        execve(...)
//! ```
//!
//! Compiling follows runc and crun: unknown syscall names are skipped
//! ([`Filter::skipped_syscalls`]); a rule that repeats the default action is dropped; args on
//! one rule are ANDed unless two test the same argument (then ORed); `value` is the mask
//! and `valueTwo` the expected value for `SCMP_CMP_MASKED_EQ`; `errnoRet` defaults to EPERM.
//! When the default action denies, syscalls numbered above the newest one the profile names
//! get ENOSYS (so libc falls back from syscalls the profile predates), as runc does.
//! Everything else that cannot compile is an [`Error`] naming the field.
#![warn(missing_docs)]

mod bpf;
mod cache;
mod check;
mod compile;
mod convert;
mod docker;
mod error;
mod filter;
pub mod kernel;
mod listener;
mod profile;

pub use bpf::MAX_INSNS;
pub use docker::user_profile;
pub use error::{Error, Result};
pub use filter::Filter;
pub use listener::{process_state, send_listener, Handoff, ListenerSocket};
pub use profile::{
    default_profile, default_profile_for, default_profile_json, parse_profile,
    DEFAULT_CAPABILITIES, DEFAULT_PROFILE_TEMPLATE,
};

/// The `ContainerProcessState` sent to the agent (re-exported from oci-spec).
pub use oci_spec::runtime::ContainerProcessState;
