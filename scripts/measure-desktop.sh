#!/usr/bin/env bash
# Measures the release desktop app watching the sandbox's two demo tenants (m365-sandbox
# --demo over loopback, as a technician's real tenants, at the default scan interval):
# launch (as the login item does, to the tray) to tray ready; memory as PSS
# (/proc/PID/smaps_rollup: each shared page counted once across the processes, where RSS
# counts WebKit's shared libraries in every process) summed over the app and its WebKit
# processes, with the panel never opened, open and closed (5 s, and 15 s: WebKit's network
# process lingers 10 s); reopening a panel closed for 15 s and for 2 s, on an alert, until
# drawn (the app logs it once the panel's first page is drawn); idle CPU with the panel
# closed; the binary's size.
# Usage: scripts/with-keyring.sh xvfb-run -a scripts/measure-desktop.sh [IDLE_SECONDS]
# (after `npm run build:ui && cargo build --release -p rulewatch-desktop -p rulewatch-cli
# && cargo build -p m365-sandbox`; IDLE_SECONDS defaults to 300, the issue's five minutes).
# With RULEWATCH_MEASURE_DATA=DIR, the app starts on a copy of the store in DIR, such as a
# year's from `cargo bench -p rulewatch-cli --bench year -- --keep DIR`.
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${1:-300}
app=target/release/rulewatch-desktop
for bin in "$app" target/release/rulewatch target/debug/m365-sandbox; do
    [[ -x $bin ]] || { echo "$bin is missing: npm run build:ui && cargo build --release -p rulewatch-desktop -p rulewatch-cli && cargo build -p m365-sandbox" >&2; exit 1; }
done
command -v xwininfo >/dev/null || { echo "xwininfo is needed (x11-utils; scripts/install-deps.sh test)" >&2; exit 1; }
data=$(mktemp -d)
log=$(mktemp)
pid= sandbox=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; [[ -n $sandbox ]] && kill $sandbox 2>/dev/null; rm -rf "$data" "$log"' EXIT
export RULEWATCH_LOG=info RULEWATCH_DATA_DIR=$data/rulewatch HOME=$data XDG_CONFIG_HOME=$data/config
if [[ -n ${RULEWATCH_MEASURE_DATA:-} ]]; then
    mkdir -p "$RULEWATCH_DATA_DIR"
    cp -r "$RULEWATCH_MEASURE_DATA"/. "$RULEWATCH_DATA_DIR"/
fi

: >"$data/sandbox.out"
target/debug/m365-sandbox --listen 127.0.0.1:0 --demo >"$data/sandbox.out" 2>/dev/null &
sandbox=$!
until grep -q "listening on" "$data/sandbox.out"; do sleep 0.05; done
RULEWATCH_ENDPOINTS=$(sed -n 's/^listening on //p' "$data/sandbox.out")
export RULEWATCH_ENDPOINTS
# The demo scenario's two tenants and their app's secret (crates/sandbox/src/demo.rs).
for t in b7e1c3a2-5d4f-4e6a-9c8b-1a2b3c4d5e6f:Contoso 4c8d2e1f-9a3b-4d7c-8e5f-6a1b2c3d4e5f:Fabrikam; do
    printf %s sandbox-demo-secret | target/release/rulewatch tenant add --tenant-id "${t%%:*}" --name "${t#*:}" \
        --client-id 9d3f1a2b-6c4e-4f8a-b1d2-3e4f5a6b7c8d --client-secret-stdin >/dev/null
done

start=$(date +%s.%N)
# Started as the login item starts it: to the tray, no panel.
"$app" --minimized >"$log" 2>&1 &
pid=$!
until grep -q "tray ready" "$log"; do
    kill -0 "$pid" 2>/dev/null || { echo "the app exited before its tray was ready:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.01
done
ready=$(date +%s.%N)
printf 'launch to tray ready: %.3f s\n' "$(echo "$ready - $start" | bc)"

# The app and every process under it (WebKit's web and network processes).
processes() {
    local todo=("$pid") p
    while ((${#todo[@]})); do
        p=${todo[0]}; todo=("${todo[@]:1}")
        echo "$p"
        todo+=($(cat "/proc/$p/task/$p/children" 2>/dev/null || true))
    done
}
# Sums what the awk program prints from /proc/PID/FILE over those processes.
summed() {
    local file=$1 program=$2 total=0 p n
    for p in $(processes); do
        n=$(awk "$program" "/proc/$p/$file" 2>/dev/null || echo 0)
        total=$((total + ${n:-0}))
    done
    echo "$total"
}
pss() {
    echo "$(($(summed smaps_rollup '/^Pss:/ {print $2}') / 1024)) MB PSS over $(processes | wc -l) processes ($(for p in $(processes); do cat /proc/$p/comm; done | tr '\n' ' '| sed 's/ $//'))"
}
panel() { xwininfo -root -tree | awk '/ "Rulewatch": / {print $1; exit}'; }
# Presses the panel's close button as a window manager would (WM_DELETE_WINDOW): Xvfb
# runs none.
close_panel() {
    python3 - "$(panel)" <<'EOF'
import ctypes, sys
x = ctypes.cdll.LoadLibrary("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
x.XFlush.argtypes = x.XCloseDisplay.argtypes = [ctypes.c_void_p]
class Message(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5), ("rest", ctypes.c_long * 12)]
d = x.XOpenDisplay(None)
window = int(sys.argv[1], 16)
m = Message(type=33, window=window, format=32)  # ClientMessage
m.message_type = x.XInternAtom(d, b"WM_PROTOCOLS", 0)
m.data[0] = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
x.XSendEvent(d, window, 0, 0, ctypes.byref(m))
x.XFlush(d)
x.XCloseDisplay(d)
EOF
    until [[ -z $(panel) ]]; do sleep 0.05; done
}

# The first scan, two seconds in, stores the demo's alerts; the panel was never opened.
sleep 20
echo "in the tray since login, panel never opened: $(pss)"
# Started again by hand, the app opens its panel.
"$app" >/dev/null 2>&1
until [[ -n $(panel) ]]; do sleep 0.1; done
sleep 20
echo "panel open: $(pss)"
close_panel
sleep 5
echo "panel closed 5 s: $(pss)"
# WebKit's network process outlives a closed panel by 10 s (window::NETWORK_LINGERS).
sleep 10
echo "panel closed 15 s: $(pss)"
# A panel drawn without the GPU should leave no GL driver in the app (Mesa's and LLVM's
# libraries held 30 MB for the rest of its life; see draw_without_gl in main.rs).
gl=$( (grep -oE '[^/]*(libEGL_mesa|libLLVM|_dri)[^/]*\.so[^ ]*$' "/proc/$pid/maps" || true) | sort -u | tr '\n' ' ')
echo "GL drivers in the app after the panel closed: ${gl:-none}"

# Reopening: a second launch with a link to the first alert, as a chat message's link
# or a notification's click does, five times after the panel was closed for AFTER
# seconds; the median and every time.
reopen() {
    local after=$1 times=() before
    for _ in 1 2 3 4 5; do
        sleep "$after"
        before=$(grep -c "panel drawn" "$log" || true)
        "$app" "rulewatch://alert/1" >/dev/null 2>&1
        until (($(grep -c "panel drawn" "$log" || true) > before)); do sleep 0.01; done
        times+=("$(grep "panel drawn" "$log" | tail -1 | sed -E 's/.*panel drawn ([0-9]+) ms.*/\1/')")
        sleep 1
        close_panel
    done
    echo "median $(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p) ms ($(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ' | sed 's/ $//'))"
}
# Closed 15 s, the network process has ended and WebKit starts a new one.
echo "reopening the panel on an alert to drawn, closed 15 s: $(reopen 15)"
echo "reopening the panel on an alert to drawn, closed 2 s: $(reopen 2)"
sleep 15
echo "panel closed 15 s after 10 reopenings: $(pss)"

ticks() { summed stat '{print $14 + $15}'; }
before=$(ticks); sleep "$idle"; after=$(ticks)
echo "idle CPU, panel closed, over $idle s: $(echo "scale=3; ($after - $before) * 100 / $(getconf CLK_TCK) / $idle" | bc) % of one core"
echo "release binary: $(stat -c %s "$app") bytes"
