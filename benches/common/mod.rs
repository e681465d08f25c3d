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
