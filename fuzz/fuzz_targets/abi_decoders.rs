//! Every pico-abi decoder on arbitrary 64-bit values: a non-empty string,
//! never a panic (the tracer prints whatever the guest passed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pico_abi::{flags, signal, sysno, Errno};

fuzz_target!(|data: &[u8]| {
    // 32 values an input: longer ones only slow the fuzzer down.
    for chunk in data.chunks(8).take(32) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        let v = u64::from_le_bytes(w);
        let decoded = [
            flags::clone_flags(v),
            flags::clone3_flags(v),
            flags::epoll_ctl_op(v),
            flags::epoll_create_flags(v),
            flags::eventfd_flags(v),
            flags::timerfd_create_flags(v),
            flags::timerfd_settime_flags(v),
            flags::open_flags(v),
            flags::dirfd(v as i64),
            flags::at_flags(v),
            flags::faccessat_flags(v),
            flags::statx_flags(v),
            flags::mode(v),
            flags::access_mode(v),
            flags::whence(v),
            flags::fcntl_cmd(v),
            flags::renameat2_flags(v),
            flags::statx_mask(v),
            flags::ioctl_request(v),
            flags::prot(v),
            flags::map_flags(v),
            flags::mremap_flags(v),
            flags::madvise_advice(v),
            flags::msync_flags(v),
            flags::signal_name(v),
            flags::sigset(v),
            flags::sigprocmask_how(v),
            flags::sa_flags(v),
            flags::socket_family(v),
            flags::socket_type(v),
            flags::msg_flags(v),
            flags::shutdown_how(v),
            flags::sockopt_level(v),
            flags::clock_id(v),
            flags::arch_prctl_code(v),
            flags::prctl_option(v),
            flags::rlimit_resource(v),
            flags::futex_op(v),
            flags::getrandom_flags(v),
            flags::wait_options(v),
        ];
        for text in &decoded {
            assert!(!text.is_empty(), "empty decoding of {v:#x}");
        }
        if let Some(name) = sysno::name(v) {
            assert_eq!(sysno::number(name), Some(v));
        }
        if let Some(e) = Errno::from_rax(v) {
            assert_eq!(e.to_rax(), v);
            let _ = (e.name(), e.description(), e.is_restart());
        }
        let raw = Errno::from_raw_os_error(v as i32);
        assert!(Errno::from_rax(raw.to_rax()).is_some());
        let _ = signal::default_action(v as u32);
        let _ = signal::sig_bit(v as u32);
    }
});
