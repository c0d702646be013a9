//! Safe layer unpacking into an (empty) snapshot directory, and archives copied into a
//! container (`berth cp`).
//!
//! Every entry is created relative to a directory fd opened with
//! `openat2(RESOLVE_BENEATH)` below the snapshot root, so no name, symlink or hard link
//! in the layer can make a write land outside it. Whiteouts become overlayfs whiteouts
//! (char 0:0), opaque directories get the overlay opaque xattr, and GNU sparse files are
//! made sparse on disk. A copy ([`CopyInto`]) resolves entries with `RESOLVE_IN_ROOT` instead:
//! the container's own symlinks are followed as a chroot would, and never out of it.

mod meta;
mod path;
mod sparse;

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

pub use meta::opaque_xattr;

/// Splits an archive entry name into checked components (no `..`, not absolute).
pub fn checked_components(name: &[u8]) -> Result<Vec<OsString>, &'static str> {
    components(name).map_err(|b| b.describe())
}
use meta::Meta;
use path::{components, join, Dirs};
use sparse::{PaxSparse, SparseError};

use crate::sys::{self, Scope};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// Errors from unpacking a layer; each names the layer and the entry.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The entry would write outside the snapshot.
    #[error("layer {layer}: entry {path:?}: {why}")]
    Escape {
        /// The layer (digest) being unpacked.
        layer: String,
        /// The entry name as found in the tar.
        path: String,
        /// What it tried.
        why: String,
    },
    /// A filesystem operation failed.
    #[error("layer {layer}: entry {path:?}: {op}: {source}")]
    Io {
        /// The layer (digest) being unpacked.
        layer: String,
        /// The entry name.
        path: String,
        /// The operation that failed.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The entry's owner is outside the user namespace's id maps (rootless).
    #[error(
        "layer {layer}: entry {path:?} is owned by {uid}:{gid}, which this user namespace does \
         not map: give the user more subordinate ids in /etc/subuid and /etc/subgid"
    )]
    Unmapped {
        /// The layer (digest) being unpacked.
        layer: String,
        /// The entry name.
        path: String,
        /// The entry's owner.
        uid: u32,
        /// The entry's group.
        gid: u32,
    },
    /// The entry describes something that cannot be (a sparse map that does not fit).
    #[error("layer {layer}: entry {path:?}: {why}")]
    Invalid {
        /// The layer (digest) being unpacked.
        layer: String,
        /// The entry name.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The tar stream itself is broken (or the stream under it failed).
    #[error("layer {layer}: reading tar stream: {source}")]
    Tar {
        /// The layer (digest) being unpacked.
        layer: String,
        /// The underlying error (may be a decompression or download error).
        source: io::Error,
    },
}

/// How to unpack.
#[derive(Clone, Debug)]
pub struct Options {
    /// Rootless rules: no device nodes, `user.overlay.*` xattrs.
    pub rootless: bool,
    /// Give files their owners from the tar (root, also of a user namespace).
    pub chown: bool,
    /// Unpack a copy rather than a layer.
    pub copy: Option<CopyInto>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rootless: sys::rootless(),
            chown: sys::can_chown(),
            copy: None,
        }
    }
}

/// An archive copied into a directory, as `docker cp` extracts one: names starting with
/// `.wh.` are plain files, the archive's root entry leaves the directory as it is, and a
/// directory never replaces a non-directory nor the other way round.
#[derive(Clone, Debug, Default)]
pub struct CopyInto {
    /// The directory, as components of a path inside the root fd given to [`unpack`]; it
    /// and every entry are resolved with `RESOLVE_IN_ROOT`.
    pub into: Vec<OsString>,
    /// Every entry gets this owner (uid, gid) instead of the archive's.
    pub owner: Option<(u32, u32)>,
    /// The directory is on the host and the archive comes from a container: device nodes
    /// are left out, set-user-ID and set-group-ID bits cleared and extended attributes
    /// (file capabilities) dropped, so that a container cannot plant privileged files.
    pub host: bool,
}

/// What unpacking found out about a layer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Unpacked {
    /// The layer has an opaque whiteout (`.wh..wh..opq`) at its root: nothing of the
    /// layers below shows. overlayfs ignores the opaque xattr on a layer's root, so this
    /// is left to whoever stacks the layers.
    pub opaque_root: bool,
}

/// Unpacks the tar stream `reader` into the directory `root`. Reads the stream to its end
/// (so a digest computed beneath it covers every byte).
pub fn unpack<R: Read>(
    reader: R,
    root: OwnedFd,
    opts: Options,
    layer: &str,
) -> Result<Unpacked, UnpackError> {
    let scope = match opts.copy {
        Some(_) => Scope::InRoot,
        None => Scope::Beneath,
    };
    let mut u = Unpacker {
        dirs: Dirs::new(root, scope),
        opts,
        layer,
        dir_times: Vec::new(),
        umask: sys::current_umask(),
        ids: sys::effective_ids(),
        setgid_dirs: HashSet::new(),
        found: Unpacked::default(),
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| u.tar_err(e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| u.tar_err(e))?;
        u.entry(&mut entry)?;
    }
    u.finish_dir_times()?;
    io::copy(archive.into_inner().by_ref(), &mut io::sink()).map_err(|e| u.tar_err(e))?;
    Ok(u.found)
}

struct Unpacker<'a> {
    dirs: Dirs,
    opts: Options,
    layer: &'a str,
    /// Directory mtimes are set last: creating children would change them again.
    dir_times: Vec<(Vec<OsString>, (i64, i64))>,
    /// The process's umask: a file created with a mode it does not clip needs no chmod.
    umask: u32,
    /// Our effective uid and gid: a file that is to be ours needs no chown.
    ids: (u32, u32),
    /// Directories of this layer with the setgid bit: what is created in them takes their
    /// group, so it is chowned explicitly.
    setgid_dirs: HashSet<Vec<OsString>>,
    found: Unpacked,
}

/// The shape of an entry that decides how it is created.
enum Kind {
    Dir,
    File,
    Symlink(OsString),
    HardLink(Vec<OsString>),
    Node(u32, libc::dev_t),
    Skip,
}

impl Unpacker<'_> {
    fn tar_err(&self, source: io::Error) -> UnpackError {
        UnpackError::Tar {
            layer: self.layer.to_string(),
            source,
        }
    }

    fn io_err(&self, name: &[u8], op: &'static str) -> impl Fn(io::Error) -> UnpackError + '_ {
        let path = String::from_utf8_lossy(name).into_owned();
        move |e| {
            if matches!(e.raw_os_error(), Some(libc::EXDEV) | Some(libc::ELOOP)) {
                UnpackError::Escape {
                    layer: self.layer.to_string(),
                    path: path.clone(),
                    why: format!("{op}: path escapes the snapshot through a symlink"),
                }
            } else {
                UnpackError::Io {
                    layer: self.layer.to_string(),
                    path: path.clone(),
                    op,
                    source: e,
                }
            }
        }
    }

    /// As [`Self::io_err`] for a chown to `meta`'s owner: EINVAL means an unmapped id.
    fn chown_err(&self, name: &[u8], meta: &Meta) -> impl Fn(io::Error) -> UnpackError + '_ {
        let (path, uid, gid) = (
            String::from_utf8_lossy(name).into_owned(),
            meta.uid,
            meta.gid,
        );
        let other = self.io_err(name, "chown");
        move |e| match e.raw_os_error() {
            Some(libc::EINVAL) => UnpackError::Unmapped {
                layer: self.layer.to_string(),
                path: path.clone(),
                uid,
                gid,
            },
            _ => other(e),
        }
    }

    fn escape(&self, name: &[u8], why: &str) -> UnpackError {
        UnpackError::Escape {
            layer: self.layer.to_string(),
            path: String::from_utf8_lossy(name).into_owned(),
            why: why.to_string(),
        }
    }

    /// Maps a sparse entry's error to one naming the entry.
    fn sparse_err(&self, name: &[u8], e: SparseError) -> UnpackError {
        match e {
            SparseError::Invalid(why) => UnpackError::Invalid {
                layer: self.layer.to_string(),
                path: String::from_utf8_lossy(name).into_owned(),
                why,
            },
            SparseError::Read(e) => self.tar_err(io::Error::new(
                e.kind(),
                format!("entry {:?}: {e}", String::from_utf8_lossy(name)),
            )),
            SparseError::Write(e) => self.io_err(name, "write")(e),
        }
    }

    /// The PAX GNU sparse description of the entry, if it has one.
    fn pax_sparse<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        name: &[u8],
    ) -> Result<Option<PaxSparse>, UnpackError> {
        let mut records = Vec::new();
        let size = entry.size();
        if let Some(pax) = entry.pax_extensions().map_err(|e| self.tar_err(e))? {
            for ext in pax {
                let ext = ext.map_err(|e| self.tar_err(e))?;
                if ext.key_bytes().starts_with(b"GNU.sparse.") {
                    records.push((ext.key_bytes().to_vec(), ext.value_bytes().to_vec()));
                }
            }
        }
        if records.is_empty() {
            return Ok(None);
        }
        PaxSparse::parse(&records, size)
            .map_err(|e| self.sparse_err(sparse::name_in(&records).unwrap_or(name), e))
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let header_name = entry.path_bytes().into_owned();
        let mut sparse = self.pax_sparse(entry, &header_name)?;
        // The header of a PAX sparse file names a placeholder (GNUSparseFile.N/NAME).
        let name = sparse
            .as_mut()
            .and_then(|s| s.name.take())
            .unwrap_or(header_name);
        let mut parts = components(&name).map_err(|b| self.escape(&name, b.describe()))?;
        let kind = self.kind(entry, &name)?;
        if sparse.is_some() && !matches!(kind, Kind::File) {
            return Err(self.sparse_err(
                &name,
                SparseError::Invalid("sparse map on an entry that is not a file".into()),
            ));
        }
        let mut meta = Meta::read(entry).map_err(|e| self.tar_err(e))?;
        if let Some(copy) = &self.opts.copy {
            if parts.is_empty() {
                return Ok(()); // the directory copied into keeps its own attributes
            }
            parts.splice(0..0, copy.into.iter().cloned());
            if let Some((uid, gid)) = copy.owner {
                (meta.uid, meta.gid) = (uid, gid);
            }
            if copy.host {
                meta.mode &= !(libc::S_ISUID | libc::S_ISGID);
                meta.xattrs.clear();
            }
        }
        let Some((base, parent)) = parts.split_last() else {
            // "./": the snapshot root's own attributes.
            self.dir_times.push((Vec::new(), meta.mtime));
            if meta.mode & libc::S_ISGID != 0 {
                self.setgid_dirs.insert(Vec::new());
            }
            return self.apply_root_meta(&name, &meta);
        };
        let base_bytes = base.as_bytes();
        let layer = self.opts.copy.is_none();
        if layer && base_bytes == OPAQUE_MARKER {
            if parent.is_empty() {
                self.found.opaque_root = true;
                return Ok(());
            }
            let dir = self
                .dirs
                .open(parent)
                .map_err(self.io_err(&name, "open parent"))?;
            let key = meta::opaque_xattr(self.opts.rootless);
            return sys::lsetxattrat(dir.as_fd(), OsStr::new("."), key, b"y")
                .map_err(self.io_err(&name, "set opaque xattr"));
        }
        if let Some(hidden) = base_bytes.strip_prefix(WHITEOUT_PREFIX).filter(|_| layer) {
            if hidden.starts_with(WHITEOUT_PREFIX) {
                return Ok(()); // other AUFS metadata (.wh..wh.plnk, ...) has no overlay meaning
            }
            return self.whiteout(&name, parent, OsStr::from_bytes(hidden));
        }
        if matches!(kind, Kind::Skip) {
            return Ok(());
        }
        let is_dir = matches!(kind, Kind::Dir);
        if !matches!(kind, Kind::File) {
            // Files are created exclusively and clear an earlier entry only on EEXIST.
            self.clear_existing(&name, parent, base, is_dir)?;
        }
        let dir = self
            .dirs
            .open(parent)
            .map_err(self.io_err(&name, "open parent"))?;
        match kind {
            Kind::Dir => {
                sys::mkdirat(dir.as_fd(), base, 0o700)
                    .or_else(ignore_eexist)
                    .map_err(self.io_err(&name, "mkdir"))?;
                self.set_meta(&name, dir.as_fd(), base, &meta, true)?;
                let mut full = parent.to_vec();
                full.push(base.clone());
                if meta.mode & libc::S_ISGID != 0 {
                    self.setgid_dirs.insert(full.clone());
                }
                self.dir_times.push((full, meta.mtime));
            }
            Kind::File => {
                drop(dir);
                self.file(entry, &name, parent, base, &meta, sparse)?
            }
            Kind::Symlink(target) => {
                sys::symlinkat(&target, dir.as_fd(), base)
                    .map_err(self.io_err(&name, "symlink"))?;
                self.set_owner_times(&name, dir.as_fd(), base, &meta)?;
            }
            Kind::HardLink(target) => self.hard_link(&name, &target, dir.as_fd(), base)?,
            Kind::Node(fmt, dev) => {
                sys::mknodat(dir.as_fd(), base, fmt | meta.mode, dev)
                    .map_err(self.io_err(&name, "mknod"))?;
                self.set_meta(&name, dir.as_fd(), base, &meta, false)?;
            }
            Kind::Skip => {}
        }
        Ok(())
    }

    fn kind<R: Read>(&self, entry: &tar::Entry<'_, R>, name: &[u8]) -> Result<Kind, UnpackError> {
        use tar::EntryType as T;
        let h = entry.header();
        let link = || {
            entry
                .link_name_bytes()
                .map(|l| l.into_owned())
                .unwrap_or_default()
        };
        let dev = || -> Result<libc::dev_t, UnpackError> {
            let major = h.device_major().ok().flatten().unwrap_or(0);
            let minor = h.device_minor().ok().flatten().unwrap_or(0);
            Ok(libc::makedev(major, minor))
        };
        Ok(match h.entry_type() {
            T::Directory => Kind::Dir,
            T::Regular | T::Continuous | T::GNUSparse => Kind::File,
            T::Symlink => Kind::Symlink(OsStr::from_bytes(&link()).to_os_string()),
            T::Link => {
                let target = link();
                Kind::HardLink(components(&target).map_err(|b| {
                    self.escape(
                        name,
                        &format!(
                            "hard link target {:?}: {}",
                            String::from_utf8_lossy(&target),
                            b.describe()
                        ),
                    )
                })?)
            }
            // Device nodes cannot be created without CAP_MKNOD; runtimes provide /dev anyway.
            T::Char | T::Block if self.opts.rootless => Kind::Skip,
            T::Char | T::Block if self.opts.copy.as_ref().is_some_and(|c| c.host) => Kind::Skip,
            T::Char => Kind::Node(libc::S_IFCHR, dev()?),
            T::Block => Kind::Node(libc::S_IFBLK, dev()?),
            T::Fifo => Kind::Node(libc::S_IFIFO, 0),
            _ => Kind::Skip,
        })
    }

    /// Removes what an earlier entry left at this name, unless both are directories
    /// (then the later entry only updates the attributes, as tar does).
    fn clear_existing(
        &mut self,
        name: &[u8],
        parent: &[OsString],
        base: &OsStr,
        is_dir: bool,
    ) -> Result<(), UnpackError> {
        let dir = self
            .dirs
            .open(parent)
            .map_err(self.io_err(name, "open parent"))?;
        let st = match sys::lstatat(dir.as_fd(), base) {
            Ok(st) => st,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(self.io_err(name, "stat existing")(e)),
        };
        let existing_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if existing_dir && is_dir {
            return Ok(());
        }
        if self.opts.copy.is_some() && existing_dir != is_dir {
            let (old, new) = match existing_dir {
                true => ("directory", "non-directory"),
                false => ("non-directory", "directory"),
            };
            let mut path = join(parent);
            path.push(base);
            return Err(self.escape(
                name,
                &format!("cannot overwrite {old} {} with a {new}", path.display()),
            ));
        }
        self.dirs.invalidate();
        if existing_dir {
            remove_tree(dir.as_fd(), base).map_err(self.io_err(name, "remove replaced directory"))
        } else {
            sys::unlinkat(dir.as_fd(), base, false)
                .map_err(self.io_err(name, "remove replaced entry"))
        }
    }

    fn whiteout(
        &mut self,
        name: &[u8],
        parent: &[OsString],
        hidden: &OsStr,
    ) -> Result<(), UnpackError> {
        if hidden.is_empty() || hidden == "." || hidden == ".." || hidden.as_bytes().contains(&b'/')
        {
            return Err(self.escape(name, "whiteout of an invalid name"));
        }
        self.clear_existing(name, parent, hidden, false)?;
        let dir = self
            .dirs
            .open(parent)
            .map_err(self.io_err(name, "open parent"))?;
        sys::mknodat(dir.as_fd(), hidden, libc::S_IFCHR, 0)
            .map_err(self.io_err(name, "create whiteout"))
    }

    fn file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        name: &[u8],
        parent: &[OsString],
        base: &OsStr,
        meta: &Meta,
        sparse: Option<PaxSparse>,
    ) -> Result<(), UnpackError> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
        // Created with its final mode: most files then need neither chmod nor chown.
        let create = |dirs: &mut Dirs| -> io::Result<OwnedFd> {
            let dir = dirs.open(parent)?;
            sys::open_beneath(dir.as_fd(), base.as_ref(), flags, meta.mode)
        };
        let fd = match create(&mut self.dirs) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                self.clear_existing(name, parent, base, false)?;
                create(&mut self.dirs)
            }
            r => r,
        }
        .map_err(self.io_err(name, "create file"))?;
        let mut f = File::from(fd);
        let want = entry.size();
        if let Some(s) = sparse {
            s.write(entry, want, &mut f)
                .map_err(|e| self.sparse_err(name, e))?;
        } else if entry.header().entry_type().is_gnu_sparse() {
            sparse::expand_gnu(entry, want, &mut f).map_err(|e| self.sparse_err(name, e))?;
        } else {
            let got = io::copy(entry, &mut f).map_err(|e| self.tar_err(e))?;
            if got != want {
                let why = format!(
                    "entry {:?} ends after {got} of {want} bytes",
                    String::from_utf8_lossy(name)
                );
                return Err(self.tar_err(io::Error::new(io::ErrorKind::UnexpectedEof, why)));
            }
        }
        let chown = self.opts.chown
            && ((meta.uid, meta.gid) != self.ids || self.setgid_dirs.contains(parent));
        if chown {
            std::os::unix::fs::fchown(&f, Some(meta.uid), Some(meta.gid))
                .map_err(self.chown_err(name, meta))?;
        }
        // A chown clears setuid/setgid bits; the umask may have clipped the mode.
        if chown || meta.mode & self.umask != 0 {
            f.set_permissions(std::fs::Permissions::from_mode(meta.mode))
                .map_err(self.io_err(name, "chmod"))?;
        }
        let dir = self
            .dirs
            .open(parent)
            .map_err(self.io_err(name, "open parent"))?;
        self.set_xattrs(name, dir.as_fd(), base, meta)?;
        let t = to_system_time(meta.mtime);
        f.set_times(std::fs::FileTimes::new().set_accessed(t).set_modified(t))
            .map_err(self.io_err(name, "set times"))
    }

    fn hard_link(
        &mut self,
        name: &[u8],
        target: &[OsString],
        dir: BorrowedFd<'_>,
        base: &OsStr,
    ) -> Result<(), UnpackError> {
        let Some((tbase, tparent)) = target.split_last() else {
            return Err(self.escape(name, "hard link to the archive root"));
        };
        let mut tparent = tparent.to_vec();
        if let Some(copy) = &self.opts.copy {
            tparent.splice(0..0, copy.into.iter().cloned());
        }
        let tdir = self
            .dirs
            .open_existing(&join(&tparent))
            .map_err(self.io_err(name, "open hard link target dir"))?;
        // linkat without AT_SYMLINK_FOLLOW links a symlink itself, never what it points to.
        sys::linkat(tdir.as_fd(), tbase, dir, base).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOENT) {
                self.escape(
                    name,
                    &format!("hard link target {:?} is not in this layer", join(target)),
                )
            } else {
                self.io_err(name, "link")(e)
            }
        })
    }

    fn set_owner_times(
        &self,
        name: &[u8],
        dir: BorrowedFd<'_>,
        base: &OsStr,
        meta: &Meta,
    ) -> Result<(), UnpackError> {
        if self.opts.chown {
            sys::lchownat(dir, base, meta.uid, meta.gid).map_err(self.chown_err(name, meta))?;
        }
        self.set_xattrs(name, dir, base, meta)?;
        sys::lutimesat(dir, base, meta.mtime).map_err(self.io_err(name, "set times"))
    }

    /// Owner, mode and xattrs (and times unless deferred for directories).
    fn set_meta(
        &self,
        name: &[u8],
        dir: BorrowedFd<'_>,
        base: &OsStr,
        meta: &Meta,
        defer_time: bool,
    ) -> Result<(), UnpackError> {
        if self.opts.chown {
            sys::lchownat(dir, base, meta.uid, meta.gid).map_err(self.chown_err(name, meta))?;
        }
        sys::fchmodat(dir, base, meta.mode).map_err(self.io_err(name, "chmod"))?;
        self.set_xattrs(name, dir, base, meta)?;
        if !defer_time {
            sys::lutimesat(dir, base, meta.mtime).map_err(self.io_err(name, "set times"))?;
        }
        Ok(())
    }

    fn set_xattrs(
        &self,
        name: &[u8],
        dir: BorrowedFd<'_>,
        base: &OsStr,
        meta: &Meta,
    ) -> Result<(), UnpackError> {
        for (k, v) in &meta.xattrs {
            if meta::xattr_allowed(k, self.opts.rootless) {
                sys::lsetxattrat(dir, base, OsStr::from_bytes(k), v)
                    .map_err(self.io_err(name, "setxattr"))?;
            }
        }
        Ok(())
    }

    fn apply_root_meta(&mut self, name: &[u8], meta: &Meta) -> Result<(), UnpackError> {
        let root = self
            .dirs
            .root()
            .try_clone_to_owned()
            .map_err(self.io_err(name, "dup root fd"))?;
        self.set_meta(name, root.as_fd(), OsStr::new("."), meta, true)
    }

    fn finish_dir_times(&mut self) -> Result<(), UnpackError> {
        // Deepest first, so setting a child's time never disturbs its parent's.
        let mut times = std::mem::take(&mut self.dir_times);
        times.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        for (parts, mtime) in times {
            let path: PathBuf = join(&parts);
            let name = path.as_os_str().as_bytes().to_vec();
            let (base, parent) = match parts.split_last() {
                Some((b, p)) => (b.clone(), p.to_vec()),
                None => (OsString::from("."), Vec::new()),
            };
            let dir = self
                .dirs
                .open(&parent)
                .map_err(self.io_err(&name, "open parent"))?;
            match sys::lutimesat(dir.as_fd(), &base, mtime) {
                // A later entry replaced or removed the directory: nothing to date.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                r => r.map_err(self.io_err(&name, "set directory times"))?,
            }
        }
        Ok(())
    }
}

fn ignore_eexist(e: io::Error) -> io::Result<()> {
    if e.raw_os_error() == Some(libc::EEXIST) {
        Ok(())
    } else {
        Err(e)
    }
}

fn to_system_time((sec, nsec): (i64, i64)) -> std::time::SystemTime {
    let nsec = u32::try_from(nsec).unwrap_or(0);
    match u64::try_from(sec) {
        Ok(s) => std::time::UNIX_EPOCH + std::time::Duration::new(s, nsec),
        Err(_) => std::time::UNIX_EPOCH - std::time::Duration::from_secs(sec.unsigned_abs()),
    }
}

/// Removes the directory `name` in `dir` and everything under it, fd-relative and
/// without following symlinks.
fn remove_tree(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let sub = sys::open_beneath(
        dir,
        name.as_ref(),
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
    )?;
    let list = std::fs::read_dir(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&sub)
    ))?;
    for e in list {
        let e = e?;
        let child = e.file_name();
        if e.file_type()?.is_dir() {
            remove_tree(sub.as_fd(), &child)?;
        } else {
            sys::unlinkat(sub.as_fd(), &child, false)?;
        }
    }
    sys::unlinkat(dir, name, true)
}

#[cfg(test)]
mod tests;
