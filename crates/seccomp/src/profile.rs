//! berth's default profile: `default-profile.json` (our own template, shipped in the crate)
//! resolved into an OCI `linux.seccomp` object for a capability set, the running kernel and
//! the architecture, the way Docker gates its default profile.

use crate::error::{Error, Result};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg};
use oci_spec::runtime::{LinuxSeccompArgBuilder, LinuxSeccompOperator, LinuxSyscall};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The template's JSON text: the rules with their capability, kernel and architecture gates.
pub const DEFAULT_PROFILE_TEMPLATE: &str = include_str!("default-profile.json");

/// The capabilities a container gets by default (Docker's default set); [`default_profile`]
/// resolves the template for these.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The default profile for a container with [`DEFAULT_CAPABILITIES`].
pub fn default_profile() -> Result<LinuxSeccomp> {
    default_profile_for(&DEFAULT_CAPABILITIES)
}

/// The default profile for a container holding `caps` (`CAP_SYS_ADMIN` or `sys_admin`;
/// typically the bounding set): syscalls the kernel gates on a capability the container
/// has are allowed, as Docker does.
pub fn default_profile_for(caps: &[&str]) -> Result<LinuxSeccomp> {
    let template = parse_template()?;
    resolve(&template, caps, std::env::consts::ARCH, kernel_version())
}

/// [`default_profile`] as pretty-printed JSON, for `berth-runtime spec`.
pub fn default_profile_json() -> Result<String> {
    serde_json::to_string_pretty(&default_profile()?).map_err(|e| Error::Profile(e.to_string()))
}

/// Parses a `linux.seccomp` object from JSON (say, a profile file given to the engine).
/// Errors name the field: `linux.seccomp.syscalls[0].action: unknown variant ...`.
pub fn parse_profile(json: &[u8]) -> Result<LinuxSeccomp> {
    let de = &mut serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = match e.path().to_string() {
            p if p == "." => "linux.seccomp".to_string(),
            p => format!("linux.seccomp.{p}"),
        };
        Error::Config {
            field,
            message: e.into_inner().to_string(),
        }
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Template {
    #[serde(rename = "comment")]
    _comment: String,
    default_action: LinuxSeccompAction,
    default_errno_ret: Option<u32>,
    architectures: BTreeMap<String, Vec<Arch>>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) never_allowed: Names,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Names {
    #[serde(rename = "comment")]
    _comment: String,
    pub(crate) names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Rule {
    #[serde(rename = "comment")]
    _comment: String,
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    pub(crate) names: Vec<String>,
    #[serde(default)]
    args: Vec<LinuxSeccompArg>,
    /// One rule per value: the argument equals any of them.
    arg_equals_any_of: Option<AnyOf>,
    /// Only when the container has one of these.
    #[serde(default)]
    pub(crate) if_caps: Vec<String>,
    /// Only when the container has none of these.
    #[serde(default)]
    unless_caps: Vec<String>,
    /// Only on these native architectures (`std::env::consts::ARCH` names).
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    not_arches: Vec<String>,
    /// Only on kernels at least this new (`major.minor`).
    min_kernel: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnyOf {
    index: usize,
    values: Vec<u64>,
}

pub(crate) fn parse_template() -> Result<Template> {
    serde_json::from_str(DEFAULT_PROFILE_TEMPLATE).map_err(|e| Error::Profile(e.to_string()))
}

/// The template for one container: rules whose gates pass, in template order.
pub(crate) fn resolve(
    t: &Template,
    caps: &[&str],
    arch: &str,
    kernel: Option<(u32, u32)>,
) -> Result<LinuxSeccomp> {
    let caps: Vec<String> = caps.iter().map(|c| normalize_cap(c)).collect();
    let has = |list: &[String]| list.iter().any(|c| caps.contains(&normalize_cap(c)));
    let mut syscalls = Vec::new();
    for rule in &t.rules {
        let applies = (rule.if_caps.is_empty() || has(&rule.if_caps))
            && !has(&rule.unless_caps)
            && (rule.arches.is_empty() || rule.arches.iter().any(|a| a == arch))
            && !rule.not_arches.iter().any(|a| a == arch)
            && rule
                .min_kernel
                .as_deref()
                .is_none_or(|v| at_least(kernel, v));
        if applies {
            syscalls.extend(expand(rule)?);
        }
    }
    // The template's promise, kept whatever the capabilities.
    let allowed = syscalls.iter().filter(|s| s.action() != t.default_action);
    for name in allowed.flat_map(|s| s.names()) {
        if t.never_allowed.names.contains(name) {
            return Err(Error::Profile(format!(
                "{name} is never allowed, yet a rule names it"
            )));
        }
    }
    let mut out = LinuxSeccomp::default();
    out.set_default_action(t.default_action);
    out.set_default_errno_ret(t.default_errno_ret);
    out.set_architectures(t.architectures.get(arch).cloned());
    out.set_syscalls(Some(syscalls));
    Ok(out)
}

fn expand(rule: &Rule) -> Result<Vec<LinuxSyscall>> {
    let one = |args: Vec<LinuxSeccompArg>| {
        let mut s = LinuxSyscall::default();
        s.set_names(rule.names.clone());
        s.set_action(rule.action);
        s.set_errno_ret(rule.errno_ret);
        s.set_args((!args.is_empty()).then_some(args));
        s
    };
    match &rule.arg_equals_any_of {
        None => Ok(vec![one(rule.args.clone())]),
        Some(any) => any
            .values
            .iter()
            .map(|v| {
                let arg = LinuxSeccompArgBuilder::default()
                    .index(any.index)
                    .value(*v)
                    .op(LinuxSeccompOperator::ScmpCmpEq)
                    .build()
                    .map_err(|e| Error::Profile(e.to_string()))?;
                let mut args = rule.args.clone();
                args.push(arg);
                Ok(one(args))
            })
            .collect(),
    }
}

pub(crate) fn normalize_cap(cap: &str) -> String {
    let up = cap.trim().to_ascii_uppercase();
    match up.starts_with("CAP_") {
        true => up,
        false => format!("CAP_{up}"),
    }
}

/// Whether the kernel is at least `min` (`major.minor`); an unknown kernel is not.
pub(crate) fn at_least(kernel: Option<(u32, u32)>, min: &str) -> bool {
    match (kernel, parse_version(min)) {
        (Some(k), Some(m)) => k >= m,
        _ => false,
    }
}

fn parse_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The running kernel's `major.minor` from uname(2).
pub(crate) fn kernel_version() -> Option<(u32, u32)> {
    // SAFETY: utsname is plain data; uname fills it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid utsname to write into.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    // SAFETY: uname NUL-terminates release within the array.
    let release = unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) };
    parse_version(&release.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_for<'a>(p: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
        let all = p.syscalls().as_deref().unwrap_or_default();
        all.iter()
            .filter(|s| s.names().iter().any(|n| n == name))
            .collect()
    }

    #[test]
    fn template_parses_and_never_allowed_is_never_allowed() {
        let t = parse_template().unwrap();
        let all_caps: Vec<&str> = t
            .rules
            .iter()
            .flat_map(|r| &r.if_caps)
            .map(|s| s.as_str())
            .collect();
        let p = resolve(&t, &all_caps, "x86_64", Some((6, 18))).unwrap();
        for name in &t.never_allowed.names {
            assert!(
                rules_for(&p, name).is_empty(),
                "{name} is allowed somewhere"
            );
        }
    }

    #[test]
    fn gates_follow_capabilities() {
        let t = parse_template().unwrap();
        let plain = resolve(&t, &DEFAULT_CAPABILITIES, "x86_64", Some((6, 18))).unwrap();
        assert!(rules_for(&plain, "mount").is_empty());
        assert!(
            !rules_for(&plain, "chroot").is_empty(),
            "CAP_SYS_CHROOT is a default"
        );
        let clone = rules_for(&plain, "clone");
        assert_eq!(clone.len(), 1);
        assert!(
            clone[0].args().is_some(),
            "clone is masked without CAP_SYS_ADMIN"
        );
        let admin = resolve(&t, &["sys_admin"], "x86_64", Some((6, 18))).unwrap();
        assert!(!rules_for(&admin, "mount").is_empty());
        assert!(rules_for(&admin, "clone")
            .iter()
            .all(|r| r.args().is_none()));
        assert_eq!(
            plain.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
    }

    #[test]
    fn kernel_and_arch_gates() {
        let t = parse_template().unwrap();
        assert!(rules_for(&resolve(&t, &[], "x86_64", Some((4, 4))).unwrap(), "ptrace").is_empty());
        assert!(rules_for(&resolve(&t, &[], "x86_64", None).unwrap(), "ptrace").is_empty());
        assert!(
            !rules_for(&resolve(&t, &[], "x86_64", Some((4, 8))).unwrap(), "ptrace").is_empty()
        );
        let s390 = resolve(&t, &[], "s390x", Some((6, 1))).unwrap();
        let clone = rules_for(&s390, "clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0].args().as_ref().unwrap()[0].index(), 1);
    }

    #[test]
    fn personality_values_become_one_rule_each() {
        let p = default_profile().unwrap();
        let values: Vec<u64> = rules_for(&p, "personality")
            .iter()
            .map(|r| r.args().as_ref().unwrap()[0].value())
            .collect();
        assert_eq!(values, [0, 8, 0x20000, 0x20008, 0xffff_ffff]);
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("6.18.44-fc-v657"), Some((6, 18)));
        assert_eq!(parse_version("4.8"), Some((4, 8)));
        assert_eq!(parse_version("x"), None);
        assert!(kernel_version().is_some());
    }

    #[test]
    fn json_text_is_an_oci_object() {
        let text = default_profile_json().unwrap();
        let back: LinuxSeccomp = serde_json::from_str(&text).unwrap();
        assert_eq!(back, default_profile().unwrap());
        assert!(text.contains("\"defaultAction\": \"SCMP_ACT_ERRNO\""));
    }
}
