//! Which namespaces are created or joined, when, and by which process of the chain.
//!
//! The common case (nothing to join, no time offsets) needs one `clone3` that creates every
//! namespace at once: no intermediate process. Joining by path, or setting time offsets, needs
//! the namespaces entered in order (user first, so the rest is joined with its privileges) and
//! new pid/time namespaces only apply to children: the intermediate then forks the init.

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::PathBuf;

/// The `CLONE_NEW*` flag of a namespace type.
pub fn flag(t: LinuxNamespaceType) -> libc::c_int {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

/// How the process chain enters the container's namespaces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Namespaces `clone3` creates for the first child.
    pub clone_flags: u64,
    /// An intermediate process joins, unshares and (if `fork`) forks the init.
    pub intermediate: bool,
    /// Namespaces to join, in order (user first, mount last).
    pub joins: Vec<(LinuxNamespaceType, PathBuf)>,
    /// Namespaces the intermediate creates after joining (user is done separately, first).
    pub unshare_flags: libc::c_int,
    /// The intermediate creates a user namespace (and has the parent map it).
    pub unshare_user: bool,
    /// The intermediate must fork: a pid or time namespace only applies to children.
    pub fork: bool,
    /// The cgroup namespace is created by the init once it is in all its cgroups.
    pub late_cgroupns: bool,
    /// `/proc/self/timens_offsets` contents, written before the init exists.
    pub time_offsets: Option<String>,
    /// A new user namespace (either way), whose ids the parent maps.
    pub new_user: bool,
    /// A new mount namespace: the rootfs is set up in it.
    pub new_mount: bool,
    /// The container joins or creates a pid namespace / a new cgroup namespace.
    pub new_cgroupns: bool,
}

/// Plans namespace entry for `spec`. `cgroup_at_clone` says whether `clone3` places the
/// child in all its cgroups (v2), so a cgroup namespace can be created at clone time too.
pub fn plan(spec: &Spec, cgroup_at_clone: bool) -> Plan {
    let list = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let mut p = Plan::default();
    let mut new: Vec<LinuxNamespaceType> = Vec::new();
    for ns in &list {
        match ns.path() {
            Some(path) => p.joins.push((ns.typ(), path.clone())),
            None => new.push(ns.typ()),
        }
    }
    let rank = |t: LinuxNamespaceType| match t {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 2,
        _ => 1,
    };
    p.joins.sort_by_key(|(t, _)| rank(*t));
    p.new_user = new.contains(&LinuxNamespaceType::User);
    p.new_mount = new.contains(&LinuxNamespaceType::Mount);
    p.new_cgroupns = new.contains(&LinuxNamespaceType::Cgroup);
    p.time_offsets = time_offsets(spec);
    p.intermediate = !p.joins.is_empty() || p.time_offsets.is_some();
    if p.intermediate {
        p.unshare_user = p.new_user;
        p.unshare_flags = new
            .iter()
            .filter(|t| !matches!(t, LinuxNamespaceType::User | LinuxNamespaceType::Cgroup))
            .fold(0, |f, t| f | flag(*t));
        p.late_cgroupns = p.new_cgroupns;
        p.fork = new
            .iter()
            .any(|t| matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time))
            || p.joins.iter().any(|(t, _)| *t == LinuxNamespaceType::Pid);
    } else {
        p.late_cgroupns = p.new_cgroupns && !cgroup_at_clone;
        p.clone_flags = new
            .iter()
            .filter(|t| !(p.late_cgroupns && **t == LinuxNamespaceType::Cgroup))
            .fold(0u64, |f, t| f | flag(*t) as u32 as u64);
    }
    p
}

fn time_offsets(spec: &Spec) -> Option<String> {
    let map = spec.linux().as_ref()?.time_offsets().as_ref()?;
    if map.is_empty() {
        return None;
    }
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    Some(
        keys.iter()
            .map(|k| {
                let o = &map[*k];
                format!(
                    "{k} {} {}\n",
                    o.secs().unwrap_or(0),
                    o.nanosecs().unwrap_or(0)
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ns: &str, extra: &str) -> Spec {
        let j = format!(
            r#"{{"ociVersion":"1.2.0","root":{{"path":"r"}},"process":{{"args":["x"],"cwd":"/","user":{{"uid":0,"gid":0}}}},
            "linux":{{"namespaces":{ns}{extra}}}}}"#
        );
        crate::spec::parse(j.as_bytes()).unwrap()
    }

    #[test]
    fn all_new_is_one_clone() {
        let p = plan(
            &spec(
                r#"[{"type":"pid"},{"type":"mount"},{"type":"network"},{"type":"cgroup"},{"type":"user"}]"#,
                "",
            ),
            false,
        );
        assert!(!p.intermediate);
        assert!(p.late_cgroupns, "v1: cgroupns after placement");
        assert_eq!(
            p.clone_flags,
            (libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWNET | libc::CLONE_NEWUSER)
                as u64
        );
        let p = plan(&spec(r#"[{"type":"cgroup"}]"#, ""), true);
        assert_eq!(p.clone_flags, libc::CLONE_NEWCGROUP as u64);
        assert!(!p.late_cgroupns);
    }

    #[test]
    fn joins_need_an_intermediate_and_order_user_first() {
        let p = plan(
            &spec(
                r#"[{"type":"mount","path":"/m"},{"type":"network","path":"/n"},{"type":"user","path":"/u"},{"type":"pid"}]"#,
                "",
            ),
            true,
        );
        assert!(p.intermediate && p.fork);
        assert_eq!(
            p.joins.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            vec![
                LinuxNamespaceType::User,
                LinuxNamespaceType::Network,
                LinuxNamespaceType::Mount
            ]
        );
        assert_eq!(p.unshare_flags, libc::CLONE_NEWPID);
        assert_eq!(p.clone_flags, 0);
    }

    #[test]
    fn time_offsets_force_the_slow_path() {
        let p = plan(
            &spec(
                r#"[{"type":"time"},{"type":"mount"}]"#,
                r#","timeOffsets":{"boottime":{"secs":100}}"#,
            ),
            true,
        );
        assert!(p.intermediate && p.fork);
        assert_eq!(p.time_offsets.as_deref(), Some("boottime 100 0\n"));
        assert_eq!(p.unshare_flags, libc::CLONE_NEWTIME | libc::CLONE_NEWNS);
    }
}
