#!/usr/bin/env bash
# Measures the release desktop app: launch to tray ready, idle memory (RSS summed over
# the app and its webview processes) and idle CPU between scans.
# Usage: scripts/with-keyring.sh xvfb-run -a scripts/measure-desktop.sh
# (after `npm run build:ui && cargo build --release -p rulewatch-desktop`)
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$data" "$log"' EXIT
start=$(date +%s.%N)
RULEWATCH_LOG=info RULEWATCH_DATA_DIR=$data target/release/rulewatch-desktop --minimized >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data" "$log"' EXIT
until grep -q "tray ready" "$log"; do sleep 0.01; done
ready=$(date +%s.%N)
echo "launch to tray ready: $(echo "$ready - $start" | bc) s"
sleep 20
processes() { echo "$pid" $(pgrep -P "$pid") $(for c in $(pgrep -P "$pid"); do pgrep -P "$c" || true; done); }
rss=0
for p in $(processes); do r=$(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0); rss=$((rss + ${r:-0})); done
echo "idle RSS: $((rss / 1024)) MB over $(processes | wc -w) processes"
ticks() { t=0; for p in $(processes); do s=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0); t=$((t + ${s:-0})); done; echo "$t"; }
before=$(ticks); sleep 60; after=$(ticks)
echo "idle CPU over 60 s: $(echo "scale=2; ($after - $before) * 100 / $(getconf CLK_TCK) / 60" | bc) % of one core"
echo "release binary: $(stat -c %s target/release/rulewatch-desktop) bytes"
