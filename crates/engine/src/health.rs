//! Health checks (`--health-cmd` and the image's HEALTHCHECK), as docker runs them: every
//! interval the container's attendant starts `berth healthcheck ID`, which runs the check in
//! the container (exec), with a timeout, and records the result in the container's record:
//! the last five results, the streak of failures, and the status `starting`, `healthy` or
//! `unhealthy` (after `retries` failures in a row; failures in the start period do not
//! count until a check first passes). `ps` shows the status and `inspect` the whole.

use crate::options::{bad, OptionsError};
use crate::record::{Record, State};
use crate::time::{go_duration, Timestamp};
use crate::{Engine, Error};
use serde::{Deserialize, Serialize};
use std::os::fd::AsFd;
use std::time::Duration;

/// docker's defaults.
const INTERVAL: Duration = Duration::from_secs(30);
const TIMEOUT: Duration = Duration::from_secs(30);
const RETRIES: u32 = 3;
/// How many results a record keeps, and how much of each one's output.
const KEPT: usize = 5;
const OUTPUT: usize = 4096;

/// A container's check, from its flags over its image's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthConfig {
    /// docker's forms: `["CMD", prog, args...]` or `["CMD-SHELL", "command"]`.
    pub test: Vec<String>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub start_period_ms: u64,
    pub retries: u32,
}

/// The `--health-*` flags as given.
#[derive(Clone, Debug, Default)]
pub struct HealthFlags {
    pub cmd: Option<String>,
    /// The exec form, run without a shell (the Docker API's `["CMD", ...]`); before `cmd`.
    pub exec: Option<Vec<String>>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub retries: Option<u32>,
    pub none: bool,
}

/// The image's HEALTHCHECK, as its config has it (durations in nanoseconds).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageHealthcheck {
    #[serde(default)]
    pub test: Vec<String>,
    #[serde(default)]
    pub interval: u64,
    #[serde(default)]
    pub timeout: u64,
    #[serde(default)]
    pub start_period: u64,
    #[serde(default)]
    pub retries: u32,
}

impl HealthFlags {
    /// The check for a container of an image with `image`'s HEALTHCHECK; `None` without one
    /// (or with `--no-healthcheck`, or the image's `NONE`).
    pub fn check(
        &self,
        image: Option<&ImageHealthcheck>,
    ) -> Result<Option<HealthConfig>, OptionsError> {
        let given = self.cmd.is_some()
            || self.exec.is_some()
            || self.interval.is_some()
            || self.timeout.is_some()
            || self.start_period.is_some()
            || self.retries.is_some();
        if self.none {
            if given {
                return Err(bad(
                    "--no-healthcheck",
                    "",
                    "conflicts with the --health-* flags",
                ));
            }
            return Ok(None);
        }
        let dur =
            |flag: &'static str, v: &Option<String>, from_image: u64, default: Duration| match v {
                Some(s) => go_duration(s)
                    .filter(|ns| *ns >= 1_000_000)
                    .map(|ns| (ns / 1_000_000) as u64)
                    .ok_or_else(|| bad(flag, s, "want a duration of 1ms or more, such as 30s")),
                None if from_image > 0 => Ok(from_image / 1_000_000),
                None => Ok(default.as_millis() as u64),
            };
        let image = image.cloned().unwrap_or_default();
        let test = match (&self.exec, &self.cmd) {
            (Some(words), _) => std::iter::once("CMD".to_string())
                .chain(words.iter().cloned())
                .collect(),
            (None, Some(c)) if c.is_empty() => return Err(bad("--health-cmd", c, "empty command")),
            (None, Some(c)) => vec!["CMD-SHELL".to_string(), c.clone()],
            (None, None) => image.test.clone(),
        };
        match test.first().map(String::as_str) {
            None | Some("NONE") => return Ok(None),
            Some("CMD") | Some("CMD-SHELL") if test.len() > 1 => {}
            _ => {
                return Err(bad(
                    "HEALTHCHECK",
                    &test.join(" "),
                    "want CMD or CMD-SHELL with a command",
                ))
            }
        }
        let retries = match self.retries {
            Some(0) => return Err(bad("--health-retries", "0", "want 1 or more")),
            Some(n) => n,
            None if image.retries > 0 => image.retries,
            None => RETRIES,
        };
        Ok(Some(HealthConfig {
            test,
            interval_ms: dur(
                "--health-interval",
                &self.interval,
                image.interval,
                INTERVAL,
            )?,
            timeout_ms: dur("--health-timeout", &self.timeout, image.timeout, TIMEOUT)?,
            start_period_ms: dur(
                "--health-start-period",
                &self.start_period,
                image.start_period,
                Duration::ZERO,
            )
            .or_else(|e| match self.start_period.as_deref() {
                Some("0" | "0s") => Ok(0),
                _ => Err(e),
            })?,
            retries,
        }))
    }
}

/// One check's outcome, as docker's `State.Health.Log` has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: Timestamp,
    pub end: Timestamp,
    pub exit_code: i32,
    pub output: String,
}

/// A container's health, as docker's `State.Health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy`, `unhealthy`.
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<HealthResult>,
}

impl Health {
    pub fn starting() -> Health {
        Health {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
        }
    }

    /// Takes `result` in, for a container that started at `started`; the new status.
    fn record(&mut self, c: &HealthConfig, result: HealthResult, started: Option<Timestamp>) {
        let in_start_period = started.is_some_and(|s| {
            (result.start.unix_nanos() - s.unix_nanos()) / 1_000_000 < c.start_period_ms as i64
        });
        if result.exit_code == 0 {
            self.status = "healthy".into();
            self.failing_streak = 0;
        } else if !(in_start_period && self.status == "starting") {
            self.failing_streak += 1;
            if self.failing_streak >= c.retries {
                self.status = "unhealthy".into();
            }
        }
        self.log.push(result);
        let extra = self.log.len().saturating_sub(KEPT);
        self.log.drain(..extra);
    }
}

/// The attendant's timer that starts the checks.
pub(crate) struct HealthTimer {
    timer: std::os::fd::OwnedFd,
    command: std::process::Command,
}

impl HealthTimer {
    /// Every `interval` of `c`, `berth-monitor healthcheck ID` on the store at `root`.
    pub(crate) fn new(c: &HealthConfig, root: &std::path::Path, id: &str) -> std::io::Result<Self> {
        let every = Duration::from_millis(c.interval_ms);
        let timer = berth_sys::timer::periodic(every, every)?;
        let mut command = std::process::Command::new(crate::start::helper_program());
        command
            .arg("--root")
            .arg(root)
            .args(["healthcheck", id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        Ok(HealthTimer { timer, command })
    }

    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.timer.as_fd()
    }

    /// The timer fired: a check starts; the attendant's wait loop reaps it.
    pub(crate) fn fire(&mut self) {
        if berth_sys::timer::expirations(self.timer.as_fd()).unwrap_or(0) > 0 {
            let _ = self.command.spawn();
        }
    }
}

impl Engine {
    /// Runs container `id`'s check once and records the result; its status afterwards.
    pub fn health_check(&self, id: &str) -> Result<Option<String>, Error> {
        let r = self.container(id)?;
        let Some(c) = r
            .settings
            .health
            .clone()
            .filter(|_| r.state == State::Running)
        else {
            return Ok(None);
        };
        let args = match c.test.first().map(String::as_str) {
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), c.test[1..].join(" ")],
            _ => c.test[1..].to_vec(),
        };
        let start = Timestamp::now();
        let (exit_code, output) = self.run_check(&r, args, Duration::from_millis(c.timeout_ms))?;
        let result = HealthResult {
            start,
            end: Timestamp::now(),
            exit_code,
            output,
        };
        let mut changed = None;
        let r = self.update(&r.id, |r| {
            let h = r.health.get_or_insert_with(Health::starting);
            let before = h.status.clone();
            h.record(&c, result, r.started_at);
            if h.status != before {
                changed = Some(h.status.clone());
            }
        })?;
        if let (Some(r), Some(status)) = (&r, &changed) {
            self.event(r, &format!("health_status: {status}"), &[]);
        }
        Ok(r.and_then(|r| r.health).map(|h| h.status))
    }

    /// Execs `args` in container `r` with its output in a memory file, killed after
    /// `timeout`; its status and the start of its output.
    fn run_check(
        &self,
        r: &Record,
        args: Vec<String>,
        timeout: Duration,
    ) -> Result<(i32, String), Error> {
        let out = berth_sys::fs::memfd(c"berth-healthcheck").map_err(Error::io("memfd"))?;
        for fd in [1, 2] {
            berth_sys::fs::dup_onto(out.as_fd(), fd).map_err(Error::io("dup"))?;
        }
        let opts = berth_container::exec::ExecOptions {
            id: r.id.clone(),
            args,
            ..Default::default()
        };
        // The runtime passes every signal it gets to the check: the alarm ends it.
        // SAFETY: alarm only schedules SIGALRM for this process.
        unsafe { libc::alarm(timeout.as_secs().max(1) as u32) };
        let code = match berth_container::exec::exec(&self.runtime, &opts) {
            Ok(c) => c,
            Err(e) => {
                return Ok((
                    match e.program_fault() {
                        Some(f) => f.exit_status(),
                        None => 125,
                    },
                    e.to_string(),
                ))
            }
        };
        let mut text = std::fs::read(berth_sys::fs::fd_path(std::os::fd::AsRawFd::as_raw_fd(
            &out,
        )))
        .unwrap_or_default();
        text.truncate(OUTPUT);
        Ok((code, String::from_utf8_lossy(&text).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(retries: u32, start_period_ms: u64) -> HealthConfig {
        HealthConfig {
            test: vec!["CMD".into(), "true".into()],
            interval_ms: 1000,
            timeout_ms: 1000,
            start_period_ms,
            retries,
        }
    }

    fn result(at: i64, exit_code: i32) -> HealthResult {
        let t = Timestamp::from_unix_nanos(at * 1_000_000_000);
        HealthResult {
            start: t,
            end: t,
            exit_code,
            output: String::new(),
        }
    }

    #[test]
    fn statuses_follow_dockers_rules() {
        let c = config(2, 0);
        let mut h = Health::starting();
        h.record(&c, result(1, 1), None);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 1));
        h.record(&c, result(2, 1), None);
        assert_eq!(h.status, "unhealthy");
        h.record(&c, result(3, 0), None);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        for i in 0..10 {
            h.record(&c, result(4 + i, 0), None);
        }
        assert_eq!(h.log.len(), KEPT);
        // In the start period, failures before a first success do not count.
        let c = config(1, 10_000);
        let mut h = Health::starting();
        let started = Some(Timestamp::from_unix_nanos(0));
        h.record(&c, result(1, 1), started);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0));
        h.record(&c, result(11, 1), started);
        assert_eq!(h.status, "unhealthy");
    }

    #[test]
    fn flags_over_the_images_check() {
        let image = ImageHealthcheck {
            test: vec!["CMD".into(), "check".into()],
            interval: 5_000_000_000,
            ..Default::default()
        };
        let c = HealthFlags::default().check(Some(&image)).unwrap().unwrap();
        assert_eq!(
            (c.test[1].as_str(), c.interval_ms, c.retries),
            ("check", 5000, 3)
        );
        let flags = HealthFlags {
            cmd: Some("curl -f localhost".into()),
            interval: Some("1s".into()),
            retries: Some(5),
            ..Default::default()
        };
        let c = flags.check(Some(&image)).unwrap().unwrap();
        assert_eq!(
            (c.test[0].as_str(), c.interval_ms, c.retries),
            ("CMD-SHELL", 1000, 5)
        );
        let exec = HealthFlags {
            exec: Some(vec!["/bin/check".into(), "-q".into()]),
            ..Default::default()
        };
        let c = exec.check(Some(&image)).unwrap().unwrap();
        assert_eq!(c.test, ["CMD", "/bin/check", "-q"]);
        let none = HealthFlags {
            none: true,
            ..Default::default()
        };
        assert_eq!(none.check(Some(&image)).unwrap(), None);
        let off = ImageHealthcheck {
            test: vec!["NONE".into()],
            ..Default::default()
        };
        assert_eq!(HealthFlags::default().check(Some(&off)).unwrap(), None);
        for bad in [
            HealthFlags {
                cmd: Some(String::new()),
                ..Default::default()
            },
            HealthFlags {
                cmd: Some("x".into()),
                interval: Some("soon".into()),
                ..Default::default()
            },
            HealthFlags {
                cmd: Some("x".into()),
                retries: Some(0),
                ..Default::default()
            },
            HealthFlags {
                none: true,
                cmd: Some("x".into()),
                ..Default::default()
            },
        ] {
            assert!(bad.check(None).is_err());
        }
    }
}
