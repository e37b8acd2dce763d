#!/usr/bin/env bash
# Gallery benchmark: G8 search (each type, several query shapes) and G5 read latency on MariaDB
# with 100,000 galleries of 10,000 members, through the gallery router in one process (no network
# hop, no gateway). Sequential requests, 400 per G8 case and 2,000 for G5; prints a Markdown table.
# Needs MariaDB from scripts/dev-services (a throwaway database is created and dropped).
#
#   bench/gallery/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release -q -p gallery --example search_bench
