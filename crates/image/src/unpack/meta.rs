//! Owner, mode, extended attributes and times of unpacked entries, read from the tar
//! header and its PAX records.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Metadata of one entry, with PAX overrides applied.
pub struct Meta {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub mtime: (i64, i64),
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

impl Meta {
    pub fn read<R: std::io::Read>(entry: &mut tar::Entry<'_, R>) -> std::io::Result<Meta> {
        let h = entry.header();
        let mut m = Meta {
            uid: u32::try_from(h.uid()?).unwrap_or(u32::MAX),
            gid: u32::try_from(h.gid()?).unwrap_or(u32::MAX),
            mode: h.mode()? & 0o7777,
            mtime: (i64::try_from(h.mtime()?).unwrap_or(0), 0),
            xattrs: Vec::new(),
        };
        if let Some(pax) = entry.pax_extensions()? {
            for ext in pax {
                let ext = ext?;
                let (k, v) = (ext.key_bytes(), ext.value_bytes());
                match k {
                    b"uid" => m.uid = parse_num(v).unwrap_or(m.uid),
                    b"gid" => m.gid = parse_num(v).unwrap_or(m.gid),
                    b"mtime" => m.mtime = parse_time(v).unwrap_or(m.mtime),
                    _ => {
                        if let Some(name) = k.strip_prefix(XATTR_PREFIX) {
                            m.xattrs.push((name.to_vec(), v.to_vec()));
                        }
                    }
                }
            }
        }
        Ok(m)
    }
}

fn parse_num(v: &[u8]) -> Option<u32> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// PAX times are decimal seconds with an optional fraction.
fn parse_time(v: &[u8]) -> Option<(i64, i64)> {
    let s = std::str::from_utf8(v).ok()?;
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let sec: i64 = sec.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nsec = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some((sec, nsec))
}

/// Whether an xattr from a layer may be applied. Overlay's own attributes are never
/// taken from content (they would forge whiteouts, redirects or metacopy), and rootless
/// processes cannot set trusted.* or security.* anyway.
pub fn xattr_allowed(key: &[u8], rootless: bool) -> bool {
    let overlay = key.starts_with(b"trusted.overlay.") || key.starts_with(b"user.overlay.");
    let privileged = key.starts_with(b"trusted.") || key.starts_with(b"security.");
    !(overlay || rootless && privileged)
}

/// The opaque-directory xattr overlayfs reads: `trusted.*` as root, `user.*` with the
/// `userxattr` mount option used rootless.
pub fn opaque_xattr(rootless: bool) -> &'static OsStr {
    OsStr::from_bytes(if rootless {
        b"user.overlay.opaque"
    } else {
        b"trusted.overlay.opaque"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        assert_eq!(
            parse_time(b"1700000000.5"),
            Some((1_700_000_000, 500_000_000))
        );
        assert_eq!(parse_time(b"12"), Some((12, 0)));
        assert_eq!(parse_time(b"x"), None);
    }

    #[test]
    fn xattr_policy() {
        assert!(xattr_allowed(b"security.capability", false));
        assert!(!xattr_allowed(b"security.capability", true));
        assert!(!xattr_allowed(b"trusted.overlay.opaque", false));
        assert!(!xattr_allowed(b"user.overlay.redirect", true));
        assert!(xattr_allowed(b"user.foo", true));
    }
}
