#!/usr/bin/env bash
# Issue 8's figures in both modes: start-to-ready, idle RSS, journey 2 throughput.
# Usage: bench/e2e/run.sh [seconds] [concurrency]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
seconds="${1:-20}"
concurrency="${2:-4}"
scripts/dev-services up >&2
cargo build --release -p thegallery >&2
cargo build --release -p e2e --example journey_bench >&2
export THEGALLERY_BIN="$PWD/target/release/thegallery"
for mode in standalone distributed; do
    target/release/examples/journey_bench "$mode" "$seconds" "$concurrency"
done
