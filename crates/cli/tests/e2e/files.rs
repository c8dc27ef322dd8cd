//! What Rulewatch leaves on disk: a private data folder, private reports, and a daily
//! log file of what `-v` shows, never a secret.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::harness::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_scan_writes_the_daily_log_and_no_secret_in_it() {
    // One listing fails once, so the log holds a retry line as `-v` shows it.
    let (scenario, tenants, _) = world(
        1,
        20,
        json!({"script": [{"endpoint": "content", "fault": "server_error", "count": 1}]}),
    );
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let logs = rw.data_dir().join("logs");
    assert!(
        !logs.exists(),
        "adding a tenant is not a long run and writes no log"
    );
    let run = rw.scan();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("rulewatch.") && name.ends_with(".log"),
        "{name}"
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.contains("HTTP 500") && text.contains(&tenants[0].tenant_id),
        "{text}"
    );
    assert!(
        !text.contains(&tenants[0].secret),
        "the client secret is in the log"
    );
    assert!(
        !run.stderr.contains("HTTP 500"),
        "stderr stays at its own level without -v"
    );
    assert_eq!(mode(&logs), 0o700);
}

#[test]
fn the_database_and_reports_are_private() {
    let (scenario, tenants, _) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants);
    let run = rw.scan();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(mode(&rw.data_dir().join("rulewatch.db")), 0o600);
    let id = run.json_lines()[0]["id"].to_string();
    let reports = rw.data_dir().join("reports");
    let written = rw.run(&["report", &id, "--dir", reports.to_str().unwrap()]);
    assert_eq!(written.code, 0, "{}", written.stderr);
    assert_eq!(mode(Path::new(written.stdout.trim())), 0o600);
}

#[test]
fn a_data_folder_others_may_write_is_refused_with_the_fix() {
    let (scenario, _, _) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    std::fs::set_permissions(rw.data_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let run = rw.run(&["status"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains(&format!("chmod 700 {}", rw.data_dir().display())),
        "{}",
        run.stderr
    );
}
