//! The typed channel between the runtime (parent) and the container's first process over a
//! `SOCK_SEQPACKET` pair. Each side gets its own type whose methods say what they mean; a
//! child's setup error travels to the parent, which reports it with the container's context.

use crate::init::ProgramFault;
use berth_sys::socket;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};

/// Messages from the container side to the runtime.
#[derive(Debug, PartialEq, Eq)]
enum Up {
    /// The intermediate process forked the init: here is its pid (in the runtime's pid ns).
    InitPid(i32),
    /// A user namespace was made after joining others: write its id maps for this pid.
    MapUserNamespace(i32),
    /// Mounts are done, before the pivot: run the prestart and createRuntime hooks.
    RunRuntimeHooks,
    /// The init is ready and waits for `start` (an fd may come along: the pty master).
    Ready,
    /// Setup failed.
    Failed(Failure),
}

/// Messages from the runtime to the container side.
#[derive(Debug, PartialEq, Eq)]
enum Down {
    /// Id maps written and cgroups joined: go on.
    Proceed,
    /// The runtime's hooks have run.
    HooksDone,
    /// Execute the container's process now (foreground `run`, without an exec fifo).
    Start,
}

const MAX_MSG: usize = 4096;

fn encode_up(m: &Up) -> Vec<u8> {
    let (tag, body): (u8, Vec<u8>) = match m {
        Up::InitPid(p) => (1, p.to_le_bytes().to_vec()),
        Up::MapUserNamespace(p) => (2, p.to_le_bytes().to_vec()),
        Up::RunRuntimeHooks => (3, Vec::new()),
        Up::Ready => (4, Vec::new()),
        Up::Failed(f) => {
            let mut body = vec![ProgramFault::to_code(f.program)];
            body.extend_from_slice(&f.message.as_bytes()[..f.message.len().min(MAX_MSG - 2)]);
            (5, body)
        }
    };
    let mut v = vec![tag];
    v.extend(body);
    v
}

fn decode_up(b: &[u8]) -> io::Result<Up> {
    let pid = || -> io::Result<i32> {
        let a: [u8; 4] = b
            .get(1..5)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(bad)?;
        Ok(i32::from_le_bytes(a))
    };
    Ok(match b.first() {
        Some(1) => Up::InitPid(pid()?),
        Some(2) => Up::MapUserNamespace(pid()?),
        Some(3) => Up::RunRuntimeHooks,
        Some(4) => Up::Ready,
        Some(5) => Up::Failed(Failure {
            program: ProgramFault::from_code(*b.get(1).ok_or_else(bad)?),
            message: String::from_utf8_lossy(b.get(2..).unwrap_or_default()).into_owned(),
        }),
        _ => return Err(bad()),
    })
}

fn bad() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "malformed message on the setup channel",
    )
}

/// Makes the two ends of a new channel.
pub fn channel() -> io::Result<(ParentEnd, ChildEnd)> {
    let (a, b) = socket::seqpacket_pair()?;
    Ok((ParentEnd { sock: a }, ChildEnd { sock: b }))
}

/// What the container side reported, as the parent sees it.
#[derive(Debug)]
pub enum Report {
    InitPid(i32),
    MapUserNamespace(i32),
    RunRuntimeHooks,
    Ready(Option<OwnedFd>),
}

/// A setup error the container's side reported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
    /// Set when the error is that the program cannot run.
    pub program: Option<ProgramFault>,
}

/// Why the parent could not get a report.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("{0}")]
    Failed(Failure),
    #[error("the container's process exited during setup")]
    Closed,
    #[error("setup channel: {0}")]
    Io(#[from] io::Error),
}

/// The runtime's end.
pub struct ParentEnd {
    sock: OwnedFd,
}

impl ParentEnd {
    /// Waits for the next report from the container side.
    pub fn next_report(&self) -> Result<Report, ChannelError> {
        let mut buf = vec![0u8; MAX_MSG];
        let (n, mut fds) = socket::recv(self.sock.as_fd(), &mut buf)?;
        if n == 0 {
            return Err(ChannelError::Closed);
        }
        Ok(match decode_up(&buf[..n])? {
            Up::InitPid(p) => Report::InitPid(p),
            Up::MapUserNamespace(p) => Report::MapUserNamespace(p),
            Up::RunRuntimeHooks => Report::RunRuntimeHooks,
            Up::Ready => Report::Ready(fds.pop()),
            Up::Failed(s) => return Err(ChannelError::Failed(s)),
        })
    }

    fn send(&self, m: Down) -> io::Result<()> {
        let tag = match m {
            Down::Proceed => 1u8,
            Down::HooksDone => 2,
            Down::Start => 3,
        };
        socket::send(self.sock.as_fd(), &[tag], &[])
    }

    /// Id maps are written and the cgroup joined.
    pub fn proceed(&self) -> io::Result<()> {
        self.send(Down::Proceed)
    }

    /// The prestart and createRuntime hooks ran.
    pub fn hooks_done(&self) -> io::Result<()> {
        self.send(Down::HooksDone)
    }

    /// Tells a waiting init to execute the container's process, and waits until it has: the
    /// exec closes the init's end (close-on-exec), a late failure arrives as a message.
    pub fn start(&self) -> Result<(), ChannelError> {
        self.send(Down::Start)?;
        let mut buf = vec![0u8; MAX_MSG];
        let (n, _) = socket::recv(self.sock.as_fd(), &mut buf)?;
        match n {
            0 => Ok(()),
            _ => match decode_up(&buf[..n])? {
                Up::Failed(s) => Err(ChannelError::Failed(s)),
                other => Err(ChannelError::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unexpected {other:?} after start"),
                ))),
            },
        }
    }
}

/// The container side's end.
pub struct ChildEnd {
    sock: OwnedFd,
}

impl ChildEnd {
    pub fn raw_fd(&self) -> RawFd {
        use std::os::fd::AsRawFd;
        self.sock.as_raw_fd()
    }

    fn send(&self, m: &Up, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        socket::send(self.sock.as_fd(), &encode_up(m), fds)
    }

    fn expect(&self, want: Down) -> io::Result<()> {
        let mut buf = [0u8; 16];
        let (n, _) = socket::recv(self.sock.as_fd(), &mut buf)?;
        let got = match (n, buf[0]) {
            (0, _) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the runtime went away",
                ))
            }
            (_, 1) => Down::Proceed,
            (_, 2) => Down::HooksDone,
            (_, 3) => Down::Start,
            _ => return Err(bad()),
        };
        if got != want {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected {want:?}, got {got:?}"),
            ));
        }
        Ok(())
    }

    /// Blocks until the runtime has written id maps and placed us in the cgroup.
    pub fn wait_for_proceed(&self) -> io::Result<()> {
        self.expect(Down::Proceed)
    }

    /// Asks for id maps of the user namespace `pid` just made, and waits until they exist.
    pub fn map_user_namespace(&self, pid: i32) -> io::Result<()> {
        self.send(&Up::MapUserNamespace(pid), &[])?;
        self.expect(Down::Proceed)
    }

    /// Reports the pid of the init forked by the intermediate process.
    pub fn init_pid(&self, pid: i32) -> io::Result<()> {
        self.send(&Up::InitPid(pid), &[])
    }

    /// Asks the runtime to run its hooks and waits until they are done.
    pub fn run_runtime_hooks(&self) -> io::Result<()> {
        self.send(&Up::RunRuntimeHooks, &[])?;
        self.expect(Down::HooksDone)
    }

    /// Reports readiness, handing over the pty master if the runtime is to relay it.
    pub fn ready(&self, master: Option<BorrowedFd<'_>>) -> io::Result<()> {
        self.send(&Up::Ready, master.as_slice())
    }

    /// Blocks until the runtime says to execute the process.
    pub fn wait_for_start(&self) -> io::Result<()> {
        self.expect(Down::Start)
    }

    /// Reports a setup error; the caller exits next.
    pub fn failed(&self, message: &str, program: Option<ProgramFault>) {
        let f = Failure {
            message: message.to_string(),
            program,
        };
        let _ = self.send(&Up::Failed(f), &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for m in [
            Up::InitPid(42),
            Up::MapUserNamespace(-1),
            Up::RunRuntimeHooks,
            Up::Ready,
            Up::Failed(Failure {
                message: "mount /x: EPERM".into(),
                program: None,
            }),
            Up::Failed(Failure {
                message: "exec \"x\": not found".into(),
                program: Some(ProgramFault::NotFound),
            }),
        ] {
            assert_eq!(decode_up(&encode_up(&m)).unwrap(), m);
        }
        assert!(decode_up(&[9]).is_err());
        assert!(decode_up(&[1, 0]).is_err());
    }

    #[test]
    fn reports_and_fds_cross() {
        let (parent, child) = channel().unwrap();
        child.send(&Up::InitPid(7), &[]).unwrap();
        assert!(matches!(parent.next_report().unwrap(), Report::InitPid(7)));
        let (a, _b) = socket::seqpacket_pair().unwrap();
        child.ready(Some(a.as_fd())).unwrap();
        assert!(matches!(
            parent.next_report().unwrap(),
            Report::Ready(Some(_))
        ));
        parent.proceed().unwrap();
        child.wait_for_proceed().unwrap();
        parent.send(Down::Start).unwrap();
        assert!(child.wait_for_proceed().is_err());
        child.failed("boom", Some(ProgramFault::NotExecutable));
        assert!(matches!(
            parent.next_report(),
            Err(ChannelError::Failed(f)) if f.message == "boom"
                && f.program == Some(ProgramFault::NotExecutable)
        ));
        drop(child);
        assert!(matches!(parent.next_report(), Err(ChannelError::Closed)));
    }
}
