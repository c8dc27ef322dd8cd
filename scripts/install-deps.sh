#!/usr/bin/env bash
# Installs what Rulewatch needs on Debian that is not already there.
# Usage: scripts/install-deps.sh run|test
set -euo pipefail

purpose=${1:-run}
packages=(ca-certificates pkg-config)
case "$purpose" in
    run) ;;
    # The tests use the real keychain (gnome-keyring in a private D-Bus session),
    # secret-tool to look inside it, and openssl to make test certificates.
    test) packages+=(gnome-keyring dbus dbus-daemon libsecret-tools openssl) ;;
    *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) == 0 ]] || sudo="sudo"
    echo "Installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v cargo >/dev/null; then
    echo "cargo is missing: install Rust with rustup (https://rustup.rs), then run this again" >&2
    exit 1
fi
