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
    fn human_durations() {
        assert_eq!(human(1), "1 second");
        assert_eq!(human(59), "59 seconds");
        assert_eq!(human(90), "About a minute");
        assert_eq!(human(600), "10 minutes");
        assert_eq!(human(3 * 3600), "3 hours");
        assert_eq!(human(3 * 86_400), "3 days");
    }
}
