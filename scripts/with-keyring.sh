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
eval "$(printf 'rulewatch-test' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
"$@"
