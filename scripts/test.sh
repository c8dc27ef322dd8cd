#!/usr/bin/env bash
# Installs what the tests need, then runs every test against the real keychain and
# ends with one line counting them all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
if [[ ! -d ../shared/corpus/records ]]; then
    echo "The detection tests read real audit records from ../shared/corpus/records (beside this checkout); it is missing." >&2
    exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
scripts/with-keyring.sh cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
