//! What the benchmarks share: reading criterion's results back to print
//! ratios measured in the same run, building the C guests, and the raw
//! VM-exit floor.

use std::path::Path;

use pico_vm::memory::{PROT_EXEC, PROT_READ, PROT_WRITE};
use pico_vm::{Exit, Vcpu, Vm};

/// Criterion's median estimate (ns) for benchmark `id` (its directory name
/// under target/criterion), from the report it just wrote.
#[allow(dead_code)] // Each bench uses part of this module.
pub fn median_ns(id: &str) -> Option<f64> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/criterion")
        .join(id)
        .join("new/estimates.json");
    let json = std::fs::read_to_string(path).ok()?;
    let median = &json[json.find("\"median\"")?..];
    let value = &median[median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    value[..value.find([',', '}'])?].trim().parse().ok()
}

/// Compiles `benches/guests/{name}.c` with gcc and `flags` into
/// target/bench-guests/{name}.
#[allow(dead_code)] // Each bench uses part of this module.
pub fn build_guest(name: &str, flags: &[&str]) -> std::path::PathBuf {
    build_guest_as(name, name, flags)
}

/// Like [`build_guest`], into target/bench-guests/{out_name} (one source
/// built several ways).
#[allow(dead_code)] // Each bench uses part of this module.
pub fn build_guest_as(name: &str, out_name: &str, flags: &[&str]) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("benches/guests").join(format!("{name}.c"));
    let out = root.join("target/bench-guests").join(out_name);
    std::fs::create_dir_all(out.parent().expect("has a parent")).expect("target dir is writable");
    let status = std::process::Command::new("gcc")
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .expect("gcc is needed for the benchmark guests (apt-get install gcc)");
    assert!(status.success(), "building {}", src.display());
    out
}

/// The `picorun` binary cargo built for this benchmark (the same profile).
#[allow(dead_code)] // Each bench uses part of this module.
pub fn picorun_exe() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_picorun"))
}

/// A pico process running `program`, ready for `run_for`.
#[allow(dead_code)] // Each bench uses part of this module.
pub fn start_guest(program: &Path) -> picorun::Process {
    let config = picorun::Config {
        program: program.to_path_buf(),
        args: vec![program.into()],
        ..Default::default()
    };
    picorun::Process::new(&config).expect("start the guest")
}

/// The raw VM-exit floor: a minimal guest looping on `syscall` (getppid's
/// number, never serviced) through the same trampoline, exit and
/// host-completed return that picorun uses, and nothing else.
#[allow(dead_code)] // Each bench uses part of this module.
pub struct FloorGuest {
    // Field order is drop order: the vCPU goes before its VM.
    vcpu: Vcpu,
    vm: Vm,
}

/// Where the floor guest has a buffer the host can read a file into.
const FLOOR_BUFFER: u64 = 0x100_0000;
/// Its size: the chunk of `micro.c`'s `read` benchmark.
pub const FLOOR_BUFFER_LEN: usize = 64 << 10;

/// `mov eax, 110; syscall; jmp back`.
const FLOOR_LOOP: [u8; 9] = [0xb8, 110, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7];

#[allow(dead_code)] // Each bench uses part of this module.
impl FloorGuest {
    pub fn new() -> FloorGuest {
        let mut vm = Vm::new().expect("KVM");
        let code = 0x40_0000;
        vm.map_anon(code, 0x1000, PROT_READ | PROT_WRITE, false)
            .unwrap();
        vm.memory().write(code, &FLOOR_LOOP).unwrap();
        vm.protect(code, 0x1000, PROT_READ | PROT_EXEC).unwrap();
        vm.map_anon(0x80_0000, 0x1000, PROT_READ | PROT_WRITE, false)
            .unwrap();
        vm.map_anon(
            FLOOR_BUFFER,
            FLOOR_BUFFER_LEN as u64,
            PROT_READ | PROT_WRITE,
            false,
        )
        .unwrap();
        let vcpu = vm.create_vcpu(0, code, 0x80_1000).unwrap();
        FloorGuest { vcpu, vm }
    }

    /// One `syscall` → VM exit → return to the guest.
    pub fn round_trip(&mut self) {
        let exit = self.vcpu.run().unwrap();
        assert_eq!(exit, Exit::Syscall);
        self.vcpu.finish_syscall(0).unwrap();
    }

    /// One round trip whose exit the host serves by reading up to
    /// [`FLOOR_BUFFER_LEN`] bytes of `fd` straight into guest memory, as
    /// picorun serves a guest's `read`, with none of picorun's own code:
    /// the exit plus a native read. Returns what `read` returned.
    pub fn round_trip_reading(&mut self, fd: std::os::fd::RawFd) -> isize {
        let exit = self.vcpu.run().unwrap();
        assert_eq!(exit, Exit::Syscall);
        let buffer = self.vm.memory().host_base() + FLOOR_BUFFER;
        // SAFETY: the guest range [FLOOR_BUFFER, +FLOOR_BUFFER_LEN) was
        // mapped read-write in `new` and stays mapped while `self.vm`
        // lives; the host mapping is plain memory the kernel may write.
        let got = unsafe { libc::read(fd, buffer as *mut libc::c_void, FLOOR_BUFFER_LEN) };
        self.vcpu.finish_syscall(got as u64).unwrap();
        got
    }
}
