#!/usr/bin/env bash
# Installs what the tests need, then runs every test against the real keychain.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
if [[ ! -d ../shared/corpus/records ]]; then
    echo "The detection tests read real audit records from ../shared/corpus/records (beside this checkout); it is missing." >&2
    exit 1
fi
exec scripts/with-keyring.sh cargo test --workspace --locked
