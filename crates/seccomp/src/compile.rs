//! `linux.seccomp` → libseccomp filter → exported BPF program, the way runc and crun read
//! the object: native architecture always present, unknown syscall names skipped, rules
//! equal to the default action skipped, several args on one rule ANDed unless two of them
//! test the same argument (then each becomes its own rule, ORed), and several rules for one
//! syscall ORed.

use crate::bpf::{self, Program};
use crate::convert::{action, default_action, flags, scmp_arch, FIELD};
use crate::error::{config, Error, Result};
use crate::filter::Filter;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext};
use libseccomp::{ScmpSyscall, ScmpVersion};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompArg};
use oci_spec::runtime::{LinuxSeccompOperator as Op, LinuxSyscall};

/// Syscalls the runtime itself needs between installing the filter and exec to hand the
/// listener fd over: a NOTIFY on them would wait for an agent that has no fd yet.
const NOT_NOTIFIABLE: [&str; 2] = ["write", "sendmsg"];

/// Compiles the object into a program. Checks the config only (the kernel: `check`).
pub(crate) fn compile(seccomp: &LinuxSeccomp) -> Result<Filter> {
    let default = default_action(seccomp)?;
    let rules = seccomp.syscalls().as_deref().unwrap_or_default();
    check_listener(seccomp, rules)?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib(FIELD, "seccomp_init"))?;
    ctx.set_ctl_nnp(false)
        .map_err(lib(FIELD, "seccomp_attr_set(CTL_NNP)"))?;
    add_arches(&mut ctx, seccomp)?;
    // No binary-tree layout (CTL_OPTIMIZE 2, which runc sets for long lists): measured here
    // it made the default profile 25% longer and slower to compile for no syscall-time gain
    // (the kernel's seccomp action cache already skips the filter for plain allows).
    let mut out = Added::default();
    for (i, rule) in rules.iter().enumerate() {
        add_rule(
            &mut ctx,
            default,
            rule,
            &format!("{FIELD}.syscalls[{i}]"),
            &mut out,
        )?;
    }
    let mut program = bpf::export(&ctx)?;
    if let (Some(arch), Some(max)) = (bpf::native_audit_arch(), out.max_nr) {
        if denies(default) {
            let mut with = bpf::enosys_prologue(arch, max).to_vec();
            with.append(&mut program.0);
            program = Program(with);
        }
    }
    bpf::check_len(program.0.len())?;
    // An agent at listenerPath gets a listener even if no rule notifies (as with crun): it
    // waits for one.
    let notify = out.notify || seccomp.listener_path().is_some();
    Ok(Filter::new(
        program,
        flags(seccomp, notify),
        notify,
        out.skipped,
    ))
}

/// The libseccomp version, part of the cache key (its syscall table decides what compiles).
pub(crate) fn libseccomp_version() -> String {
    match ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => "unknown".into(),
    }
}

/// What the rules added: whether NOTIFY is in the program, the highest native syscall
/// number named, and the names this kernel/arch does not know.
#[derive(Default)]
struct Added {
    notify: bool,
    max_nr: Option<u32>,
    skipped: Vec<String>,
}

fn add_rule(
    ctx: &mut ScmpFilterContext,
    default: ScmpAction,
    rule: &LinuxSyscall,
    field: &str,
    out: &mut Added,
) -> Result<()> {
    let act = action(rule.action(), rule.errno_ret(), field)?;
    let conditions = conditions(rule.args().as_deref().unwrap_or_default(), field)?;
    if rule.names().is_empty() {
        return Err(config(
            format!("{field}.names"),
            "must name at least one syscall",
        ));
    }
    for (j, name) in rule.names().iter().enumerate() {
        let field = format!("{field}.names[{j}]");
        if name.is_empty() {
            return Err(config(field, "empty syscall name"));
        }
        if act == ScmpAction::Notify && NOT_NOTIFIABLE.contains(&name.as_str()) {
            return Err(config(
                field,
                format!("SCMP_ACT_NOTIFY cannot be used for {name}: the runtime needs it to hand the listener to the agent"),
            ));
        }
        let Ok(nr) = ScmpSyscall::from_name(name) else {
            out.skipped.push(name.clone());
            continue;
        };
        if let Ok(n) = u32::try_from(nr.as_raw_syscall()) {
            out.max_nr = out.max_nr.max(Some(n));
        }
        // libseccomp refuses a rule that repeats the default; it changes nothing anyway.
        if act == default {
            continue;
        }
        for set in &conditions {
            ctx.add_rule_conditional(act, nr, set)
                .map_err(lib(&field, &format!("seccomp_rule_add({name})")))?;
        }
        out.notify |= act == ScmpAction::Notify;
    }
    Ok(())
}

/// The condition sets of one rule: one set (ANDed) unless two args test the same argument;
/// then one set per arg, as separate rules (ORed) — what runc does with such rules.
fn conditions(args: &[LinuxSeccompArg], field: &str) -> Result<Vec<Vec<ScmpArgCompare>>> {
    let mut all = Vec::with_capacity(args.len());
    let mut seen = [false; 6];
    let mut repeated = false;
    for (k, arg) in args.iter().enumerate() {
        let index = arg.index();
        if index > 5 {
            return Err(config(
                format!("{field}.args[{k}].index"),
                format!("{index} is out of range: syscalls have arguments 0 to 5"),
            ));
        }
        repeated |= std::mem::replace(&mut seen[index], true);
        let op = match arg.op() {
            Op::ScmpCmpNe => ScmpCompareOp::NotEqual,
            Op::ScmpCmpLt => ScmpCompareOp::Less,
            Op::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
            Op::ScmpCmpEq => ScmpCompareOp::Equal,
            Op::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
            Op::ScmpCmpGt => ScmpCompareOp::Greater,
            // The spec's `value` is the mask and `valueTwo` the value the masked arg must equal.
            Op::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(arg.value()),
        };
        let datum = match arg.op() {
            Op::ScmpCmpMaskedEq => arg.value_two().unwrap_or(0),
            _ => arg.value(),
        };
        all.push(ScmpArgCompare::new(index as u32, op, datum));
    }
    Ok(if repeated {
        all.into_iter().map(|c| vec![c]).collect()
    } else {
        vec![all]
    })
}

/// Whether the default action refuses the syscall (so a newer syscall deserves ENOSYS).
fn denies(default: ScmpAction) -> bool {
    match default {
        ScmpAction::Errno(e) => e != libc::ENOSYS,
        ScmpAction::KillThread | ScmpAction::KillProcess | ScmpAction::Trap => true,
        _ => false,
    }
}

fn check_listener(seccomp: &LinuxSeccomp, rules: &[LinuxSyscall]) -> Result<()> {
    if seccomp.listener_metadata().is_some() && seccomp.listener_path().is_none() {
        return Err(config(
            format!("{FIELD}.listenerMetadata"),
            "must not be set without listenerPath",
        ));
    }
    let notify = rules.iter().any(|r| r.action() == Act::ScmpActNotify);
    if notify && seccomp.listener_path().is_none() {
        return Err(config(
            format!("{FIELD}.listenerPath"),
            "required when a rule uses SCMP_ACT_NOTIFY (nothing else could answer the syscalls)",
        ));
    }
    Ok(())
}

fn add_arches(ctx: &mut ScmpFilterContext, seccomp: &LinuxSeccomp) -> Result<()> {
    let arches = seccomp.architectures().as_deref().unwrap_or_default();
    for (i, arch) in arches.iter().enumerate() {
        let scmp = scmp_arch(*arch);
        // The native architecture is always in the filter.
        if scmp == ScmpArch::Native || ctx.is_arch_present(scmp).unwrap_or(false) {
            continue;
        }
        ctx.add_arch(scmp).map_err(|e| Error::Config {
            field: format!("{FIELD}.architectures[{i}]"),
            message: format!(
                "{arch} is not supported by libseccomp {}: {e}",
                libseccomp_version()
            ),
        })?;
    }
    Ok(())
}

fn lib<'a>(
    field: &'a str,
    step: &'a str,
) -> impl FnOnce(libseccomp::error::SeccompError) -> Error + 'a {
    move |source| Error::Libseccomp {
        field: field.to_string(),
        step: step.to_string(),
        source,
    }
}
