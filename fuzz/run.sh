#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 30) each, on stable Rust:
# cargo-fuzz with --sanitizer none (libFuzzer's coverage guidance needs no
# nightly; only the sanitizers do). Needs `cargo install cargo-fuzz` and a
# C++ compiler (g++) for libFuzzer. The corpus grows in fuzz/corpus/ (not
# committed), starting from fuzz/seeds/; a crash leaves its input in
# fuzz/artifacts/TARGET/ and fails the script. Replay one with
#   cargo fuzz run --sanitizer none TARGET fuzz/artifacts/TARGET/crash-...
#
#   fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz/run.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 1
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build --sanitizer none
mkdir -p logs
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "== $t: ${seconds}s"
    status=0
    max_len=4096
    [ "$t" = elf_load ] && max_len=65536
    cargo fuzz run --sanitizer none "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
        -print_final_stats=1 >"logs/$t.log" 2>&1 || status=$?
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|thread .* panicked|Test unit written)' "logs/$t.log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "logs/$t.log" >&2
        echo "fuzz/run.sh: $t failed (status $status); the input is in fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
echo "fuzz/run.sh: ${#targets[@]} targets, ${seconds}s each, no failure"
