//! A compiled filter: plain data (program bytes, seccomp(2) flags, whether it notifies) that
//! a parent compiles before fork and a child installs with one raw syscall.

use crate::bpf::{Insn, Program};
use crate::error::{Error, Result};
use crate::{cache, check, compile, kernel};
use oci_spec::runtime::LinuxSeccomp;
use serde::{Deserialize, Serialize};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

/// A `linux.seccomp` object compiled to a classic BPF program, ready for `seccomp(2)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    program: Program,
    flags: u32,
    notify: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    skipped: Vec<String>,
}

impl Filter {
    pub(crate) fn new(program: Program, flags: u32, notify: bool, skipped: Vec<String>) -> Self {
        Filter {
            program,
            flags,
            notify,
            skipped,
        }
    }

    /// Compiles the object with libseccomp and checks that the running kernel has every
    /// action and flag it uses. Errors name the field (`linux.seccomp.syscalls[3].names[1]`).
    pub fn compile(seccomp: &LinuxSeccomp) -> Result<Self> {
        let filter = compile::compile(seccomp)?;
        check::check_kernel(seccomp, &filter)?;
        Ok(filter)
    }

    /// [`Filter::compile`] through an on-disk cache in `cache_dir` (created 0700 if missing;
    /// it must belong to the caller and not be writable by others). The key is a SHA-256 of
    /// the object, this crate's version, libseccomp's version and the architecture.
    pub fn compile_cached(seccomp: &LinuxSeccomp, cache_dir: &Path) -> Result<Self> {
        let filter = cache::compile_cached(seccomp, cache_dir)?;
        check::check_kernel(seccomp, &filter)?;
        Ok(filter)
    }

    /// Installs the filter on the calling thread (all threads with TSYNC). The caller must
    /// have set no_new_privs or hold CAP_SYS_ADMIN. Returns the notification listener when
    /// the filter uses SCMP_ACT_NOTIFY. Does not allocate: safe between fork and exec.
    pub fn install(&self) -> Result<Option<OwnedFd>> {
        let insns: &[Insn] = &self.program.0;
        let prog = libc::sock_fprog {
            // check_len keeps this within u16 (at most 4096).
            len: insns.len() as u16,
            // Insn is #[repr(C)] with sock_filter's layout; the kernel only reads it.
            filter: insns.as_ptr() as *mut libc::sock_filter,
        };
        let ret = kernel::set_mode_filter(self.flags, &prog).map_err(|source| Error::Install {
            flags: self.flags,
            len: insns.len(),
            source,
        })?;
        if self.notify {
            // SAFETY: with NEW_LISTENER a successful seccomp(2) returns a new fd we now own.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as i32) }));
        }
        if ret > 0 {
            // TSYNC without TSYNC_ESRCH reports the thread that could not sync this way.
            return Err(Error::Tsync(ret));
        }
        Ok(None)
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits passed to `seccomp(2)`.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether the program uses SCMP_ACT_NOTIFY ([`Filter::install`] then returns a listener).
    pub fn uses_notify(&self) -> bool {
        self.notify
    }

    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.0.len()
    }

    /// Always false: a filter has at least one instruction.
    pub fn is_empty(&self) -> bool {
        self.program.0.is_empty()
    }

    /// The program as `struct sock_filter` bytes (native byte order).
    pub fn program_bytes(&self) -> Vec<u8> {
        self.program.to_bytes()
    }

    /// Syscall names in the config that libseccomp does not know on this architecture
    /// (skipped, as runc and crun do).
    pub fn skipped_syscalls(&self) -> &[String] {
        &self.skipped
    }
}
