#!/usr/bin/env bash
# Runs a command against a private, unlocked gnome-keyring (the Secret Service) in a
# D-Bus session of its own, so tests use the real keychain and never the user's.
# Usage: scripts/with-keyring.sh COMMAND [ARGS...]
set -euo pipefail

if [[ "${RULEWATCH_IN_KEYRING_SESSION:-}" != 1 ]]; then
    export RULEWATCH_IN_KEYRING_SESSION=1
    # gnome-keyring keeps its files under XDG_DATA_HOME/keyrings: a throwaway one here,
    # set before the bus starts so the bus reads its service files there too.
    RULEWATCH_KEYRING_HOME=$(mktemp -d)
    export RULEWATCH_KEYRING_HOME XDG_DATA_HOME="$RULEWATCH_KEYRING_HOME"
    # The session bus starts the Secret Service on first use. Its own service file (the
    # user's data folder overrides the system's, per the D-Bus specification's standard
    # session service directories) starts it unlocked with the test password, and
    # --unlock creates the default collection the keyring crate writes to. gnome-keyring
    # can abort (a GLib assertion) when a client is killed in the middle of a call, which
    # the kill -9 tests do on purpose: the next call then starts it again, unlocked, on
    # the same keyring file, so the stored secrets are still there.
    mkdir -p "$XDG_DATA_HOME/dbus-1/services"
    cat > "$XDG_DATA_HOME/activate-keyring" <<'EOF'
#!/bin/sh
# Its control folder goes in the throwaway folder too, not one more ~/.cache/keyring-*
# per start.
mkdir -p -m 700 "$XDG_DATA_HOME/run"
export XDG_RUNTIME_DIR="$XDG_DATA_HOME/run"
printf 'rulewatch-test' | exec gnome-keyring-daemon --unlock --foreground --components=secrets
EOF
    chmod +x "$XDG_DATA_HOME/activate-keyring"
    cat > "$XDG_DATA_HOME/dbus-1/services/org.freedesktop.secrets.service" <<EOF
[D-BUS Service]
Name=org.freedesktop.secrets
Exec=$XDG_DATA_HOME/activate-keyring
EOF
    status=0
    dbus-run-session -- "$0" "$@" || status=$?
    rm -rf "$RULEWATCH_KEYRING_HOME"
    exit "$status"
fi

"$@"
