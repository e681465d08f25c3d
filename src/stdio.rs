//! [`Stdio`]: what a pico process gets as its standard input, output or
//! error, and the descriptors a spawn sets up for it.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// The standard input, output or error of a [`Command`](crate::Command),
/// as with [`std::process::Stdio`].
///
/// ```
/// use picorun::Stdio;
///
/// let log = std::fs::File::create(std::env::temp_dir().join("picorun-doc.log"))?;
/// let _ = (Stdio::inherit(), Stdio::piped(), Stdio::null(), Stdio::from(log));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Stdio(pub(crate) Kind);

#[derive(Debug)]
pub(crate) enum Kind {
    Inherit,
    Piped,
    Null,
    Fd(OwnedFd),
}

impl Stdio {
    /// The embedding program's own descriptor.
    pub fn inherit() -> Stdio {
        Stdio(Kind::Inherit)
    }

    /// A new pipe; the embedding program gets the other end in
    /// [`Child::stdin`](crate::Child::stdin) (or `stdout`, `stderr`).
    pub fn piped() -> Stdio {
        Stdio(Kind::Piped)
    }

    /// `/dev/null`.
    pub fn null() -> Stdio {
        Stdio(Kind::Null)
    }
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio(Kind::Fd(fd))
    }
}

impl From<File> for Stdio {
    fn from(file: File) -> Stdio {
        Stdio(Kind::Fd(file.into()))
    }
}

impl From<std::process::ChildStdin> for Stdio {
    fn from(pipe: std::process::ChildStdin) -> Stdio {
        Stdio(Kind::Fd(pipe.into()))
    }
}

impl From<std::process::ChildStdout> for Stdio {
    fn from(pipe: std::process::ChildStdout) -> Stdio {
        Stdio(Kind::Fd(pipe.into()))
    }
}

impl From<std::process::ChildStderr> for Stdio {
    fn from(pipe: std::process::ChildStderr) -> Stdio {
        Stdio(Kind::Fd(pipe.into()))
    }
}

/// One standard descriptor of a spawn: the descriptor the pico process
/// gets (`None`: the embedding program's own), the embedding program's
/// end of a pipe, and what must stay open until the fork.
#[derive(Default)]
pub(crate) struct Prepared {
    pub child: Option<RawFd>,
    pub parent: Option<OwnedFd>,
    /// The pico process's end of a pipe, or /dev/null: kept open until
    /// the fork, then closed in the embedding program.
    pub _keep: Option<OwnedFd>,
}

impl Prepared {
    /// Sets up descriptor `n` (0, 1, 2) as `stdio` says.
    pub fn new(stdio: &Stdio, n: RawFd) -> io::Result<Prepared> {
        Ok(match &stdio.0 {
            Kind::Inherit => Prepared::default(),
            Kind::Fd(fd) => Prepared {
                child: Some(fd.as_raw_fd()),
                ..Prepared::default()
            },
            Kind::Null => {
                let null = File::options()
                    .read(n == 0)
                    .write(n != 0)
                    .open("/dev/null")?;
                let null = OwnedFd::from(null);
                Prepared {
                    child: Some(null.as_raw_fd()),
                    parent: None,
                    _keep: Some(null),
                }
            }
            Kind::Piped => {
                let (read, write) = crate::os::pipe()?;
                let (theirs, ours) = if n == 0 { (read, write) } else { (write, read) };
                Prepared {
                    child: Some(theirs.as_raw_fd()),
                    parent: Some(ours),
                    _keep: Some(theirs),
                }
            }
        })
    }
}
