//! `RUN --mount`: what a RUN step sees besides its root filesystem, never part of the layer
//! it makes. `bind` (the default type): a path of the context, or of a stage or image
//! (`from=`), read-only unless `rw` (then writes go to a scratch copy and are dropped);
//! `cache`: a directory of berth's that outlives builds (`id=`, `sharing=shared|locked|
//! private`, `uid=`, `gid=`, `mode=`); `secret`: a `--secret` as a file (`/run/secrets/ID`
//! by default) made for the step and removed after it; `tmpfs`.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest as _, Sha256};

use super::stage::StageState;
use super::Build;

/// One `--mount` of a RUN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MountSpec {
    Bind {
        source: String,
        target: String,
        from: Option<String>,
        rw: bool,
    },
    Cache {
        id: String,
        target: String,
        locked: bool,
        owner: (u32, u32),
        mode: u32,
        read_only: bool,
    },
    Secret {
        id: String,
        target: String,
        required: bool,
        owner: (u32, u32),
        mode: u32,
    },
    Tmpfs {
        target: String,
        size: Option<String>,
    },
}

impl MountSpec {
    pub fn target(&self) -> &str {
        match self {
            MountSpec::Bind { target, .. }
            | MountSpec::Cache { target, .. }
            | MountSpec::Secret { target, .. }
            | MountSpec::Tmpfs { target, .. } => target,
        }
    }
}

/// The mounts' targets and the directories above them that the root filesystem at
/// `merged` lacks: the runtime makes them for the mounts, and they are no change of the
/// step's.
pub(crate) fn missing_parents(merged: &Path, specs: &[MountSpec]) -> Result<Vec<String>, String> {
    let root = super::copy::open_root(merged)?;
    let mut out = Vec::new();
    for m in specs {
        let parts: Vec<&str> = m.target().split('/').filter(|c| !c.is_empty()).collect();
        for n in 1..=parts.len() {
            let rel = parts[..n].join("/");
            if !out.contains(&rel) && super::copy::open_in(&root, &rel).is_err() {
                out.push(rel);
            }
        }
    }
    // Deepest first, for removal.
    out.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    Ok(out)
}

/// Removes the directories [`missing_parents`] found, where they are still empty.
pub(crate) fn remove_stubs(merged: &Path, stubs: &[String]) -> Result<(), String> {
    let root = super::copy::open_root(merged)?;
    for rel in stubs {
        let p = Path::new(rel);
        let parent = p
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (Some(name), Ok(dir)) = (p.file_name(), super::copy::open_in(&root, &parent)) else {
            continue;
        };
        let removed =
            match berth_sys::fs::unlinkat(dir.as_fd(), Path::new(name), libc::AT_REMOVEDIR) {
                // A file mount point: removed when still empty.
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                    match super::copy::open_in(&root, rel)
                        .and_then(|f| berth_sys::fs::fstat(f.as_fd()))
                    {
                        Ok(st) if st.st_size == 0 => {
                            berth_sys::fs::unlinkat(dir.as_fd(), Path::new(name), 0)
                        }
                        _ => Ok(()),
                    }
                }
                r => r,
            };
        match removed {
            Err(e) if !matches!(e.raw_os_error(), Some(libc::ENOTEMPTY | libc::ENOENT)) => {
                return Err(format!("/{rel}: {e}"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Parses `--mount=...`; a relative target is relative to `workdir`.
pub(crate) fn parse(spec: &str, workdir: &str) -> Result<MountSpec, String> {
    let bad = |why: &str| format!("--mount={spec}: {why}");
    let mut kind = "bind".to_string();
    let mut fields: Vec<(String, String)> = Vec::new();
    for f in spec.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = f.split_once('=').unwrap_or((f, "true"));
        match k.to_ascii_lowercase().as_str() {
            "type" => kind = v.to_ascii_lowercase(),
            k => fields.push((k.to_string(), v.to_string())),
        }
    }
    let get = |names: &[&str]| {
        fields
            .iter()
            .rev()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.clone())
    };
    let yes = |names: &[&str]| get(names).is_some_and(|v| v != "false");
    let number = |name: &str, default: u32, radix: u32| -> Result<u32, String> {
        match get(&[name]) {
            None => Ok(default),
            Some(v) => u32::from_str_radix(&v, radix)
                .map_err(|_| bad(&format!("{name}={v}: not a number"))),
        }
    };
    let known: &[&str] = match kind.as_str() {
        "bind" => &[
            "target",
            "dst",
            "destination",
            "source",
            "src",
            "from",
            "rw",
            "readwrite",
            "ro",
            "readonly",
        ],
        "cache" => &[
            "target",
            "dst",
            "destination",
            "id",
            "sharing",
            "uid",
            "gid",
            "mode",
            "ro",
            "readonly",
        ],
        "secret" => &[
            "target",
            "dst",
            "destination",
            "id",
            "required",
            "uid",
            "gid",
            "mode",
        ],
        "tmpfs" => &["target", "dst", "destination", "size"],
        "ssh" => return Err(bad("type=ssh is not supported yet")),
        other => {
            return Err(bad(&format!(
                "unknown type {other:?}: want bind, cache, secret or tmpfs"
            )))
        }
    };
    if let Some((k, _)) = fields.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        return Err(bad(&format!("{k} is not an option of type={kind}")));
    }
    let target = get(&["target", "dst", "destination"]).map(|t| absolute(workdir, &t));
    let need_target = || target.clone().ok_or_else(|| bad("target= is required"));
    Ok(match kind.as_str() {
        "bind" => MountSpec::Bind {
            source: get(&["source", "src"]).unwrap_or_else(|| "/".into()),
            target: need_target()?,
            from: get(&["from"]),
            rw: yes(&["rw", "readwrite"]),
        },
        "cache" => {
            if let Some(s) =
                get(&["sharing"]).filter(|s| !matches!(s.as_str(), "shared" | "locked" | "private"))
            {
                return Err(bad(&format!("sharing={s}: want shared, locked or private")));
            }
            let target = need_target()?;
            MountSpec::Cache {
                id: get(&["id"]).unwrap_or_else(|| target.clone()),
                // Private caches are not made per step: they are locked instead.
                locked: get(&["sharing"]).is_some_and(|s| s != "shared"),
                owner: (number("uid", 0, 10)?, number("gid", 0, 10)?),
                mode: number("mode", 0o755, 8)?,
                read_only: yes(&["ro", "readonly"]),
                target,
            }
        }
        "secret" => {
            let id = get(&["id"]);
            let target = target.clone();
            let id = match (id, &target) {
                (Some(id), _) => id,
                (None, Some(t)) => Path::new(t)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                (None, None) => return Err(bad("id= or target= is required")),
            };
            MountSpec::Secret {
                target: target.unwrap_or_else(|| format!("/run/secrets/{id}")),
                id,
                required: yes(&["required"]),
                owner: (number("uid", 0, 10)?, number("gid", 0, 10)?),
                mode: number("mode", 0o400, 8)?,
            }
        }
        _ => MountSpec::Tmpfs {
            target: need_target()?,
            size: get(&["size"]),
        },
    })
}

fn absolute(workdir: &str, p: &str) -> String {
    match p.starts_with('/') {
        true => p.to_string(),
        false => format!("{}/{p}", workdir.trim_end_matches('/')),
    }
}

/// What a RUN's mounts add to `RunOptions`, and what to release after it.
#[derive(Default)]
pub(crate) struct Prepared {
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    /// Scratch containers whose root filesystems are bound.
    pub scratch: Vec<String>,
    /// The directory of the secrets made for the step.
    pub secrets: Option<PathBuf>,
    /// Locks of `sharing=locked` caches.
    pub locks: Vec<fs::File>,
}

/// A host path as an engine `--mount` value may hold it.
fn mount_value(kind: &str, source: &Path, target: &str, read_only: bool) -> Result<String, String> {
    let s = source.display().to_string();
    if s.contains(',') || target.contains(',') {
        return Err(format!(
            "{s} -> {target}: a path with ',' cannot be mounted"
        ));
    }
    let ro = if read_only { ",readonly" } else { "" };
    Ok(format!("type={kind},source={s},target={target}{ro}"))
}

/// The real path of an fd (what the runtime is told to bind).
fn fd_target(fd: &OwnedFd) -> Result<PathBuf, String> {
    fs::read_link(berth_sys::fs::fd_path(fd.as_raw_fd())).map_err(|e| e.to_string())
}

/// A directory name for a cache id.
fn cache_dir_name(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Build<'_> {
    /// The part of a RUN's cache key its mounts make: what a bind shows (by content for
    /// the context, by image for a stage), and which caches, secrets and tmpfs it has
    /// (not their content, as docker's).
    pub(super) fn mounts_key(
        &mut self,
        specs: &[MountSpec],
        line: usize,
    ) -> Result<String, String> {
        let mut key = String::new();
        for m in specs {
            let part = match m {
                MountSpec::Bind {
                    source,
                    target,
                    from: None,
                    ..
                } => {
                    let packed = super::copy::pack(
                        &self.context,
                        std::slice::from_ref(source),
                        &[],
                        Some(&self.ignore),
                        false,
                        true,
                    )?;
                    format!("bind {target} {}", packed.content)
                }
                MountSpec::Bind {
                    source,
                    target,
                    from: Some(f),
                    ..
                } => {
                    let from = self.expand_global(f, line, "RUN").map_err(Self::why)?;
                    let image = self
                        .base_image(&from, self.current, line, "RUN")
                        .map_err(Self::why)?;
                    format!("bind {target} {} {source}", image.id)
                }
                other => format!("{other:?}"),
            };
            key.push_str(&part);
            key.push('\n');
        }
        Ok(key)
    }

    /// Makes what the mounts need; [`Build::release`] undoes it.
    pub(super) fn prepare(
        &mut self,
        specs: &[MountSpec],
        st: &StageState,
        line: usize,
        out: &mut Prepared,
    ) -> Result<(), String> {
        let _ = st;
        for m in specs {
            match m {
                MountSpec::Bind {
                    source,
                    target,
                    from: None,
                    rw,
                } => {
                    if *rw {
                        return Err(format!("--mount=type=bind,rw of the build context ({source}) is not supported yet"));
                    }
                    let root = super::copy::open_root(&self.context)?;
                    let fd = super::copy::open_in(&root, source.trim_start_matches('/'))
                        .map_err(|e| format!("--mount source {source}: {e}"))?;
                    out.mounts
                        .push(mount_value("bind", &fd_target(&fd)?, target, true)?);
                }
                MountSpec::Bind {
                    source,
                    target,
                    from: Some(f),
                    rw,
                } => {
                    let from = self.expand_global(f, line, "RUN").map_err(Self::why)?;
                    let image = self
                        .base_image(&from, self.current, line, "RUN")
                        .map_err(Self::why)?;
                    let id = self.scratch(&image.id.to_string())?;
                    out.scratch.push(id.clone());
                    let merged = self
                        .engine
                        .store()
                        .rootfs_mount_point(&id)
                        .map_err(|e| e.to_string())?;
                    let root = super::copy::open_root(&merged)?;
                    let fd = super::copy::open_in(&root, source.trim_start_matches('/'))
                        .map_err(|e| format!("--mount source {source} in {from}: {e}"))?;
                    out.mounts
                        .push(mount_value("bind", &fd_target(&fd)?, target, !rw)?);
                }
                MountSpec::Cache {
                    id,
                    target,
                    locked,
                    owner,
                    mode,
                    read_only,
                } => {
                    let dir = self
                        .o
                        .root
                        .join("build-mounts/cache")
                        .join(cache_dir_name(id));
                    let fail = |e: std::io::Error| format!("cache {id}: {e}");
                    if let Some(parent) = dir.parent() {
                        fs::create_dir_all(parent).map_err(fail)?;
                    }
                    // Made in place: of two builds (or two stages of one) making it at once,
                    // one makes it and both bind that one.
                    match fs::create_dir(&dir) {
                        Ok(()) => {
                            std::os::unix::fs::chown(&dir, Some(owner.0), Some(owner.1))
                                .map_err(fail)?;
                            fs::set_permissions(&dir, fs::Permissions::from_mode(*mode))
                                .map_err(fail)?;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(fail(e)),
                    }
                    if *locked {
                        let lock = fs::File::create(dir.with_extension("lock"))
                            .map_err(|e| format!("cache {id}: {e}"))?;
                        berth_sys::fs::flock(lock.as_fd(), libc::LOCK_EX)
                            .map_err(|e| format!("cache {id}: {e}"))?;
                        out.locks.push(lock);
                    }
                    out.mounts
                        .push(mount_value("bind", &dir, target, *read_only)?);
                }
                MountSpec::Secret {
                    id,
                    target,
                    required,
                    owner,
                    mode,
                } => {
                    let Some(value) = self.secrets.get(id) else {
                        if *required {
                            return Err(format!(
                                "secret {id} is required: give it with --secret id={id},src=FILE"
                            ));
                        }
                        continue;
                    };
                    let dir = match &out.secrets {
                        Some(d) => d.clone(),
                        None => {
                            // The build's directory (the next build's sweep removes it if
                            // this one dies), and in it the step's: stages side by side
                            // each remove their own.
                            static STEP: AtomicUsize = AtomicUsize::new(0);
                            let build = self
                                .o
                                .root
                                .join("build-mounts/secrets")
                                .join(self.owner.replace(':', "-"));
                            let d = build.join(STEP.fetch_add(1, Ordering::Relaxed).to_string());
                            let fail = |e: std::io::Error| format!("secret {id}: {e}");
                            fs::create_dir_all(&build).map_err(fail)?;
                            fs::set_permissions(&build, fs::Permissions::from_mode(0o700))
                                .map_err(fail)?;
                            fs::create_dir_all(&d).map_err(fail)?;
                            out.secrets = Some(d.clone());
                            d
                        }
                    };
                    let file = dir.join(cache_dir_name(id));
                    fs::write(&file, value).map_err(|e| format!("secret {id}: {e}"))?;
                    std::os::unix::fs::chown(&file, Some(owner.0), Some(owner.1))
                        .map_err(|e| format!("secret {id}: {e}"))?;
                    fs::set_permissions(&file, fs::Permissions::from_mode(*mode))
                        .map_err(|e| format!("secret {id}: {e}"))?;
                    out.mounts.push(mount_value("bind", &file, target, true)?);
                }
                MountSpec::Tmpfs { target, size } => out.tmpfs.push(match size {
                    Some(s) => format!("{target}:size={s}"),
                    None => target.clone(),
                }),
            }
        }
        Ok(())
    }

    /// Removes what [`Build::prepare`] made (the caches stay).
    pub(super) fn release(&mut self, p: Prepared) -> Result<(), String> {
        let mut first = Ok(());
        for id in p.scratch {
            if let Err(e) = self.engine.remove(&id, true, true) {
                first = first.and(Err(format!("removing a scratch container: {e}")));
            }
        }
        if let Some(d) = p.secrets {
            if let Err(e) = fs::remove_dir_all(&d) {
                first = first.and(Err(format!("removing {}: {e}", d.display())));
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            parse("target=/src", "/w").unwrap(),
            MountSpec::Bind {
                source: "/".into(),
                target: "/src".into(),
                from: None,
                rw: false
            }
        );
        assert_eq!(
            parse(
                "type=cache,target=cache,sharing=locked,mode=0700,uid=5",
                "/w"
            )
            .unwrap(),
            MountSpec::Cache {
                id: "/w/cache".into(),
                target: "/w/cache".into(),
                locked: true,
                owner: (5, 0),
                mode: 0o700,
                read_only: false
            }
        );
        assert_eq!(
            parse("type=secret,id=tok", "/").unwrap(),
            MountSpec::Secret {
                id: "tok".into(),
                target: "/run/secrets/tok".into(),
                required: false,
                owner: (0, 0),
                mode: 0o400
            }
        );
        assert_eq!(
            parse("type=tmpfs,dst=/t,size=1m", "/").unwrap(),
            MountSpec::Tmpfs {
                target: "/t".into(),
                size: Some("1m".into())
            }
        );
        assert_eq!(
            parse("type=cache", "/").unwrap_err(),
            "--mount=type=cache: target= is required"
        );
        assert_eq!(
            parse("type=bind,target=/x,bogus=1", "/").unwrap_err(),
            "--mount=type=bind,target=/x,bogus=1: bogus is not an option of type=bind"
        );
        assert!(parse("type=ssh", "/")
            .unwrap_err()
            .contains("not supported"));
        assert!(parse("type=nfs,target=/x", "/").is_err());
    }
}
