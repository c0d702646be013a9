//! The container's process, checked from inside: user, groups, umask, env, cwd, the five
//! capability sets, no_new_privs, rlimits, OOM score, personality, scheduler, I/O priority,
//! sysctls, hostname and domainname.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;

/// `Field:\tvalue` from a /proc/self/status dump.
fn status_field<'a>(out: &'a str, field: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {out}"))
        .trim()
}

#[test]
fn user_groups_umask_env_and_cwd() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "id -u; id -g; id -G; umask; echo \"$FOO|$HOME\"; pwd; touch f && stat -c %u:%g f",
    ]);
    b.config["process"]["user"] =
        json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 1000, 65534], "umask": 0o027});
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    b.config["process"]["cwd"] = json!("/home/user/work");
    b.config["root"]["readonly"] = json!(false);
    std::fs::create_dir_all(b.rootfs().join("home/user/work")).unwrap();
    std::os::unix::fs::chown(b.rootfs().join("home/user/work"), Some(1000), Some(1000)).unwrap();
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1000");
    let mut groups: Vec<&str> = lines[2].split(' ').collect();
    groups.sort();
    assert_eq!(groups, vec!["1000", "5", "65534"]);
    assert_eq!(lines[3], "0027");
    assert_eq!(
        lines[4], "bar baz|/home/user",
        "HOME comes from the container's passwd"
    );
    assert_eq!(lines[5], "/home/user/work");
    assert_eq!(lines[6], "1000:1000");
    b.assert_host_clean();
}

#[test]
fn missing_cwd_is_created() {
    let mut b = Bundle::new(&["pwd"]);
    b.config["process"]["cwd"] = json!("/does/not/exist/yet");
    b.config["root"]["readonly"] = json!(false);
    assert_eq!(b.run_ok(), "/does/not/exist/yet\n");
    b.assert_host_clean();
}

#[test]
fn capability_sets_match_the_config() {
    let mut b = Bundle::new(&["cat", "/proc/self/status"]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL", "CAP_SYS_ADMIN"],
        "permitted": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL"],
        "effective": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
        "inheritable": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
        "ambient": ["CAP_NET_BIND_SERVICE", "CAP_KILL"]
    });
    b.config["process"]["noNewPrivileges"] = json!(true);
    let out = b.run_ok();
    // CHOWN=0 KILL=5 NET_BIND_SERVICE=10 SYS_ADMIN=21.
    assert_eq!(
        status_field(&out, "CapBnd"),
        format!("{:016x}", (1u64 << 0) | (1 << 5) | (1 << 10) | (1 << 21))
    );
    // A non-root user keeps across exec exactly its ambient set.
    let amb = format!("{:016x}", (1u64 << 5) | (1 << 10));
    assert_eq!(status_field(&out, "CapAmb"), amb);
    assert_eq!(status_field(&out, "CapEff"), amb);
    assert_eq!(status_field(&out, "CapPrm"), amb);
    assert_eq!(status_field(&out, "CapInh"), amb);
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
    b.assert_host_clean();
}

#[test]
fn root_gets_its_bounding_set_and_no_caps_means_none() {
    let b = Bundle::new(&["cat", "/proc/self/status"]);
    let out = b.run_ok();
    // The spec default: AUDIT_WRITE(29) KILL(5) NET_BIND_SERVICE(10).
    let want = format!("{:016x}", (1u64 << 29) | (1 << 5) | (1 << 10));
    assert_eq!(status_field(&out, "CapBnd"), want);
    assert_eq!(status_field(&out, "CapEff"), want);
    let mut b = Bundle::new(&["cat", "/proc/self/status"]);
    b.config["process"]
        .as_object_mut()
        .unwrap()
        .remove("capabilities");
    let out = b.run_ok();
    assert_eq!(status_field(&out, "CapBnd"), "0000000000000000");
    assert_eq!(status_field(&out, "CapEff"), "0000000000000000");
}

#[test]
fn rlimits_oom_score_personality_scheduler_and_io_priority() {
    let mut b = Bundle::new(&["sh", "-c", "cat /proc/self/limits; cat /proc/self/oom_score_adj; uname -m; grep -E '^policy' /proc/self/sched; ionice -p $$"]);
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}
    ]);
    b.config["process"]["oomScoreAdj"] = json!(500);
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    let out = b.run_ok();
    let limit = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .rev()
            .skip(1)
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(limit("Max open files"), "1024 512");
    assert_eq!(limit("Max core file size"), "4096 0");
    assert_eq!(limit("Max processes"), "400 300");
    assert!(out.lines().any(|l| l == "500"), "{out}");
    assert!(
        out.lines().any(|l| l == "i686"),
        "LINUX32 personality: {out}"
    );
    let policy = out.lines().find(|l| l.starts_with("policy")).unwrap();
    assert!(
        policy.trim_end().ends_with('3'),
        "SCHED_BATCH is 3: {policy}"
    );
    assert!(out.contains("best-effort: prio 6"), "{out}");
    b.assert_host_clean();
}

#[test]
fn sysctl_hostname_domainname() {
    let mut b = Bundle::new(&["sh", "-c", "hostname; cat /proc/sys/kernel/domainname; cat /proc/sys/net/ipv4/ip_forward; cat /proc/sys/kernel/shmmni"]);
    b.config["hostname"] = json!("box-1");
    b.config["domainname"] = json!("example.test");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let host_shm = std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap();
    let out = b.run_ok();
    assert_eq!(out, "box-1\nexample.test\n1\n1234\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_fwd
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap(),
        host_shm
    );
    b.assert_host_clean();
}

#[test]
fn new_session_keyring_unless_asked_not_to() {
    let mut b = Bundle::new(&["cat", "/proc/keys"]);
    b.config["linux"]["maskedPaths"] = json!([]);
    let id = unique("keys");
    let out = b.run(&id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| l.contains("keyring") && l.contains(&id)),
        "{}",
        text(&out.stdout)
    );
    let id2 = unique("nokeys");
    let out = b.rt(&[
        "run",
        "--no-new-keyring",
        "--bundle",
        b.path().to_str().unwrap(),
        &id2,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(&id2), "{}", text(&out.stdout));
    b.assert_host_clean();
}

/// `linux.personality` applies to the container's process and to every `exec`'d one, with
/// its flags (LINUX32 is 0x8, ADDR_NO_RANDOMIZE 0x40000).
#[test]
fn personality_with_flags_applies_to_exec_too() {
    let mut b = Bundle::new(&["sh", "-c", "uname -m; cat /proc/self/personality"]);
    b.config["linux"]["personality"] = json!({"domain": "LINUX32", "flags": ["ADDR_NO_RANDOMIZE"]});
    assert_eq!(b.run_ok(), "i686\n00040008\n");
    b.config["process"]["args"] = json!(["sleep", "60"]);
    let id = unique("persona");
    assert!(b.create(&id, &[]).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    let out = b.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "uname -m; cat /proc/self/personality",
    ]);
    assert_eq!(
        text(&out.stdout),
        "i686\n00040008\n",
        "{}",
        text(&out.stderr)
    );
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    // A flag personality(2) does not have is refused, naming it.
    b.config["linux"]["personality"]["flags"] = json!(["NO_SUCH_FLAG"]);
    assert_fails_with(&b.run(&unique("badpersona")), "linux.personality.flags[0]");
    b.assert_host_clean();
}
