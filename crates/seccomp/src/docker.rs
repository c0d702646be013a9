//! A seccomp profile file a user gives (`berth run --security-opt seccomp=FILE`): docker's
//! format, whose rules may be gated on capabilities, architectures and kernel versions
//! (`includes`/`excludes`, `archMap`, `name`), or plain OCI `linux.seccomp`. Resolved here
//! for the container's capabilities, the running kernel and this architecture, into OCI
//! `linux.seccomp`, as docker resolves it.

use crate::error::{Error, Result};
use crate::profile::{at_least, kernel_version, normalize_cap, parse_profile};
use oci_spec::runtime::LinuxSeccomp;
use serde_json::{Map, Value};

/// The profile in `json` for a container holding `caps`.
pub fn user_profile(json: &[u8], caps: &[&str]) -> Result<LinuxSeccomp> {
    let native = native_arch(std::env::consts::ARCH);
    resolve(json, caps, native, kernel_version())
}

/// This architecture as libseccomp names it, and as docker's `includes.arches` do (Go's).
struct Arch {
    scmp: &'static str,
    go: &'static str,
}

fn native_arch(rust: &str) -> Arch {
    let (scmp, go) = match rust {
        "x86_64" => ("SCMP_ARCH_X86_64", "amd64"),
        "x86" => ("SCMP_ARCH_X86", "386"),
        "aarch64" => ("SCMP_ARCH_AARCH64", "arm64"),
        "arm" => ("SCMP_ARCH_ARM", "arm"),
        "riscv64" => ("SCMP_ARCH_RISCV64", "riscv64"),
        "s390x" => ("SCMP_ARCH_S390X", "s390x"),
        "powerpc64" => ("SCMP_ARCH_PPC64LE", "ppc64le"),
        _ => ("", ""),
    };
    Arch { scmp, go }
}

fn bad(field: &str, message: impl Into<String>) -> Error {
    Error::Config {
        field: field.to_string(),
        message: message.into(),
    }
}

fn resolve(
    json: &[u8],
    caps: &[&str],
    arch: Arch,
    kernel: Option<(u32, u32)>,
) -> Result<LinuxSeccomp> {
    let v: Value =
        serde_json::from_slice(json).map_err(|e| bad("seccomp profile", e.to_string()))?;
    let Some(profile) = v.as_object() else {
        return Err(bad("seccomp profile", "not a JSON object"));
    };
    let caps: Vec<String> = caps.iter().map(|c| normalize_cap(c)).collect();
    let mut out = Map::new();
    for k in [
        "defaultAction",
        "defaultErrnoRet",
        "flags",
        "listenerPath",
        "listenerMetadata",
    ] {
        if let Some(x) = profile.get(k) {
            out.insert(k.into(), x.clone());
        }
    }
    // The native architecture and its sub-architectures from archMap, else the list given.
    let from_map = profile.get("archMap").and_then(Value::as_array).map(|m| {
        m.iter().find(|e| e["architecture"] == arch.scmp).map(|e| {
            let mut a = vec![e["architecture"].clone()];
            a.extend(
                e["subArchitectures"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
            Value::Array(a)
        })
    });
    match (from_map, profile.get("architectures")) {
        (Some(Some(a)), _) => {
            out.insert("architectures".into(), a);
        }
        (_, Some(a)) => {
            out.insert("architectures".into(), a.clone());
        }
        _ => {}
    }
    let mut syscalls = Vec::new();
    for (i, rule) in profile
        .get("syscalls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = format!("syscalls[{i}]");
        let Some(rule) = rule.as_object() else {
            return Err(bad(&field, "not an object"));
        };
        if !gate_passes(rule, &caps, &arch, kernel, &field)? {
            continue;
        }
        let mut r = Map::new();
        let names = match (rule.get("names"), rule.get("name")) {
            (Some(n), _) => n.clone(),
            (None, Some(n)) => Value::Array(vec![n.clone()]),
            (None, None) => return Err(bad(&field, "no names")),
        };
        r.insert("names".into(), names);
        for k in ["action", "errnoRet", "args"] {
            if let Some(x) = rule.get(k) {
                r.insert(k.into(), x.clone());
            }
        }
        syscalls.push(Value::Object(r));
    }
    out.insert("syscalls".into(), Value::Array(syscalls));
    let oci = serde_json::to_vec(&Value::Object(out))
        .map_err(|e| bad("seccomp profile", e.to_string()))?;
    parse_profile(&oci)
}

/// docker's gates: every `includes` holds and no `excludes` does.
fn gate_passes(
    rule: &Map<String, Value>,
    caps: &[String],
    arch: &Arch,
    kernel: Option<(u32, u32)>,
    field: &str,
) -> Result<bool> {
    let list = |g: &Value, k: &str| -> Vec<String> {
        g[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    };
    let has_cap = |g: &Value| {
        list(g, "caps")
            .iter()
            .any(|c| caps.contains(&normalize_cap(c)))
    };
    let on_arch = |g: &Value| {
        list(g, "arches")
            .iter()
            .any(|a| a == arch.go || a == arch.scmp)
    };
    let kernel_at_least = |g: &Value| -> Result<Option<bool>> {
        match &g["minKernel"] {
            Value::Null => Ok(None),
            Value::String(v) => Ok(Some(at_least(kernel, v))),
            _ => Err(bad(field, "minKernel is not a version string")),
        }
    };
    let none = Value::Null;
    let inc = rule.get("includes").unwrap_or(&none);
    let exc = rule.get("excludes").unwrap_or(&none);
    let included = (list(inc, "caps").is_empty() || has_cap(inc))
        && (list(inc, "arches").is_empty() || on_arch(inc))
        && kernel_at_least(inc)?.unwrap_or(true);
    let excluded = has_cap(exc) || on_arch(exc) || kernel_at_least(exc)?.unwrap_or(false);
    Ok(included && !excluded)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER: &str = r#"{
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
      ],
      "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "always"},
        {"name": "exit", "action": "SCMP_ACT_ALLOW"},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
        {"names": ["newer"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
        {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_PTRACE"]}}
      ]
    }"#;

    fn names(p: &LinuxSeccomp) -> Vec<String> {
        p.syscalls()
            .iter()
            .flatten()
            .flat_map(|s| s.names().clone())
            .collect()
    }

    #[test]
    fn dockers_gates_resolve_for_the_container() {
        let amd64 = || native_arch("x86_64");
        let p = resolve(DOCKER.as_bytes(), &["CAP_CHOWN"], amd64(), Some((6, 1))).unwrap();
        assert_eq!(names(&p), ["read", "write", "exit", "arch_prctl", "ptrace"]);
        let arches: Vec<String> = p
            .architectures()
            .iter()
            .flatten()
            .map(|a| {
                serde_json::to_value(a)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            arches,
            ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        );
        let p = resolve(
            DOCKER.as_bytes(),
            &["sys_admin", "sys_ptrace"],
            amd64(),
            None,
        )
        .unwrap();
        assert_eq!(names(&p), ["read", "write", "exit", "mount", "arch_prctl"]);
        let p = resolve(
            DOCKER.as_bytes(),
            &[],
            native_arch("aarch64"),
            Some((100, 0)),
        )
        .unwrap();
        assert_eq!(names(&p), ["read", "write", "exit", "newer", "ptrace"]);
    }

    #[test]
    fn plain_oci_profiles_pass_and_bad_ones_name_the_field() {
        let oci = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kexec_load"],"action":"SCMP_ACT_ERRNO"}]}"#;
        let p = resolve(oci.as_bytes(), &[], native_arch("x86_64"), None).unwrap();
        assert_eq!(names(&p), ["kexec_load"]);
        for (bad_json, field) in [
            ("[]", "seccomp profile"),
            (r#"{"defaultAction":"SCMP_ACT_NOPE"}"#, "defaultAction"),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ALLOW"}]}"#,
                "syscalls[0]",
            ),
        ] {
            let e = resolve(bad_json.as_bytes(), &[], native_arch("x86_64"), None)
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{bad_json}: {e}");
        }
    }
}
