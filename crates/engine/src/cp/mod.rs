//! `cp`: files between a container and the host, in both directions, as docker copies them
//! (see [`path`] for the rules). The container side is the container's own file system
//! ([`root`]), every path in it resolved by the kernel with `openat2(RESOLVE_IN_ROOT)`: its
//! symlinks (absolute, relative, `..`) are followed as in a chroot and never lead out, and
//! what was resolved is held as an fd, so a symlink swapped in mid-copy cannot redirect it
//! (CVE-2018-15664, CVE-2019-14271). The content travels as a tar stream: packed from fds
//! by `berth_image::pack` (never following a symlink), unpacked by `berth_image::unpack`
//! inside the destination's root.

pub mod path;
mod root;

pub(crate) use root::Mounts;

use crate::{Engine, Error};
use berth_image::pack::{Format, PackError, Packer};
use berth_image::unpack::{self, CopyInto, UnpackError};
use berth_sys::fs::{self as sysfs, Resolve};
use path::{Dest, Given, PathError};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// What went wrong with a copy; each names the path.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Rule(#[from] PathError),
    #[error("{0}: no such file or directory")]
    NotFound(String),
    #[error("{0}: not a directory")]
    NotDir(String),
    #[error("{0}: the destination must be a directory or a regular file")]
    NotFileOrDir(String),
    #[error("{0}: a tar stream is unpacked into a directory; the destination must be one")]
    StreamIntoNonDir(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Pack(#[from] PackError),
    #[error("copying into {into}: {reason}")]
    Unpack { into: String, reason: String },
}

/// `-a` and `-L`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyOptions {
    /// `-a`: files copied into the container get the container's user and group (when it
    /// has one), as docker's `cp -a` does; without it they keep the owners they had.
    pub archive: bool,
    /// `-L`: a symlink SRC is followed (once, as docker does) and its target copied.
    pub follow_link: bool,
}

/// Where a copy out of a container goes.
pub enum Destination<'a> {
    Path(PathBuf),
    /// `-`: a tar stream of the source.
    Tar(&'a mut dyn Write),
}

/// What a copy into a container takes.
pub enum Source<'a> {
    Path(PathBuf),
    /// `-`: a tar stream, unpacked into the destination directory.
    Tar(&'a mut dyn Read),
}

/// What docker's `X-Docker-Container-Path-Stat` tells of a path in a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStat {
    pub name: String,
    pub size: u64,
    /// `st_mode`: the file type and permission bits.
    pub mode: u32,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// What a symlink points to, else empty.
    pub link_target: String,
}

impl Engine {
    /// Stats `path` in container `what`, resolved inside its root as a copy would be (a
    /// symlink itself, not followed).
    pub fn stat_path(&self, what: &str, path: &str) -> Result<PathStat, Error> {
        let r = self.container(what)?;
        let view = self.view(&r, Mounts::Included)?;
        let given = Given::container(path);
        let label = format!("{what}:{}", given.path.display());
        let (item, st) = stat_in(view.root(), &given, &label)?;
        let link_target = match is_symlink(&st) {
            true => sysfs::readlinkat(item.as_fd(), Path::new(""))
                .map_err(io(&label))?
                .to_string_lossy()
                .into_owned(),
            false => String::new(),
        };
        Ok(PathStat {
            name: given.archive_name().to_string_lossy().into_owned(),
            size: st.st_size as u64,
            mode: st.st_mode,
            mtime: st.st_mtime,
            link_target,
        })
    }

    /// Copies `src` out of container `what` to `dest`.
    pub fn copy_out(
        &self,
        what: &str,
        src: &str,
        dest: Destination<'_>,
        o: &CopyOptions,
    ) -> Result<(), Error> {
        let r = self.container(what)?;
        let view = self.view(&r, Mounts::Included)?;
        let label = |g: &Given| format!("{what}:{}", g.path.display());
        let mut given = Given::container(src);
        let name = given.archive_name();
        let (mut item, mut st) = stat_in(view.root(), &given, &label(&given))?;
        if o.follow_link && is_symlink(&st) {
            // docker reads the link once; its target is copied under the name SRC gave.
            let link =
                sysfs::readlinkat(item.as_fd(), Path::new("")).map_err(io(&label(&given)))?;
            given = Given::container(&given.parent().join(link).to_string_lossy());
            (item, st) = stat_in(view.root(), &given, &label(&given))?;
        }
        match dest {
            Destination::Path(p) => {
                let dest = Given::local(&p);
                let shown = dest.path.display().to_string();
                let target = path::target(&name, is_dir(&st), &dest, local_state(&dest)?, &shown)
                    .map_err(CopyError::from)?;
                let into = open_local_dir(&target.dir)?;
                let copy = CopyInto {
                    into: Vec::new(),
                    // What lands on the host is the caller's, as docker's client makes it.
                    owner: Some((berth_sys::ids::geteuid(), berth_sys::ids::getegid())),
                    host: true,
                };
                let shown = target.dir.display().to_string();
                transfer(item.as_fd(), &target.name, into, copy, &shown)?;
            }
            Destination::Tar(w) => {
                let mut p = Packer::new(w, Format::Plain);
                p.add(item.as_fd(), Path::new(&name))
                    .map_err(CopyError::from)?;
                p.finish().map_err(CopyError::from)?;
            }
        }
        Ok(())
    }

    /// Copies `src` into container `what` at `dest`.
    pub fn copy_in(
        &self,
        what: &str,
        dest: &str,
        src: Source<'_>,
        o: &CopyOptions,
    ) -> Result<(), Error> {
        let r = self.container(what)?;
        let owner = if o.archive {
            self.container_user(&r)?
        } else {
            None
        };
        let view = self.view(&r, Mounts::Included)?;
        let label = |g: &Given| format!("{what}:{}", g.path.display());
        let mut given = Given::container(dest);
        let mut state = dest_state_in(view.root(), &given, &label(&given))?;
        if let (Dest::NotDir, Some(link)) = (state, symlink_target(view.root(), &given)) {
            // docker follows a symlink at DEST once, and copies onto what it names.
            let asserts_dir = given.asserts_dir;
            given = Given::container(&given.parent().join(link).to_string_lossy());
            given.asserts_dir |= asserts_dir;
            state = dest_state_in(view.root(), &given, &label(&given))?;
        }
        let (input, dir) = match src {
            Source::Path(p) => {
                let src = Given::local(&p);
                let (item, st) = open_local(&src, o.follow_link)?;
                let shown = label(&given);
                let target = path::target(&src.archive_name(), is_dir(&st), &given, state, &shown)
                    .map_err(CopyError::from)?;
                (Input::Packed(item, target.name), target.dir)
            }
            Source::Tar(r) if state == Dest::Dir => (Input::Tar(r), given.path.clone()),
            Source::Tar(_) => return Err(CopyError::StreamIntoNonDir(label(&given)).into()),
        };
        // The directory unpacked into must be one, resolved inside the root.
        let dir = Given {
            path: dir,
            asserts_dir: true,
            contents: false,
        };
        if dest_state_in(view.root(), &dir, &label(&dir))? != Dest::Dir {
            return Err(CopyError::NotFound(label(&dir)).into());
        }
        let root = view.root().try_clone_to_owned().map_err(io(&label(&dir)))?;
        let copy = CopyInto {
            into: components(&dir.path),
            owner,
            host: false,
        };
        match input {
            Input::Packed(item, name) => transfer(item.as_fd(), &name, root, copy, &label(&dir))?,
            Input::Tar(r) => unpack_into(r, root, copy, &label(&dir))?,
        }
        Ok(())
    }

    /// The uid and gid the container runs as, when it has a user of its own (`-u` or the
    /// image's USER); docker's `cp -a` gives copied files that owner.
    fn container_user(&self, r: &crate::Record) -> Result<Option<(u32, u32)>, Error> {
        let image = self.store.image(&r.image_id)?;
        let image_user = image
            .config
            .config()
            .as_ref()
            .and_then(|c| c.user().clone())
            .unwrap_or_default();
        if r.settings.user.is_none() && image_user.is_empty() {
            return Ok(None);
        }
        let v = self.oci_config(r)?;
        let id = |k: &str| {
            v["process"]["user"][k]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
        };
        Ok(id("uid").zip(id("gid")))
    }
}

/// What is unpacked into the container: a host file or tree packed on the way, or a tar.
enum Input<'a> {
    Packed(OwnedFd, OsString),
    Tar(&'a mut dyn Read),
}

fn io(path: &str) -> impl FnOnce(std::io::Error) -> CopyError + '_ {
    move |source| CopyError::Io {
        path: path.to_string(),
        source,
    }
}

fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

fn is_symlink(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFLNK
}

/// `path` as components relative to the root.
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            _ => None,
        })
        .collect()
}

/// What is at `given` inside the container's `root`: an `O_PATH` fd on it (the last
/// component not followed unless the path ends in `/`) and its stat.
fn stat_in(
    root: BorrowedFd<'_>,
    given: &Given,
    label: &str,
) -> Result<(OwnedFd, libc::stat), CopyError> {
    let rel: PathBuf = components(&given.path).into_iter().collect();
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    let flags = libc::O_PATH
        | if given.asserts_dir {
            0
        } else {
            libc::O_NOFOLLOW
        };
    let fd = sysfs::openat2(root, &rel, flags, 0, Resolve::InRoot).map_err(|e| {
        match e.raw_os_error() {
            Some(libc::ENOENT) => CopyError::NotFound(label.to_string()),
            Some(libc::ENOTDIR) => CopyError::NotDir(label.to_string()),
            _ => io(label)(e),
        }
    })?;
    let st = sysfs::fstat(fd.as_fd()).map_err(io(label))?;
    if given.asserts_dir && !is_dir(&st) {
        return Err(CopyError::NotDir(label.to_string()));
    }
    Ok((fd, st))
}

/// What is at a destination inside the container; only a directory or a regular file (or
/// a symlink, which the caller follows) can be copied onto.
fn dest_state_in(root: BorrowedFd<'_>, given: &Given, label: &str) -> Result<Dest, CopyError> {
    match stat_in(root, given, label) {
        Err(CopyError::NotFound(_)) => Ok(Dest::Missing),
        Err(e) => Err(e),
        Ok((_, st)) if is_dir(&st) => Ok(Dest::Dir),
        Ok((_, st)) if st.st_mode & libc::S_IFMT == libc::S_IFREG || is_symlink(&st) => {
            Ok(Dest::NotDir)
        }
        Ok(_) => Err(CopyError::NotFileOrDir(label.to_string())),
    }
}

/// The target of a symlink at `given` in the container, if there is one.
fn symlink_target(root: BorrowedFd<'_>, given: &Given) -> Option<PathBuf> {
    let (fd, st) = stat_in(root, given, "").ok()?;
    is_symlink(&st)
        .then(|| sysfs::readlinkat(fd.as_fd(), Path::new("")).ok())
        .flatten()
}

/// What is at a host destination (its symlinks followed: it is the caller's own).
fn local_state(given: &Given) -> Result<Dest, CopyError> {
    let label = given.path.display().to_string();
    match std::fs::metadata(&given.path) {
        Ok(m) if m.is_dir() => Ok(Dest::Dir),
        Ok(_) if given.asserts_dir => Err(CopyError::NotDir(label)),
        Ok(_) => Ok(Dest::NotDir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Dest::Missing),
        Err(e) => Err(CopyError::Io {
            path: label,
            source: e,
        }),
    }
}

/// A host directory to unpack into; a missing one is DEST's missing parent.
fn open_local_dir(dir: &Path) -> Result<OwnedFd, CopyError> {
    let label = dir.display().to_string();
    sysfs::open(dir, libc::O_PATH | libc::O_DIRECTORY, 0).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => CopyError::NotFound(label),
        Some(libc::ENOTDIR) => CopyError::NotDir(label),
        _ => CopyError::Io {
            path: label,
            source: e,
        },
    })
}

/// A host source: the last component not followed unless `-L` (or it ends in `/`).
fn open_local(given: &Given, follow: bool) -> Result<(OwnedFd, libc::stat), CopyError> {
    let label = given.path.display().to_string();
    let nofollow = !follow && !given.asserts_dir;
    let flags = libc::O_PATH | if nofollow { libc::O_NOFOLLOW } else { 0 };
    let fd = sysfs::open(&given.path, flags, 0).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => CopyError::NotFound(label.clone()),
        Some(libc::ENOTDIR) => CopyError::NotDir(label.clone()),
        _ => io(&label)(e),
    })?;
    let st = sysfs::fstat(fd.as_fd()).map_err(io(&label))?;
    if given.asserts_dir && !is_dir(&st) {
        return Err(CopyError::NotDir(label));
    }
    Ok((fd, st))
}

/// Packs `item` as `name` and unpacks it into `root` as `copy` says, through a pipe
/// between two threads.
fn transfer(
    item: BorrowedFd<'_>,
    name: &OsString,
    root: OwnedFd,
    copy: CopyInto,
    label: &str,
) -> Result<(), CopyError> {
    let (mut reader, writer) = std::io::pipe().map_err(io(label))?;
    std::thread::scope(|s| {
        let packer = s.spawn(move || -> Result<(), PackError> {
            let mut p = Packer::new(writer, Format::Plain);
            p.add(item, Path::new(name))?;
            p.finish().map(drop)
        });
        let unpacked = unpack_into(&mut reader, root, copy, label);
        // The packer must never write into a pipe nobody reads (SIGPIPE): read what is left.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        let packed = packer.join().unwrap_or_else(|_| {
            Err(PackError::Write(std::io::Error::other(
                "packing thread panicked",
            )))
        });
        // A failed pack also breaks the stream: its error is the cause.
        packed?;
        unpacked
    })
}

fn unpack_into(
    input: impl Read,
    root: OwnedFd,
    copy: CopyInto,
    label: &str,
) -> Result<(), CopyError> {
    let opts = unpack::Options {
        copy: Some(copy),
        ..unpack::Options::default()
    };
    unpack::unpack(input, root, opts, label)
        .map(drop)
        .map_err(|e| CopyError::Unpack {
            into: label.to_string(),
            reason: unpack_reason(e),
        })
}

/// The unpacker's error without its "layer" wording.
fn unpack_reason(e: UnpackError) -> String {
    match e {
        UnpackError::Escape { path, why, .. } | UnpackError::Invalid { path, why, .. } => {
            format!("{path}: {why}")
        }
        UnpackError::Io {
            path, op, source, ..
        } => format!("{path}: {op}: {source}"),
        UnpackError::Tar { source, .. } => format!("reading the tar stream: {source}"),
        UnpackError::Unmapped { path, uid, gid, .. } => {
            format!("{path}: owner {uid}:{gid} is not mapped in berth's user namespace")
        }
    }
}
