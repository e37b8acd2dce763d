#!/usr/bin/env bash
# Gallery benchmark, routes named by their labels in docs/api.md: G8 search (each type, several
# query shapes; with the substring index and with the plain LIKE), G5 read latency, the index size, backfill time and write cost, on MariaDB
# with 1,000,000 galleries of 100,000 members (BENCH_GALLERIES=N to change), through the gallery
# router in one process (no network hop, no gateway). Sequential requests: 400 per G8 case with
# the index, 40 with LIKE, 2,000 for G5, 400 G2 creates; prints a Markdown table.
# Needs MariaDB from scripts/dev-services (a throwaway database is created and dropped;
# BENCH_KEEP_DATABASE=1 keeps it, and BENCH_DATABASE=<its name> measures it again without seeding).
#
#   bench/gallery/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release -q -p gallery --example search_bench
