//! The compiled program as plain data: classic BPF instructions, their byte form, reading
//! libseccomp's export, and the ENOSYS prologue for syscalls newer than the profile.

use crate::error::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{FromRawFd, OwnedFd};

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// One `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset when true.
    pub jt: u8,
    /// Jump offset when false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K
const OFFSET_NR: u32 = 0; // offsetof(struct seccomp_data, nr)
const OFFSET_ARCH: u32 = 4; // offsetof(struct seccomp_data, arch)
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// A program: instructions with a byte form (`struct sock_filter` in native order) that
/// serializes as a hex string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Program(pub(crate) Vec<Insn>);

impl Program {
    /// Parses `struct sock_filter` bytes; checks the size limits the kernel has.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if !bytes.len().is_multiple_of(8) {
            return Err(Error::Program(format!(
                "{} bytes is not a whole number of instructions",
                bytes.len()
            )));
        }
        let insns: Vec<Insn> = bytes
            .chunks_exact(8)
            .map(|c| Insn {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        check_len(insns.len())?;
        Ok(Program(insns))
    }

    /// The `struct sock_filter` bytes.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * 8);
        for i in &self.0 {
            out.extend_from_slice(&i.code.to_ne_bytes());
            out.extend_from_slice(&[i.jt, i.jf]);
            out.extend_from_slice(&i.k.to_ne_bytes());
        }
        out
    }
}

/// Checks a program length against what `seccomp(2)` accepts.
pub(crate) fn check_len(len: usize) -> Result<()> {
    if len == 0 || len > MAX_INSNS {
        return Err(Error::Program(format!(
            "{len} instructions; the kernel loads 1 to {MAX_INSNS}"
        )));
    }
    Ok(())
}

impl Serialize for Program {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = self.to_bytes();
        let mut hex = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            hex.push(char::from(HEX[usize::from(b >> 4)]));
            hex.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        s.serialize_str(&hex)
    }
}

impl<'de> Deserialize<'de> for Program {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let hex = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = decode_hex(&hex).map_err(serde::de::Error::custom)?;
        Program::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(format!(
            "program: {:?} is not a lowercase hex digit",
            char::from(c)
        )),
    };
    if !s.len().is_multiple_of(2) {
        return Err("program: odd number of hex digits".into());
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| Ok(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// Runs libseccomp's `seccomp_export_bpf` into a memfd and reads the program back.
pub(crate) fn export(ctx: &libseccomp::ScmpFilterContext) -> Result<Program> {
    // SAFETY: the name is a NUL-terminated literal; the result is checked before use.
    let raw = unsafe { libc::memfd_create(c"berth-seccomp-bpf".as_ptr(), libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(Error::Export(std::io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    ctx.export_bpf(&fd)
        .map_err(|e| Error::Export(std::io::Error::other(e.to_string())))?;
    let mut file = File::from(fd);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(Error::Export)?;
    Program::from_bytes(&bytes)
}

/// A prologue that answers `ENOSYS` for native syscalls numbered above `max_nr`, the newest
/// syscall the profile names: a program newer than the profile then sees "not implemented"
/// and falls back (glibc does for clone3, fchmodat2, ...) instead of the default EPERM.
/// Other architectures, and x32 numbers, go on to the libseccomp program unchanged.
pub(crate) fn enosys_prologue(audit_arch: u32, max_nr: u32) -> [Insn; 6] {
    let stmt = |code, k| Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code, k, jt, jf| Insn { code, jt, jf, k };
    [
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, audit_arch, 0, 4), // other arch: to the program
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JGE_K, X32_SYSCALL_BIT, 2, 0), // x32 (or a huge number): to the program
        jump(JGT_K, max_nr, 0, 1),
        stmt(RET_K, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
    ]
}

/// The audit arch of the architecture this crate was built for, if the prologue supports it.
pub(crate) fn native_audit_arch() -> Option<u32> {
    use oci_spec::runtime::Arch;
    let arch = match std::env::consts::ARCH {
        "x86_64" => Arch::ScmpArchX86_64,
        "x86" => Arch::ScmpArchX86,
        "aarch64" => Arch::ScmpArchAarch64,
        "arm" => Arch::ScmpArchArm,
        "riscv64" => Arch::ScmpArchRiscv64,
        "s390x" => Arch::ScmpArchS390x,
        _ => return None,
    };
    Some(arch as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_limits() {
        let p = Program(vec![Insn {
            code: RET_K,
            jt: 1,
            jf: 2,
            k: libc::SECCOMP_RET_ALLOW,
        }]);
        assert_eq!(Program::from_bytes(&p.to_bytes()).unwrap(), p);
        assert!(Program::from_bytes(&[0; 7]).is_err());
        assert!(Program::from_bytes(&[]).is_err());
        assert!(Program::from_bytes(&vec![0; 8 * (MAX_INSNS + 1)]).is_err());
    }

    #[test]
    fn hex_form_round_trips_and_rejects_garbage() {
        let p = Program(enosys_prologue(0xc000_003e, 456).to_vec());
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json.len(), 2 + 6 * 16);
        assert_eq!(serde_json::from_str::<Program>(&json).unwrap(), p);
        assert!(serde_json::from_str::<Program>("\"0g00000000000000\"").is_err());
        assert!(serde_json::from_str::<Program>("\"000\"").is_err());
    }

    #[test]
    fn prologue_jumps_land_on_the_program() {
        let p = enosys_prologue(1, 2);
        for (i, insn) in p.iter().enumerate() {
            if insn.code & 0x07 == 0x05 {
                // A jump from i lands at i + 1 + offset; 6 is the first program instruction.
                assert!(i + 1 + usize::from(insn.jt) <= 6);
                assert!(i + 1 + usize::from(insn.jf) <= 6);
            }
        }
        assert_eq!(p[1].jf as usize + 2, 6);
        assert_eq!(p[3].jt as usize + 4, 6);
        assert_eq!(p[4].jf as usize + 5, 6);
    }
}
