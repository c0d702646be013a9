//! Container ids and names. Ids are 64 random hex digits. Names are unique: each is a
//! symlink `ROOT/containers/names/<name>` → `<id>`, made with `symlink(2)`, which fails if
//! the name exists, so two `run --name x` cannot both win. Either one, or a unique id
//! prefix, names a container wherever one is expected.

use crate::record::{is_id, Containers};
use crate::Error;
use std::io::{self, Read};
use std::path::PathBuf;

/// The first half of generated names.
const ADJECTIVES: &[&str] = &[
    "agile", "bold", "brave", "bright", "calm", "clever", "cosy", "daring", "eager", "fair",
    "gentle", "happy", "keen", "kind", "lively", "lucky", "merry", "nimble", "proud", "quick",
    "quiet", "sharp", "steady", "swift", "tidy", "vivid", "warm", "wise", "witty", "zesty",
];

/// The second half: things of a harbour.
const NOUNS: &[&str] = &[
    "anchor",
    "beacon",
    "bollard",
    "buoy",
    "cutter",
    "dinghy",
    "dock",
    "ferry",
    "galley",
    "harbor",
    "hull",
    "jetty",
    "keel",
    "ketch",
    "lighthouse",
    "mast",
    "mooring",
    "pier",
    "quay",
    "rudder",
    "schooner",
    "sextant",
    "skiff",
    "sloop",
    "tug",
    "wharf",
    "yawl",
];

/// `n` random bytes from the kernel.
fn random_bytes(n: usize) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(Error::path("/dev/urandom"))?;
    Ok(buf)
}

/// A new container id: 64 hex digits.
pub fn new_id() -> Result<String, Error> {
    Ok(random_bytes(32)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// docker's rule for the names of containers and volumes: a letter or digit, then letters,
/// digits, `_`, `.`, `-` (at most 128 here).
pub(crate) fn follows_rule(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 128
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// A container name: docker's rule, and not 64 hex digits (which would read as an id).
pub fn validate(name: &str) -> Result<(), Error> {
    if follows_rule(name) && !is_id(name) {
        Ok(())
    } else {
        Err(Error::Failed {
            name: name.to_string(),
            reason: "invalid name: use a letter or digit, then letters, digits, '_', '.', '-' \
                     (at most 128, and not 64 hex digits)"
                .into(),
        })
    }
}

impl Containers {
    fn names_dir(&self) -> PathBuf {
        self.base().join("names")
    }

    /// Claims `name` for container `id`; a name left by a container that is gone is taken
    /// over.
    pub fn reserve_name(&self, name: &str, id: &str) -> Result<(), Error> {
        let dir = self.names_dir();
        std::fs::create_dir_all(&dir).map_err(Error::path(&dir))?;
        let link = dir.join(name);
        for _ in 0..2 {
            match std::os::unix::fs::symlink(id, &link) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if let Some(owner) = self.name_owner(name) {
                        return Err(Error::NameInUse {
                            name: name.to_string(),
                            owner,
                        });
                    }
                    // A stale link: its container's directory is gone.
                    let _ = std::fs::remove_file(&link);
                }
                Err(e) => return Err(Error::path(&link)(e)),
            }
        }
        Err(Error::Failed {
            name: name.to_string(),
            reason: "the name is being taken by another container".into(),
        })
    }

    /// A free generated name (`calm_harbor`, then with a number if all seem taken).
    pub fn reserve_generated_name(&self, id: &str) -> Result<String, Error> {
        for attempt in 0..20u32 {
            let r = random_bytes(3)?;
            let mut name = format!(
                "{}_{}",
                ADJECTIVES[r[0] as usize % ADJECTIVES.len()],
                NOUNS[r[1] as usize % NOUNS.len()]
            );
            if attempt >= 10 {
                name.push_str(&format!("{}", r[2]));
            }
            match self.reserve_name(&name, id) {
                Ok(()) => return Ok(name),
                Err(Error::NameInUse { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(format!("berth_{}", &id[..12]))
    }

    /// Frees `name` if it still points at `id`.
    pub fn release_name(&self, name: &str, id: &str) {
        let link = self.names_dir().join(name);
        if std::fs::read_link(&link).is_ok_and(|t| t.as_os_str() == id) {
            let _ = std::fs::remove_file(link);
        }
    }

    /// Frees every name that points at `id` (for a container whose record is lost).
    pub fn release_names_of(&self, id: &str) {
        let Ok(rd) = std::fs::read_dir(self.names_dir()) else {
            return;
        };
        for e in rd.flatten() {
            if std::fs::read_link(e.path()).is_ok_and(|t| t.as_os_str() == id) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// The id behind `name`, if that container still exists.
    fn name_owner(&self, name: &str) -> Option<String> {
        let target = std::fs::read_link(self.names_dir().join(name)).ok()?;
        let id = target.to_str()?.to_string();
        (is_id(&id) && self.dir(&id).is_dir()).then_some(id)
    }

    /// The container `what` names: a full id, a name, or a unique id prefix.
    pub fn resolve(&self, what: &str) -> Result<String, Error> {
        if is_id(what) && self.dir(what).is_dir() {
            return Ok(what.to_string());
        }
        if validate(what).is_ok() {
            if let Some(id) = self.name_owner(what) {
                return Ok(id);
            }
        }
        if !what.is_empty() && what.bytes().all(|b| b.is_ascii_hexdigit()) {
            let lower = what.to_ascii_lowercase();
            let hits: Vec<String> = self
                .ids()?
                .into_iter()
                .filter(|id| id.starts_with(&lower))
                .collect();
            match &hits[..] {
                [only] => return Ok(only.clone()),
                [] => {}
                _ => return Err(Error::Ambiguous(what.to_string())),
            }
        }
        Err(Error::NoSuchContainer(what.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_resolve() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Containers::new(tmp.path());
        let (a, b) = (new_id().unwrap(), new_id().unwrap());
        assert_ne!(a, b);
        for id in [&a, &b] {
            c.create_dir(id).unwrap().unwrap();
        }
        c.reserve_name("web", &a).unwrap();
        let e = c.reserve_name("web", &b).unwrap_err().to_string();
        assert!(e.contains(&format!("in use by container {a}")), "{e}");
        assert_eq!(c.resolve("web").unwrap(), a);
        assert_eq!(c.resolve(&b).unwrap(), b);
        assert_eq!(c.resolve(&a[..20]).unwrap(), a);
        assert!(matches!(c.resolve("nope"), Err(Error::NoSuchContainer(_))));
        let generated = c.reserve_generated_name(&b).unwrap();
        assert_eq!(c.resolve(&generated).unwrap(), b);
        // The container of a name is gone: the name is free again.
        std::fs::remove_dir(c.dir(&a)).unwrap();
        c.reserve_name("web", &b).unwrap();
        c.release_name("web", &a);
        assert_eq!(c.resolve("web").unwrap(), b);
        c.release_names_of(&b);
        assert!(c.resolve("web").is_err() && c.resolve(&generated).is_err());
    }

    #[test]
    fn name_rules() {
        for good in ["a", "web-1", "x.y_z", "9lives"] {
            validate(good).unwrap();
        }
        for bad in ["", "-a", "_a", "a/b", "a b", "ä", &"ab".repeat(32)] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }
}
