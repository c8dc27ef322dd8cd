//! `RULEWATCH_ENDPOINTS`: plain http only on this machine, announced on every run, and
//! the keychain's secrets kept from another machine unless it is trusted.

use std::process::Stdio;

use serde_json::json;

use crate::harness::*;

fn run_with_endpoints(rw: &Rulewatch, endpoints: &str, args: &[&str]) -> Run {
    let out = rw
        .command(args)
        .env("RULEWATCH_ENDPOINTS", endpoints)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn plain_http_to_another_machine_is_refused() {
    let (scenario, tenants, _) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let run = run_with_endpoints(&rw, "http://sandbox.example:8080", &["scan"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("unencrypted") && run.stderr.contains("https://"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_override_is_announced_on_every_run() {
    let (scenario, _, _) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    let host = sandbox.url.trim_start_matches("http://");
    for args in [&["status"][..], &["alerts"], &["scan"]] {
        let run = rw.run(args);
        assert!(
            run.stderr.contains("not talking to Microsoft") && run.stderr.contains(host),
            "{args:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn keychain_secrets_are_not_sent_to_an_untrusted_override() {
    let (scenario, tenants, _) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let run = run_with_endpoints(&rw, "https://rulewatch-override.invalid", &["scan"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let status = rw.status();
    let message = tenant_status(&status, &tenants[0])["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("rulewatch-override.invalid") && message.contains("--trust-endpoints"),
        "{message}"
    );
    assert!(!run.stderr.contains(&tenants[0].secret));
}
