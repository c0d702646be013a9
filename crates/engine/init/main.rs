//! berth-init: the small init `berth run --init` puts in a container as its PID 1, so that
//! nothing needs installing in the image. It starts the command, forwards every signal it
//! gets to it, reaps every process that ends up its child (orphans of the container), and
//! exits with the command's status (128 + the signal when a signal ended it).
//!
//! No libc, no std: a static x86-64 executable of a few KiB that runs in any image, built
//! by the engine's build.rs with rustc and embedded in berth.
#![no_std]
#![no_main]

use core::arch::{asm, naked_asm};

const SYS_WRITE: usize = 1;
const SYS_RT_SIGPROCMASK: usize = 14;
const SYS_FORK: usize = 57;
const SYS_EXECVE: usize = 59;
const SYS_WAIT4: usize = 61;
const SYS_KILL: usize = 62;
const SYS_PRCTL: usize = 157;
const SYS_RT_SIGTIMEDWAIT: usize = 128;
const SYS_EXIT_GROUP: usize = 231;

const SIG_BLOCK: usize = 0;
const SIG_SETMASK: usize = 2;
const SIGCHLD: usize = 17;
const WNOHANG: usize = 1;
const PR_SET_CHILD_SUBREAPER: usize = 36;
const ENOENT: isize = 2;
const EACCES: isize = 13;
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One system call; a negative result is -errno.
///
/// # Safety
/// The arguments must be valid for the call `n`.
unsafe fn syscall(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller passes arguments valid for the call; the kernel clobbers rcx and r11.
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, in("r10") d, lateout("rcx") _, lateout("r11") _,
             options(nostack));
    }
    ret
}

fn exit(code: usize) -> ! {
    // SAFETY: exit_group takes a plain integer and does not return.
    unsafe {
        syscall(SYS_EXIT_GROUP, code, 0, 0, 0);
    }
    loop {}
}

fn say(parts: &[&[u8]]) {
    for p in parts {
        // SAFETY: a valid buffer and its length.
        unsafe {
            syscall(SYS_WRITE, 2, p.as_ptr() as usize, p.len(), 0);
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(125)
}

// What core expects of a C library; no libc here. Volatile accesses keep the compiler from
// turning these loops back into calls to themselves.

/// Never called: nothing unwinds (panic = abort), but core's precompiled code names it.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

/// # Safety
/// As C's memcpy.
#[unsafe(no_mangle)]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller gives n valid bytes at both.
        unsafe { dst.add(i).write_volatile(src.add(i).read_volatile()) };
    }
    dst
}

/// # Safety
/// As C's memset.
#[unsafe(no_mangle)]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller gives n valid bytes.
        unsafe { dst.add(i).write_volatile(c as u8) };
    }
    dst
}

/// # Safety
/// As C's strlen.
#[unsafe(no_mangle)]
unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller gives a NUL-terminated string.
    while unsafe { s.add(n).read_volatile() } != 0 {
        n += 1;
    }
    n
}

/// The process's entry: the stack holds argc, argv[], NULL, envp[], NULL.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _start() -> ! {
    naked_asm!("mov rdi, rsp", "and rsp, -16", "call {main}", "ud2", main = sym main)
}

/// # Safety
/// `sp` is the initial stack pointer the kernel set up.
unsafe extern "C" fn main(sp: *const usize) -> ! {
    // SAFETY: the kernel's initial stack layout.
    let (argc, argv) = unsafe { (*sp, sp.add(1) as *const *const u8) };
    // SAFETY: argv has argc entries and a NULL; envp follows.
    let envp = unsafe { argv.add(argc + 1) };
    let mut first = 1;
    // SAFETY: argv[1] exists when argc > 1.
    if argc > 1
        && unsafe {
            strlen(*argv.add(1)) == 2 && *(*argv.add(1)) == b'-' && *(*argv.add(1)).add(1) == b'-'
        }
    {
        first = 2;
    }
    if argc <= first {
        say(&[b"berth-init: usage: berth-init [--] COMMAND [ARG...]\n"]);
        exit(2);
    }
    // SAFETY: argv[first] exists, and the rest of argv is NULL-terminated.
    let cmd = unsafe { argv.add(first) };
    let all: u64 = !0;
    let mut old: u64 = 0;
    // SAFETY: valid sigset pointers of 8 bytes.
    unsafe {
        syscall(SYS_PRCTL, PR_SET_CHILD_SUBREAPER, 1, 0, 0);
        syscall(
            SYS_RT_SIGPROCMASK,
            SIG_BLOCK,
            &all as *const u64 as usize,
            &mut old as *mut u64 as usize,
            8,
        );
    }
    // SAFETY: fork has no arguments.
    let child = unsafe { syscall(SYS_FORK, 0, 0, 0, 0) };
    if child == 0 {
        // SAFETY: the mask saved above; cmd and envp are the kernel's NULL-terminated arrays.
        unsafe {
            syscall(
                SYS_RT_SIGPROCMASK,
                SIG_SETMASK,
                &old as *const u64 as usize,
                0,
                8,
            );
            exec(cmd, envp)
        }
    }
    if child < 0 {
        say(&[b"berth-init: fork failed\n"]);
        exit(125);
    }
    let mut info = [0u8; 128];
    loop {
        // SAFETY: a valid sigset and siginfo buffer; no timeout.
        let sig = unsafe {
            syscall(
                SYS_RT_SIGTIMEDWAIT,
                &all as *const u64 as usize,
                info.as_mut_ptr() as usize,
                0,
                8,
            )
        };
        if sig < 0 {
            continue;
        }
        if sig as usize != SIGCHLD {
            // SAFETY: plain kill of our child.
            unsafe {
                syscall(SYS_KILL, child as usize, sig as usize, 0, 0);
            }
            continue;
        }
        loop {
            let mut status: i32 = 0;
            // SAFETY: a valid status pointer.
            let pid = unsafe {
                syscall(
                    SYS_WAIT4,
                    usize::MAX,
                    &mut status as *mut i32 as usize,
                    WNOHANG,
                    0,
                )
            };
            if pid <= 0 {
                break;
            }
            if pid == child {
                let s = status as usize;
                exit(match s & 0x7f {
                    0 => (s >> 8) & 0xff,
                    sig => 128 + sig,
                });
            }
        }
    }
}

/// execvp: the command as given when it holds a `/`, else along `PATH`; never returns.
///
/// # Safety
/// `cmd` and `envp` are NULL-terminated arrays of NUL-terminated strings.
unsafe fn exec(cmd: *const *const u8, envp: *const *const u8) -> ! {
    // SAFETY: cmd[0] is a NUL-terminated string.
    let name = unsafe { core::slice::from_raw_parts(*cmd, strlen(*cmd)) };
    if name.contains(&b'/') {
        // SAFETY: the arrays are the kernel's.
        let e = unsafe { syscall(SYS_EXECVE, *cmd as usize, cmd as usize, envp as usize, 0) };
        failed(name, e);
    }
    let mut path = DEFAULT_PATH;
    let mut i = 0;
    // SAFETY: envp is NULL-terminated.
    while unsafe { !(*envp.add(i)).is_null() } {
        // SAFETY: each entry is a NUL-terminated string.
        let e = unsafe { core::slice::from_raw_parts(*envp.add(i), strlen(*envp.add(i))) };
        if let Some(p) = e.strip_prefix(b"PATH=") {
            path = p;
        }
        i += 1;
    }
    let mut last = -ENOENT;
    let mut buf = [0u8; 4096];
    for dir in path.split(|b| *b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let total = dir.len() + 1 + name.len();
        if total + 1 > buf.len() {
            continue;
        }
        buf[..dir.len()].copy_from_slice(dir);
        buf[dir.len()] = b'/';
        buf[dir.len() + 1..total].copy_from_slice(name);
        buf[total] = 0;
        // SAFETY: a NUL-terminated path and the kernel's arrays.
        let e = unsafe {
            syscall(
                SYS_EXECVE,
                buf.as_ptr() as usize,
                cmd as usize,
                envp as usize,
                0,
            )
        };
        if e == -EACCES || last != -EACCES {
            last = e;
        }
    }
    failed(name, last)
}

/// Reports why the command could not run and exits as docker does: 126 when it is there but
/// cannot be executed, 127 when it is not there.
fn failed(name: &[u8], e: isize) -> ! {
    if e == -EACCES {
        say(&[b"berth-init: ", name, b": permission denied\n"]);
        exit(126)
    }
    say(&[b"berth-init: ", name, b": not found\n"]);
    exit(127)
}
