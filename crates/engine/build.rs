//! Builds berth-init (init/main.rs), the static init `run --init` puts in containers, with
//! the same rustc: a freestanding x86-64 executable without libc, embedded in the engine.
//! On other architectures nothing is built and `--init` says so.

use std::path::PathBuf;
use std::process::Command;

fn main() -> Result<(), String> {
    println!("cargo:rerun-if-changed=init/main.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("berth-init");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.starts_with("x86_64-") || !target.contains("linux") {
        return std::fs::write(&out, b"").map_err(|e| format!("{}: {e}", out.display()));
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(rustc)
        .args([
            "--edition=2021",
            "--crate-type=bin",
            "--crate-name=berth_init",
            "-Cpanic=abort",
            "-Copt-level=s",
            "-Crelocation-model=static",
            "-Cstrip=symbols",
            "-Clink-arg=-nostartfiles",
            "-Clink-arg=-nostdlib",
            "-Clink-arg=-static",
            "--target",
            &target,
            "init/main.rs",
            "-o",
        ])
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        other => Err(format!(
            "building berth-init (init/main.rs) failed: {other:?}"
        )),
    }
}
