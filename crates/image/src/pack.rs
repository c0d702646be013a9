//! Packing a directory tree into a tar stream without trusting the tree: a container (or
//! whoever writes its overlay upper directory) may change it while it is read, so nothing
//! is looked up by a path string. Each entry is opened once, `O_PATH | O_NOFOLLOW` relative
//! to its parent's fd, and everything else (its type, its link target, its content, its
//! children) is read through that fd: a symlink is archived as a symlink and never followed,
//! and a directory swapped for a symlink mid-walk leads nowhere.
//!
//! [`Format::OverlayUpper`] turns an overlayfs upper directory into an OCI layer: a whiteout
//! (char 0:0) becomes `.wh.NAME`, an opaque directory gets `DIR/.wh..wh..opq`.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::sys;
use crate::unpack::opaque_xattr;

/// What the tree is packed as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// What is there, as it is (`cp`, `export`).
    Plain,
    /// An overlayfs upper directory, as an OCI layer (`commit`); `rootless` picks the
    /// `user.overlay.*` attributes a rootless mount uses.
    OverlayUpper {
        /// The mount used `userxattr`.
        rootless: bool,
    },
}

/// Errors from packing; each names the entry (as named in the archive).
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading the tree failed.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        /// The entry.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The tree holds something an archive cannot say.
    #[error("{}: {why}", path.display())]
    Unsupported {
        /// The entry.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// Writing the archive failed.
    #[error("writing the archive: {0}")]
    Write(io::Error),
}

/// File systems whose content is the kernel's, not files: a copy through a running
/// container's mounts archives their mount point, never what is in them.
const PSEUDO_FS: [i64; 12] = [
    0x9fa0,      // proc
    0x6265_6572, // sysfs
    0x27e0eb,    // cgroup
    0x6367_7270, // cgroup2
    0x1cd1,      // devpts
    0x1980_0202, // mqueue
    0x6462_6720, // debugfs
    0x7472_6163, // tracefs
    0x7363_6673, // securityfs
    0xcafe_4a11, // bpf
    0x6165_676c, // pstore
    0x6265_6570, // configfs
];

const OPAQUE_MARKER: &str = ".wh..wh..opq";
const CAPABILITY: &str = "security.capability";

/// A tar stream being written from directory fds.
pub struct Packer<W: Write> {
    tar: tar::Builder<W>,
    format: Format,
    /// Files with several links: the first name each (device, inode) was archived as.
    links: HashMap<(u64, u64), PathBuf>,
    /// Names left out when they are empty (see [`Packer::mount_points`]).
    mount_points: Vec<PathBuf>,
    /// Says which entries (name, is a directory) to leave out, with what is below them.
    skip: Option<Skip>,
    /// Every entry's owner (uid, gid) instead of its own.
    owner: Option<(u32, u32)>,
}

/// A filter of entries: true leaves the entry (and a directory's contents) out.
pub type Skip = Box<dyn FnMut(&Path, bool) -> bool>;

impl<W: Write> Packer<W> {
    /// A packer writing to `out`.
    pub fn new(out: W, format: Format) -> Self {
        Packer {
            tar: tar::Builder::new(out),
            format,
            links: HashMap::new(),
            mount_points: Vec::new(),
            skip: None,
            owner: None,
        }
    }

    /// Archives every entry as owned by `owner` (a build's COPY from its context gives
    /// files to root, as docker's does).
    pub fn owner(mut self, owner: (u32, u32)) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Leaves out the entries `skip` picks (a build context's `.dockerignore`).
    pub fn skip(mut self, skip: Skip) -> Self {
        self.skip = Some(skip);
        self
    }

    /// Leaves out the empty files and directories at these names (as named in the
    /// archive): where the runtime mounted something over a path the image lacked, not a
    /// change of the container's (docker keeps them in an "init" layer of their own).
    pub fn mount_points(mut self, names: Vec<PathBuf>) -> Self {
        self.mount_points = names;
        self
    }

    /// Appends `item` (an fd of the entry itself, `O_PATH` is enough; a symlink opened with
    /// `O_NOFOLLOW` is archived as a symlink) as `name`, and, for a directory, everything
    /// in it below `name`.
    pub fn add(&mut self, item: BorrowedFd<'_>, name: &Path) -> Result<(), PackError> {
        let st = sys::fstat(item).map_err(io_err(name, "stat"))?;
        let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if self.skip.as_mut().is_some_and(|skip| skip(name, is_dir)) {
            return Ok(());
        }
        if self.mount_points.iter().any(|m| m == name)
            && sys::is_empty(item, &st).map_err(io_err(name, "list"))?
        {
            return Ok(());
        }
        self.entry(item, &st, name.to_path_buf())
    }

    /// Appends what is in the directory `dir`, named as in it: a layer has no root entry.
    pub fn add_children(&mut self, dir: BorrowedFd<'_>) -> Result<(), PackError> {
        let here = Path::new(".");
        let dir = reopen(dir, libc::O_RDONLY | libc::O_DIRECTORY).map_err(io_err(here, "open"))?;
        self.children(dir.as_fd(), Path::new(""))
    }

    /// Ends the archive; returns the writer.
    pub fn finish(self) -> Result<W, PackError> {
        self.tar.into_inner().map_err(PackError::Write)
    }

    fn entry(
        &mut self,
        item: BorrowedFd<'_>,
        st: &libc::stat,
        name: PathBuf,
    ) -> Result<(), PackError> {
        let kind = st.st_mode & libc::S_IFMT;
        let mut h = header(st);
        if let Some((uid, gid)) = self.owner {
            h.set_uid(u64::from(uid));
            h.set_gid(u64::from(gid));
        }
        if let Format::OverlayUpper { .. } = self.format {
            if kind == libc::S_IFCHR && st.st_rdev == 0 {
                return self.whiteout(h, &name);
            }
        }
        if kind != libc::S_IFDIR && st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = self.links.get(&key) {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                let first = first.clone();
                return self.write(|t| t.append_link(&mut h, &name, &first));
            }
            self.links.insert(key, name.clone());
        }
        match kind {
            libc::S_IFDIR => self.directory(item, h, name),
            libc::S_IFREG => self.file(item, h, &name, st),
            libc::S_IFLNK => {
                let target = sys::readlink_fd(item).map_err(io_err(&name, "readlink"))?;
                h.set_entry_type(tar::EntryType::Symlink);
                let target = PathBuf::from(OsString::from_vec(target));
                self.write(|t| t.append_link(&mut h, &name, &target))
            }
            libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO => {
                h.set_entry_type(match kind {
                    libc::S_IFCHR => tar::EntryType::Char,
                    libc::S_IFBLK => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                });
                let dev = st.st_rdev;
                h.set_device_major(libc::major(dev))
                    .map_err(PackError::Write)?;
                h.set_device_minor(libc::minor(dev))
                    .map_err(PackError::Write)?;
                self.write(|t| t.append_data(&mut h, &name, io::empty()))
            }
            // Sockets cannot be archived (tar and docker leave them out).
            _ => Ok(()),
        }
    }

    fn directory(
        &mut self,
        item: BorrowedFd<'_>,
        mut h: tar::Header,
        name: PathBuf,
    ) -> Result<(), PackError> {
        let dir =
            reopen(item, libc::O_RDONLY | libc::O_DIRECTORY).map_err(io_err(&name, "open"))?;
        h.set_entry_type(tar::EntryType::Directory);
        let with_slash = dir_name(&name);
        let mut opaque = false;
        if let Format::OverlayUpper { rootless } = self.format {
            let xattr = |key: &str| sys::fgetxattr(dir.as_fd(), OsStr::new(key));
            let redirect = if rootless {
                "user.overlay.redirect"
            } else {
                "trusted.overlay.redirect"
            };
            if xattr(redirect)
                .map_err(io_err(&name, "getxattr"))?
                .is_some()
            {
                return Err(PackError::Unsupported {
                    path: name,
                    why: "a directory renamed by overlayfs (redirect_dir) cannot be a layer entry"
                        .into(),
                });
            }
            let key = opaque_xattr(rootless).to_string_lossy().into_owned();
            opaque = xattr(&key).map_err(io_err(&name, "getxattr"))?.as_deref() == Some(b"y");
        }
        self.write(|t| t.append_data(&mut h, &with_slash, io::empty()))?;
        if opaque {
            let mut wh = h.clone();
            wh.set_entry_type(tar::EntryType::Regular);
            wh.set_mode(h.mode().unwrap_or(0) & 0o777);
            self.write(|t| t.append_data(&mut wh, name.join(OPAQUE_MARKER), io::empty()))?;
        }
        let magic = sys::fs_magic(dir.as_fd()).map_err(io_err(&name, "statfs"))?;
        if PSEUDO_FS.contains(&magic) {
            return Ok(());
        }
        self.children(dir.as_fd(), &name)
    }

    /// Every entry of the open directory `dir`, in name order, named below `prefix`.
    fn children(&mut self, dir: BorrowedFd<'_>, prefix: &Path) -> Result<(), PackError> {
        let shown = if prefix.as_os_str().is_empty() {
            Path::new(".")
        } else {
            prefix
        };
        for n in sys::list_dir(dir).map_err(io_err(shown, "list"))? {
            let name = prefix.join(&n);
            let fd = sys::open_beneath(dir, Path::new(&n), libc::O_PATH | libc::O_NOFOLLOW, 0);
            let fd = match fd {
                Ok(fd) => fd,
                // Removed since it was listed: an archive of a changing tree misses it.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(io_err(&name, "open")(e)),
            };
            self.add(fd.as_fd(), &name)?;
        }
        Ok(())
    }

    fn file(
        &mut self,
        item: BorrowedFd<'_>,
        mut h: tar::Header,
        name: &Path,
        st: &libc::stat,
    ) -> Result<(), PackError> {
        // O_NONBLOCK: what was a regular file at fstat is the same inode now, but a FUSE or
        // network file system should not hang the copy on open.
        let f = reopen(item, libc::O_RDONLY | libc::O_NONBLOCK).map_err(io_err(name, "open"))?;
        if let Format::OverlayUpper { rootless } = self.format {
            let key = if rootless {
                "user.overlay.metacopy"
            } else {
                "trusted.overlay.metacopy"
            };
            if sys::fgetxattr(f.as_fd(), OsStr::new(key))
                .map_err(io_err(name, "getxattr"))?
                .is_some()
            {
                return Err(PackError::Unsupported {
                    path: name.to_path_buf(),
                    why: "a metadata-only copy-up (overlayfs metacopy) has no content of its own"
                        .into(),
                });
            }
        }
        // docker archives only this attribute (file capabilities, as `setcap` leaves them).
        if let Some(cap) =
            sys::fgetxattr(f.as_fd(), OsStr::new(CAPABILITY)).map_err(io_err(name, "getxattr"))?
        {
            let key = format!("SCHILY.xattr.{CAPABILITY}");
            self.write(|t| t.append_pax_extensions([(key.as_str(), cap.as_slice())]))?;
        }
        let size = u64::try_from(st.st_size).unwrap_or(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(size);
        let mut content = Exact {
            inner: File::from(f),
            left: size,
            failed: None,
        };
        let written = self.write(|t| t.append_data(&mut h, name, &mut content));
        match content.failed {
            Some(e) => Err(io_err(name, "read")(e)),
            None => written,
        }
    }

    fn whiteout(&mut self, mut h: tar::Header, name: &Path) -> Result<(), PackError> {
        let base = name.file_name().unwrap_or_default();
        let mut wh = OsString::from(".wh.");
        wh.push(base);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0);
        h.set_size(0);
        h.set_device_major(0).map_err(PackError::Write)?;
        h.set_device_minor(0).map_err(PackError::Write)?;
        let path = name.with_file_name(wh);
        self.write(|t| t.append_data(&mut h, &path, io::empty()))
    }

    fn write(
        &mut self,
        f: impl FnOnce(&mut tar::Builder<W>) -> io::Result<()>,
    ) -> Result<(), PackError> {
        f(&mut self.tar).map_err(PackError::Write)
    }
}

/// A GNU header with the entry's owner, mode and time.
fn header(st: &libc::stat) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h.set_size(0);
    h
}

/// A directory's name as tar writes it, with a trailing `/`.
fn dir_name(name: &Path) -> PathBuf {
    let mut b = name.as_os_str().as_bytes().to_vec();
    if !b.ends_with(b"/") {
        b.push(b'/');
    }
    PathBuf::from(OsString::from_vec(b))
}

/// Opens what `fd` holds again, with real access: through its `/proc/self/fd` link, which
/// names exactly that file, never a path that could have been swapped.
fn reopen(fd: BorrowedFd<'_>, flags: libc::c_int) -> io::Result<OwnedFd> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags & !libc::O_ACCMODE)
        .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    Ok(f.into())
}

fn io_err(path: &Path, op: &'static str) -> impl FnOnce(io::Error) -> PackError {
    let path = path.to_path_buf();
    move |source| PackError::Io { path, op, source }
}

/// A file's content cut or padded with zeros to the size its header announced: a file
/// that changes while it is archived must not break the stream. A read error is kept, so
/// that it is reported as reading the file, not as writing the archive.
struct Exact {
    inner: File,
    left: u64,
    failed: Option<io::Error>,
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(0) => {
                buf[..want].fill(0);
                want
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                let kind = e.kind();
                self.failed = Some(e);
                return Err(io::Error::new(kind, "reading the file failed"));
            }
        };
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn pack(dir: &Path, format: Format) -> Vec<(String, tar::EntryType, Vec<u8>, String)> {
        let fd = File::open(dir).unwrap();
        let mut p = Packer::new(Vec::new(), format);
        match format {
            Format::Plain => p.add(fd.as_fd(), Path::new("top")).unwrap(),
            Format::OverlayUpper { .. } => p.add_children(fd.as_fd()).unwrap(),
        }
        let bytes = p.finish().unwrap();
        let mut out = Vec::new();
        let mut a = tar::Archive::new(&bytes[..]);
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let kind = e.header().entry_type();
            let link = e
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            out.push((name, kind, data, link));
        }
        out
    }

    #[test]
    fn packs_a_tree_without_following_its_symlinks() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "host").unwrap();
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir(r.join("d")).unwrap();
        std::fs::write(r.join("d/f"), "data").unwrap();
        std::fs::set_permissions(r.join("d/f"), std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::hard_link(r.join("d/f"), r.join("hard")).unwrap();
        symlink(outside.path(), r.join("d/out")).unwrap();
        symlink(outside.path().join("secret"), r.join("s")).unwrap();
        let entries = pack(r, Format::Plain);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "top/",
                "top/d/",
                "top/d/f",
                "top/d/out",
                "top/hard",
                "top/s"
            ]
        );
        assert_eq!(entries[2].2, b"data");
        assert_eq!(entries[3].1, tar::EntryType::Symlink);
        assert_eq!(entries[3].3, outside.path().to_string_lossy());
        assert_eq!(entries[4].1, tar::EntryType::Link);
        assert_eq!(entries[4].3, "top/d/f");
        assert!(entries.iter().all(|e| e.2 != b"host"));
    }

    #[test]
    fn an_overlay_upper_becomes_oci_whiteouts() {
        if sys::rootless() {
            return; // whiteout devices and trusted.* need root
        }
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("etc/opq")).unwrap();
        std::fs::write(r.join("etc/opq/new"), "n").unwrap();
        let etc = File::open(r.join("etc")).unwrap();
        sys::mknodat(etc.as_fd(), OsStr::new("gone"), libc::S_IFCHR, 0).unwrap();
        sys::lsetxattrat(etc.as_fd(), OsStr::new("opq"), opaque_xattr(false), b"y").unwrap();
        let entries = pack(r, Format::OverlayUpper { rootless: false });
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "etc/",
                "etc/.wh.gone",
                "etc/opq/",
                "etc/opq/.wh..wh..opq",
                "etc/opq/new"
            ]
        );
        assert!(entries
            .iter()
            .all(|e| e.1 == tar::EntryType::Directory || e.1 == tar::EntryType::Regular));
        // A directory overlayfs renamed cannot be expressed.
        sys::lsetxattrat(
            etc.as_fd(),
            OsStr::new("opq"),
            OsStr::new("trusted.overlay.redirect"),
            b"/x",
        )
        .unwrap();
        let fd = File::open(r).unwrap();
        let mut p = Packer::new(Vec::new(), Format::OverlayUpper { rootless: false });
        let e = p.add_children(fd.as_fd()).unwrap_err();
        assert!(e.to_string().contains("redirect_dir"), "{e}");
    }
}
