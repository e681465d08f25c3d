//! What the supervisor tells the embedding program through a pipe: the
//! program started (with its pid) or could not be started (why), and how
//! the run ended (wait status and the limit that ended it, if one did).
//! The pico process sends its start-up failure to the supervisor the same
//! way. Each record is one write(2) below PIPE_BUF, so it arrives whole.

use std::io::{self, Read};
use std::os::fd::RawFd;

use crate::policy::Limit;

/// Why a program could not be started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailKind {
    /// The program file does not exist (the CLI's 127).
    NotFound = 1,
    /// It exists but cannot be executed (126).
    NotExecutable = 2,
    /// picorun could not set up the process or the VM (125).
    Picorun = 3,
}

impl FailKind {
    fn from_code(code: i32) -> FailKind {
        match code {
            1 => FailKind::NotFound,
            2 => FailKind::NotExecutable,
            _ => FailKind::Picorun,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Started {
        pid: u32,
    },
    Failed {
        kind: FailKind,
        errno: i32,
        message: String,
    },
    Ended {
        status: i32,
        limit: Option<Limit>,
    },
}

const HEADER: usize = 16;
/// Messages are cut here, keeping a record below PIPE_BUF.
const MAX_MESSAGE: usize = 2048;

impl Record {
    fn encode(&self) -> Vec<u8> {
        let (tag, a, b, message): (u32, i32, i32, &[u8]) = match self {
            Record::Started { pid } => (1, *pid as i32, 0, b""),
            Record::Failed {
                kind,
                errno,
                message,
            } => (2, *kind as i32, *errno, message.as_bytes()),
            Record::Ended { status, limit } => (3, *status, limit.map_or(0, Limit::code), b""),
        };
        let message = message.get(..MAX_MESSAGE).unwrap_or(message);
        let mut out = Vec::with_capacity(HEADER + message.len());
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&a.to_le_bytes());
        out.extend_from_slice(&b.to_le_bytes());
        out.extend_from_slice(&(message.len() as u32).to_le_bytes());
        out.extend_from_slice(message);
        out
    }

    /// Sends the record on `fd` (a pipe's write end).
    pub fn send(&self, fd: RawFd) -> io::Result<()> {
        crate::os::write_all(fd, &self.encode())
    }

    /// The next record, or `None` at the end of the stream.
    pub fn receive(from: &mut impl Read) -> io::Result<Option<Record>> {
        let mut header = [0u8; HEADER];
        match from.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&header[4 * i..4 * i + 4]);
            w
        };
        let (tag, a, b) = (
            u32::from_le_bytes(word(0)),
            i32::from_le_bytes(word(1)),
            i32::from_le_bytes(word(2)),
        );
        let len = (u32::from_le_bytes(word(3)) as usize).min(MAX_MESSAGE);
        let mut message = vec![0u8; len];
        from.read_exact(&mut message)?;
        Ok(Some(match tag {
            1 => Record::Started { pid: a as u32 },
            2 => Record::Failed {
                kind: FailKind::from_code(a),
                errno: b,
                message: String::from_utf8_lossy(&message).into_owned(),
            },
            3 => Record::Ended {
                status: a,
                limit: Limit::from_code(b),
            },
            _ => {
                return Err(io::Error::other(
                    "picorun: garbled report from the supervisor",
                ))
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let records = [
            Record::Started { pid: 4242 },
            Record::Failed {
                kind: FailKind::NotExecutable,
                errno: 8,
                message: "/x: not an ELF file".into(),
            },
            Record::Ended {
                status: 9,
                limit: Some(Limit::WallTime),
            },
            Record::Ended {
                status: 3 << 8,
                limit: None,
            },
        ];
        let mut stream = Vec::new();
        for r in &records {
            stream.extend(r.encode());
        }
        let mut reader = &stream[..];
        for r in &records {
            assert_eq!(Record::receive(&mut reader).unwrap().as_ref(), Some(r));
        }
        assert_eq!(Record::receive(&mut reader).unwrap(), None);
    }

    #[test]
    fn long_messages_are_cut() {
        let r = Record::Failed {
            kind: FailKind::Picorun,
            errno: 0,
            message: "x".repeat(10_000),
        };
        assert!(r.encode().len() <= HEADER + MAX_MESSAGE);
    }
}
