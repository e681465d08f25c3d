//! `#!` scripts, parsed the way the kernel's `binfmt_script` does, so that a
//! script behaves the same under picorun as natively.
//!
//! The kernel looks only at the first 256 bytes of the file (zero-padded when
//! the file is shorter). The line ends at the first `\n`. With no `\n` in
//! those bytes the line is the first 255 bytes, accepted only if the
//! interpreter path visibly ends inside them (a space, tab or NUL follows
//! it): a cut-off interpreter path must not be run, a cut-off argument is
//! fine. After `#!` and optional spaces/tabs comes the interpreter, up to a
//! space, tab or NUL; the rest of the line, minus leading and trailing
//! spaces/tabs, is ONE optional argument, spaces and all (a NUL cuts it).
//! The caller then runs `interpreter [arg] script-path original-argv[1..]`.

#[cfg(test)]
mod tests;

/// How many bytes of the file the kernel reads to decide (BINPRM_BUF_SIZE).
pub const SHEBANG_BUF: usize = 256;

/// The interpreter line of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shebang {
    pub interpreter: String,
    pub arg: Option<String>,
}

fn blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn ends_word(b: u8) -> bool {
    blank(b) || b == 0
}

/// Parses the `#!` line at the start of `bytes`; `None` when the file is not a
/// script the kernel would run (no `#!`, no interpreter, interpreter cut off
/// by the 256-byte limit) or when the line is not UTF-8.
pub fn parse_shebang(bytes: &[u8]) -> Option<Shebang> {
    let mut buf = [0u8; SHEBANG_BUF];
    let n = bytes.len().min(SHEBANG_BUF);
    buf.get_mut(..n)?.copy_from_slice(bytes.get(..n)?);
    let rest = buf.strip_prefix(b"#!")?;

    let line = match rest.iter().position(|&b| b == b'\n') {
        Some(newline) => rest.get(..newline)?,
        None => {
            // The interpreter must end inside the buffer (the last byte counts
            // for that, though it is not part of the line).
            let from = rest.iter().position(|&b| !blank(b))?;
            rest.get(from..)?.iter().position(|&b| ends_word(b))?;
            rest.get(..rest.len() - 1)?
        }
    };
    let line = trim_end_blanks(line);

    let from = line.iter().position(|&b| !blank(b))?;
    let word = line.get(from..)?;
    let (name, after) = match word.iter().position(|&b| ends_word(b)) {
        Some(end) => (word.get(..end)?, word.get(end..)?),
        None => (word, &[][..]),
    };
    if name.is_empty() {
        return None;
    }
    // A NUL right after the interpreter ends the line as far as the kernel cares.
    let arg = match after.split_first() {
        Some((&sep, tail)) if sep != 0 => {
            let tail = tail.get(tail.iter().position(|&b| !blank(b)).unwrap_or(tail.len())..)?;
            (!tail.is_empty()).then(|| tail.split(|&b| b == 0).next().unwrap_or_default())
        }
        _ => None,
    };

    Some(Shebang {
        interpreter: String::from_utf8(name.to_vec()).ok()?,
        arg: match arg {
            Some(a) => Some(String::from_utf8(a.to_vec()).ok()?),
            None => None,
        },
    })
}

fn trim_end_blanks(mut s: &[u8]) -> &[u8] {
    while let Some((&last, init)) = s.split_last() {
        if !blank(last) {
            break;
        }
        s = init;
    }
    s
}
