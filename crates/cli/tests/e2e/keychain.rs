//! Secrets in the real keychain (gnome-keyring over D-Bus) and nowhere else: not in
//! the database, not in any output. Certificates sign their client assertion.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::harness::*;

pub(crate) fn keychain_lookup(account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "rulewatch", "username", account])
        .output()
        .expect("secret-tool (libsecret-tools) is needed by this test");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every file under `dir`, searched for `needle` as bytes.
pub(crate) fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            hits.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            hits.push(path.display().to_string());
        }
    }
    hits
}

#[test]
fn the_secret_lives_in_the_keychain_only_and_leaves_with_the_tenant() {
    let (scenario, tenants, _) = world(1, 10, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    let t = &tenants[0];
    rw.add_tenant(t);
    let account = format!("tenant/{}/client-secret", t.tenant_id);
    assert_eq!(
        keychain_lookup(&account).as_deref(),
        Some(t.secret.as_str())
    );
    assert!(files_containing(rw.data_dir(), t.secret.as_bytes()).is_empty());

    rw.remove_tenant(t);
    assert_eq!(
        keychain_lookup(&account),
        None,
        "tenant remove must delete the keychain entry"
    );
    assert_eq!(rw.run(&["tenant", "list", "--json"]).json(), json!([]));
}

#[test]
fn without_a_keychain_the_command_says_how_to_fix_it_and_stores_nothing() {
    let (scenario, tenants, _) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    let t = &tenants[0];
    let mut cmd = rw.command(&t.add_args());
    cmd.env(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/rulewatch-bus",
    );
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), t.secret.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no OS keychain is reachable"), "{stderr}");
    assert!(
        stderr.contains("gnome-keyring"),
        "the error must say how to fix it: {stderr}"
    );
    assert_eq!(rw.run(&["tenant", "list", "--json"]).json(), json!([]));
}

fn openssl_bundle(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.crt"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=rulewatch-test",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is needed by this test");
    assert!(status.success());
    let cert_pem = std::fs::read_to_string(&cert).unwrap();
    let bundle = dir.join(format!("{name}.pem"));
    std::fs::write(
        &bundle,
        format!("{cert_pem}{}", std::fs::read_to_string(&key).unwrap()),
    )
    .unwrap();
    (bundle, cert_pem)
}

/// The bundle's certificate and key exported as Windows does: a password-protected .pfx,
/// with extra `openssl pkcs12 -export` arguments choosing its ciphers.
fn openssl_pfx(
    dir: &Path,
    name: &str,
    password: &str,
    ciphers: &[&str],
) -> (std::path::PathBuf, String) {
    let (bundle, cert_pem) = openssl_bundle(dir, name);
    let pfx = dir.join(format!("{name}.pfx"));
    let status = Command::new("openssl")
        .args(["pkcs12", "-export", "-in"])
        .arg(&bundle)
        .arg("-out")
        .arg(&pfx)
        .args(["-passout", &format!("pass:{password}")])
        .args(ciphers)
        .status()
        .expect("openssl is needed by this test");
    assert!(status.success());
    (pfx, cert_pem)
}

#[test]
fn a_pfx_exported_on_windows_signs_in_and_a_wrong_password_stores_nothing() {
    let keys = tempfile::tempdir().unwrap();
    let password = "Pfx-Passw0rd!";
    // OpenSSL 3's default (AES-256, SHA-256 MAC), as Windows exports since 2017, and the
    // older TripleDES-SHA1 export.
    let (aes, aes_cert) = openssl_pfx(keys.path(), "aes", password, &[]);
    let (des, des_cert) = openssl_pfx(
        keys.path(),
        "des",
        password,
        &[
            "-keypbe",
            "PBE-SHA1-3DES",
            "-certpbe",
            "PBE-SHA1-3DES",
            "-macalg",
            "sha1",
        ],
    );
    let (mut scenario, tenants, expected) = world(2, 10, json!({}));
    scenario["tenants"][0]["certificates"] = json!([aes_cert]);
    scenario["tenants"][1]["certificates"] = json!([des_cert]);
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    let add = |t: &TestTenant, pfx: &Path, stdin: &str| {
        let mut args = t.add_args();
        args.pop();
        args.extend(["--certificate", pfx.to_str().unwrap()]);
        rw.run_with_stdin(&args, stdin)
    };

    // A wrong password: a clear error, and neither the database nor the keychain holds anything.
    let wrong = add(&tenants[0], &aes, "not-the-password\n");
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(
        wrong
            .stderr
            .contains(&format!("the password does not open {}", aes.display())),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.stderr.contains("not-the-password"));
    assert_eq!(rw.run(&["tenant", "list", "--json"]).json(), json!([]));
    assert_eq!(
        keychain_lookup(&format!("tenant/{}/certificate-key", tenants[0].tenant_id)),
        None
    );

    let mut outputs = vec![wrong];
    // Piped from Windows, the password may end in CR LF.
    for (t, pfx) in [(&tenants[0], &aes), (&tenants[1], &des)] {
        let r = add(t, pfx, &format!("{password}\r\n"));
        assert_eq!(r.code, 0, "{}", r.stderr);
        outputs.push(r);
    }
    let run = rw.scan();
    assert_eq!(
        run.code, 0,
        "both tenants sign in with their .pfx certificates: {}",
        run.stderr
    );
    assert_exactly(&run.json_lines(), &expected);
    outputs.push(run);
    assert!(files_containing(rw.data_dir(), password.as_bytes()).is_empty());
    for o in &outputs {
        assert!(
            !o.stdout.contains(password) && !o.stderr.contains(password),
            "the password was printed"
        );
    }
}

#[test]
fn certificate_sign_in_works_and_no_secret_leaks_anywhere() {
    let keys = tempfile::tempdir().unwrap();
    let (good, good_cert) = openssl_bundle(keys.path(), "good");
    let (other, _) = openssl_bundle(keys.path(), "other");
    let faults = json!({"throttle": 0.1, "server_error": 0.05, "truncated_body": 0.05, "seed": 8});
    let (mut scenario, tenants, expected) = world(3, 100, faults);
    scenario["tenants"][1]["certificates"] = json!([good_cert]);
    scenario["tenants"][2]["certificates"] = json!([good_cert]);
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::with_tenants(&sandbox, &tenants[..1]);
    let mut outputs = Vec::new();
    for (t, bundle) in [(&tenants[1], &good), (&tenants[2], &other)] {
        let r = rw.run(&[
            "tenant",
            "add",
            "--tenant-id",
            &t.tenant_id,
            "--name",
            &t.name,
            "--client-id",
            &t.client_id,
            "--certificate",
            bundle.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        outputs.push(r);
    }
    let run = rw.run(&["-v", "scan", "--json"]);
    assert_eq!(
        run.code, 3,
        "the tenant holding the wrong certificate must fail: {}",
        run.stderr
    );
    let signed_in: Expected = expected
        .iter()
        .filter(|e| e.0 != tenants[2].tenant_id)
        .cloned()
        .collect();
    assert_exactly(&run.json_lines(), &signed_in);
    let statuses = rw.status();
    assert_eq!(tenant_status(&statuses, &tenants[1])["state"], "ok");
    assert_eq!(
        tenant_status(&statuses, &tenants[2])["problem"],
        "bad_credentials"
    );
    outputs.push(run);
    outputs.push(rw.run(&["status", "--json"]));
    outputs.push(rw.run(&["alerts", "--json"]));
    outputs.push(rw.run(&["tenant", "list", "--json"]));

    // The client secret and the private keys' material appear in no file and no output.
    let key_b64 = |p: &Path| {
        let text = std::fs::read_to_string(p).unwrap();
        let body = text.split("PRIVATE KEY-----").nth(1).unwrap();
        body.lines().nth(1).unwrap().to_string()
    };
    let needles = [tenants[0].secret.clone(), key_b64(&good), key_b64(&other)];
    for needle in &needles {
        assert!(
            files_containing(rw.data_dir(), needle.as_bytes()).is_empty(),
            "secret found in the data folder"
        );
        for o in &outputs {
            assert!(
                !o.stdout.contains(needle.as_str()) && !o.stderr.contains(needle.as_str()),
                "secret found in output"
            );
        }
    }
}

#[test]
fn the_standalone_sandbox_binary_serves_a_scenario_file() {
    let (mut scenario, tenants, expected) = world(1, 20, json!({}));
    scenario["next_page_header"] = json!("NextPageUrl");
    scenario["page_size"] = json!(1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scenario.json");
    std::fs::write(&file, scenario.to_string()).unwrap();
    let sandbox_bin = Path::new(bin()).with_file_name("m365-sandbox");
    let mut child = Command::new(&sandbox_bin)
        .args(["--listen", "127.0.0.1:0", "--scenario"])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} ({e}): build the workspace first", sandbox_bin.display()));
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let rw = Rulewatch {
        env: Vec::new(),
        dir: tempfile::tempdir().unwrap(),
        endpoints: url,
    };
    rw.add_tenant(&tenants[0]);
    let run = rw.scan();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exactly(&run.json_lines(), &expected);
}
