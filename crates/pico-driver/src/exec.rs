//! Loading a program into a fresh pico process: the ELF load plan
//! (pico-loader) carried out with zero-copy file mappings, the initial
//! stack, and the registers to start at.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use pico_abi::{auxv, Errno};
use pico_loader::{build_stack, ElfKind, LoadError, MapStep, Prot, StackSpec};
use pico_vm::Vm;

use crate::mm::{Layout, MMAP_MIN, MMAP_TOP, PIE_BASE, STACK_SIZE, STACK_TOP};

/// Why a program could not be started.
#[derive(Debug)]
pub enum ExecError {
    /// The file does not exist (the CLI's exit 127).
    NotFound(PathBuf),
    /// The file exists but cannot be run (exit 126).
    NotExecutable(PathBuf, String, Errno),
    /// picorun itself could not set up the VM (exit 125).
    Vm(pico_vm::VmError),
    /// The filesystem policy cannot be set up (`--root` missing, a bind
    /// that is no directory): exit 125.
    Policy(String),
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::NotFound(p) => write!(f, "{}: not found", p.display()),
            ExecError::NotExecutable(p, why, _) => write!(f, "{}: {why}", p.display()),
            ExecError::Vm(e) => write!(f, "{e}"),
            ExecError::Policy(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for ExecError {}

/// Where a loaded program starts.
pub struct Loaded {
    pub entry: u64,
    pub stack_pointer: u64,
    pub layout: Layout,
    /// The ELF file that was loaded (a script's interpreter).
    pub exe: PathBuf,
    pub image: Image,
}

/// What Linux keeps in `mm_struct` about the loaded program, for
/// `/proc/self/{cmdline,environ,auxv,stat,status}`.
#[derive(Clone, Debug, Default)]
pub struct Image {
    /// `[start, end)` of the argv strings and of the envp strings in guest
    /// memory: cmdline and environ are read from there, as Linux reads them.
    pub args: (u64, u64),
    pub env: (u64, u64),
    /// The auxiliary vector as written to the stack, AT_NULL included.
    pub auxv: Vec<(u64, u64)>,
    /// The initial stack pointer (`start_stack`: names the `[stack]` mapping).
    pub start_stack: u64,
    /// `[start_code, end_code)` and `[start_data, end_data)` of the program.
    pub code: (u64, u64),
    pub data: (u64, u64),
}

impl Image {
    /// Code and data bounds the way Linux's ELF loader computes them: code
    /// from the executable segments, data up to the highest file byte.
    fn bounds(plan: &pico_loader::LoadPlan, bias: u64) -> ((u64, u64), (u64, u64)) {
        let (mut start_code, mut end_code) = (u64::MAX, 0);
        let (mut start_data, mut end_data) = (0, 0);
        for seg in &plan.segments {
            let file_end = seg.vaddr.wrapping_add(seg.filesz);
            if seg.prot.exec {
                start_code = start_code.min(seg.vaddr);
                end_code = end_code.max(file_end);
            }
            start_data = start_data.max(seg.vaddr);
            end_data = end_data.max(file_end);
        }
        if start_code == u64::MAX {
            start_code = 0;
        }
        let at = |(a, b): (u64, u64)| (bias.wrapping_add(a), bias.wrapping_add(b));
        (at((start_code, end_code)), at((start_data, end_data)))
    }
}

/// The auxiliary vector in a built stack, AT_NULL included.
fn saved_auxv(image: &pico_loader::StackImage) -> Vec<(u64, u64)> {
    let from = image.auxv_addr.wrapping_sub(image.sp) as usize;
    let words = image.bytes.get(from..).unwrap_or_default();
    let mut out = Vec::new();
    for pair in words.chunks_exact(16) {
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&pair[i..i + 8]);
            u64::from_le_bytes(b)
        };
        out.push((word(0), word(8)));
        if word(0) == auxv::AT_NULL {
            break;
        }
    }
    out
}

fn prot(p: Prot) -> u32 {
    p.to_linux() as u32
}

fn not_exec(path: &Path, why: impl fmt::Display) -> ExecError {
    failed(path, why, Errno::ENOEXEC)
}

fn failed(path: &Path, why: impl fmt::Display, errno: Errno) -> ExecError {
    ExecError::NotExecutable(path.to_path_buf(), why.to_string(), errno)
}

impl ExecError {
    /// The errno execve(2) reports for this failure.
    pub fn errno(&self) -> Errno {
        match self {
            ExecError::NotFound(_) => Errno::ENOENT,
            ExecError::NotExecutable(_, _, errno) => *errno,
            ExecError::Vm(_) => Errno::ENOMEM,
            ExecError::Policy(_) => Errno::EACCES,
        }
    }
}

/// How many `#!` interpreters may chain (Linux allows 4 rewrites).
const MAX_SCRIPT_DEPTH: u32 = 4;

/// Reads and checks `path`, maps it into `vm`, builds the stack. A `#!`
/// script runs its interpreter, with argv rewritten like the kernel's
/// binfmt_script: interpreter, its optional argument, the script path, then
/// the script's arguments after argv[0].
///
/// Under `--root` ([`crate::rootfs`]) `path` and every interpreter are
/// guest paths, looked up inside the guest's root.
pub fn load(
    vm: &mut Vm,
    path: &Path,
    argv: &[OsString],
    envp: &[OsString],
) -> Result<Loaded, ExecError> {
    load_from(vm, path, false, argv, envp)
}

/// [`load`], where `host_path` says that `path` is a host path picorun
/// made itself (the guest's own descriptor as `/proc/self/fd/N`, its
/// program), even under `--root`; interpreters are still the guest's.
pub fn load_from(
    vm: &mut Vm,
    path: &Path,
    host_path: bool,
    argv: &[OsString],
    envp: &[OsString],
) -> Result<Loaded, ExecError> {
    let mut path = path.to_path_buf();
    let mut argv = argv.to_vec();
    let mut host = host_path;
    for _ in 0..=MAX_SCRIPT_DEPTH {
        let bytes = read_program(&path, host)?;
        host = false;
        let Some(script) = pico_loader::parse_shebang(&bytes.head) else {
            return load_elf(vm, &path, &bytes, &argv, envp);
        };
        let mut rewritten = vec![OsString::from(&script.interpreter)];
        rewritten.extend(script.arg.map(OsString::from));
        rewritten.push(path.clone().into_os_string());
        rewritten.extend(argv.iter().skip(1).cloned());
        argv = rewritten;
        path = PathBuf::from(script.interpreter);
    }
    Err(failed(
        &path,
        "too many levels of #! interpreters",
        Errno::ELOOP,
    ))
}

/// How much of a program is read to find its headers: loading needs only
/// them (the segments are mapped from the file), and reading whole
/// binaries (python3 is 6 MB) would cost milliseconds per exec.
const HEAD: u64 = 64 << 10;

/// The start of a program file and its length.
struct Program {
    head: Vec<u8>,
    len: u64,
    /// The open file: mapped from, never opened again by name.
    file: File,
    /// Its host path (for `/proc/self/exe`).
    host: PathBuf,
}

/// Opens a program file: under `--root` a guest path unless `host_path`.
fn open_program(path: &Path, host_path: bool) -> std::io::Result<(File, PathBuf)> {
    match crate::rootfs::get() {
        Some(ns) if !host_path => {
            let file = crate::rootfs::open_program(ns, path)?;
            use std::os::fd::AsRawFd;
            let host = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
            Ok((file, host))
        }
        _ => Ok((File::open(path)?, path.to_path_buf())),
    }
}

/// The program's first bytes, or why it cannot be read.
fn read_program(path: &Path, host_path: bool) -> Result<Program, ExecError> {
    use std::io::Read;
    let io_errno = |e: &std::io::Error| {
        e.raw_os_error()
            .map_or(Errno::EIO, Errno::from_raw_os_error)
    };
    let (file, host) = open_program(path, host_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ExecError::NotFound(path.to_path_buf()),
        _ => failed(
            path,
            &e,
            e.raw_os_error()
                .map_or(Errno::EACCES, Errno::from_raw_os_error),
        ),
    })?;
    let meta = file
        .metadata()
        .map_err(|e| failed(path, &e, io_errno(&e)))?;
    if meta.is_dir() {
        return Err(failed(path, "is a directory", Errno::EACCES));
    }
    let mut head = Vec::with_capacity(meta.len().min(HEAD) as usize);
    (&file)
        .take(HEAD)
        .read_to_end(&mut head)
        .map_err(|e| failed(path, &e, io_errno(&e)))?;
    Ok(Program {
        len: meta.len().max(head.len() as u64),
        head,
        file,
        host,
    })
}

/// An ELF image mapped into the guest.
struct Mapped {
    plan: pico_loader::LoadPlan,
    bias: u64,
}

/// Where an image goes: ET_EXEC where it says; a PIE at `PIE_BASE`; an
/// interpreter (`PlaceAt::MmapArea`) in the highest free gap, as Linux puts
/// ld.so among the mmap area.
enum PlaceAt {
    Program,
    MmapArea,
}

fn parse(path: &Path, program: &Program) -> Result<pico_loader::LoadPlan, ExecError> {
    let parsed = match pico_loader::parse_prefix(&program.head, program.len) {
        // Headers past the first HEAD bytes (unusual, but valid): all of it.
        Err(LoadError::NeedsMore(_)) => {
            use std::io::{Read, Seek};
            let mut all = Vec::new();
            let mut file = &program.file;
            file.rewind()
                .and_then(|_| file.read_to_end(&mut all))
                .map_err(|e| failed(path, &e, Errno::EIO))?;
            pico_loader::parse(&all)
        }
        other => other,
    };
    parsed.map_err(|e| match e {
        LoadError::NotElf => not_exec(path, "not an ELF executable (cannot execute binary file)"),
        other => not_exec(path, other),
    })
}

/// Maps `plan` from `path` into the guest: zero-copy private file
/// mappings, the BSS head zeroed, anonymous memory for the rest.
fn map_image(
    vm: &mut Vm,
    path: &Path,
    file: &File,
    plan: pico_loader::LoadPlan,
    at: PlaceAt,
) -> Result<Mapped, ExecError> {
    let bias = match (plan.kind, at) {
        (ElfKind::Exec, _) => 0,
        (ElfKind::Dyn, PlaceAt::Program) => PIE_BASE.wrapping_sub(plan.span.0),
        (ElfKind::Dyn, PlaceAt::MmapArea) => {
            let base = vm
                .memory()
                .regions()
                .find_gap_below(plan.span_len(), MMAP_MIN, MMAP_TOP, 2 << 20)
                .ok_or_else(|| not_exec(path, "no room for the interpreter"))?;
            base.wrapping_sub(plan.span.0)
        }
    };
    let map_err =
        |e: std::io::Error| failed(path, format!("cannot map segment: {e}"), Errno::ENOMEM);
    let mut finals = Vec::new();
    for step in plan.map_steps(bias) {
        match step {
            MapStep::File {
                addr,
                len,
                offset,
                prot: p,
            } => {
                // Writable until the BSS head is zeroed; final protection after.
                vm.map_file(addr, len, prot(p) | 2, false, file.as_fd(), offset)
                    .map_err(map_err)?;
                finals.push((addr, len, prot(p)));
            }
            MapStep::Zero { addr, len } => {
                vm.memory()
                    .write_initial(addr, &vec![0u8; len as usize])
                    .map_err(|_| not_exec(path, "cannot zero BSS"))?;
            }
            MapStep::Anon { addr, len, prot: p } => {
                vm.map_anon(addr, len, prot(p), false).map_err(map_err)?
            }
        }
    }
    for (addr, len, p) in finals {
        vm.protect(addr, len, p).map_err(map_err)?;
    }
    Ok(Mapped { plan, bias })
}

fn load_elf(
    vm: &mut Vm,
    path: &Path,
    bytes: &Program,
    argv: &[OsString],
    envp: &[OsString],
) -> Result<Loaded, ExecError> {
    let main = map_image(vm, path, &bytes.file, parse(path, bytes)?, PlaceAt::Program)?;
    let (plan, bias) = (&main.plan, main.bias);
    let interp = match &plan.interp {
        None => None,
        Some(interp) => {
            let interp_path = Path::new(interp);
            let interp_bytes = read_program(interp_path, false).map_err(|e| match e {
                ExecError::NotFound(_) => failed(
                    path,
                    format!("interpreter {interp} not found"),
                    Errno::ENOENT,
                ),
                other => other,
            })?;
            let interp_plan = parse(interp_path, &interp_bytes)?;
            if interp_plan.interp.is_some() || interp_plan.kind != ElfKind::Dyn {
                return Err(not_exec(
                    path,
                    format!("interpreter {interp} is not a shared object"),
                ));
            }
            Some(map_image(
                vm,
                interp_path,
                &interp_bytes.file,
                interp_plan,
                PlaceAt::MmapArea,
            )?)
        }
    };
    let map_err =
        |e: std::io::Error| failed(path, format!("cannot map segment: {e}"), Errno::ENOMEM);
    let stack_prot = 1 | 2 | if plan.exec_stack { 4 } else { 0 };
    vm.map_anon(STACK_TOP - STACK_SIZE, STACK_SIZE, stack_prot, false)
        .map_err(map_err)?;

    let vdso = map_vdso(vm);

    let bytes_of = |v: &[OsString]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    let argv = bytes_of(argv);
    let envp = bytes_of(envp);
    let mut random = [0u8; 16];
    let _ = getrandom(&mut random);
    let entry = bias.wrapping_add(plan.entry);
    let (start, interp_base) = match &interp {
        Some(i) => (
            i.bias.wrapping_add(i.plan.entry),
            i.bias.wrapping_add(i.plan.span.0),
        ),
        None => (entry, 0),
    };
    let mut aux = Vec::with_capacity(17);
    // First, where Linux puts it.
    aux.extend(vdso.map(|ehdr| (auxv::AT_SYSINFO_EHDR, ehdr)));
    aux.extend([
        (auxv::AT_MINSIGSTKSZ, host_auxv(libc::AT_MINSIGSTKSZ)),
        (auxv::AT_HWCAP, host_auxv(libc::AT_HWCAP)),
        (auxv::AT_PAGESZ, 4096),
        (auxv::AT_CLKTCK, 100),
        (
            auxv::AT_PHDR,
            plan.phdr_vaddr.map(|p| bias.wrapping_add(p)).unwrap_or(0),
        ),
        (auxv::AT_PHENT, plan.phent),
        (auxv::AT_PHNUM, plan.phnum),
        (auxv::AT_BASE, interp_base),
        (auxv::AT_FLAGS, 0),
        (auxv::AT_ENTRY, entry),
        (auxv::AT_UID, host_auxv(libc::AT_UID)),
        (auxv::AT_EUID, host_auxv(libc::AT_EUID)),
        (auxv::AT_GID, host_auxv(libc::AT_GID)),
        (auxv::AT_EGID, host_auxv(libc::AT_EGID)),
        (auxv::AT_SECURE, 0),
        // FSGSBASE (bit 1) only if the guest may use it: it is not enabled.
        (auxv::AT_HWCAP2, host_auxv(libc::AT_HWCAP2) & !2),
    ]);
    let execfn = argv
        .first()
        .cloned()
        .unwrap_or_else(|| path.as_os_str().as_bytes().to_vec());
    let image = build_stack(&StackSpec {
        stack_top: STACK_TOP,
        argv: &argv,
        envp: &envp,
        execfn: &execfn,
        platform: b"x86_64",
        random,
        auxv: &aux,
    })
    .map_err(|e| failed(path, format!("arguments: {e}"), Errno::E2BIG))?;
    vm.memory()
        .write_initial(image.sp, &image.bytes)
        .map_err(|_| not_exec(path, "cannot write the initial stack"))?;
    if let Some(ns) = crate::rootfs::get() {
        ns.set_exe(&bytes.host);
    }
    let brk = plan.brk_start(bias);
    let (code, data) = Image::bounds(plan, bias);
    Ok(Loaded {
        entry: start,
        stack_pointer: image.sp,
        layout: Layout {
            brk_start: brk,
            brk,
        },
        exe: if crate::rootfs::get().is_some() {
            bytes.host.clone()
        } else {
            path.to_path_buf()
        },
        image: Image {
            args: image.args,
            env: image.env,
            auxv: saved_auxv(&image),
            start_stack: image.sp,
            code,
            data,
        },
    })
}

use crate::host::auxval as host_auxv;

/// Maps the vvar page and the vDSO right above the stack, where Linux
/// (before 6.11) puts them, else where a non-fixed mapping would go;
/// returns the vDSO's address for `AT_SYSINFO_EHDR`. Above the stack they
/// share the stack's memory slot, which saves registering another at
/// start-up. Without a vDSO the program's libc makes real syscalls, so a
/// failure only costs speed.
fn map_vdso(vm: &mut Vm) -> Option<u64> {
    let len = pico_vm::vdso::mapping_len();
    let regions = vm.memory().regions();
    let above_stack = (STACK_TOP + len <= pico_vm::layout::WINDOW_SIZE
        && regions.is_free(STACK_TOP, STACK_TOP + len))
    .then_some(STACK_TOP);
    let at = above_stack
        .or_else(|| regions.find_gap_below(len, MMAP_MIN, MMAP_TOP, pico_vm::layout::PAGE_SIZE))?;
    vm.map_vdso(at)
        .map_err(|e| log::debug!("no vDSO: {e}"))
        .ok()
}

/// Fills `buf` from the host's getrandom(2): one call where reading
/// /dev/urandom takes three.
fn getrandom(buf: &mut [u8]) -> Result<(), Errno> {
    use crate::host::{call, HostArg};
    let len = buf.len() as u64;
    let got = call(
        libc::SYS_getrandom,
        &[HostArg::Local(buf.as_mut_ptr()), len.into(), 0u64.into()],
    )?;
    if got == len {
        Ok(())
    } else {
        Err(Errno::EIO)
    }
}
