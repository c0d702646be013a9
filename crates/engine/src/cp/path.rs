//! `cp`'s path rules, as docker has them: which argument names a container, what a
//! trailing `/` or `/.` asserts, and where the archive of the source is unpacked and under
//! which name. Pure: the callers look at the file systems and pass what they found.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// A path rule that does not hold; the message names the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("copying between containers is not supported")]
    BetweenContainers,
    #[error("one of SRC and DEST must be CONTAINER:PATH")]
    NoContainer,
    #[error("{dest}: cannot copy a directory onto a file")]
    DirOntoFile { dest: String },
    #[error(
        "{dest}: no such directory (a file is copied to a path ending in / only when it is one)"
    )]
    DirNotExists { dest: String },
}

/// One argument of `cp`: `CONTAINER:PATH`, a local path, or `-` (a tar stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Container { container: String, path: String },
    Local(PathBuf),
    Stream,
}

impl Arg {
    /// docker's reading: an absolute path is local even with a colon, and so is one whose
    /// part before the colon starts with `.` (`./file:name`).
    pub fn parse(arg: &str) -> Arg {
        if arg == "-" {
            return Arg::Stream;
        }
        match arg.split_once(':') {
            Some((c, p)) if !arg.starts_with('/') && !c.starts_with('.') && !c.is_empty() => {
                Arg::Container {
                    container: c.to_string(),
                    path: p.to_string(),
                }
            }
            _ => Arg::Local(PathBuf::from(arg)),
        }
    }
}

/// A path as given, with what its end asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    /// Cleaned: a container path is absolute with `.` and `..` resolved by name (`..`
    /// stops at `/`), a local one keeps its `..` (the host resolves them).
    pub path: PathBuf,
    /// Ends with `/` or `/.`: must be a directory.
    pub asserts_dir: bool,
    /// Ends with `/.`: a directory's content rather than the directory.
    pub contents: bool,
}

impl Given {
    /// A path inside a container; docker reads it from `/` (the leading `/` is optional).
    pub fn container(p: &str) -> Given {
        let mut parts: Vec<&OsStr> = Vec::new();
        for c in Path::new(p).components() {
            match c {
                Component::Normal(n) => parts.push(n),
                Component::ParentDir => {
                    parts.pop();
                }
                _ => {}
            }
        }
        let mut path = PathBuf::from("/");
        path.extend(parts);
        Given::ending(p.as_bytes(), path)
    }

    /// A path on this host.
    pub fn local(p: &Path) -> Given {
        let bytes = p.as_os_str().as_bytes();
        let trimmed: PathBuf = p.components().collect();
        let path = if trimmed.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            trimmed
        };
        Given::ending(bytes, path)
    }

    fn ending(raw: &[u8], path: PathBuf) -> Given {
        let contents = raw == b"." || raw.ends_with(b"/.");
        Given {
            path,
            asserts_dir: contents || raw.ends_with(b"/"),
            contents,
        }
    }

    /// The name the source's top entry has in the archive: its base name, or `.` when only
    /// its content is copied (`/.`, or the root).
    pub fn archive_name(&self) -> OsString {
        match self.path.file_name() {
            Some(n) if !self.contents => n.to_os_string(),
            _ => OsString::from("."),
        }
    }

    /// The directory that holds it (the root holds itself).
    pub fn parent(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            Some(_) => PathBuf::from("."),
            None => self.path.clone(),
        }
    }
}

/// What is at the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    Missing,
    Dir,
    /// Anything else (a file, a device).
    NotDir,
}

/// Where the source's archive is unpacked: into the existing directory `dir`, its top
/// entry named `name` (`.`: only the source's content goes in, the directory stays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub dir: PathBuf,
    pub name: OsString,
}

/// docker's rules: a directory destination receives the source under `src_name` (its own
/// name, see [`Given::archive_name`]); an existing file is replaced by a file source; a
/// missing destination becomes the source under the destination's name, in its parent
/// (which the caller checks is a directory). Errors name the destination as `shown`.
pub fn target(
    src_name: &OsStr,
    src_is_dir: bool,
    dest: &Given,
    state: Dest,
    shown: &str,
) -> Result<Target, PathError> {
    let renamed = || Target {
        dir: dest.parent(),
        name: dest
            .path
            .file_name()
            .map_or_else(|| OsString::from("."), OsStr::to_os_string),
    };
    match state {
        Dest::Dir => Ok(Target {
            dir: dest.path.clone(),
            name: src_name.to_os_string(),
        }),
        Dest::NotDir if src_is_dir => Err(PathError::DirOntoFile {
            dest: shown.to_string(),
        }),
        Dest::NotDir => Ok(renamed()),
        Dest::Missing if src_is_dir => Ok(renamed()),
        Dest::Missing if dest.asserts_dir => Err(PathError::DirNotExists {
            dest: shown.to_string(),
        }),
        Dest::Missing => Ok(renamed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(dir: &str, name: &str) -> Target {
        Target {
            dir: PathBuf::from(dir),
            name: OsString::from(name),
        }
    }

    #[test]
    fn arguments_as_docker_reads_them() {
        let c = |c: &str, p: &str| Arg::Container {
            container: c.into(),
            path: p.into(),
        };
        assert_eq!(Arg::parse("web:/etc/hosts"), c("web", "/etc/hosts"));
        assert_eq!(Arg::parse("web:"), c("web", ""));
        assert_eq!(Arg::parse("web:a:b"), c("web", "a:b"));
        assert_eq!(Arg::parse("/abs/file:x"), Arg::Local("/abs/file:x".into()));
        assert_eq!(Arg::parse("./file:x"), Arg::Local("./file:x".into()));
        assert_eq!(Arg::parse("file"), Arg::Local("file".into()));
        assert_eq!(Arg::parse(":x"), Arg::Local(":x".into()));
        assert_eq!(Arg::parse("-"), Arg::Stream);
    }

    #[test]
    fn container_paths_are_cleaned_from_the_root() {
        let g = Given::container("tmp/../../../etc//passwd");
        assert_eq!(g.path, PathBuf::from("/etc/passwd"));
        assert!(!g.asserts_dir);
        let g = Given::container("/tmp/dir/.");
        assert_eq!(
            (g.path.to_str(), g.asserts_dir, g.contents),
            (Some("/tmp/dir"), true, true)
        );
        assert_eq!(g.archive_name(), ".");
        let g = Given::container("/tmp/dir/");
        assert_eq!((g.asserts_dir, g.contents), (true, false));
        assert_eq!(g.archive_name(), "dir");
        assert_eq!(Given::container("").path, PathBuf::from("/"));
        assert_eq!(Given::container("/").archive_name(), ".");
        assert_eq!(Given::container("/a/b").parent(), PathBuf::from("/a"));
        assert_eq!(Given::container("/").parent(), PathBuf::from("/"));
    }

    #[test]
    fn local_paths_keep_their_dots() {
        let g = Given::local(Path::new("out/"));
        assert_eq!((g.path.to_str(), g.asserts_dir), (Some("out"), true));
        assert_eq!(Given::local(Path::new("x")).parent(), PathBuf::from("."));
        assert_eq!(
            Given::local(Path::new("../x")).parent(),
            PathBuf::from("..")
        );
        assert!(Given::local(Path::new(".")).contents);
    }

    #[test]
    fn the_rules_of_docker_cp() {
        let file = Given::container("/etc/hosts").archive_name();
        let dir = Given::container("/data").archive_name();
        let content = Given::container("/data/.").archive_name();
        let at = |p: &str| Given::local(Path::new(p));
        // A file: into a directory under its name, over a file, or to a new name.
        assert_eq!(
            target(&file, false, &at("out"), Dest::Dir, "d"),
            Ok(t("out", "hosts"))
        );
        assert_eq!(
            target(&file, false, &at("out/f"), Dest::NotDir, "d"),
            Ok(t("out", "f"))
        );
        assert_eq!(
            target(&file, false, &at("new"), Dest::Missing, "d"),
            Ok(t(".", "new"))
        );
        assert!(matches!(
            target(&file, false, &at("new/"), Dest::Missing, "d"),
            Err(PathError::DirNotExists { .. })
        ));
        // A directory: into a directory under its name, its content with /., or made new.
        assert_eq!(
            target(&dir, true, &at("out"), Dest::Dir, "d"),
            Ok(t("out", "data"))
        );
        assert_eq!(
            target(&content, true, &at("out"), Dest::Dir, "d"),
            Ok(t("out", "."))
        );
        assert_eq!(
            target(&dir, true, &at("a/new"), Dest::Missing, "d"),
            Ok(t("a", "new"))
        );
        assert_eq!(
            target(&content, true, &at("a/new/"), Dest::Missing, "d"),
            Ok(t("a", "new"))
        );
        assert!(matches!(
            target(&dir, true, &at("f"), Dest::NotDir, "d"),
            Err(PathError::DirOntoFile { .. })
        ));
    }
}
