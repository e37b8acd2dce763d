#!/usr/bin/env bash
# Member benchmark: sign-ins per second at the OWASP argon2id parameters (m=19 MiB, t=2, p=1),
# p50/p99 of GET /api/member with and without a concurrent sign-in flood, and the time of an
# unknown e-mail versus a wrong password. MariaDB and Redis from scripts/dev-services (a
# throwaway database is created and dropped); the member router runs in this process.
#
#   bench/member/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release -q -p member --example signin_bench
