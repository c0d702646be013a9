//! Argument conditions on the real kernel. The probe syscall is getpgid: harmless with any
//! argument, and seccomp sees all six argument registers whatever the syscall uses. A rule
//! that matches answers EADDRNOTAVAIL, an errno getpgid never returns by itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{filter, run, sys, Outcome};
use libc::SYS_getpgid;

const HIT: i32 = libc::EADDRNOTAVAIL;

/// Which of `probes` (argument registers for getpgid) the filter answers with HIT, as a
/// bit mask computed in the child.
fn hits(rules: &str, probes: &'static [[u64; 2]]) -> u32 {
    let f = filter(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{rules}]}}"#
    ));
    let body = move || {
        let mut bits = 0;
        for (i, [a0, a1]) in probes.iter().enumerate() {
            if sys(SYS_getpgid, [*a0 as _, *a1 as _, 0, 0, 0, 0]) == HIT {
                bits |= 1 << i;
            }
        }
        bits
    };
    match run(&f, body) {
        Outcome::Exited(bits) => bits as u32,
        other => panic!("child: {other:?}"),
    }
}

fn rule(op: &str, value: u64, value_two: u64) -> String {
    format!(
        r#"{{"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":{HIT},
            "args":[{{"index":0,"value":{value},"valueTwo":{value_two},"op":"{op}"}}]}}"#
    )
}

const VALUES: &[[u64; 2]] = &[[0, 0], [5, 0], [10, 0], [15, 0], [(1 << 32) | 10, 0]];

#[test]
fn each_comparison_matches_only_what_it_should() {
    // Bits follow VALUES: 0, 5, 10, 15, 2^32+10 (64-bit compare: not equal to 10).
    let cases = [
        ("SCMP_CMP_NE", 10, 0, 0b11011),
        ("SCMP_CMP_LT", 10, 0, 0b00011),
        ("SCMP_CMP_LE", 10, 0, 0b00111),
        ("SCMP_CMP_EQ", 10, 0, 0b00100),
        ("SCMP_CMP_GE", 10, 0, 0b11100),
        ("SCMP_CMP_GT", 10, 0, 0b11000),
        // (arg & 0b1010) == 0b1010: 10 and 15 and 2^32+10.
        ("SCMP_CMP_MASKED_EQ", 0b1010, 0b1010, 0b11100),
        // (arg & 0b0101) == 0: 0 and 10 and 2^32+10 (valueTwo defaults to 0).
        ("SCMP_CMP_MASKED_EQ", 0b0101, 0, 0b10101),
    ];
    for (op, value, value_two, want) in cases {
        let got = hits(&rule(op, value, value_two), VALUES);
        assert_eq!(
            got, want,
            "{op} {value:#x}/{value_two:#x}: got {got:05b}, want {want:05b}"
        );
    }
}

#[test]
fn args_on_different_arguments_are_anded() {
    let rules = r#"{"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":99,"args":[
        {"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":2,"op":"SCMP_CMP_EQ"}]}"#;
    const PROBES: &[[u64; 2]] = &[[1, 2], [1, 3], [0, 2], [0, 0]];
    assert_eq!(hits(rules, PROBES), 0b0001);
}

#[test]
fn args_on_the_same_argument_are_ored() {
    // runc's reading: two conditions on one argument become two rules.
    let rules = r#"{"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":99,"args":[
        {"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":3,"op":"SCMP_CMP_EQ"}]}"#;
    const PROBES: &[[u64; 2]] = &[[1, 0], [2, 0], [3, 0]];
    assert_eq!(hits(rules, PROBES), 0b101);
}

#[test]
fn several_rules_for_one_syscall_are_ored() {
    let rules = [rule("SCMP_CMP_EQ", 1, 0), rule("SCMP_CMP_GE", 100, 0)].join(",");
    const PROBES: &[[u64; 2]] = &[[1, 0], [2, 0], [99, 0], [100, 0], [5000, 0]];
    assert_eq!(hits(&rules, PROBES), 0b11001);
}

#[test]
fn personality_query_allowed_but_changes_denied() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["exit_group","exit"],"action":"SCMP_ACT_ALLOW"},
            {"names":["personality"],"action":"SCMP_ACT_ALLOW",
             "args":[{"index":0,"value":4294967295,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let query = || sys(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0, 0]);
    assert_eq!(run(&f, query), Outcome::Exited(0));
    let linux32 = || sys(libc::SYS_personality, [8, 0, 0, 0, 0, 0]);
    assert_eq!(run(&f, linux32), Outcome::Exited(libc::EPERM));
}

#[test]
fn masked_eq_on_clone_flags_blocks_only_new_user_namespaces() {
    let f = filter(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {{"names":["clone"],"action":"SCMP_ACT_ERRNO",
              "args":[{{"index":0,"value":{n},"valueTwo":{n},"op":"SCMP_CMP_MASKED_EQ"}}]}}]}}"#,
        n = libc::CLONE_NEWUSER
    ));
    let body = || {
        let newuser = (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_long;
        let e = clone_errno(newuser);
        if e != libc::EPERM {
            return 10 + e.min(100);
        }
        // A plain fork-like clone still works.
        clone_errno(libc::SIGCHLD as libc::c_long)
    };
    assert_eq!(run(&f, body), Outcome::Exited(0));
}

/// Raw clone(flags) with no new stack (fork-like); the new child exits at once. Returns the
/// errno, or 0 when the clone happened and the child was reaped.
fn clone_errno(flags: libc::c_long) -> i32 {
    // SAFETY: clone without CLONE_VM and with a null stack behaves like fork.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
    if pid == 0 {
        // SAFETY: the new process leaves at once.
        unsafe { libc::_exit(0) };
    }
    if pid < 0 {
        return common::errno_of(pid);
    }
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    0
}
