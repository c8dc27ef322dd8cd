#!/usr/bin/env bash
# Installs what is missing, builds and runs the Rulewatch desktop app. With no tenant
# configured it watches the built-in sandbox tenant, where planted attacks arrive.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh run
npm run build:ui
cargo build --release --locked -p rulewatch-desktop -p rulewatch-cli
args=()
if [[ -z "$(target/release/rulewatch tenant list --json 2>/dev/null | tr -d '[:space:][]')" ]]; then
    args+=(--sandbox)
fi
exec target/release/rulewatch-desktop "${args[@]}"
