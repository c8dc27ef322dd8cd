#!/usr/bin/env bash
# Installs what is missing and runs Rulewatch. With no tenant configured it runs the
# demo against the built-in sandbox tenants.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh run
cargo build --release --locked -p rulewatch-cli
bin=target/release/rulewatch
if [[ -z "$("$bin" tenant list --json 2>/dev/null | tr -d '[:space:][]')" ]]; then
    exec "$bin" demo
fi
exec "$bin" scan
