//! The id maps of berth's user namespace: the user as root, then the user's subordinate
//! ranges from /etc/subuid and /etc/subgid as ids 1 and up (podman's layout).

use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder};
use oci_spec::OciSpecError;

/// One `name:start:count` line's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u32,
    pub count: u32,
}

/// The ranges of `text` (a subuid or subgid file) given to the user `name` or to its
/// numeric `id` (newuidmap accepts both), in file order.
pub fn ranges(text: &str, name: Option<&str>, id: u32) -> Vec<Range> {
    let id = id.to_string();
    text.lines()
        .filter_map(|line| {
            let mut f = line.trim().split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            let ours = Some(who) == name || who == id;
            let r = Range {
                start: start.trim().parse().ok()?,
                count: count.trim().parse().ok()?,
            };
            (ours && r.count > 0).then_some(r)
        })
        .collect()
}

/// `host` as id 0, then `ranges` from id 1 on, without overflowing the id space.
pub fn id_map(host: u32, ranges: &[Range]) -> Result<Vec<LinuxIdMapping>, OciSpecError> {
    let mut maps = vec![mapping(0, host, 1)?];
    let mut next: u32 = 1;
    for r in ranges {
        let count = r.count.min(u32::MAX - next);
        if count == 0 {
            break;
        }
        maps.push(mapping(next, r.start, count)?);
        next += count;
    }
    Ok(maps)
}

fn mapping(container: u32, host: u32, size: u32) -> Result<LinuxIdMapping, OciSpecError> {
    LinuxIdMappingBuilder::default()
        .container_id(container)
        .host_id(host)
        .size(size)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many ids a map covers.
    fn size(maps: &[LinuxIdMapping]) -> u64 {
        maps.iter().map(|m| u64::from(m.size())).sum()
    }

    const FILE: &str = "alice:100000:65536\nbob:165536:65536\n1001:300000:1000\n\
                        alice:500000:10\nbroken\nalice:x:5\nalice:1:0\n";

    #[test]
    fn a_user_has_the_ranges_of_its_name_and_its_uid() {
        assert_eq!(
            ranges(FILE, Some("alice"), 1000),
            [
                Range {
                    start: 100000,
                    count: 65536
                },
                Range {
                    start: 500000,
                    count: 10
                }
            ]
        );
        assert_eq!(
            ranges(FILE, Some("carol"), 1001),
            [Range {
                start: 300000,
                count: 1000
            }]
        );
        assert!(ranges(FILE, None, 7).is_empty());
    }

    #[test]
    fn the_user_is_root_and_the_ranges_follow() {
        let rs = ranges(FILE, Some("alice"), 1000);
        let m = id_map(1000, &rs).unwrap();
        let t: Vec<(u32, u32, u32)> = m
            .iter()
            .map(|m| (m.container_id(), m.host_id(), m.size()))
            .collect();
        assert_eq!(t, [(0, 1000, 1), (1, 100000, 65536), (65537, 500000, 10)]);
        assert_eq!(size(&m), 65547);
        assert_eq!(id_map(1000, &[]).unwrap().len(), 1);
        let huge = [Range {
            start: 1,
            count: u32::MAX,
        }];
        assert_eq!(size(&id_map(5, &huge).unwrap()), u64::from(u32::MAX));
    }
}
