//! The last step: find the program, then execute it through a tiny sealed in-memory
//! trampoline, so that at no point can the container's program name resolve to the runtime's
//! own binary (the `/proc/self/exe` attack class, CVE-2019-5736): the process that executes
//! the program is already the trampoline, which cannot be written.

use super::error::{InitError, ProgramFault};
use berth_sys::{cstring, exec as sysexec};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Finds `name` like execvp would: as given when it holds a `/`, else along `path_var`.
/// Checked now, with the container user's credentials, so that a missing program is an error
/// of `create`, not a silent death after `start`.
pub fn find(name: &str, path_var: Option<&str>) -> Result<PathBuf, InitError> {
    let what = || format!("exec {name:?}");
    if name.is_empty() {
        return Err(InitError::check(what(), "empty program name"));
    }
    let cannot_run = |e: io::Error| {
        let fault = match e.kind() {
            io::ErrorKind::NotFound => ProgramFault::NotFound,
            _ => ProgramFault::NotExecutable,
        };
        InitError::cannot_run(what(), fault, e.to_string())
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return executable(&p).map(|()| p).map_err(cannot_run);
    }
    let mut last = io::Error::from_raw_os_error(libc::ENOENT);
    for dir in path_var.unwrap_or(DEFAULT_PATH).split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let p = Path::new(dir).join(name);
        match executable(&p) {
            Ok(()) => return Ok(p),
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) => {}
            Err(e) => last = e,
        }
    }
    if last.kind() == io::ErrorKind::NotFound {
        return Err(InitError::cannot_run(
            what(),
            ProgramFault::NotFound,
            "executable file not found in $PATH".into(),
        ));
    }
    Err(cannot_run(last))
}

fn executable(p: &Path) -> io::Result<()> {
    let meta = std::fs::metadata(p)?;
    if meta.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EACCES));
    }
    let c = berth_sys::cpath(p)?;
    // SAFETY: valid C string; access(2) checks with the real ids, which are the container's.
    if unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The trampoline's first argument: it refuses to run without it, so `#!/proc/self/exe` in a
/// script cannot make it loop.
#[cfg(target_arch = "x86_64")]
const MAGIC_ARGV0: &std::ffi::CStr = c"\x01";

/// A minimal static x86-64 ELF executable that checks `argv[0] == "\x01"` and calls
/// `execve(argv[1], &argv[2], envp)`, exiting with 127 if that fails.
#[cfg(target_arch = "x86_64")]
fn trampoline() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    #[rustfmt::skip]
    let code: &[u8] = &[
        0x48, 0x8b, 0x4c, 0x24, 0x08,       // mov  rcx, [rsp+8]        ; argv[0]
        0x80, 0x39, 0x01,                   // cmp  byte [rcx], 1
        0x75, 0x1a,                         // jne  fail
        0x48, 0x8b, 0x7c, 0x24, 0x10,       // mov  rdi, [rsp+16]       ; argv[1]: the program
        0x48, 0x8d, 0x74, 0x24, 0x18,       // lea  rsi, [rsp+24]       ; &argv[2]: its argv
        0x48, 0x8b, 0x04, 0x24,             // mov  rax, [rsp]          ; argc
        0x48, 0x8d, 0x54, 0xc4, 0x10,       // lea  rdx, [rsp+rax*8+16] ; envp
        0xb8, 0x3b, 0x00, 0x00, 0x00,       // mov  eax, 59 (execve)
        0x0f, 0x05,                         // syscall
        // fail:
        0xbf, 0x7f, 0x00, 0x00, 0x00,       // mov  edi, 127
        0xb8, 0xe7, 0x00, 0x00, 0x00,       // mov  eax, 231 (exit_group)
        0x0f, 0x05,                         // syscall
    ];
    let header_len: u64 = 64 + 56;
    let total = header_len + code.len() as u64;
    let mut elf = Vec::with_capacity(total as usize);
    // ELF header: 64-bit, little endian, executable, x86-64, one program header.
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // e_type: EXEC
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // e_machine: x86-64
    elf.extend_from_slice(&1u32.to_le_bytes()); // e_version
    elf.extend_from_slice(&(BASE + header_len).to_le_bytes()); // e_entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    elf.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    elf.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    elf.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
    elf.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    elf.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
                                    // Program header: one read+execute PT_LOAD of the whole file.
    elf.extend_from_slice(&1u32.to_le_bytes()); // p_type: LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // p_flags: R+X
    elf.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    elf.extend_from_slice(&BASE.to_le_bytes()); // p_vaddr
    elf.extend_from_slice(&BASE.to_le_bytes()); // p_paddr
    elf.extend_from_slice(&total.to_le_bytes()); // p_filesz
    elf.extend_from_slice(&total.to_le_bytes()); // p_memsz
    elf.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    elf.extend_from_slice(code);
    elf
}

/// The program, ready to execute: everything that allocates or makes a system call is done,
/// so that once the seccomp filter is in, nothing but the exec runs.
pub struct Exec {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    /// The sealed trampoline, its argv, and its `/proc/self/fd` link.
    trampoline: Option<(std::os::fd::OwnedFd, Vec<CString>, CString)>,
}

/// Prepares the exec of `program` with `args` and `env`.
pub fn prepare(program: &Path, args: &[String], env: &[String]) -> Result<Exec, InitError> {
    let cs = |v: &[String]| {
        v.iter()
            .map(|s| cstring(s.as_bytes()))
            .collect::<io::Result<Vec<CString>>>()
    };
    let what = || format!("exec {}", program.display());
    let argv = cs(args).map_err(|source| InitError {
        what: what(),
        source,
    })?;
    let envp = cs(env).map_err(|source| InitError {
        what: what(),
        source,
    })?;
    let path = cstring(program.as_os_str().as_bytes()).map_err(|source| InitError {
        what: what(),
        source,
    })?;
    Ok(Exec {
        trampoline: trampoline_for(&path, &argv),
        path,
        argv,
        envp,
    })
}

/// The trampoline that will execute `path` with `argv`, unless switched off or unavailable.
#[cfg(target_arch = "x86_64")]
fn trampoline_for(
    path: &CString,
    argv: &[CString],
) -> Option<(std::os::fd::OwnedFd, Vec<CString>, CString)> {
    use std::os::fd::AsRawFd;
    if crate::protection::off("exec-trampoline") {
        return None;
    }
    let fd = sysexec::sealed_memfd("berth-exec", &trampoline()).ok()?;
    let link = cstring(format!("/proc/self/fd/{}", fd.as_raw_fd()).as_bytes()).ok()?;
    let mut targv = vec![CString::from(MAGIC_ARGV0), path.clone()];
    targv.extend(argv.iter().cloned());
    Some((fd, targv, link))
}

#[cfg(not(target_arch = "x86_64"))]
fn trampoline_for(
    _: &CString,
    _: &[CString],
) -> Option<(std::os::fd::OwnedFd, Vec<CString>, CString)> {
    None
}

impl Exec {
    /// Executes the program. Returns only on failure.
    pub fn run(self) -> InitError {
        let fail = |source| InitError {
            what: format!("exec {}", self.path.to_string_lossy()),
            source,
        };
        if let Some((fd, targv, link)) = &self.trampoline {
            let e = sysexec::execveat(std::os::fd::AsFd::as_fd(fd), targv, &self.envp);
            // A host that forbids executing memfds (vm.memfd_noexec=2) falls through to a
            // direct exec. Anything else may be a seccomp profile that refuses execveat: it
            // must allow execve, so the same sealed file runs through its /proc link, as
            // libc's fexecve does. If that fails too, the first error is the one to report.
            if e.raw_os_error() != Some(libc::EACCES) {
                let _ = sysexec::execve(link, targv, &self.envp);
                return fail(e);
            }
        }
        fail(sysexec::execve(&self.path, &self.argv, &self.envp))
    }
}

#[cfg(test)]
#[cfg(target_arch = "x86_64")]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    fn stub() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tramp");
        std::fs::write(&p, trampoline()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        (dir, p)
    }

    #[test]
    fn trampoline_executes_its_target_with_args_and_env() {
        let (_d, p) = stub();
        let out = Command::new(&p)
            .arg0("\x01")
            .args(["/bin/sh", "sh", "-c", "echo \"$0 $1 $FOO\"", "zero", "one"])
            .env_clear()
            .env("FOO", "bar")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "zero one bar\n");
    }

    #[test]
    fn trampoline_refuses_without_magic_and_reports_failed_exec() {
        let (_d, p) = stub();
        let st = Command::new(&p)
            .arg0("/proc/self/exe")
            .arg("/bin/true")
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(127));
        let st = Command::new(&p)
            .arg0("\x01")
            .arg("/nonexistent")
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(127));
    }

    #[test]
    fn find_searches_path() {
        assert_eq!(
            find("sh", Some("/nonexistent:/bin")).unwrap(),
            PathBuf::from("/bin/sh")
        );
        let e = find("no-such-program-x", Some("/bin"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not found in $PATH"), "{e}");
        assert!(find("/etc", None).is_err());
    }
}
