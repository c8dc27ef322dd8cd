//! The desktop app end to end, in one test binary (one link of the app's dependencies,
//! and one app at a time across every test): tauri-driver with WebKitWebDriver drives
//! rulewatch-desktop against the sandbox over loopback, with the real keychain
//! (scripts/with-keyring.sh), a virtual display (xvfb-run) and a real notification
//! daemon (dunst) in the test's D-Bus session.

mod common;
mod notify;
mod partner;
mod remediation;
mod shell;
mod team;
mod tray;
mod triage;
mod tuning;
mod webview;
