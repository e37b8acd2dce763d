#!/usr/bin/env bash
# Post benchmark, routes named by their labels in docs/api.md (P2 the frame update, P1 the
# frame list): P2 with ten 5 MB images (wall time and peak RSS growth of the post service, which
# runs in a child process so the client's buffers do not count), peak RSS of ten parallel maximal
# JSON bodies, ten oversized ones and ten parallel 50 MB uploads, and P1 latency, over loopback HTTP
# on MariaDB with images in a temporary directory. Prints Markdown table rows.
# Needs MariaDB from scripts/dev-services (a throwaway database is created and dropped).
#
#   bench/post/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release -q -p post --example p2_bench
