//! ELF auxiliary vector keys (`AT_*` in `linux/auxvec.h` and x86-64's
//! `asm/auxvec.h`).
//!
//! The loader writes these pairs above `envp` on the initial stack, and the
//! guest's dynamic linker and libc read them to find the program headers,
//! the vDSO and the random bytes for the stack protector. Not to be
//! confused with the `AT_*` path flags in [`crate::flags`].

macro_rules! keys {
    ($($name:ident = $num:literal, $doc:literal;)*) => {
        $(
            #[doc = $doc]
            pub const $name: u64 = $num;
        )*

        /// The name of auxiliary vector key `key`, such as `"AT_PHDR"`;
        /// `"AT_?"` when unknown.
        pub fn name(key: u64) -> &'static str {
            match key {
                $($num => stringify!($name),)*
                _ => "AT_?",
            }
        }
    };
}

keys! {
    AT_NULL = 0, "End of the vector.";
    AT_IGNORE = 1, "Entry to ignore.";
    AT_EXECFD = 2, "File descriptor of the program (binfmt_misc).";
    AT_PHDR = 3, "Address of the program headers.";
    AT_PHENT = 4, "Size of one program header.";
    AT_PHNUM = 5, "Number of program headers.";
    AT_PAGESZ = 6, "Page size.";
    AT_BASE = 7, "Load address of the interpreter.";
    AT_FLAGS = 8, "Flags (unused, 0).";
    AT_ENTRY = 9, "Entry point of the program.";
    AT_NOTELF = 10, "The program is not ELF.";
    AT_UID = 11, "Real user id.";
    AT_EUID = 12, "Effective user id.";
    AT_GID = 13, "Real group id.";
    AT_EGID = 14, "Effective group id.";
    AT_PLATFORM = 15, "Address of the platform string (`\"x86_64\"`).";
    AT_HWCAP = 16, "CPU capability bits (CPUID leaf 1 EDX on x86).";
    AT_CLKTCK = 17, "Frequency of `times(2)` ticks.";
    AT_SECURE = 23, "Nonzero for a setuid/setgid exec: libc then ignores `LD_*`.";
    AT_BASE_PLATFORM = 24, "Address of the real platform string.";
    AT_RANDOM = 25, "Address of 16 random bytes.";
    AT_HWCAP2 = 26, "More CPU capability bits.";
    AT_RSEQ_FEATURE_SIZE = 27, "Supported size of `struct rseq`.";
    AT_RSEQ_ALIGN = 28, "Required alignment of `struct rseq`.";
    AT_HWCAP3 = 29, "Yet more CPU capability bits.";
    AT_HWCAP4 = 30, "Yet more CPU capability bits.";
    AT_EXECFN = 31, "Address of the executed file name.";
    AT_SYSINFO = 32, "Syscall entry point (32-bit x86 only).";
    AT_SYSINFO_EHDR = 33, "Address of the vDSO's ELF header.";
    AT_MINSIGSTKSZ = 51, "Minimal signal stack size for this CPU's state.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(AT_PHDR, 3);
        assert_eq!(AT_PAGESZ, 6);
        assert_eq!(AT_ENTRY, 9);
        assert_eq!(AT_SECURE, 23);
        assert_eq!(AT_RANDOM, 25);
        assert_eq!(AT_EXECFN, 31);
        assert_eq!(AT_SYSINFO_EHDR, 33);
        assert_eq!(AT_MINSIGSTKSZ, 51);
    }

    #[test]
    fn names() {
        assert_eq!(name(AT_NULL), "AT_NULL");
        assert_eq!(name(3), "AT_PHDR");
        assert_eq!(name(25), "AT_RANDOM");
        assert_eq!(name(33), "AT_SYSINFO_EHDR");
        assert_eq!(name(18), "AT_?");
        assert_eq!(name(1000), "AT_?");
    }
}
