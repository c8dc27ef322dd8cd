//! The real OS keychain (gnome-keyring through the Secret Service) outliving its daemon.
//! gnome-keyring aborts when many clients open sessions at once (gnome-keyring#196; CI
//! saw it under the team benchmark's simultaneous scans), and the session bus starts it
//! again on the next call. A long-running tray app or watcher must then carry on with the
//! new daemon, not fail every keychain call until it is restarted.
//!
//! The daemon is killed here, so the test runs in a keyring session of its own
//! (scripts/with-keyring.sh): the other tests' daemon is never touched.

use std::process::Command;
use std::time::{Duration, Instant};

use rulewatch_core::secrets::{Keychain, SecretKind, SecretStore};
use secrecy::ExposeSecret;

const CHILD: &str = "RULEWATCH_KEYCHAIN_TEST_SESSION";

/// The process id of the Secret Service on this test's session bus, as the bus tells it.
fn secret_service_pid() -> Option<u32> {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            "string:org.freedesktop.secrets",
        ])
        .output()
        .expect("dbus-send runs (package dbus-bin)");
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .skip_while(|w| *w != "uint32")
        .nth(1)
        .and_then(|pid| pid.parse().ok())
}

fn killed(pid: u32) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(
        status.success(),
        "the keyring daemon {pid} could not be killed"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the keyring daemon {pid} outlived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_keychain_whose_daemon_was_started_again_is_reached_through_the_new_one() {
    if std::env::var_os(CHILD).is_none() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/with-keyring.sh");
        let out = Command::new(script)
            .arg(std::env::current_exe().expect("the test binary's path"))
            .args([
                "--exact",
                "a_keychain_whose_daemon_was_started_again_is_reached_through_the_new_one",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env_remove("RULEWATCH_IN_KEYRING_SESSION")
            .output()
            .expect("scripts/with-keyring.sh runs (gnome-keyring and dbus installed)");
        // Its report is shown only when it failed, so the run's count has this test once.
        assert!(
            out.status.success(),
            "the test in its own keyring session failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }

    let keychain = Keychain;
    keychain
        .set("tenant-a", SecretKind::ClientSecret, b"stored before")
        .expect("the keychain stores a secret");
    let first = secret_service_pid().expect("the Secret Service runs after a secret is stored");
    killed(first);

    let read = keychain
        .get("tenant-a", SecretKind::ClientSecret)
        .expect("the secret is read through the daemon the bus started again");
    assert_eq!(read.expose_secret(), b"stored before");
    let second = secret_service_pid().expect("a new Secret Service runs");
    assert_ne!(second, first, "the bus started a new keyring daemon");

    keychain
        .set("tenant-a", SecretKind::ClientSecret, b"stored after")
        .expect("the new daemon takes a secret");
    keychain
        .delete("tenant-b", SecretKind::ClientSecret)
        .expect("deleting an absent entry is no error");
    assert_eq!(
        keychain
            .get("tenant-a", SecretKind::ClientSecret)
            .expect("the secret is read back")
            .expose_secret(),
        b"stored after"
    );
}
