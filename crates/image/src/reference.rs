//! Image references parsed and normalized the way Docker does it
//! (`busybox` → `docker.io/library/busybox:latest`).

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;

/// The registry that short names resolve to.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The registry name used for images that only exist locally (import, load, tag).
pub const LOCAL_REGISTRY: &str = "localhost";
const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;

/// Errors from parsing a reference.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The string does not follow the reference grammar.
    #[error("invalid reference format {reference:?}: {why}")]
    Invalid {
        /// The input.
        reference: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// A normalized image reference: registry, repository path and a tag and/or digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses `s` as Docker does; a reference without tag or digest gets `:latest`.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        Self::parse_with_default(s, DEFAULT_REGISTRY)
    }

    /// Parses a name for a local image: without a registry part it lands under
    /// `localhost/` (as podman names imported images) instead of Docker Hub.
    pub fn parse_local(s: &str) -> Result<Reference, ReferenceError> {
        Self::parse_with_default(s, LOCAL_REGISTRY)
    }

    fn parse_with_default(s: &str, default_registry: &str) -> Result<Reference, ReferenceError> {
        let bad = |why| ReferenceError::Invalid {
            reference: s.to_string(),
            why,
        };
        let (rest, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d.parse::<Digest>().map_err(|_| bad("bad digest"))?)),
            None => (s, None),
        };
        // A ':' after the last '/' starts the tag; one before it belongs to a host:port.
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(bad("bad tag"));
            }
        }
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(bad("name is empty or longer than 255 characters"));
        }
        let (registry, path) = split_registry(name, default_registry);
        if !valid_host(registry) {
            return Err(bad("bad registry host"));
        }
        if !path.split('/').all(valid_path_component) {
            return Err(bad(
                "repository must be lowercase letters, digits and separators",
            ));
        }
        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        if path.len() == 64 && Digest::from_hex(path).is_ok() {
            return Err(bad("a 64-digit hex name is an image ID, not a repository"));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (t, _) => t.map(str::to_string),
        };
        Ok(Reference {
            registry: registry.to_string(),
            repository,
            tag,
            digest,
        })
    }

    /// The registry host (and port), e.g. `docker.io` or `127.0.0.1:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }
    /// The repository path, e.g. `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }
    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What to ask the registry's manifest endpoint for: the digest if present, else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// Whether the user typed no registry (the reference fell back to a default).
    pub fn is_short(input: &str) -> bool {
        let name = input.split('@').next().unwrap_or(input);
        match name.split_once('/') {
            None => true,
            Some((first, _)) => !looks_like_host(first),
        }
    }
}

/// Splits off the registry as Docker does: the first component is a host only if it has
/// a '.' or ':' or is `localhost` (and has no uppercase letters).
fn split_registry<'a>(name: &'a str, default_registry: &'a str) -> (&'a str, &'a str) {
    match name.split_once('/') {
        Some((first, rest)) if looks_like_host(first) => (
            if first == "index.docker.io" {
                DEFAULT_REGISTRY
            } else {
                first
            },
            rest,
        ),
        _ => (default_registry, name),
    }
}

fn looks_like_host(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == LOCAL_REGISTRY
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A host name, IPv4 address or bracketed IPv6 address, with an optional port.
fn valid_host(h: &str) -> bool {
    let (host, port) = if let Some(rest) = h.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, p)) if v6.parse::<std::net::Ipv6Addr>().is_ok() => ("", p),
            _ => return false,
        }
    } else {
        match h.rsplit_once(':') {
            Some((host, _)) => (host, &h[host.len()..]),
            None => (h, ""),
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = h.starts_with('[')
        || host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
        });
    port_ok && host_ok
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse(s)
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form, e.g. `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("user/app"), "docker.io/user/app:latest");
        assert_eq!(
            full("index.docker.io/library/x"),
            "docker.io/library/x:latest"
        );
        assert_eq!(
            full("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full("localhost/foo"), "localhost/foo:latest");
        assert_eq!(full("localhost:5000/a/b:v1"), "localhost:5000/a/b:v1");
        assert_eq!(
            full("127.0.0.1:5000/debian:bookworm"),
            "127.0.0.1:5000/debian:bookworm"
        );
        assert_eq!(full("quay.io/a/b-c__d.e"), "quay.io/a/b-c__d.e:latest");
        assert_eq!(full("[::1]:5000/x"), "[::1]:5000/x:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            full(&format!("busybox@{d}")),
            format!("docker.io/library/busybox@{d}")
        );
        assert_eq!(full(&format!("r.io/x:t@{d}")), format!("r.io/x:t@{d}"));
    }

    #[test]
    fn parts() {
        let r = Reference::parse("127.0.0.1:5000/ns/debian:bookworm").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "ns/debian");
        assert_eq!(r.tag(), Some("bookworm"));
        assert_eq!(r.manifest_ref(), "bookworm");
        assert_eq!(r.name(), "127.0.0.1:5000/ns/debian");
    }

    #[test]
    fn local_default() {
        assert_eq!(
            Reference::parse_local("bb").unwrap().to_string(),
            "localhost/bb:latest"
        );
        assert_eq!(
            Reference::parse_local("r.io/bb:1").unwrap().to_string(),
            "r.io/bb:1"
        );
        assert!(Reference::is_short("bb:1"));
        assert!(Reference::is_short("user/bb"));
        assert!(!Reference::is_short("localhost/bb"));
    }

    #[test]
    fn rejects_bad_references() {
        for s in [
            "",
            "UPPER",
            "a//b",
            "a/",
            ":tag",
            "a:",
            "a:-x",
            "a@sha256:12",
            "-a",
            "a..b",
            "a/b:t/x",
            &"a".repeat(256),
            &"f".repeat(64),
            "a b",
            "host:po/x",
        ] {
            assert!(Reference::parse(s).is_err(), "{s:?} should be rejected");
        }
    }
}
