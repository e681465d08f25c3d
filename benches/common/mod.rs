//! What the benchmarks share: reading criterion's results back to print
//! ratios measured in the same run.

use std::path::Path;

/// Criterion's median estimate (ns) for benchmark `id` (its directory name
/// under target/criterion), from the report it just wrote.
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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("benches/guests").join(format!("{name}.c"));
    let out = root.join("target/bench-guests").join(name);
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
