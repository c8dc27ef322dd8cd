#!/usr/bin/env bash
# Installs what Rulewatch needs on Debian that is not already there, and the panel's
# npm packages. Usage: scripts/install-deps.sh run|test
set -euo pipefail
cd "$(dirname "$0")/.."

purpose=${1:-run}
# The desktop app: the system webview (webkit2gtk), the tray (appindicator), icons
# (librsvg), keyboard input (xdo), and the OS keychain over D-Bus.
packages=(ca-certificates pkg-config build-essential file libwebkit2gtk-4.1-dev
          libayatana-appindicator3-dev librsvg2-dev libxdo-dev)
case "$purpose" in
    run) ;;
    # The tests use the real keychain (gnome-keyring in a private D-Bus session),
    # secret-tool to look inside it, openssl to make test certificates, and drive the
    # real webview (WebKitWebDriver) on a virtual display with a real notification
    # daemon (dunst); the shell tests look at the app's windows on that display
    # (xwininfo, in x11-utils) and click its tray menu over D-Bus (gdbus, in libglib2.0-bin);
    # with-keyring.sh watches its keyring daemon with pgrep (procps). The e-mail
    # channel's tests send through a real SMTP server, aiosmtpd (scripts/smtp-sink.py).
    # The store's tests run on a throwaway PostgreSQL cluster too (scripts/test-postgres.sh).
    test) packages+=(gnome-keyring dbus dbus-daemon dbus-x11 libsecret-tools openssl xvfb xauth
                     webkit2gtk-driver dunst x11-utils libglib2.0-bin procps python3-aiosmtpd
                     postgresql) ;;
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

for tool in cargo npm; do
    if ! command -v "$tool" >/dev/null; then
        echo "$tool is missing: install Rust with rustup (https://rustup.rs) and Node.js 20 with npm, then run this again" >&2
        exit 1
    fi
done

# The panel's packages, exactly as locked; again only when the lock file changed.
if [[ ! -f node_modules/.package-lock.json ]] || ! cmp -s package-lock.json node_modules/.rulewatch-lock; then
    npm ci --no-audit --no-fund >&2
    cp package-lock.json node_modules/.rulewatch-lock
fi

# The suite checks formatting and lints (scripts/test.sh); rustup may be unable to fetch
# them on a machine that reaches only package registries, and the suite then says so.
if [[ "$purpose" == test ]] && ! cargo fmt --version >/dev/null 2>&1; then
    echo "Installing rustfmt (the suite checks formatting)" >&2
    rustup component add rustfmt >&2 || echo "rustfmt could not be installed" >&2
fi
if [[ "$purpose" == test ]] && ! cargo clippy --version >/dev/null 2>&1; then
    echo "Installing clippy (the suite checks the lints)" >&2
    rustup component add clippy >&2 || echo "clippy could not be installed" >&2
fi

if [[ "$purpose" == test ]] && ! command -v tauri-driver >/dev/null && [[ ! -x "$HOME/.cargo/bin/tauri-driver" ]]; then
    echo "Installing tauri-driver (drives the real webview through WebKitWebDriver)" >&2
    cargo install tauri-driver --locked --version 2.1.0 >&2
fi
