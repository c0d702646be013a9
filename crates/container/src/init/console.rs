//! The container's terminal: a pty from the container's own devpts, its slave made the
//! process's stdio, controlling terminal and `/dev/console`, its master handed to whoever
//! drives it (the `--console-socket` listener, or the foreground `run`).

use super::error::{Context, InitError};
use super::resolve;
use berth_sys::{fs as sysfs, mount as sysmount, process as sysproc, pty, socket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// Creates the pty and wires its slave as stdio (and, for the init, `/dev/console`);
/// returns the master.
pub fn setup(size: Option<(u16, u16)>, console_mount: bool) -> Result<OwnedFd, InitError> {
    let master = pty::open_master(Path::new("/dev/pts/ptmx")).ctx(|| "open /dev/pts/ptmx")?;
    let slave = pty::open_peer(master.as_fd()).ctx(|| "open the pty's slave")?;
    if let Some((rows, cols)) = size {
        pty::set_window_size(master.as_fd(), rows, cols).ctx(|| "set the console size")?;
    }
    if console_mount {
        mount_console(slave.as_fd())?;
    }
    sysproc::setsid().ctx(|| "setsid")?;
    pty::set_controlling(slave.as_fd()).ctx(|| "make the pty the controlling terminal")?;
    for fd in 0..3 {
        sysfs::dup_onto(slave.as_fd(), fd).ctx(|| format!("dup the pty onto fd {fd}"))?;
    }
    Ok(master)
}

/// Bind-mounts the pty slave on `/dev/console`, which must be (or become) a plain file: a
/// symlink or device planted there by the image is refused (CVE-2025-52565 class).
fn mount_console(slave: BorrowedFd<'_>) -> Result<(), InitError> {
    let root = sysfs::open(Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0).ctx(|| "open /")?;
    let console = Path::new("/dev/console");
    let nofollow = !crate::protection::off("console-check");
    let target = match resolve::handle(root.as_fd(), console, nofollow) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            resolve::ensure_file(root.as_fd(), console, 0o600).ctx(|| "create /dev/console")?
        }
        Err(e) => return Err(e).ctx(|| "open /dev/console"),
    };
    let st = sysfs::fstat(target.as_fd()).ctx(|| "stat /dev/console")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG && !crate::protection::off("console-check") {
        return Err(InitError::check(
            "/dev/console",
            "exists and is not a regular file; refusing to mount over it",
        ));
    }
    let tree = sysmount::open_tree(Some(slave), Path::new(""), true, false)
        .ctx(|| "clone the pty mount")?;
    sysmount::move_mount(tree.as_fd(), target.as_fd()).ctx(|| "mount the pty on /dev/console")
}

/// Sends the master over the console socket, as runc does (the payload names the pty).
pub fn send_master(socket_fd: BorrowedFd<'_>, master: BorrowedFd<'_>) -> Result<(), InitError> {
    socket::send(socket_fd, b"/dev/ptmx", &[master])
        .ctx(|| "send the pty master over the console socket")
}
