//! The initial process stack as Linux builds it for an ELF program (System V
//! x86-64 ABI §3.4.1 plus Linux's placement of the strings). Pure: it returns
//! the bytes for `[sp, stack_top)`; the caller copies them into the guest.
//!
//! From `stack_top` down:
//!
//! ```text
//!   8 zero bytes                 (Linux keeps a NULL word at the very top)
//!   execfn string                (AT_EXECFN)
//!   envp strings, argv strings   (envp[0] below envp[1] …; argv[0] lowest)
//!   padding to 16
//!   platform string              (AT_PLATFORM)
//!   16 random bytes              (AT_RANDOM)
//!   padding, so that sp ends up 16-byte aligned
//!   auxv pairs … AT_NULL
//!   envp pointers, NULL
//!   argv pointers, NULL
//!   argc                         <- sp
//! ```
//!
//! Strings are written as given plus a NUL; a string holding a NUL byte is
//! seen by the program cut at that byte, as a C string would be.

#[cfg(test)]
mod tests;

/// Auxiliary vector keys (`<linux/auxvec.h>`, `<asm/auxvec.h>`).
pub mod at {
    pub const AT_NULL: u64 = 0;
    pub const AT_PHDR: u64 = 3;
    pub const AT_PHENT: u64 = 4;
    pub const AT_PHNUM: u64 = 5;
    pub const AT_PAGESZ: u64 = 6;
    pub const AT_BASE: u64 = 7;
    pub const AT_FLAGS: u64 = 8;
    pub const AT_ENTRY: u64 = 9;
    pub const AT_UID: u64 = 11;
    pub const AT_EUID: u64 = 12;
    pub const AT_GID: u64 = 13;
    pub const AT_EGID: u64 = 14;
    pub const AT_PLATFORM: u64 = 15;
    pub const AT_HWCAP: u64 = 16;
    pub const AT_CLKTCK: u64 = 17;
    pub const AT_SECURE: u64 = 23;
    pub const AT_BASE_PLATFORM: u64 = 24;
    pub const AT_RANDOM: u64 = 25;
    pub const AT_HWCAP2: u64 = 26;
    pub const AT_EXECFN: u64 = 31;
    pub const AT_SYSINFO_EHDR: u64 = 33;
    pub const AT_MINSIGSTKSZ: u64 = 51;
}

use at::{AT_EXECFN, AT_NULL, AT_PLATFORM, AT_RANDOM};

/// Most bytes the whole image may take: a quarter of the default 8 MiB stack
/// rlimit, the budget Linux gives argv + envp (execve fails with E2BIG past it).
pub const MAX_STACK_IMAGE: u64 = (8 << 20) / 4;

/// Longest single argv/envp string, NUL included (Linux's MAX_ARG_STRLEN).
pub const MAX_ARG_STRLEN: u64 = 32 * 4096;

/// What goes on the initial stack.
pub struct StackSpec<'a> {
    /// Highest address (exclusive); 16-aligned (rounded down if not).
    pub stack_top: u64,
    /// Arguments, without NULs.
    pub argv: &'a [Vec<u8>],
    /// Environment strings (`NAME=value`), without NULs.
    pub envp: &'a [Vec<u8>],
    /// AT_EXECFN: the path as given to execve.
    pub execfn: &'a [u8],
    /// AT_PLATFORM: `x86_64`.
    pub platform: &'a [u8],
    /// AT_RANDOM bytes (glibc seeds its stack protector and pointer guard from them).
    pub random: [u8; 16],
    /// The caller's auxv entries, in order; AT_RANDOM, AT_EXECFN,
    /// AT_PLATFORM and AT_NULL are appended here.
    pub auxv: &'a [(u64, u64)],
}

/// The built stack and where its parts are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackImage {
    /// Initial rsp: points at argc; 16-byte aligned.
    pub sp: u64,
    /// Contents of `[sp, stack_top)`.
    pub bytes: Vec<u8>,
    pub argv_addr: u64,
    pub envp_addr: u64,
    pub auxv_addr: u64,
    /// `[start, end)` of the argv strings and of the envp strings (with their
    /// NULs): the kernel's `arg_start`/`env_start`, for /proc/self/cmdline
    /// and /proc/self/environ.
    pub args: (u64, u64),
    pub env: (u64, u64),
    pub execfn_addr: u64,
    pub platform_addr: u64,
    pub random_addr: u64,
}

/// Why no stack could be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackError {
    /// More than [`MAX_STACK_IMAGE`] in all, a string longer than
    /// [`MAX_ARG_STRLEN`], or more than fits below `stack_top`: E2BIG.
    TooLarge,
}

impl std::fmt::Display for StackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StackError::TooLarge => f.write_str("argument list too long"),
        }
    }
}

impl std::error::Error for StackError {}

/// Builds the initial stack for `spec`.
pub fn build_stack(spec: &StackSpec) -> Result<StackImage, StackError> {
    let strings_too_long = spec
        .argv
        .iter()
        .chain(spec.envp)
        .any(|s| s.len() as u64 >= MAX_ARG_STRLEN);
    if strings_too_long {
        return Err(StackError::TooLarge);
    }
    let top = spec.stack_top & !15;
    let mut down = Down::new(top);
    down.reserve(8)?;
    let execfn_addr = down.string(spec.execfn)?;
    let env_end = down.at;
    let env_ptrs = down.strings(spec.envp)?;
    let args_end = down.at;
    let arg_ptrs = down.strings(spec.argv)?;
    let args_start = down.at;
    down.align16();
    let platform_addr = down.string(spec.platform)?;
    let random_addr = down.reserve(16)?;

    // Words from sp up: argc, argv + NULL, envp + NULL, auxv + 3 added + AT_NULL.
    let mut words: Vec<u64> = Vec::new();
    words.push(spec.argv.len() as u64);
    words.extend(&arg_ptrs);
    words.push(0);
    words.extend(&env_ptrs);
    words.push(0);
    let added = [
        (AT_RANDOM, random_addr),
        (AT_EXECFN, execfn_addr),
        (AT_PLATFORM, platform_addr),
        (AT_NULL, 0),
    ];
    for (key, value) in spec.auxv.iter().chain(&added) {
        words.push(*key);
        words.push(*value);
    }
    let table_len = u64::try_from(words.len())
        .ok()
        .and_then(|n| n.checked_mul(8))
        .ok_or(StackError::TooLarge)?;
    down.reserve(table_len)?;
    down.align16();
    let sp = down.at;
    if top - sp > MAX_STACK_IMAGE {
        return Err(StackError::TooLarge);
    }

    let mut image = Image::new(sp, top)?;
    image.put(execfn_addr, spec.execfn);
    for (addr, s) in env_ptrs
        .iter()
        .zip(spec.envp)
        .chain(arg_ptrs.iter().zip(spec.argv))
    {
        image.put(*addr, s);
    }
    image.put(platform_addr, spec.platform);
    image.put(random_addr, &spec.random);
    for (i, word) in (0u64..).zip(&words) {
        image.put(sp + 8 * i, &word.to_le_bytes());
    }

    let argv_addr = sp + 8;
    let envp_addr = argv_addr + 8 * (arg_ptrs.len() as u64 + 1);
    let auxv_addr = envp_addr + 8 * (env_ptrs.len() as u64 + 1);
    Ok(StackImage {
        sp,
        bytes: image.bytes,
        argv_addr,
        envp_addr,
        auxv_addr,
        args: (args_start, args_end),
        env: (args_end, env_end),
        execfn_addr,
        platform_addr,
        random_addr,
    })
}

/// Hands out space downwards from the top, enforcing the size limit as it goes.
struct Down {
    top: u64,
    at: u64,
}

impl Down {
    fn new(top: u64) -> Down {
        Down { top, at: top }
    }

    /// Moves down `len` bytes and returns the new (lowest) address.
    fn reserve(&mut self, len: u64) -> Result<u64, StackError> {
        let at = self.at.checked_sub(len).ok_or(StackError::TooLarge)?;
        if self.top - at > MAX_STACK_IMAGE {
            return Err(StackError::TooLarge);
        }
        self.at = at;
        Ok(at)
    }

    /// Room for `s` and its NUL.
    fn string(&mut self, s: &[u8]) -> Result<u64, StackError> {
        let len = u64::try_from(s.len()).map_err(|_| StackError::TooLarge)?;
        self.reserve(len.checked_add(1).ok_or(StackError::TooLarge)?)
    }

    /// Room for each string, the last one highest, as Linux's copy_strings
    /// does; returns their addresses in the given order.
    fn strings(&mut self, list: &[Vec<u8>]) -> Result<Vec<u64>, StackError> {
        let mut addrs = vec![0; list.len()];
        for (addr, s) in addrs.iter_mut().zip(list).rev() {
            *addr = self.string(s)?;
        }
        Ok(addrs)
    }

    /// Rounds down to 16 bytes (the caller rechecks the limit at the end).
    fn align16(&mut self) {
        self.at &= !15;
    }
}

/// The bytes of `[sp, top)`, zero-initialised so NULs and padding come free.
struct Image {
    sp: u64,
    bytes: Vec<u8>,
}

impl Image {
    fn new(sp: u64, top: u64) -> Result<Image, StackError> {
        let len = usize::try_from(top - sp).map_err(|_| StackError::TooLarge)?;
        Ok(Image {
            sp,
            bytes: vec![0; len],
        })
    }

    /// Copies `data` to guest address `addr`. Every address handed out by
    /// `Down` lies in `[sp, top)`, so the range check never fails; it is there
    /// so that a mistake here would lose bytes (and fail the tests), not panic.
    fn put(&mut self, addr: u64, data: &[u8]) {
        let dest = usize::try_from(addr.wrapping_sub(self.sp))
            .ok()
            .and_then(|start| Some(start..start.checked_add(data.len())?))
            .and_then(|range| self.bytes.get_mut(range));
        debug_assert!(dest.is_some(), "stack write outside the image");
        if let Some(dest) = dest {
            dest.copy_from_slice(data);
        }
    }
}
