//! Semantic checks of a parsed config: everything that can be known wrong before the
//! container exists is rejected here, with the field named.

use super::SpecError;
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Spec, User};
use std::collections::HashSet;
use std::path::{Component, Path};

/// Checks a parsed config for what the runtime cannot or must not do.
pub fn validate(spec: &Spec) -> Result<(), SpecError> {
    version(spec.version())?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| SpecError::invalid("root", "missing"))?;
    if root.path().as_os_str().is_empty() {
        return Err(SpecError::invalid("root.path", "empty"));
    }
    process(spec)?;
    let namespaces = namespaces(spec)?;
    mounts(spec)?;
    linux(spec, &namespaces)?;
    hooks(spec)?;
    Ok(())
}

fn version(v: &str) -> Result<(), SpecError> {
    let major = v.split('.').next().and_then(|m| m.parse::<u32>().ok());
    if major != Some(1) {
        return Err(SpecError::invalid(
            "ociVersion",
            format!("unsupported version {v:?} (want 1.x)"),
        ));
    }
    Ok(())
}

fn process(spec: &Spec) -> Result<(), SpecError> {
    let Some(p) = spec.process() else {
        return Err(SpecError::invalid("process", "missing"));
    };
    if p.args().as_ref().is_none_or(|a| a.is_empty()) && p.command_line().is_none() {
        return Err(SpecError::invalid("process.args", "empty: nothing to run"));
    }
    if !p.cwd().is_absolute() {
        return Err(SpecError::invalid(
            "process.cwd",
            format!("{:?} is not absolute", p.cwd()),
        ));
    }
    if let Some(env) = p.env() {
        for (i, e) in env.iter().enumerate() {
            if !e.contains('=') || e.starts_with('=') {
                return Err(SpecError::invalid(
                    format!("process.env[{i}]"),
                    format!("{e:?} is not NAME=value"),
                ));
            }
        }
    }
    if let Some((field, id)) = id_out_of_range(p.user()) {
        return Err(SpecError::invalid(field, out_of_range(id)));
    }
    if p.apparmor_profile().as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(SpecError::invalid(
            "process.apparmorProfile",
            "AppArmor is not supported by berth-runtime on this host",
        ));
    }
    if p.selinux_label().as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(SpecError::invalid(
            "process.selinuxLabel",
            "SELinux is not supported by berth-runtime on this host",
        ));
    }
    let mut seen = HashSet::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        if !seen.insert(r.typ().to_string()) {
            return Err(SpecError::invalid(
                format!("process.rlimits[{i}]"),
                format!("duplicate {:?}", r.typ()),
            ));
        }
        if r.soft() > r.hard() {
            return Err(SpecError::invalid(
                format!("process.rlimits[{i}]"),
                "soft limit above hard limit",
            ));
        }
    }
    if let Some(io) = p.io_priority() {
        if !(0..=7).contains(&io.priority()) {
            return Err(SpecError::invalid(
                "process.ioPriority.priority",
                "must be 0..7",
            ));
        }
    }
    Ok(())
}

/// The first id of `user` above 2^31-1, with its field: the kernel takes ids as signed,
/// and -1 (4294967295) means "unchanged" to setresuid, which would leave the process root.
pub(crate) fn id_out_of_range(user: &User) -> Option<(String, u32)> {
    let max = i32::MAX as u32;
    let gids = user.additional_gids().iter().flatten().enumerate();
    [
        ("process.user.uid".to_string(), user.uid()),
        ("process.user.gid".to_string(), user.gid()),
    ]
    .into_iter()
    .chain(gids.map(|(i, g)| (format!("process.user.additionalGids[{i}]"), *g)))
    .find(|(_, id)| *id > max)
}

/// Why an id from [`id_out_of_range`] is refused.
pub(crate) fn out_of_range(id: u32) -> String {
    format!("{id} is above {} (ids are signed)", i32::MAX)
}

/// The namespace types the config creates or joins; duplicates are an error.
fn namespaces(spec: &Spec) -> Result<HashSet<LinuxNamespaceType>, SpecError> {
    let mut set = HashSet::new();
    let list = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    for (i, ns) in list.into_iter().flatten().enumerate() {
        if !set.insert(ns.typ()) {
            return Err(SpecError::invalid(
                format!("linux.namespaces[{i}]"),
                format!("duplicate {} namespace", ns.typ()),
            ));
        }
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return Err(SpecError::invalid(
                    format!("linux.namespaces[{i}].path"),
                    format!("{p:?} is not absolute"),
                ));
            }
        }
    }
    Ok(set)
}

/// True when `p`, taken lexically, climbs above the root (`../x`, `/a/../../x`).
pub fn escapes_root(p: &Path) -> bool {
    let mut depth = 0i32;
    for c in p.components() {
        match c {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    false
}

fn mounts(spec: &Spec) -> Result<(), SpecError> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let d = m.destination();
        if d.as_os_str().is_empty() {
            return Err(SpecError::invalid(
                format!("mounts[{i}].destination"),
                "empty",
            ));
        }
        if escapes_root(d) {
            return Err(SpecError::invalid(
                format!("mounts[{i}].destination"),
                format!("{d:?} escapes the container's root"),
            ));
        }
        if let Some(opts) = m.options() {
            crate::init::mount_options::parse(opts)
                .map_err(|e| SpecError::invalid(format!("mounts[{i}].options"), e.to_string()))?;
        }
        let is_bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind");
        if !is_bind && m.typ().as_deref().is_none_or(str::is_empty) {
            return Err(SpecError::invalid(
                format!("mounts[{i}].type"),
                "missing (and not a bind mount)",
            ));
        }
        if crate::prepared::is_idmapped(m) && !is_bind {
            return Err(SpecError::invalid(
                format!("mounts[{i}].options"),
                "idmapped mounts must be bind mounts",
            ));
        }
        if is_bind && m.source().is_none() {
            return Err(SpecError::invalid(
                format!("mounts[{i}].source"),
                "a bind mount needs a source",
            ));
        }
    }
    Ok(())
}

fn linux(spec: &Spec, ns: &HashSet<LinuxNamespaceType>) -> Result<(), SpecError> {
    let has = |t| ns.contains(&t);
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return Err(SpecError::invalid(
            "hostname",
            "setting a hostname needs a new uts namespace",
        ));
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return Err(SpecError::invalid(
            "domainname",
            "setting a domainname needs a new uts namespace",
        ));
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let mapped = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    let user_new = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|l| {
            l.iter()
                .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none())
        });
    if mapped && !has(LinuxNamespaceType::User) {
        return Err(SpecError::invalid(
            "linux.uidMappings",
            "id mappings need a user namespace",
        ));
    }
    if user_new && !mapped {
        return Err(SpecError::invalid(
            "linux.uidMappings",
            "a new user namespace needs uid and gid mappings",
        ));
    }
    if user_new {
        for (field, maps) in [
            ("linux.uidMappings", linux.uid_mappings()),
            ("linux.gidMappings", linux.gid_mappings()),
        ] {
            if maps.as_ref().is_none_or(|m| m.is_empty()) {
                return Err(SpecError::invalid(
                    field,
                    "missing for the new user namespace",
                ));
            }
        }
        let uid = spec.process().as_ref().map_or(0, |p| p.user().uid());
        let gid = spec.process().as_ref().map_or(0, |p| p.user().gid());
        if !id_mapped(linux.uid_mappings(), uid) {
            return Err(SpecError::invalid(
                "process.user.uid",
                format!("{uid} is not mapped in linux.uidMappings"),
            ));
        }
        if !id_mapped(linux.gid_mappings(), gid) {
            return Err(SpecError::invalid(
                "process.user.gid",
                format!("{gid} is not mapped in linux.gidMappings"),
            ));
        }
    }
    for (key, _) in linux.sysctl().iter().flatten() {
        sysctl_namespace(key, &has)?;
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) {
        let new_time = linux
            .namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::Time && n.path().is_none());
        if !new_time {
            return Err(SpecError::invalid(
                "linux.timeOffsets",
                "time offsets need a new time namespace",
            ));
        }
        for k in linux.time_offsets().iter().flatten().map(|(k, _)| k) {
            if k != "monotonic" && k != "boottime" {
                return Err(SpecError::invalid(
                    format!("linux.timeOffsets.{k}"),
                    "only monotonic and boottime clocks have offsets",
                ));
            }
        }
    }
    if linux.mount_label().as_ref().is_some_and(|s| !s.is_empty()) {
        mount_label(selinux_enabled())?;
    }
    if linux.intel_rdt().is_some() {
        return Err(SpecError::invalid(
            "linux.intelRdt",
            "Intel RDT is not supported by berth-runtime",
        ));
    }
    if let Some(p) = linux.rootfs_propagation() {
        if crate::init::mount_options::propagation(p).is_none() {
            return Err(SpecError::invalid(
                "linux.rootfsPropagation",
                format!("unknown propagation {p:?}"),
            ));
        }
    }
    let flags = linux
        .personality()
        .as_ref()
        .and_then(|p| p.flags().as_ref());
    for (i, f) in flags.into_iter().flatten().enumerate() {
        if crate::init::attrs::personality_flag(f).is_none() {
            return Err(SpecError::invalid(
                format!("linux.personality.flags[{i}]"),
                format!("{f:?} is not a personality(2) flag"),
            ));
        }
    }
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        if !d.path().is_absolute() || escapes_root(d.path()) {
            return Err(SpecError::invalid(
                format!("linux.devices[{i}].path"),
                format!("{:?} must be absolute and inside the container", d.path()),
            ));
        }
        if d.typ() == LinuxDeviceType::A {
            return Err(SpecError::invalid(
                format!("linux.devices[{i}].type"),
                "\"a\" is not a device type",
            ));
        }
    }
    Ok(())
}

/// `linux.mountLabel`: without SELinux there is nothing to label with, so it is ignored
/// with a warning, as crun does; with SELinux enabled it is refused, since berth-runtime
/// cannot apply it and the mounts must not go unlabelled.
fn mount_label(selinux: bool) -> Result<(), SpecError> {
    if selinux {
        return Err(SpecError::invalid(
            "linux.mountLabel",
            "SELinux labels are not supported by berth-runtime",
        ));
    }
    tracing::warn!("linux.mountLabel: SELinux is not enabled on this host, ignored");
    Ok(())
}

/// Whether SELinux is enabled: its file system is mounted where libselinux looks.
fn selinux_enabled() -> bool {
    const SELINUX_MAGIC: i64 = 0xf97c_ff8c;
    berth_sys::fs::open(
        Path::new("/sys/fs/selinux"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .and_then(|fd| berth_sys::fs::fs_magic(std::os::fd::AsFd::as_fd(&fd)))
    .is_ok_and(|m| m == SELINUX_MAGIC)
}

fn id_mapped(maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>, id: u32) -> bool {
    maps.iter().flatten().any(|m| {
        id >= m.container_id() && u64::from(id) < u64::from(m.container_id()) + u64::from(m.size())
    })
}

/// A sysctl may only be set in a namespace the container owns (runc's rule).
fn sysctl_namespace(key: &str, has: &dyn Fn(LinuxNamespaceType) -> bool) -> Result<(), SpecError> {
    let field = || format!("linux.sysctl.{key}");
    if key.is_empty() || key.contains("..") || key.starts_with(['/', '.']) {
        return Err(SpecError::invalid(field(), "not a sysctl name"));
    }
    let ipc = matches!(
        key,
        "kernel.msgmax"
            | "kernel.msgmnb"
            | "kernel.msgmni"
            | "kernel.sem"
            | "kernel.shmall"
            | "kernel.shmmax"
            | "kernel.shmmni"
            | "kernel.shm_rmid_forced"
    ) || key.starts_with("fs.mqueue.");
    if ipc {
        return if has(LinuxNamespaceType::Ipc) {
            Ok(())
        } else {
            Err(SpecError::invalid(field(), "needs a new ipc namespace"))
        };
    }
    if key.starts_with("net.") {
        return if has(LinuxNamespaceType::Network) {
            Ok(())
        } else {
            Err(SpecError::invalid(field(), "needs a new network namespace"))
        };
    }
    if key == "kernel.hostname" {
        // As runc and crun: it would silently fight the `hostname` field.
        return Err(SpecError::invalid(
            field(),
            "not allowed: set the hostname field",
        ));
    }
    if key == "kernel.domainname" {
        return if has(LinuxNamespaceType::Uts) {
            Ok(())
        } else {
            Err(SpecError::invalid(field(), "needs a new uts namespace"))
        };
    }
    Err(SpecError::invalid(
        field(),
        "not namespaced: it would change the host",
    ))
}

fn hooks(spec: &Spec) -> Result<(), SpecError> {
    let Some(h) = spec.hooks() else { return Ok(()) };
    let all = [
        ("hooks.prestart", h.prestart()),
        ("hooks.createRuntime", h.create_runtime()),
        ("hooks.createContainer", h.create_container()),
        ("hooks.startContainer", h.start_container()),
        ("hooks.poststart", h.poststart()),
        ("hooks.poststop", h.poststop()),
    ];
    for (name, list) in all {
        for (i, hook) in list.iter().flatten().enumerate() {
            if !hook.path().is_absolute() {
                return Err(SpecError::invalid(
                    format!("{name}[{i}].path"),
                    format!("{:?} is not absolute", hook.path()),
                ));
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(SpecError::invalid(
                    format!("{name}[{i}].timeout"),
                    "must be positive",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        super::super::parse(json.as_bytes()).unwrap()
    }

    fn base(extra: &str) -> String {
        format!(
            r#"{{"ociVersion":"1.2.0","root":{{"path":"rootfs"}},
            "process":{{"args":["sh"],"cwd":"/","user":{{"uid":0,"gid":0}}}}{extra}}}"#
        )
    }

    fn err(json: &str) -> String {
        validate(&spec(json)).unwrap_err().to_string()
    }

    #[test]
    fn minimal_config_is_valid() {
        validate(&spec(&base(""))).unwrap();
    }

    #[test]
    fn rejects_bad_version() {
        let j = base("").replace("1.2.0", "2.0.0");
        assert!(err(&j).contains("ociVersion"));
    }

    #[test]
    fn rejects_duplicate_namespace() {
        let j = base(r#","linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]}"#);
        assert!(err(&j).contains("linux.namespaces[1]"), "{}", err(&j));
    }

    #[test]
    fn rejects_escaping_mount_destination() {
        let j = base(r#","mounts":[{"destination":"/../../etc","type":"tmpfs","source":"tmpfs"}]"#);
        assert!(err(&j).contains("mounts[0].destination"), "{}", err(&j));
    }

    #[test]
    fn rejects_hostname_without_uts() {
        let j = base(r#","hostname":"x""#);
        assert!(err(&j).contains("hostname"));
    }

    #[test]
    fn rejects_userns_without_mappings_and_unmapped_user() {
        let j = base(r#","linux":{"namespaces":[{"type":"user"}]}"#);
        assert!(err(&j).contains("uidMappings"));
        let j = base(
            r#","linux":{"namespaces":[{"type":"user"}],
            "uidMappings":[{"containerID":1,"hostID":1000,"size":10}],
            "gidMappings":[{"containerID":0,"hostID":1000,"size":10}]}"#,
        );
        assert!(err(&j).contains("process.user.uid"), "{}", err(&j));
    }

    #[test]
    fn rejects_host_sysctl() {
        let j = base(r#","linux":{"sysctl":{"kernel.panic":"1"}}"#);
        assert!(err(&j).contains("linux.sysctl.kernel.panic"));
        let j = base(r#","linux":{"sysctl":{"net.ipv4.ip_forward":"1"}}"#);
        assert!(err(&j).contains("network namespace"));
    }

    #[test]
    fn rejects_relative_cwd_and_bad_rlimits() {
        let j = base("").replace(r#""cwd":"/""#, r#""cwd":"tmp""#);
        assert!(err(&j).contains("process.cwd"));
        let j = base("").replace(
            r#""cwd":"/""#,
            r#""cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE","soft":10,"hard":5}]"#,
        );
        assert!(err(&j).contains("process.rlimits[0]"));
    }

    #[test]
    fn ids_above_the_signed_range_are_refused() {
        let j = base("").replace(r#""uid":0,"gid":0"#, r#""uid":0,"gid":4294967295"#);
        assert!(err(&j).contains("process.user.gid"), "{}", err(&j));
        let j = base("").replace(
            r#""uid":0,"gid":0"#,
            r#""uid":2147483647,"gid":0,"additionalGids":[1,2147483648]"#,
        );
        assert!(err(&j).contains("additionalGids[1]"), "{}", err(&j));
    }

    #[test]
    fn a_mount_label_is_ignored_without_selinux_and_refused_with_it() {
        assert!(mount_label(false).is_ok());
        let e = mount_label(true).unwrap_err().to_string();
        assert!(e.contains("linux.mountLabel"), "{e}");
    }

    #[test]
    fn escapes_root_is_lexical() {
        assert!(escapes_root(Path::new("../x")));
        assert!(escapes_root(Path::new("/a/../../x")));
        assert!(!escapes_root(Path::new("/a/../x")));
        assert!(!escapes_root(Path::new("/proc")));
    }
}
