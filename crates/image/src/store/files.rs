//! Reading a file of an image without mounting it: the snapshots are searched top
//! down as overlayfs stacks them, honouring whiteouts and opaque directories, and paths are opened with
//! `openat2(RESOLVE_BENEATH)` so a symlink in the image cannot reach host files.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use super::image::Image;
use super::{io_err, Store, StoreError};
use crate::sys;

/// Largest file read this way (/etc/passwd and friends are small).
const MAX_FILE: u64 = 4 << 20;

impl Store {
    /// The content of `path` (absolute, in the image) in the merged view of `image`'s
    /// layers, or None if no layer has it (or it is not a regular file).
    pub fn read_image_file(
        &self,
        image: &Image,
        path: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let parts: Vec<&str> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if parts.is_empty() || parts.contains(&"..") {
            return Ok(None);
        }
        let opaque_key = crate::unpack::opaque_xattr(self.rootless);
        for dir in self.lower_dirs(image)? {
            let root: OwnedFd = File::open(&dir)
                .map_err(io_err("open snapshot", &dir))?
                .into();
            let mut hidden_below = false;
            for i in 0..parts.len() {
                let parent = parts[..i].join("/");
                let Ok(pfd) = sys::open_dir_beneath(
                    root.as_fd(),
                    Path::new(if parent.is_empty() { "." } else { &parent }),
                ) else {
                    break;
                };
                let name = OsStr::new(parts[i]);
                let Ok(st) = sys::lstatat(pfd.as_fd(), name) else {
                    break;
                };
                let fmt = st.st_mode & libc::S_IFMT;
                if fmt == libc::S_IFCHR && st.st_rdev == 0 {
                    return Ok(None); // whiteout
                }
                if i + 1 == parts.len() {
                    if fmt != libc::S_IFREG {
                        return Ok(None);
                    }
                    let fd = sys::open_beneath(
                        pfd.as_fd(),
                        Path::new(name),
                        libc::O_RDONLY | libc::O_NOFOLLOW,
                        0,
                    )
                    .map_err(io_err("open", &dir.join(path.trim_start_matches('/'))))?;
                    let mut buf = Vec::new();
                    File::from(fd)
                        .take(MAX_FILE)
                        .read_to_end(&mut buf)
                        .map_err(io_err("read", &dir.join(path.trim_start_matches('/'))))?;
                    return Ok(Some(buf));
                }
                if fmt != libc::S_IFDIR {
                    break;
                }
                if sys::lgetxattrat(pfd.as_fd(), name, opaque_key)
                    .ok()
                    .flatten()
                    .is_some()
                {
                    hidden_below = true;
                }
            }
            if hidden_below {
                return Ok(None);
            }
        }
        Ok(None)
    }
}
