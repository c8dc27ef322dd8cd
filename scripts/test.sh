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
export PATH="$HOME/.cargo/bin:$PATH"
# Formatting is policy (rustfmt.toml), checked before anything is built.
if ! cargo fmt --version >/dev/null 2>&1; then
    echo "warning: rustfmt is not installed, so the formatting is not checked (rustup component add rustfmt)" >&2
elif ! cargo fmt --all --check >/dev/null; then
    echo "The Rust code is not formatted as rustfmt.toml says: run \`cargo fmt --all\`, then test again." >&2
    exit 1
fi
# Lints are policy too ([workspace.lints] in Cargo.toml), and they ride on the test build
# instead of a second one: cargo hands RUSTC_WORKSPACE_WRAPPER only our own crates, so
# clippy-driver compiles them for the tests and lints them on the way, while the
# dependencies are built once (this is what `cargo clippy` itself sets; Firefox's
# build/cargo-clippy-wrapper does the same). CLIPPY_ARGS is how cargo-clippy passes
# `-- -D warnings` to the driver: a lint fails the build, so no test runs.
if ! command -v clippy-driver >/dev/null 2>&1; then
    echo "warning: clippy is not installed, so the lints are not checked (rustup component add clippy)" >&2
else
    RUSTC_WORKSPACE_WRAPPER=$(command -v clippy-driver)
    export RUSTC_WORKSPACE_WRAPPER
    export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
fi
# The panel first: its checks, and the build the desktop binary embeds.
npm run typecheck
npm run test:ui
npm run build:ui
log=$(mktemp)
# The team's engine: a throwaway PostgreSQL cluster on a private Unix socket, for the
# store's tests on both engines; stopped and removed at the end, whatever happens.
pg=$(mktemp -d)
trap 'scripts/test-postgres.sh stop "$pg"; rm -f "$log"' EXIT
RULEWATCH_TEST_POSTGRES=$(scripts/test-postgres.sh start "$pg")
export RULEWATCH_TEST_POSTGRES
set +e
# A virtual display for the webview and the notification daemon, inside the private
# keyring session. --all-targets adds the benchmark, which runs once on a small input.
# A bound well inside CI's 90 minutes (the whole run takes about 20 on 2 cores, building
# included), so a test that hangs fails with its name on screen instead of the run
# ending silently at CI's limit.
timeout -k 30s 50m scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1280x800x24" cargo test --workspace --all-targets --locked --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$log"
if [[ $status == 124 ]]; then
    echo "The tests ran past 50 minutes and were stopped: a test hangs; the last one the log says is running for over 60 seconds is it." >&2
fi
exit "$status"
