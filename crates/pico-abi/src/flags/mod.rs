//! Flag and enum constants, and decoders that print them as strace does.
//!
//! The driver needs the constants to interpret arguments; `--trace` needs
//! the same values as text. Each decoder is a table of `(value, name)` in
//! strace's print order plus one of two helpers, [`bits`] for flag sets and
//! [`one_of`] for enumerations, so adding a flag is adding a line.
//!
//! Decoders never fail: bits or values they do not know are printed in hex
//! (`O_RDONLY|0x40000000`), because a tracer that hides an argument is
//! worse than one that prints it raw. Arguments are taken as the full
//! 64-bit register; only [`dirfd`] narrows to `int`, as the kernel does,
//! because glibc may pass `AT_FDCWD` without sign extension.

/// Builds a decoder table. An identifier stands for the constant of that
/// name, printed as its own name; `(value, "label")` is an entry with no
/// constant of its own.
macro_rules! table {
    (@entry $name:ident) => {
        ($name, stringify!($name))
    };
    (@entry ($value:expr, $label:literal)) => {
        ($value, $label)
    };
    ($($entry:tt),* $(,)?) => {
        &[$(table!(@entry $entry)),*]
    };
}

mod clone;
mod event;
mod file;
mod ioctl;
mod mm;
mod sig;
mod sock;
mod task;

pub use self::clone::*;
pub use self::event::*;
pub use self::file::*;
pub use self::ioctl::*;
pub use self::mm::*;
pub use self::sig::*;
pub use self::sock::*;
pub use self::task::*;

/// A decoder table: each value or bit group with the name strace prints.
pub type Table = &'static [(u64, &'static str)];

/// Prints a flag set: the names of the table entries whose bits are all
/// set, in table order, then any bits left over in hex; `"0"` when
/// `value` is 0. Multi-bit entries must come before their parts.
pub fn bits(value: u64, table: &[(u64, &str)]) -> String {
    let mut out = String::new();
    append_bits(&mut out, value, table);
    if out.is_empty() {
        out.push('0');
    }
    out
}

/// Prints an enumeration value: its name, or hex when unknown.
pub fn one_of(value: u64, table: &[(u64, &str)]) -> String {
    match lookup(value, table) {
        Some(name) => name.to_owned(),
        None => hex(value),
    }
}

/// The name of `value` in an enumeration table.
fn lookup<'a>(value: u64, table: &[(u64, &'a str)]) -> Option<&'a str> {
    table
        .iter()
        .find(|&&(v, _)| v == value)
        .map(|&(_, name)| name)
}

/// Appends the flag names of `value` (and leftover hex) to `out`, joined
/// with `|`; appends nothing when `value` is 0.
fn append_bits(out: &mut String, value: u64, table: &[(u64, &str)]) {
    let mut rest = value;
    for &(mask, name) in table {
        if mask != 0 && rest & mask == mask {
            push_part(out, name);
            rest &= !mask;
        }
    }
    if rest != 0 {
        push_part(out, &hex(rest));
    }
}

/// Appends one `|`-separated part.
fn push_part(out: &mut String, part: &str) {
    if !out.is_empty() {
        out.push('|');
    }
    out.push_str(part);
}

/// strace's hex: `0x1f`, and plain `0` for zero.
fn hex(value: u64) -> String {
    if value == 0 {
        "0".to_owned()
    } else {
        format!("{value:#x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Table = &[(0b110, "BOTH"), (0b010, "TWO"), (0b100, "FOUR"), (1, "ONE")];

    #[test]
    fn bits_orders_and_leftovers() {
        assert_eq!(bits(0, T), "0");
        assert_eq!(bits(1, T), "ONE");
        assert_eq!(bits(0b111, T), "BOTH|ONE");
        assert_eq!(bits(0b011, T), "TWO|ONE");
        assert_eq!(bits(0b1_0100, T), "FOUR|0x10");
        assert_eq!(bits(0x100, T), "0x100");
    }

    #[test]
    fn one_of_names_or_hex() {
        assert_eq!(one_of(1, T), "ONE");
        assert_eq!(one_of(0b110, T), "BOTH");
        assert_eq!(one_of(7, T), "0x7");
        assert_eq!(one_of(0, T), "0");
    }
}
