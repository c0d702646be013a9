//! The cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program built instruction by
//! instruction from the rules.
//!
//! The program reads `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
//! (`access_type` = access << 16 | device type) and returns 1 to allow, 0 to deny. Rules are
//! tested last to first, so the last matching rule wins, as the spec's in-order application
//! on v1 gives. An allow rule matches when it grants every requested access bit; a deny rule
//! matches when it forbids any of them. Nothing matching means deny.

use super::{DevKind, Rule, ACC_ALL};

/// One `struct bpf_insn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Insn {
    code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

// Opcodes (linux/bpf.h, linux/bpf_common.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU64_AND_K: u8 = 0x57;
const ALU64_RSH_K: u8 = 0x77;
const ALU64_MOV_K: u8 = 0xb7;
const ALU64_MOV_X: u8 = 0xbf;
const JMP_JEQ_K: u8 = 0x15;
const JMP_JNE_K: u8 = 0x55;
const JMP_EXIT: u8 = 0x95;

// Registers: r1 = ctx on entry (then scratch), r2 = type, r3 = access, r4 = major, r5 = minor.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

// BPF_DEVCG_DEV_*.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// Compiles `rules` (in spec order) to the filter program.
pub(crate) fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, R2, R1, 0, 0),
        insn(ALU64_AND_K, R2, 0, 0, 0xffff),
        insn(LDX_MEM_W, R3, R1, 0, 0),
        insn(ALU64_RSH_K, R3, 0, 0, 16),
        insn(LDX_MEM_W, R4, R1, 4, 0),
        insn(LDX_MEM_W, R5, R1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let block = rule_block(rule);
        // A rule without tests matches everything: nothing after it can run, and the
        // verifier rejects unreachable instructions.
        let unconditional = block.len() == 2;
        p.extend(block);
        if unconditional {
            return p;
        }
    }
    p.push(insn(ALU64_MOV_K, R0, 0, 0, 0));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

/// Tests for one rule, each jumping past the block on mismatch, then `return verdict`.
fn rule_block(rule: &Rule) -> Vec<Insn> {
    let mut b = Vec::new();
    match rule.kind {
        DevKind::All => {}
        DevKind::Char => b.push(insn(JMP_JNE_K, R2, 0, 0, DEV_CHAR)),
        DevKind::Block => b.push(insn(JMP_JNE_K, R2, 0, 0, DEV_BLOCK)),
    }
    if rule.access != ACC_ALL {
        b.push(insn(ALU64_MOV_X, R1, R3, 0, 0));
        if rule.allow {
            // Requested bits outside the rule: it does not grant the request.
            b.push(insn(
                ALU64_AND_K,
                R1,
                0,
                0,
                i32::from(!rule.access & ACC_ALL),
            ));
            b.push(insn(JMP_JNE_K, R1, 0, 0, 0));
        } else {
            // No requested bit inside the rule: it does not forbid the request.
            b.push(insn(ALU64_AND_K, R1, 0, 0, i32::from(rule.access)));
            b.push(insn(JMP_JEQ_K, R1, 0, 0, 0));
        }
    }
    // Device numbers are at most 32 bits; as imm they are compared after sign extension to
    // 64 bits, which the zero-extended loads only equal for numbers below 2^31 (all real ones).
    if let Some(major) = rule.major {
        b.push(insn(JMP_JNE_K, R4, 0, 0, major as i32));
    }
    if let Some(minor) = rule.minor {
        b.push(insn(JMP_JNE_K, R5, 0, 0, minor as i32));
    }
    b.push(insn(ALU64_MOV_K, R0, 0, 0, i32::from(rule.allow)));
    b.push(insn(JMP_EXIT, 0, 0, 0, 0));
    // Every jump so far lands just past this block.
    let n = b.len();
    for (i, ins) in b.iter_mut().enumerate() {
        if ins.code == JMP_JNE_K || ins.code == JMP_JEQ_K {
            ins.off = (n - i - 1) as i16;
        }
    }
    b
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::{ACC_MKNOD, ACC_READ, ACC_WRITE};
    use super::*;

    /// A tiny interpreter for the instructions `program` emits, to test verdicts without a
    /// kernel.
    pub fn run(p: &[Insn], dev_type: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | dev_type, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i64::from(i.imm) as u64;
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = u64::from(ctx[(i.off / 4) as usize]),
                ALU64_AND_K => r[dst] &= imm,
                ALU64_RSH_K => r[dst] >>= imm,
                ALU64_MOV_K => r[dst] = imm,
                ALU64_MOV_X => r[dst] = r[src],
                JMP_JEQ_K if r[dst] == imm => pc += i.off as usize,
                JMP_JNE_K if r[dst] != imm => pc += i.off as usize,
                JMP_JEQ_K | JMP_JNE_K => {}
                JMP_EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn rule(
        allow: bool,
        kind: DevKind,
        major: Option<u32>,
        minor: Option<u32>,
        access: u8,
    ) -> Rule {
        Rule {
            allow,
            kind,
            major,
            minor,
            access,
        }
    }

    const C: u32 = DEV_CHAR as u32;
    const B: u32 = DEV_BLOCK as u32;
    const R: u32 = ACC_READ as u32;
    const W: u32 = ACC_WRITE as u32;
    const M: u32 = ACC_MKNOD as u32;

    #[test]
    fn typical_container_list() {
        let p = program(&[
            rule(false, DevKind::All, None, None, ACC_ALL),
            rule(true, DevKind::Char, None, None, ACC_MKNOD),
            rule(true, DevKind::Char, Some(1), Some(3), ACC_ALL),
            rule(true, DevKind::Char, Some(136), None, ACC_READ | ACC_WRITE),
        ]);
        assert_eq!(run(&p, C, R | W, 1, 3), 1, "/dev/null rw");
        assert_eq!(run(&p, C, R, 1, 5), 0, "/dev/zero read");
        assert_eq!(run(&p, C, M, 1, 5), 1, "mknod any char");
        assert_eq!(run(&p, B, M, 8, 0), 0, "mknod block");
        assert_eq!(run(&p, C, R | W, 136, 7), 1, "pty");
        assert_eq!(
            run(&p, C, M | R, 136, 7),
            0,
            "pty mknod+read is not all granted"
        );
    }

    #[test]
    fn last_match_wins_and_partial_deny() {
        let p = program(&[
            rule(true, DevKind::All, None, None, ACC_ALL),
            rule(false, DevKind::Char, Some(1), Some(5), ACC_WRITE),
        ]);
        assert_eq!(run(&p, C, R, 1, 5), 1);
        assert_eq!(run(&p, C, R | W, 1, 5), 0);
        assert_eq!(run(&p, B, W, 1, 5), 1);
        assert_eq!(run(&program(&[]), C, R, 1, 3), 0, "no rules: deny");
    }

    #[test]
    fn nothing_follows_a_rule_that_matches_everything() {
        let deny_all = rule(false, DevKind::All, None, None, ACC_ALL);
        let p = program(std::slice::from_ref(&deny_all));
        assert_eq!(p.len(), 8, "prologue, r0 = 0, exit");
        let p = program(&[
            rule(true, DevKind::Char, Some(1), Some(3), ACC_ALL),
            rule(true, DevKind::All, None, None, ACC_ALL),
            deny_all,
        ]);
        assert_eq!(p.len(), 8);
        assert_eq!(run(&p, C, R, 1, 3), 0);
    }

    #[test]
    fn jumps_stay_in_bounds() {
        let p = program(&[rule(true, DevKind::Block, Some(8), Some(0), ACC_READ)]);
        for (i, ins) in p.iter().enumerate() {
            if ins.code == JMP_JNE_K || ins.code == JMP_JEQ_K {
                assert!(i + 1 + (ins.off as usize) < p.len());
            }
        }
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }
}
