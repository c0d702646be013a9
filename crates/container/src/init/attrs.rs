//! Per-process attributes of the container's process: rlimits, OOM score, personality,
//! scheduler, I/O priority, and the container's sysctls. `/proc` files are written through the
//! host's procfs opened before the pivot, so nothing the container mounted can redirect them.

use super::error::{Context, InitError};
use berth_sys::fs as sysfs;
use berth_sys::process::{self as sysproc, SchedAttr};
use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonalityDomain, LinuxSchedulerFlag, LinuxSchedulerPolicy,
    PosixRlimitType, Process, Spec,
};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

fn rlimit_number(t: PosixRlimitType) -> u32 {
    match t {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// personality(2)'s flags by name (`<sys/personality.h>`).
const PERSONALITY_FLAGS: &[(&str, libc::c_ulong)] = &[
    ("UNAME26", 0x002_0000),
    ("ADDR_NO_RANDOMIZE", 0x004_0000),
    ("FDPIC_FUNCPTRS", 0x008_0000),
    ("MMAP_PAGE_ZERO", 0x010_0000),
    ("ADDR_COMPAT_LAYOUT", 0x020_0000),
    ("READ_IMPLIES_EXEC", 0x040_0000),
    ("ADDR_LIMIT_32BIT", 0x080_0000),
    ("SHORT_INODE", 0x100_0000),
    ("WHOLE_SECONDS", 0x200_0000),
    ("STICKY_TIMEOUTS", 0x400_0000),
    ("ADDR_LIMIT_3GB", 0x800_0000),
];

/// The bit of a personality flag name.
pub fn personality_flag(name: &str) -> Option<libc::c_ulong> {
    PERSONALITY_FLAGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, bit)| bit)
}

/// `linux.personality` as personality(2)'s argument: the domain with its flags (validated
/// when the config was loaded; an unknown one adds nothing).
pub fn personality(spec: &Spec) -> Option<libc::c_ulong> {
    let pers = spec.linux().as_ref()?.personality().as_ref()?;
    let domain = match pers.domain() {
        LinuxPersonalityDomain::PerLinux => 0,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    let flags = pers.flags().iter().flatten();
    Some(
        flags
            .filter_map(|f| personality_flag(f))
            .fold(domain, |p, bit| p | bit),
    )
}

/// Applies a personality; it holds across the exec of the container's program.
pub fn set_personality(persona: libc::c_ulong) -> Result<(), InitError> {
    sysproc::personality(persona).ctx(|| format!("personality {persona:#x}"))
}

/// Sets the process's rlimits.
pub fn rlimits(p: &Process) -> Result<(), InitError> {
    for r in p.rlimits().iter().flatten() {
        sysproc::setrlimit(rlimit_number(r.typ()), r.soft(), r.hard())
            .ctx(|| format!("set {} to soft {} hard {}", r.typ(), r.soft(), r.hard()))?;
    }
    Ok(())
}

/// Writes `value` to `path` under the host's procfs `proc`.
pub fn write_proc(proc: BorrowedFd<'_>, path: &str, value: &str) -> Result<(), InitError> {
    let fd = sysfs::openat2(
        proc,
        Path::new(path),
        libc::O_WRONLY,
        0,
        sysfs::Resolve::Beneath,
    )
    .ctx(|| format!("open /proc/{path}"))?;
    sysfs::write_all(fd.as_fd(), value.as_bytes())
        .ctx(|| format!("write {value:?} to /proc/{path}"))
}

/// The container's sysctls, in the namespaces it now owns.
pub fn sysctls(spec: &Spec, proc: BorrowedFd<'_>) -> Result<(), InitError> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for k in keys {
        let path = format!("sys/{}", k.replace('.', "/"));
        write_proc(proc, &path, &map[k]).map_err(|e| InitError {
            what: format!("sysctl {k}: {}", e.what),
            source: e.source,
        })?;
    }
    Ok(())
}

/// `oomScoreAdj`, personality, scheduler and I/O priority.
pub fn process(spec: &Spec, p: &Process, proc: BorrowedFd<'_>) -> Result<(), InitError> {
    if let Some(adj) = p.oom_score_adj() {
        write_proc(proc, "self/oom_score_adj", &adj.to_string())?;
    }
    if let Some(persona) = personality(spec) {
        set_personality(persona)?;
    }
    if let Some(s) = p.scheduler() {
        let policy = match s.policy() {
            LinuxSchedulerPolicy::SchedOther => 0,
            LinuxSchedulerPolicy::SchedFifo => 1,
            LinuxSchedulerPolicy::SchedRr => 2,
            LinuxSchedulerPolicy::SchedBatch => 3,
            LinuxSchedulerPolicy::SchedIso => 4,
            LinuxSchedulerPolicy::SchedIdle => 5,
            LinuxSchedulerPolicy::SchedDeadline => 6,
        };
        let flags = s.flags().iter().flatten().fold(0u64, |f, fl| {
            f | match fl {
                LinuxSchedulerFlag::SchedResetOnFork => 0x01,
                LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
                LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
                LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
                LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
                LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
                LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
            }
        });
        let attr = SchedAttr {
            policy,
            flags,
            nice: s.nice().unwrap_or(0),
            priority: s.priority().unwrap_or(0) as u32,
            runtime: s.runtime().unwrap_or(0),
            deadline: s.deadline().unwrap_or(0),
            period: s.period().unwrap_or(0),
            ..SchedAttr::default()
        };
        sysproc::sched_setattr(&attr).ctx(|| format!("sched_setattr policy {}", s.policy()))?;
    }
    if let Some(io) = p.io_priority() {
        let class = match io.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        sysproc::ioprio_set(class, io.priority() as u32)
            .ctx(|| format!("ioprio_set {} {}", io.class(), io.priority()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personality_is_the_domain_with_its_flags() {
        let spec: Spec = crate::spec::parse(
            br#"{"ociVersion":"1.2.0","root":{"path":"r"},"process":{"args":["x"],"cwd":"/","user":{"uid":0,"gid":0}},
            "linux":{"personality":{"domain":"LINUX32","flags":["ADDR_NO_RANDOMIZE","UNAME26"]}}}"#,
        )
        .unwrap();
        assert_eq!(personality(&spec), Some(0x0006_0008));
        assert_eq!(personality_flag("NOPE"), None);
    }
}
