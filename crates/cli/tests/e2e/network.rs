//! Hostile answers on the wire (elsewhere.rs in the sandbox): a redirect to another
//! host, links to another host in Microsoft's answers, and huge bodies. No credential
//! may reach the other host, and each ends in a clear error.

use serde_json::{Value, json};

use crate::harness::*;

/// One tenant with its attacks planted, scanned once with `script` played.
fn scan_with_script(script: Value, faults: Value) -> (Sandbox, TestTenant, Rulewatch, Run) {
    let mut faults = faults;
    faults["script"] = script;
    let (scenario, tenants, _) = world(1, 20, faults);
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let run = rw.scan();
    (sandbox, tenants[0].clone(), rw, run)
}

/// Nothing reached the other host and the scan failed for the tenant: its status message.
fn refused(sandbox: &Sandbox, t: &TestTenant, rw: &Rulewatch, run: &Run) -> String {
    let received = sandbox.elsewhere();
    assert!(received.is_empty(), "the other host received {received:#?}");
    assert_eq!(run.code, 3, "{}", run.stderr);
    let status = rw.status();
    tenant_status(&status, t)["message"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_token_request_redirected_to_another_host_does_not_send_the_secret_there() {
    let (sandbox, t, rw, run) = scan_with_script(
        json!([{"endpoint": "token", "fault": "redirect_elsewhere", "count": 1}]),
        json!({}),
    );
    assert!(!run.stderr.contains(&t.secret));
    let message = refused(&sandbox, &t, &rw, &run);
    assert!(
        message.contains("redirected to http://127.0.0.1:") && message.contains("another host"),
        "{message}"
    );
}

#[test]
fn an_api_call_redirected_to_another_host_does_not_send_the_token_there() {
    let (sandbox, t, rw, run) = scan_with_script(
        json!([{"endpoint": "content", "fault": "redirect_elsewhere", "count": 1}]),
        json!({}),
    );
    let message = refused(&sandbox, &t, &rw, &run);
    assert!(
        message.contains("redirected to") && message.contains("does not follow"),
        "{message}"
    );
}

#[test]
fn content_links_to_another_host_are_refused() {
    let (sandbox, t, rw, run) = scan_with_script(
        json!([{"endpoint": "content", "fault": "foreign_links", "count": 1}]),
        json!({}),
    );
    let message = refused(&sandbox, &t, &rw, &run);
    assert!(
        message.contains("not one of this tenant's Microsoft hosts"),
        "{message}"
    );
    // The next scan, with honest links, reads everything.
    let again = rw.scan();
    assert_eq!(again.code, 0, "{}", again.stderr);
}

#[test]
fn a_huge_listing_or_blob_is_refused_with_the_limit_named() {
    let (sandbox, t, rw, run) = scan_with_script(
        json!([
            {"endpoint": "content", "fault": "huge_body", "count": 1},
            {"endpoint": "blob", "fault": "huge_body", "count": 4},
        ]),
        json!({"huge_body_mb": 200}),
    );
    let message = refused(&sandbox, &t, &rw, &run);
    assert!(
        message.contains("larger than 16 MiB"),
        "the listing's limit: {message}"
    );
    let second = rw.scan();
    assert!(
        second.stderr.contains("larger than 64 MiB"),
        "the blob's limit: {}",
        second.stderr
    );
}
