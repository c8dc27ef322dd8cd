#!/usr/bin/env bash
# Runs a command against a private, unlocked gnome-keyring (the Secret Service) in a
# D-Bus session of its own, so tests use the real keychain and never the user's.
# Usage: scripts/with-keyring.sh COMMAND [ARGS...]
set -euo pipefail

if [[ "${RULEWATCH_IN_KEYRING_SESSION:-}" != 1 ]]; then
    export RULEWATCH_IN_KEYRING_SESSION=1
    exec dbus-run-session -- "$0" "$@"
fi

keyring_home=$(mktemp -d)
trap 'rm -rf "$keyring_home"' EXIT
# gnome-keyring keeps its files under XDG_DATA_HOME/keyrings: a throwaway one here.
export XDG_DATA_HOME="$keyring_home"
# --unlock reads the new login keyring's password from stdin and creates the
# default collection the keyring crate writes to.
start_keyring() {
    eval "$(printf 'rulewatch-test' | gnome-keyring-daemon --replace --unlock --components=secrets 2>/dev/null)"
    export GNOME_KEYRING_CONTROL
    keyring_pid=$(pgrep -n -x gnome-keyring-d || true)
}
start_keyring
# gnome-keyring can abort (a GLib assertion) when a client is killed in the middle of a
# call, which the kill -9 tests do on purpose. D-Bus would then start a locked one that
# no test can use; this watchdog starts it again, unlocked with the same password, on the
# same keyring file, so the stored secrets are still there.
(
    while sleep 0.2; do
        if [[ -n "$keyring_pid" ]] && ! kill -0 "$keyring_pid" 2>/dev/null; then
            echo "with-keyring: gnome-keyring-daemon stopped; starting it again" >&2
            start_keyring
        fi
    done
) &
watchdog=$!
trap 'kill "$watchdog" 2>/dev/null; rm -rf "$keyring_home"' EXIT
"$@"
