//! What the running kernel must have for a filter: every action it returns and every flag
//! it asks for. A few syscalls, so it runs on cache hits too.

use crate::convert::{action, default_action, flag_bit, ret_value, FIELD};
use crate::error::{config, Result};
use crate::filter::Filter;
use crate::kernel;
use libseccomp::ScmpAction;
use oci_spec::runtime::LinuxSeccomp;

/// Checks that the running kernel has every action and flag the filter uses, naming the
/// field that asked for a missing one. Cheap (a few syscalls), so it runs on cache hits too.
pub(crate) fn check_kernel(seccomp: &LinuxSeccomp, filter: &Filter) -> Result<()> {
    let mut checked = Vec::new();
    let default = default_action(seccomp)?;
    require_action(default, &format!("{FIELD}.defaultAction"), &mut checked)?;
    let rules = seccomp.syscalls().as_deref().unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        let field = format!("{FIELD}.syscalls[{i}]");
        let act = action(rule.action(), rule.errno_ret(), &field)?;
        require_action(act, &format!("{field}.action"), &mut checked)?;
    }
    let flags = seccomp.flags().as_deref().unwrap_or_default();
    for (i, flag) in flags.iter().enumerate() {
        let bits = match flag_bit(*flag) {
            kernel::FLAG_WAIT_KILLABLE_RECV => {
                kernel::FLAG_WAIT_KILLABLE_RECV | kernel::FLAG_NEW_LISTENER
            }
            bit => bit,
        };
        if !kernel::flags_supported(bits) {
            return Err(config(
                format!("{FIELD}.flags[{i}]"),
                format!("{flag} is not supported by this kernel"),
            ));
        }
    }
    if !kernel::flags_supported(filter.flags()) {
        return Err(config(
            format!("{FIELD}.flags"),
            format!(
                "this kernel does not accept the flags together: {}",
                kernel::flag_names(filter.flags()).join("|")
            ),
        ));
    }
    Ok(())
}

/// Asks the kernel about each distinct action once.
fn require_action(act: ScmpAction, field: &str, checked: &mut Vec<u32>) -> Result<()> {
    let ret = ret_value(act);
    if checked.contains(&ret) {
        return Ok(());
    }
    checked.push(ret);
    if kernel::action_available(ret) {
        Ok(())
    } else {
        Err(config(
            field,
            format!("{act:?} is not supported by this kernel"),
        ))
    }
}
