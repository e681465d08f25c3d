//! The generated files' contents, in Linux's formats (fs/proc/array.c,
//! base.c, task_mmu.c, fd.c).
//!
//! Counters picorun has no better source for (CPU times, RSS, context
//! switches, signal masks) are the host's: the guest's work and memory are
//! the picorun process's. Sizes of the address space and the program's
//! layout come from the guest's mapping record.

use std::borrow::Cow;

use pico_abi::Errno;
use pico_vm::memory::{PROT_EXEC, PROT_READ, PROT_WRITE};
use pico_vm::rangemap::RangeMap;
use pico_vm::Region;

use super::Generated;
use crate::host;
use crate::task::Task;

const PAGE: u64 = 4096;
const O_CLOEXEC: u64 = 0o2000000;
/// Where the name column of a maps line starts (Linux pads to this).
const MAPS_NAME_COLUMN: usize = 72;
/// Most bytes read from guest memory for cmdline or environ.
const MAX_ARGS: u64 = 16 << 20;

pub(super) fn generate(t: &Task, what: Generated) -> Result<Vec<u8>, Errno> {
    match what {
        Generated::Maps => Ok(maps(t.vm.memory().regions(), &Marks::of(t))),
        Generated::Cmdline => Ok(cmdline(t)),
        Generated::Environ => Ok(guest_range(t, t.image.env.0, t.image.env.1)),
        Generated::Auxv => Ok(t
            .image
            .auxv
            .iter()
            .flat_map(|(key, value)| [key.to_le_bytes(), value.to_le_bytes()])
            .flatten()
            .collect()),
        Generated::Stat => stat(t),
        Generated::Status => status(t),
        Generated::Statm => statm(t),
        Generated::FdInfo(fd) => fdinfo(t, fd),
    }
}

/// The addresses that name anonymous mappings `[heap]` and `[stack]`.
pub(super) struct Marks {
    pub brk_start: u64,
    pub brk: u64,
    pub start_stack: u64,
    /// `[start, end)` of the vvar page and of the vDSO, if mapped.
    pub vdso: Option<((u64, u64), (u64, u64))>,
}

impl Marks {
    fn of(t: &Task) -> Marks {
        let mm = t.vm.read();
        Marks {
            brk_start: mm.layout.brk_start,
            brk: mm.layout.brk,
            start_stack: t.image.start_stack,
            vdso: mm.vm.vdso_ranges(),
        }
    }

    /// Linux's rule (`vma_is_initial_heap`, `vma_is_initial_stack`).
    fn name(&self, start: u64, end: u64) -> &'static [u8] {
        let within = |(s, e): (u64, u64)| s <= start && end <= e;
        if let Some((vvar, vdso)) = self.vdso {
            if within(vvar) {
                return b"[vvar]";
            }
            if within(vdso) {
                return b"[vdso]";
            }
        }
        if start < self.brk && end > self.brk_start {
            b"[heap]"
        } else if self.is_stack(start, end) {
            b"[stack]"
        } else {
            b""
        }
    }

    fn is_stack(&self, start: u64, end: u64) -> bool {
        start <= self.start_stack && end >= self.start_stack
    }
}

/// The mappings as Linux would have them as VMAs: adjacent pieces with the
/// same protection, sharing and file (at consecutive offsets) are one.
fn merged(regions: &RangeMap<Region>) -> Vec<(u64, u64, Region)> {
    let mut out: Vec<(u64, u64, Region)> = Vec::new();
    for (start, end, region) in regions.iter() {
        match out.last_mut() {
            Some((_, last_end, last)) if *last_end == start && last == region => *last_end = end,
            _ => out.push((start, end, region.clone())),
        }
    }
    out
}

fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

/// `/proc/self/maps`.
pub(super) fn maps(regions: &RangeMap<Region>, marks: &Marks) -> Vec<u8> {
    let mut out = Vec::new();
    for (start, end, region) in merged(regions) {
        let bit = |b: u32, c: char| if region.prot & b != 0 { c } else { '-' };
        // The vvar page is a memfd to the host, a special mapping to Linux.
        let special = marks.name(start, end) == b"[vvar]";
        let (offset, dev, ino, name): (u64, u64, u64, Cow<'_, [u8]>) = match &region.file {
            Some(f) if !special => (
                f.offset_at(start),
                f.file.dev,
                f.file.ino,
                Cow::Owned(escape_newlines(f.file.path.as_os_str().as_encoded_bytes())),
            ),
            _ => (0, 0, 0, Cow::Borrowed(marks.name(start, end))),
        };
        let mut line = format!(
            "{start:08x}-{end:08x} {}{}{}{} {offset:08x} {:02x}:{:02x} {ino} ",
            bit(PROT_READ, 'r'),
            bit(PROT_WRITE, 'w'),
            bit(PROT_EXEC, 'x'),
            if region.shared && !special { 's' } else { 'p' },
            major(dev),
            minor(dev),
        )
        .into_bytes();
        if !name.is_empty() {
            if line.len() < MAPS_NAME_COLUMN {
                line.resize(MAPS_NAME_COLUMN, b' ');
            }
            line.push(b' ');
            line.extend_from_slice(&name);
        }
        line.push(b'\n');
        out.extend_from_slice(&line);
    }
    out
}

/// A path as maps prints it: a newline becomes `\012`.
fn escape_newlines(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &b in path {
        if b == b'\n' {
            out.extend_from_slice(b"\\012");
        } else {
            out.push(b);
        }
    }
    out
}

/// Address-space sizes in bytes, as Linux counts them for stat, status and
/// statm.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Sizes {
    pub total: u64,
    /// Executable, not writable, not the stack (`exec_vm`).
    pub exec: u64,
    /// Private writable, not the stack (`data_vm`).
    pub data: u64,
    /// The stack mapping (`stack_vm`).
    pub stack: u64,
    /// The program's text (`VmExe`), at most `exec`.
    pub text: u64,
}

pub(super) fn sizes(regions: &RangeMap<Region>, marks: &Marks, code: (u64, u64)) -> Sizes {
    let mut s = Sizes::default();
    for (start, end, region) in merged(regions) {
        let len = end - start;
        s.total += len;
        if marks.is_stack(start, end) {
            s.stack += len;
        } else if region.prot & PROT_EXEC != 0 && region.prot & PROT_WRITE == 0 {
            s.exec += len;
        } else if region.prot & PROT_WRITE != 0 && !region.shared {
            s.data += len;
        }
    }
    let text = code
        .1
        .next_multiple_of(PAGE)
        .saturating_sub(code.0 & !(PAGE - 1));
    s.text = text.min(s.exec);
    s
}

fn task_sizes(t: &Task) -> Sizes {
    sizes(t.vm.memory().regions(), &Marks::of(t), t.image.code)
}

/// Bytes of guest memory `[start, end)`; empty if the guest unmapped them
/// (Linux reads the process's memory, and reads nothing there either).
fn guest_range(t: &Task, start: u64, end: u64) -> Vec<u8> {
    let len = end.saturating_sub(start);
    if len > MAX_ARGS {
        return Vec::new();
    }
    let mut buf = vec![0u8; len as usize];
    match t.read_bytes(start, &mut buf) {
        Ok(()) => buf,
        Err(_) => Vec::new(),
    }
}

/// `/proc/self/cmdline`: the argv strings as they are now in guest memory.
/// A program that overwrote the final NUL (setproctitle) shows one string,
/// which may run on into the environment, as Linux's `get_mm_proctitle`.
fn cmdline(t: &Task) -> Vec<u8> {
    let (start, end) = t.image.args;
    let args = guest_range(t, start, end);
    if args.last().is_none_or(|&b| b == 0) {
        return args;
    }
    let limit = if t.image.env.0 == end {
        t.image.env.1
    } else {
        end
    };
    let mut title = guest_range(t, start, limit.min(start.saturating_add(PAGE)));
    if let Some(nul) = title.iter().position(|&b| b == 0) {
        title.truncate(nul);
    }
    title
}

/// The guest's comm (the host thread's name), without its NULs.
fn comm() -> Result<Vec<u8>, Errno> {
    let name = host::thread_name()?;
    Ok(name.split(|&b| b == 0).next().unwrap_or_default().to_vec())
}

/// `/proc/self/stat`: the host's, with the guest's comm, thread count,
/// size and layout addresses.
fn stat(t: &Task) -> Result<Vec<u8>, Errno> {
    let host = std::fs::read("/proc/self/stat")?;
    let (Some(open), Some(close)) = (
        host.iter().position(|&b| b == b'('),
        host.iter().rposition(|&b| b == b')'),
    ) else {
        return Err(Errno::EIO);
    };
    let tail = String::from_utf8_lossy(host.get(close + 1..).unwrap_or_default()).into_owned();
    // fields[0] is field 3 of proc(5).
    let mut fields: Vec<String> = tail.split_whitespace().map(str::to_owned).collect();
    let sizes = task_sizes(t);
    let image = &t.image;
    for (field, value) in [
        (20, 1),
        (23, sizes.total),
        (26, image.code.0),
        (27, image.code.1),
        (28, image.start_stack),
        (45, image.data.0),
        (46, image.data.1),
        (47, t.vm.read().layout.brk_start),
        (48, image.args.0),
        (49, image.args.1),
        (50, image.env.0),
        (51, image.env.1),
    ] {
        if let Some(slot) = fields.get_mut(field - 3) {
            *slot = value.to_string();
        }
    }
    let mut out = host.get(..open).unwrap_or_default().to_vec();
    out.push(b'(');
    out.extend_from_slice(&comm()?);
    out.extend_from_slice(b") ");
    out.extend_from_slice(fields.join(" ").as_bytes());
    out.push(b'\n');
    Ok(out)
}

/// comm as status prints it: newline and backslash escaped.
fn escape_comm(comm: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in comm {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
    out
}

/// `/proc/self/status`: the host's, with the guest's name, thread count
/// and address-space sizes. picorun does not track the peak size:
/// `VmPeak` is the current size.
fn status(t: &Task) -> Result<Vec<u8>, Errno> {
    let host = std::fs::read("/proc/self/status")?;
    let s = task_sizes(t);
    let kb = |key: &str, bytes: u64| format!("{key}:\t{:>8} kB", bytes >> 10).into_bytes();
    let mut out = Vec::with_capacity(host.len());
    for line in host.split_inclusive(|&b| b == b'\n') {
        let key = line.split(|&b| b == b':').next().unwrap_or_default();
        let replaced = match key {
            b"Name" => Some([&b"Name:\t"[..], &escape_comm(&comm()?)].concat()),
            b"Threads" => Some(b"Threads:\t1".to_vec()),
            b"VmPeak" => Some(kb("VmPeak", s.total)),
            b"VmSize" => Some(kb("VmSize", s.total)),
            b"VmData" => Some(kb("VmData", s.data)),
            b"VmStk" => Some(kb("VmStk", s.stack)),
            b"VmExe" => Some(kb("VmExe", s.text)),
            b"VmLib" => Some(kb("VmLib", s.exec - s.text)),
            _ => None,
        };
        match replaced {
            Some(mut line) => {
                line.push(b'\n');
                out.extend_from_slice(&line);
            }
            None => out.extend_from_slice(line),
        }
    }
    Ok(out)
}

/// `/proc/self/statm`: sizes in pages; resident and shared are the host's.
fn statm(t: &Task) -> Result<Vec<u8>, Errno> {
    let host = std::fs::read_to_string("/proc/self/statm")?;
    let host: Vec<&str> = host.split_whitespace().collect();
    let field = |i: usize| host.get(i).copied().unwrap_or("0");
    let s = task_sizes(t);
    Ok(format!(
        "{} {} {} {} 0 {} 0\n",
        s.total / PAGE,
        field(1),
        field(2),
        s.text / PAGE,
        (s.data + s.stack) / PAGE
    )
    .into_bytes())
}

/// `/proc/self/fdinfo/N`: the host descriptor's, with the guest's
/// close-on-exec flag (host descriptors are always close-on-exec).
fn fdinfo(t: &Task, fd: u64) -> Result<Vec<u8>, Errno> {
    let entry = t.fds.get(fd).map_err(|_| Errno::ENOENT)?;
    let host = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", t.fds.host(fd)?))?;
    let mut out = String::with_capacity(host.len());
    for line in host.split_inclusive('\n') {
        let flags = line
            .strip_prefix("flags:\t")
            .and_then(|v| u64::from_str_radix(v.trim(), 8).ok());
        match flags {
            Some(flags) => {
                let cloexec = if entry.cloexec { O_CLOEXEC } else { 0 };
                out.push_str(&format!("flags:\t0{:o}\n", flags & !O_CLOEXEC | cloexec));
            }
            None => out.push_str(line),
        }
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pico_vm::Memory;

    fn marks() -> Marks {
        Marks {
            brk_start: 0x60_0000,
            brk: 0x60_2000,
            start_stack: 0x7f_f000,
            vdso: None,
        }
    }

    #[test]
    fn maps_lines_look_like_linux() {
        let mut m = Memory::new().unwrap();
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let path = std::fs::read_link("/proc/self/exe").unwrap();
        use std::os::fd::AsFd;
        m.map_file(
            0x40_0000,
            0x3000,
            PROT_READ | PROT_EXEC,
            false,
            file.as_fd(),
            0x1000,
        )
        .unwrap();
        // Split, then restored: shown as one mapping, offsets continuous.
        m.protect(0x40_1000, 0x1000, PROT_READ).unwrap();
        m.protect(0x40_1000, 0x1000, PROT_READ | PROT_EXEC).unwrap();
        m.protect(0x40_2000, 0x1000, PROT_READ).unwrap();
        m.map_anon(0x60_0000, 0x2000, PROT_READ | PROT_WRITE, false)
            .unwrap();
        m.map_anon(0x70_0000, 0x1000, PROT_READ | PROT_WRITE, true)
            .unwrap();
        m.map_anon(0x7f_0000, 0x10000, PROT_READ | PROT_WRITE, false)
            .unwrap();
        let text = String::from_utf8(maps(m.regions(), &marks())).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        let meta = std::fs::metadata(&path).unwrap();
        use std::os::unix::fs::MetadataExt;
        let head = format!(
            "00400000-00402000 r-xp 00001000 {:02x}:{:02x} {} ",
            major(meta.dev()),
            minor(meta.dev()),
            meta.ino()
        );
        assert!(lines[0].starts_with(&head), "{}", lines[0]);
        assert_eq!(lines[0].find('/'), Some(MAPS_NAME_COLUMN + 1));
        assert!(lines[0].ends_with(path.to_str().unwrap()));
        assert!(lines[1].starts_with("00402000-00403000 r--p 00003000 "));
        assert!(lines[2].starts_with("00600000-00602000 rw-p 00000000 00:00 0 "));
        assert_eq!(lines[2].find('['), Some(MAPS_NAME_COLUMN + 1));
        assert!(lines[2].ends_with(" [heap]"));
        assert_eq!(lines[3], "00700000-00701000 rw-s 00000000 00:00 0 ");
        assert!(lines[4].starts_with("007f0000-00800000 rw-p ") && lines[4].ends_with(" [stack]"));
    }

    #[test]
    fn sizes_count_like_linux() {
        let mut m = Memory::new().unwrap();
        m.map_anon(0x40_0000, 0x2000, PROT_READ | PROT_EXEC, false)
            .unwrap();
        m.map_anon(0x50_0000, 0x1000, PROT_READ | PROT_EXEC, false)
            .unwrap();
        m.map_anon(0x60_0000, 0x3000, PROT_READ | PROT_WRITE, false)
            .unwrap();
        m.map_anon(0x70_0000, 0x1000, PROT_READ | PROT_WRITE, true)
            .unwrap();
        m.map_anon(0x7f_0000, 0x10000, PROT_READ | PROT_WRITE, false)
            .unwrap();
        let s = sizes(m.regions(), &marks(), (0x40_0100, 0x40_1800));
        assert_eq!(
            s,
            Sizes {
                total: 0x17000,
                exec: 0x3000,
                data: 0x3000,
                stack: 0x10000,
                text: 0x2000,
            }
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_comm(b"a\nb\\c"), b"a\\nb\\\\c");
        assert_eq!(escape_newlines(b"/tmp/a\nb"), b"/tmp/a\\012b");
        assert_eq!((major(0xfe00), minor(0xfe00)), (0xfe, 0));
        // makedev(8, 0x1234): minor bits above 8 sit at bit 20.
        assert_eq!((major(0x120_0834), minor(0x120_0834)), (8, 0x1234));
    }
}
