//! Moments of a container's life, stored and shown as RFC 3339 (UTC), and the durations
//! `ps` prints.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time, to the nanosecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

impl Timestamp {
    pub fn now() -> Timestamp {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp {
            secs: d.as_secs() as i64,
            nanos: d.subsec_nanos(),
        }
    }

    /// Whole seconds since the epoch.
    pub fn from_unix(secs: u64) -> Timestamp {
        Timestamp {
            secs: secs as i64,
            nanos: 0,
        }
    }

    /// Whole seconds from `self` to `later` (0 if `later` is earlier).
    pub fn seconds_until(&self, later: Timestamp) -> u64 {
        (later.secs - self.secs).max(0) as u64
    }

    /// Parses `2026-11-27T02:06:57.123456789Z` (fraction optional).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.strip_suffix('Z')?;
        let (date, time) = s.split_once('T')?;
        let mut d = date.splitn(3, '-').map(str::parse::<i64>);
        let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let mut t = hms.splitn(3, ':').map(str::parse::<i64>);
        let (h, min, sec) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
        let nanos = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").get(..9)?.parse().ok()?
        };
        let secs = days_from_civil(y, m, day) * 86_400 + h * 3600 + min * 60 + sec;
        Some(Timestamp { secs, nanos })
    }
}

impl Timestamp {
    /// A moment as users give one to `--since`/`--until`: RFC 3339 (`Z` or an offset),
    /// Unix seconds (`1700000000.5`), or a duration before `now` (`10m`, `1h30m`, `90s`).
    pub fn from_user(s: &str, now: Timestamp) -> Option<Timestamp> {
        if let Some(t) = Timestamp::parse(s) {
            return Some(t);
        }
        if let Some(t) = with_offset(s) {
            return Some(t);
        }
        if let Some((secs, frac)) = unix_seconds(s) {
            return Some(Timestamp { secs, nanos: frac });
        }
        let ago = go_duration(s)?;
        let total = now.secs as i128 * 1_000_000_000 + now.nanos as i128 - ago;
        Some(Timestamp {
            secs: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
        })
    }

    /// The moment `nanos` nanoseconds after the epoch.
    pub fn from_unix_nanos(nanos: i64) -> Timestamp {
        Timestamp {
            secs: nanos.div_euclid(1_000_000_000),
            nanos: nanos.rem_euclid(1_000_000_000) as u32,
        }
    }

    /// Nanoseconds since the epoch.
    pub fn unix_nanos(&self) -> i64 {
        self.secs * 1_000_000_000 + i64::from(self.nanos)
    }

    /// As docker's listings print a moment: `2026-11-27 02:06:57 +0000 UTC`.
    pub fn docker(&self) -> String {
        let s = self.to_string();
        format!(
            "{} {} +0000 UTC",
            s.get(..10).unwrap_or_default(),
            s.get(11..19).unwrap_or_default()
        )
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&berth_container::time::format_rfc3339(
            self.secs, self.nanos,
        ))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("bad timestamp {s:?}")))
    }
}

/// (year, month, day) → days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-01-01T10:00:00+01:00` (fraction optional): RFC 3339 with an offset.
fn with_offset(s: &str) -> Option<Timestamp> {
    let cut = s.len().checked_sub(6)?;
    let (base, off) = s.split_at(cut);
    let sign = match off.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = off[1..].split_once(':')?;
    let shift = sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60);
    let t = Timestamp::parse(&format!("{base}Z"))?;
    Some(Timestamp {
        secs: t.secs - shift,
        nanos: t.nanos,
    })
}

/// `1700000000` or `1700000000.5`: seconds since the epoch.
fn unix_seconds(s: &str) -> Option<(i64, u32)> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let nanos = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    Some((whole.parse().ok()?, nanos))
}

/// Go's duration syntax (`1h30m`, `90s`, `1.5h`, `500ms`) in nanoseconds.
pub fn go_duration(s: &str) -> Option<i128> {
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Some(total as i128)
}

/// A duration as `docker ps` words it: "3 seconds", "About a minute", "2 hours".
pub fn human(secs: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match secs {
        0 => "Less than a second".into(),
        1..=59 => plural(secs, "second"),
        60..=119 => "About a minute".into(),
        120..=3599 => plural(secs / 60, "minute"),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => plural(secs / 3600, "hour"),
        172_800..=1_209_599 => plural(secs / 86_400, "day"),
        _ => plural(secs / 604_800, "week"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = Timestamp {
            secs: 1_795_745_217,
            nanos: 42,
        };
        assert_eq!(t.to_string(), "2026-11-27T02:06:57.000000042Z");
        assert_eq!(t.docker(), "2026-11-27 02:06:57 +0000 UTC");
        assert_eq!(Timestamp::parse(&t.to_string()), Some(t));
        assert_eq!(
            Timestamp::parse("2000-02-29T00:00:00Z"),
            Some(Timestamp {
                secs: 951_782_400,
                nanos: 0
            })
        );
        assert_eq!(Timestamp::parse("2000-02-29 00:00:00"), None);
        let now = Timestamp::now();
        assert_eq!(Timestamp::parse(&now.to_string()), Some(now));
    }

    #[test]
    fn moments_users_give() {
        let now = Timestamp::parse("2026-12-04T12:00:00Z").unwrap();
        let t = |s| Timestamp::from_user(s, now).map(|t| t.to_string());
        assert_eq!(
            t("2026-12-04T10:00:00Z").unwrap(),
            "2026-12-04T10:00:00.000000000Z"
        );
        assert_eq!(
            t("2026-12-04T11:00:00+01:00").unwrap(),
            "2026-12-04T10:00:00.000000000Z"
        );
        assert_eq!(t("10m").unwrap(), "2026-12-04T11:50:00.000000000Z");
        assert_eq!(t("1h30m").unwrap(), "2026-12-04T10:30:00.000000000Z");
        assert_eq!(t("1.5s").unwrap(), "2026-12-04T11:59:58.500000000Z");
        assert_eq!(t("1764849600").unwrap(), "2025-12-04T12:00:00.000000000Z");
        assert_eq!(
            t("1764849600.25").unwrap(),
            "2025-12-04T12:00:00.250000000Z"
        );
        for bad in ["", "yesterday", "10x", "1.2.3", "-5m"] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(1), "1 second");
        assert_eq!(human(59), "59 seconds");
        assert_eq!(human(90), "About a minute");
        assert_eq!(human(600), "10 minutes");
        assert_eq!(human(3 * 3600), "3 hours");
        assert_eq!(human(3 * 86_400), "3 days");
    }
}
