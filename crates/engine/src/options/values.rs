//! Single values: environment, entrypoint, hostname, capabilities, sizes, limits, network.

use super::{bad, Network, OptionsError, CPU_PERIOD};

/// `KEY=VALUE` entries; a bare `KEY` takes `getenv`'s value and is left out when unset.
pub fn env_list(
    list: &[String],
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, OptionsError> {
    let mut out = Vec::new();
    for e in list {
        match e.split_once('=') {
            Some(("", _)) => return Err(bad("--env", e, "empty variable name")),
            Some(_) => out.push(e.clone()),
            None if e.is_empty() => return Err(bad("--env", e, "empty variable name")),
            // As docker: a bare name takes berth's value, and is left out when unset.
            None => out.extend(getenv(e).map(|v| format!("{e}={v}"))),
        }
    }
    Ok(out)
}

pub(super) fn entrypoint(s: &str) -> Result<Vec<String>, OptionsError> {
    if s.starts_with('[') {
        return serde_json::from_str(s).map_err(|e| {
            bad(
                "--entrypoint",
                s,
                format!("not a JSON array of strings: {e}"),
            )
        });
    }
    Ok(if s.is_empty() {
        Vec::new()
    } else {
        vec![s.to_string()]
    })
}

pub(super) fn hostname(h: &str) -> Result<(), OptionsError> {
    let ok = !h.is_empty()
        && h.len() <= 64
        && h.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(bad(
            "--hostname",
            h,
            "want letters, digits, '-' and '.', at most 64 characters",
        ))
    }
}

/// `CAP_NET_ADMIN`, `net_admin` → `CAP_NET_ADMIN`; `ALL` stays.
pub(super) fn caps(flag: &'static str, list: &[String]) -> Result<Vec<String>, OptionsError> {
    list.iter()
        .map(|c| {
            if c.eq_ignore_ascii_case("all") {
                return Ok("ALL".to_string());
            }
            berth_sys::caps::from_name(c)
                .and_then(|n| berth_sys::caps::NAMES.get(n as usize))
                .map(|n| n.to_string())
                .ok_or_else(|| bad(flag, c, "unknown capability"))
        })
        .collect()
}

/// `64m`, `1g`, `512k`, `100b`, `1048576`: bytes, at least 6 MiB as docker requires.
pub(super) fn memory(s: &str) -> Result<i64, OptionsError> {
    let lower = s.to_ascii_lowercase();
    let t = lower
        .strip_suffix('b')
        .filter(|t| !t.is_empty())
        .unwrap_or(&lower);
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k')) => (&t[..i], 1i64 << 10),
        Some((i, 'm')) => (&t[..i], 1 << 20),
        Some((i, 'g')) => (&t[..i], 1 << 30),
        Some((i, 't')) => (&t[..i], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n > 0.0)
        .ok_or_else(|| bad("--memory", s, "want a size such as 64m or 1g"))?;
    let bytes = (n * mult as f64) as i64;
    if bytes < 6 << 20 {
        return Err(bad("--memory", s, "the minimum is 6m"));
    }
    Ok(bytes)
}

/// CPUs → a CFS quota per [`CPU_PERIOD`], no more than this host has.
pub(super) fn cpus(s: &str) -> Result<i64, OptionsError> {
    let n: f64 = s
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n > 0.0)
        .ok_or_else(|| bad("--cpus", s, "want a positive number such as 0.5 or 2"))?;
    let have = std::thread::available_parallelism().map_or(1, |n| n.get());
    if n > have as f64 {
        return Err(bad("--cpus", s, format!("this host has {have} CPUs")));
    }
    Ok(((n * CPU_PERIOD as f64) as i64).max(1000))
}

pub(super) fn pids_limit(n: i64) -> Result<i64, OptionsError> {
    if n == 0 || n < -1 {
        return Err(bad(
            "--pids-limit",
            &n.to_string(),
            "want a positive number, or -1 for no limit",
        ));
    }
    Ok(n)
}

/// An absolute cgroup path of plain names.
pub(super) fn cgroup_parent(s: &str) -> Result<String, OptionsError> {
    let names: Vec<&str> = s.split('/').skip(1).filter(|n| !n.is_empty()).collect();
    let plain = |n: &&str| {
        *n != "."
            && *n != ".."
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    };
    if !s.starts_with('/') || names.is_empty() || !names.iter().all(plain) {
        return Err(bad(
            "--cgroup-parent",
            s,
            "want an absolute cgroup path of letters, digits, '_', '.', '-'",
        ));
    }
    Ok(format!("/{}", names.join("/")))
}

pub(super) fn network(s: &str) -> Result<Network, OptionsError> {
    match s {
        "none" => Ok(Network::None),
        "host" => Ok(Network::Host),
        _ => Err(bad(
            "--network",
            s,
            "only none (the default) and host are supported; bridge networking comes later",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_limits() {
        assert_eq!(memory("64m").unwrap(), 64 << 20);
        assert_eq!(memory("1G").unwrap(), 1 << 30);
        assert_eq!(memory("1.5g").unwrap(), 3 << 29);
        assert_eq!(memory("10485760").unwrap(), 10 << 20);
        assert_eq!(memory("8mb").unwrap(), 8 << 20);
        assert!(memory("1m").unwrap_err().to_string().contains("minimum"));
        for b in ["", "m", "x1", "-5m", "12q", "nan"] {
            assert!(memory(b).is_err(), "{b}");
        }
        assert_eq!(cpus("0.5").unwrap(), 50_000);
        assert!(cpus("0").is_err() && cpus("1e9").is_err() && cpus("x").is_err());
        assert!(pids_limit(0).is_err() && pids_limit(-1).is_ok());
        assert_eq!(cgroup_parent("/a/b/").unwrap(), "/a/b");
        for b in ["a", "/", "/a/../b", "/a b"] {
            assert!(cgroup_parent(b).is_err(), "{b}");
        }
    }
}
