#!/usr/bin/env bash
# Creates the git-ignored secret inputs of this overlay that do not exist yet: random passwords
# in mysql.env and redis.env, and a JWT key pair. Never overwrites a file (rotation is a
# deliberate step, see docs/deploy-k3s.md). Needs openssl; uses `thegallery keys generate` when
# the binary is on PATH, else openssl for the Ed25519 pair (the same PKCS#8/SPKI PEM format).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
umask 077

random() { openssl rand -hex 24; }

fill_sample() {
    local name="$1"
    if [[ -e "$name" ]]; then
        echo "kept $name"
        return
    fi
    while IFS= read -r line; do
        if [[ "$line" =~ ^([A-Z_]+)=$ ]]; then
            printf '%s=%s\n' "${BASH_REMATCH[1]}" "$(random)"
        else
            printf '%s\n' "$line"
        fi
    done < "$name.sample" > "$name"
    echo "wrote $name"
}

fill_sample mysql.env
fill_sample redis.env

if [[ -e jwt-private.pem || -e jwt-public.pem ]]; then
    echo "kept jwt-private.pem and jwt-public.pem"
elif command -v thegallery >/dev/null 2>&1; then
    thegallery keys generate --dir .
else
    openssl genpkey -algorithm ed25519 -out jwt-private.pem
    openssl pkey -in jwt-private.pem -pubout -out jwt-public.pem
    echo "wrote jwt-private.pem and jwt-public.pem"
fi
