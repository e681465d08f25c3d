//! `--trace` line formatting on arbitrary syscalls: every number (with the
//! table's argument kinds), arbitrary argument registers and results, and
//! guest memory with arbitrary contents behind the pointers. A line comes
//! out, starting with the call's name; never a panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pico_abi::Errno;
use pico_driver::sys::table;
use pico_driver::sys::Args;
use pico_driver::trace::{format_call, GuestMemory};

/// Guest memory: `bytes` at `base`, nothing anywhere else.
struct FakeMemory {
    base: u64,
    bytes: Vec<u8>,
}

impl FakeMemory {
    fn range(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        let end = start.checked_add(len)?;
        self.bytes.get(start..end)
    }
}

impl GuestMemory for FakeMemory {
    fn cstr(&self, addr: u64, max: usize) -> Option<Vec<u8>> {
        let start = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        let rest = self.bytes.get(start..)?;
        let nul = rest.iter().take(max + 1).position(|&b| b == 0)?;
        Some(rest[..nul].to_vec())
    }

    fn bytes(&self, addr: u64, buf: &mut [u8]) -> bool {
        match self.range(addr, buf.len()) {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    nr: u16,
    high: bool,
    /// Per argument: a pointer into the memory (offset) or a raw value.
    args: [(bool, u64); 6],
    result: Option<Result<u64, u16>>,
    base: u32,
    memory: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let base = u64::from(input.base) << 12;
    let mem = FakeMemory {
        base,
        bytes: input.memory,
    };
    let args = Args(input.args.map(|(into_memory, v)| {
        if into_memory && !mem.bytes.is_empty() {
            base + v % mem.bytes.len() as u64
        } else {
            v
        }
    }));
    let nr = (u64::from(input.nr) % 600) | if input.high { 1 << 40 } else { 0 };
    let result = input
        .result
        .map(|r| r.map_err(|e| Errno::from_raw_os_error(i32::from(e))));
    let line = format_call(&mem, nr, table::lookup(nr), &args, result);
    assert!(line.ends_with('\n'), "{line:?}");
    let name = pico_abi::sysno::name(nr).map_or_else(|| format!("syscall_{nr:#x}"), str::to_string);
    assert!(line.starts_with(&format!("{name}(")), "{line:?}");
});
