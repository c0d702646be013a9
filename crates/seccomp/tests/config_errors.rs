//! Configs that cannot compile fail with one line naming the field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use berth_seccomp::{parse_profile, Filter};

fn compile_err(json: &str) -> String {
    let p = parse_profile(json.as_bytes()).unwrap_or_else(|e| panic!("parse: {e}"));
    match Filter::compile(&p) {
        Ok(_) => panic!("compiled: {json}"),
        Err(e) => e.to_string(),
    }
}

fn parse_err(json: &str) -> String {
    match parse_profile(json.as_bytes()) {
        Ok(_) => panic!("parsed: {json}"),
        Err(e) => e.to_string(),
    }
}

fn assert_starts(err: &str, field: &str) {
    assert!(err.starts_with(&format!("{field}: ")), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
}

#[test]
fn unknown_action_names_the_field() {
    let err = parse_err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERNO"}]}"#,
    );
    assert_starts(&err, "linux.seccomp.syscalls[0].action");
    assert!(err.contains("SCMP_ACT_ERNO"), "{err}");
}

#[test]
fn unknown_architecture_names_the_field() {
    let err = parse_err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_Z80"]}"#,
    );
    assert_starts(&err, "linux.seccomp.architectures[1]");
}

#[test]
fn architecture_libseccomp_does_not_have_names_the_field() {
    // Valid for the spec, absent from libseccomp 2.5.4.
    let err = compile_err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_LOONGARCH64"]}"#,
    );
    assert_starts(&err, "linux.seccomp.architectures[0]");
    assert!(err.contains("SCMP_ARCH_LOONGARCH64"), "{err}");
}

#[test]
fn errno_ret_on_an_action_without_errno_is_refused() {
    let err = compile_err(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["read"],"action":"SCMP_ACT_ALLOW"},
            {"names":["mkdir"],"action":"SCMP_ACT_KILL","errnoRet":1}]}"#,
    );
    assert_starts(&err, "linux.seccomp.syscalls[1].errnoRet");
    let err = compile_err(r#"{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1}"#);
    assert_starts(&err, "linux.seccomp.defaultErrnoRet");
}

#[test]
fn errno_out_of_range_is_refused() {
    let err = compile_err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":5000}]}"#,
    );
    assert_starts(&err, "linux.seccomp.syscalls[0].errnoRet");
}

#[test]
fn argument_index_out_of_range_is_refused() {
    let err = compile_err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO",
            "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    assert_starts(&err, "linux.seccomp.syscalls[0].args[1].index");
}

#[test]
fn empty_names_are_refused() {
    let err = compile_err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_starts(&err, "linux.seccomp.syscalls[0].names");
    let err = compile_err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir",""],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_starts(&err, "linux.seccomp.syscalls[0].names[1]");
}

#[test]
fn notify_misuse_is_refused() {
    let err =
        compile_err(r#"{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/run/agent.sock"}"#);
    assert_starts(&err, "linux.seccomp.defaultAction");
    let err = compile_err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock","syscalls":[
            {"names":["mkdir"],"action":"SCMP_ACT_ERRNO"},
            {"names":["getppid","write"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    assert_starts(&err, "linux.seccomp.syscalls[1].names[1]");
    let err = compile_err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    assert_starts(&err, "linux.seccomp.listenerPath");
    let err = compile_err(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerMetadata":"x"}"#);
    assert_starts(&err, "linux.seccomp.listenerMetadata");
}

#[test]
fn unknown_flag_names_the_field() {
    let err =
        parse_err(r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_BOGUS"]}"#);
    assert_starts(&err, "linux.seccomp.flags[0]");
}

#[test]
fn a_rule_repeating_the_default_is_dropped_not_an_error() {
    let p = parse_profile(
        br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    Filter::compile(&p).unwrap();
}

#[test]
fn filter_round_trips_through_serde() {
    let p = berth_seccomp::default_profile().unwrap();
    let f = Filter::compile(&p).unwrap();
    let back: Filter = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
    assert_eq!(back, f);
    assert_eq!(back.program_bytes().len(), 8 * f.len());
    assert!(f.len() <= berth_seccomp::MAX_INSNS);
}
