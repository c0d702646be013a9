//! OCI hooks: each is run with the container's state on stdin, its own argv and env, and its
//! timeout; a failure names the hook and carries what it printed.

use crate::state::Status;
use berth_sys::process as sysproc;
use oci_spec::runtime::Hook;
use serde::Serialize;
use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The state a hook receives on stdin (runtime-spec `state`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    pub bundle: &'a Path,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// A hook that failed.
#[derive(Debug, thiserror::Error)]
#[error("{kind} hook #{index} ({path}): {reason}")]
pub struct HookError {
    pub kind: &'static str,
    pub index: usize,
    pub path: String,
    pub reason: String,
}

/// Runs `hooks` of one kind in order, stopping at the first failure. A hook without `env`
/// gets `env`, or with `None` the runtime's environment.
pub fn run(
    kind: &'static str,
    hooks: &[Hook],
    state: &HookState<'_>,
    env: Option<&[String]>,
) -> Result<(), HookError> {
    each(kind, hooks, state, env).collect()
}

/// Runs every hook of one kind, whatever the others do: a failure is a warning (poststart,
/// poststop, as the runtime-spec says). A hook without `env` gets the runtime's.
pub fn run_warning(kind: &'static str, hooks: &[Hook], state: &HookState<'_>) {
    for e in each(kind, hooks, state, None).filter_map(Result::err) {
        tracing::warn!("{e}");
    }
}

/// Runs the hooks one by one as the iterator is consumed.
fn each<'a>(
    kind: &'static str,
    hooks: &'a [Hook],
    state: &HookState<'_>,
    env: Option<&'a [String]>,
) -> impl Iterator<Item = Result<(), HookError>> + 'a {
    let json = match hooks.is_empty() {
        true => Vec::new(),
        false => serde_json::to_vec(state).unwrap_or_default(),
    };
    hooks.iter().enumerate().map(move |(index, h)| {
        run_one(h, &json, env).map_err(|reason| HookError {
            kind,
            index,
            path: h.path().display().to_string(),
            reason,
        })
    })
}

fn run_one(h: &Hook, state: &[u8], default_env: Option<&[String]>) -> Result<(), String> {
    let mut cmd = Command::new(h.path());
    let args = h.args().clone().unwrap_or_default();
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    // A hook without `env` inherits the environment of the process that runs it, as with
    // runc and crun: the runtime's, or in the container the container process's.
    let own = h.env().as_deref().filter(|e| !e.is_empty());
    if let Some(env) = own.or(default_env) {
        cmd.env_clear();
        for kv in env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
    }
    // Output goes to an anonymous file, not a pipe: a chatty hook cannot block on a full pipe
    // while we wait for it.
    let mut out = tempfile_anon().map_err(|e| format!("output file: {e}"))?;
    let out2 = out.try_clone().map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(out2))
        .stderr(Stdio::from(out.try_clone().map_err(|e| e.to_string())?));
    let mut child = cmd.spawn().map_err(|e| format!("start: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook need not read its state; a closed pipe is fine.
        let _ = stdin.write_all(state);
    }
    let deadline = h
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let status = wait(&mut child, deadline)?;
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = out.rewind();
    let _ = Read::by_ref(&mut out).take(4096).read_to_string(&mut text);
    let text = text.trim();
    Err(if text.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {text}")
    })
}

fn wait(
    child: &mut std::process::Child,
    deadline: Option<Instant>,
) -> Result<std::process::ExitStatus, String> {
    let Some(deadline) = deadline else {
        return child.wait().map_err(|e| e.to_string());
    };
    let pidfd = sysproc::pidfd_open(child.id() as i32).map_err(|e| e.to_string())?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = child.kill();
            let _ = child.wait();
            return Err("timed out".to_string());
        }
        berth_sys::poll::readable(&[Some(pidfd.as_fd())], Some(left)).map_err(|e| e.to_string())?;
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(st);
        }
    }
}

/// An unnamed in-memory file: works wherever the hook runs, even in a read-only container.
fn tempfile_anon() -> std::io::Result<std::fs::File> {
    berth_sys::fs::memfd(c"hook-output").map(std::fs::File::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    fn state() -> HookState<'static> {
        HookState {
            oci_version: "1.2.0",
            id: "c1",
            status: Status::Creating,
            pid: Some(1),
            bundle: Path::new("/b"),
            annotations: HashMap::new(),
        }
    }

    #[test]
    fn hook_gets_state_args_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hook(&format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","cat > {0}; echo \"$0 $1 $X\" >> {0}","a0","a1"],"env":["X=y"]}}"#,
            out.display()
        ));
        run("prestart", &[h], &state(), None).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains(r#""id":"c1""#), "{text}");
        assert!(text.contains(r#""status":"creating""#), "{text}");
        assert!(text.ends_with("a0 a1 y\n"), "{text}");
    }

    #[test]
    fn failure_names_the_hook_and_its_output() {
        let h = hook(r#"{"path":"/bin/sh","args":["sh","-c","echo nope >&2; exit 3"]}"#);
        let e = run("poststart", &[h], &state(), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("poststart hook #0") && e.contains("nope") && e.contains('3'),
            "{e}"
        );
    }

    #[test]
    fn timeout_kills_the_hook() {
        let h = hook(r#"{"path":"/bin/sh","args":["sh","-c","sleep 5"],"timeout":1}"#);
        let e = run("createRuntime", &[h], &state(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("timed out"), "{e}");
    }
}
