//! Builds the guest's vDSO (`guest-stubs/vdso.c`) with gcc into a
//! position-independent shared object that `src/vdso.rs` embeds.

use std::path::PathBuf;
use std::process::Command;

include!("src/vvar_layout.rs");

fn main() {
    let stubs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../guest-stubs");
    for file in ["vdso.c", "vvar.h", "vdso.lds", "vdso.map"] {
        println!("cargo:rerun-if-changed={}", stubs.join(file).display());
    }
    println!("cargo:rerun-if-changed=src/vvar_layout.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("vdso.so");
    let defines = [
        ("VVAR_CLOCKS", VVAR_CLOCKS),
        ("VVAR_RES_IDS", VVAR_RES_IDS),
        ("VVAR_OFF_SEQ", VVAR_OFF_SEQ),
        ("VVAR_OFF_READY", VVAR_OFF_READY),
        ("VVAR_OFF_TSC_BASE", VVAR_OFF_TSC_BASE),
        ("VVAR_OFF_CLOCKS", VVAR_OFF_CLOCKS),
        ("VVAR_CLOCK_SIZE", VVAR_CLOCK_SIZE),
        ("VVAR_OFF_RES", VVAR_OFF_RES),
        ("VVAR_SIZE", VVAR_SIZE),
    ];
    let mut gcc = Command::new("gcc");
    gcc.args([
        "-O2",
        "-fPIC",
        "-shared",
        "-nostdlib",
        "-fno-stack-protector",
        "-fno-asynchronous-unwind-tables",
        "-fcf-protection=none",
        "-Wall",
        "-Werror",
        "-Wl,--hash-style=both",
        "-Wl,-soname,linux-vdso.so.1",
        "-Wl,--build-id=none",
        "-Wl,--no-undefined",
    ]);
    gcc.arg(format!(
        "-Wl,--version-script,{}",
        stubs.join("vdso.map").display()
    ));
    gcc.arg(format!("-Wl,-T,{}", stubs.join("vdso.lds").display()));
    for (name, value) in defines {
        gcc.arg(format!("-D{name}={value}"));
    }
    gcc.arg("-o").arg(&out).arg(stubs.join("vdso.c"));
    let status = gcc
        .status()
        .expect("gcc builds the guest vDSO (apt-get install gcc)");
    assert!(status.success(), "gcc failed to build guest-stubs/vdso.c");
}
