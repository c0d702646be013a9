//! `update`'s flags: new cgroup limits and restart policy for an existing container, checked
//! against what the container already has, as docker checks them.

use super::values::{cpus, memory, pids_limit, restart};
use super::{bad, OptionsError, Restart, Settings, TuningFlags};

/// The flags as given. Only what is given changes; as in docker, a zero (`--memory 0`,
/// `--cpu-shares 0`) changes nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateOptions {
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub cpus: Option<String>,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub blkio_weight: Option<u16>,
    pub pids_limit: Option<i64>,
    pub restart: Option<String>,
}

impl UpdateOptions {
    /// No flag at all (docker refuses that).
    pub fn is_empty(&self) -> bool {
        *self == UpdateOptions::default()
    }

    /// The settings of a container that has `old`, changed by these flags.
    pub fn apply(&self, old: &Settings) -> Result<Settings, OptionsError> {
        let mut s = old.clone();
        if let Some(m) = self.memory.as_deref().map(memory).transpose()?.flatten() {
            s.memory = Some(m);
        }
        let given = TuningFlags {
            memory_swap: self.memory_swap.clone(),
            memory_reservation: self.memory_reservation.clone(),
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            blkio_weight: self.blkio_weight,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            ..Default::default()
        }
        .check(s.memory, false)?;
        let t = &mut s.tuning;
        keep_new(&mut t.memory_swap, given.memory_swap);
        keep_new(&mut t.memory_reservation, given.memory_reservation);
        keep_new(&mut t.cpu_shares, given.cpu_shares);
        keep_new(&mut t.cpuset_cpus, given.cpuset_cpus);
        keep_new(&mut t.cpuset_mems, given.cpuset_mems);
        keep_new(&mut t.blkio_weight, given.blkio_weight);
        // A new memory limit against the limits it already had.
        if let (Some(v), Some(m)) = (&self.memory, s.memory) {
            if t.memory_swap.is_some_and(|swap| swap != -1 && swap < m) {
                return Err(bad(
                    "--memory",
                    v,
                    "more than the container's --memory-swap: update --memory-swap as well",
                ));
            }
            if t.memory_reservation.is_some_and(|r| r > m) {
                return Err(bad(
                    "--memory",
                    v,
                    "less than the container's --memory-reservation",
                ));
            }
        }
        // --cpus and --cpu-period/--cpu-quota set the same limit: one way per container.
        if let Some(c) = &self.cpus {
            if self.cpu_period.is_some() || self.cpu_quota.is_some() {
                return Err(bad(
                    "--cpus",
                    c,
                    "conflicts with --cpu-period and --cpu-quota",
                ));
            }
            if t.cpu_period.is_some() || t.cpu_quota.is_some() {
                return Err(bad(
                    "--cpus",
                    c,
                    "the container's CPU limit was given as --cpu-period/--cpu-quota; update those",
                ));
            }
            keep_new(&mut s.cpu_quota, cpus(c)?);
        }
        if self.cpu_period.is_some() || self.cpu_quota.is_some() {
            if s.cpu_quota.is_some() {
                let (flag, v) = match (self.cpu_quota, self.cpu_period) {
                    (Some(q), _) => ("--cpu-quota", q.to_string()),
                    (None, p) => ("--cpu-period", p.unwrap_or_default().to_string()),
                };
                return Err(bad(
                    flag,
                    &v,
                    "the container's CPU limit was given as --cpus; update that",
                ));
            }
            keep_new(&mut t.cpu_period, given.cpu_period);
            keep_new(&mut t.cpu_quota, given.cpu_quota);
        }
        if let Some(n) = self.pids_limit {
            s.pids_limit = Some(pids_limit(n)?);
        }
        if let Some(v) = &self.restart {
            let policy = restart(v)?;
            if policy != Restart::No && s.auto_remove {
                return Err(bad(
                    "--restart",
                    v,
                    "a container removed when it ends (--rm) cannot be restarted",
                ));
            }
            s.restart = policy;
        }
        Ok(s)
    }
}

/// A value given replaces the old one; none keeps it.
fn keep_new<T>(old: &mut Option<T>, new: Option<T>) {
    if new.is_some() {
        *old = new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::RunOptions;

    fn created(o: RunOptions) -> Settings {
        o.check(&|_| None).unwrap()
    }

    fn update(old: &Settings, u: UpdateOptions) -> Result<Settings, String> {
        u.apply(old).map_err(|e| e.to_string())
    }

    #[test]
    fn only_what_is_given_changes() {
        let old = created(RunOptions {
            memory: Some("64m".into()),
            cpus: Some("0.5".into()),
            ..Default::default()
        });
        let new = update(
            &old,
            UpdateOptions {
                memory: Some("128m".into()),
                cpu_shares: Some(512),
                pids_limit: Some(50),
                restart: Some("on-failure:3".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(new.memory, Some(128 << 20));
        assert_eq!(new.cpu_quota, old.cpu_quota);
        assert_eq!(new.tuning.cpu_shares, Some(512));
        assert_eq!(new.pids_limit, Some(50));
        assert_eq!(new.restart, Restart::OnFailure { max: Some(3) });
        // Zeros change nothing.
        let same = update(
            &new,
            UpdateOptions {
                memory: Some("0".into()),
                cpu_shares: Some(0),
                ..Default::default()
            },
        )
        .unwrap();
        let json = |s: &Settings| serde_json::to_value(s).unwrap();
        assert_eq!(json(&same), json(&new));
        assert!(UpdateOptions::default().is_empty());
    }

    #[test]
    fn new_limits_are_checked_against_the_old_ones() {
        let old = created(RunOptions {
            memory: Some("64m".into()),
            tuning: TuningFlags {
                memory_swap: Some("128m".into()),
                cpu_quota: Some(50_000),
                ..Default::default()
            },
            ..Default::default()
        });
        let refused = |u: UpdateOptions, flag: &str| {
            let e = update(&old, u).unwrap_err();
            assert!(e.starts_with(flag), "{e}");
        };
        refused(
            UpdateOptions {
                memory: Some("256m".into()),
                ..Default::default()
            },
            "--memory \"256m\"",
        );
        refused(
            UpdateOptions {
                memory_swap: Some("32m".into()),
                ..Default::default()
            },
            "--memory-swap",
        );
        refused(
            UpdateOptions {
                cpus: Some("1".into()),
                ..Default::default()
            },
            "--cpus",
        );
        refused(
            UpdateOptions {
                pids_limit: Some(0),
                ..Default::default()
            },
            "--pids-limit",
        );
        // Memory and swap raised together are fine.
        let new = update(
            &old,
            UpdateOptions {
                memory: Some("256m".into()),
                memory_swap: Some("512m".into()),
                cpu_quota: Some(20_000),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (new.memory, new.tuning.memory_swap, new.tuning.cpu_quota),
            (Some(256 << 20), Some(512 << 20), Some(20_000))
        );
        let auto_remove = created(RunOptions {
            remove: true,
            ..Default::default()
        });
        let e = update(
            &auto_remove,
            UpdateOptions {
                restart: Some("always".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.contains("--rm"), "{e}");
    }
}
