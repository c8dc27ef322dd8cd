//! A cloud per tenant: commercial and GCC customers watched from one install, each read
//! at its own cloud's Management API (../shared/reference/m365-api.md §G 3).

use serde_json::json;

use crate::harness::*;

#[test]
fn commercial_and_gcc_tenants_are_watched_from_one_install() {
    let (mut scenario, tenants, expected) = world(2, 20, json!({}));
    scenario["tenants"][1]["cloud"] = json!("gcc");
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    let (commercial, gcc) = (&tenants[0], &tenants[1]);

    // Each cloud is read from the tenant's OpenID metadata.
    for (t, said) in [
        (commercial, "in the commercial (global) cloud"),
        (gcc, "in the GCC cloud"),
    ] {
        let added = rw.run_with_stdin(&t.add_args(), &t.secret);
        assert_eq!(added.code, 0, "{}", added.stderr);
        assert!(added.stderr.contains(said), "{said}: {}", added.stderr);
    }
    let list = rw.run(&["tenant", "list"]);
    let gcc_line = list
        .stdout
        .lines()
        .find(|l| l.contains(&gcc.tenant_id))
        .unwrap();
    assert!(
        gcc_line.ends_with("(client_secret, GCC)"),
        "{}",
        list.stdout
    );
    let listed = rw.run(&["tenant", "list", "--json"]).json();
    assert_eq!(listed[1]["cloud"], "gcc", "{listed}");

    let run = rw.scan();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exactly(&run.json_lines(), &expected);

    // Told the wrong cloud, the tenant's status says what the empty permission set means.
    rw.remove_tenant(gcc);
    let mut args = gcc.add_args();
    args.extend(["--cloud", "global"]);
    let wrong = rw.run_with_stdin(&args, &gcc.secret);
    assert_eq!(wrong.code, 0, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("in the commercial (global) cloud"),
        "{}",
        wrong.stderr
    );
    let run = rw.scan();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let statuses = rw.status();
    let s = tenant_status(&statuses, gcc);
    assert_eq!(s["problem"], "consent_missing", "{s}");
    let message = s["message"].as_str().unwrap();
    for words in [
        "wrong cloud or consent missing",
        "add it again in its cloud (gcc, gcchigh or dod)",
        &format!(
            "https://login.microsoftonline.com/{}/adminconsent",
            gcc.tenant_id
        ),
    ] {
        assert!(message.contains(words), "{words}: {message}");
    }
    assert_eq!(tenant_status(&statuses, commercial)["state"], "ok");
}

#[test]
fn a_tenant_whose_cloud_cannot_be_read_is_added_and_says_so() {
    let (scenario, _, _) = world(1, 0, json!({}));
    let sandbox = Sandbox::start(&scenario);
    let rw = Rulewatch::new(&sandbox);
    // A tenant the sandbox's Entra does not know: its metadata answers AADSTS90002.
    let stranger = TestTenant::new(7);
    let added = rw.run_with_stdin(&stranger.add_args(), &stranger.secret);
    assert_eq!(added.code, 0, "{}", added.stderr);
    for words in [
        "read in the commercial (global) cloud: its own could not be read",
        "AADSTS90002",
        "add it again with --cloud",
    ] {
        assert!(added.stderr.contains(words), "{words}: {}", added.stderr);
    }
    let listed = rw.run(&["tenant", "list", "--json"]).json();
    assert!(listed[0]["cloud"].is_null(), "{listed}");
    // A cloud given is taken without asking, and a wrong name is refused before anything.
    let bad = rw.run_with_stdin(
        &[&stranger.add_args()[..], &["--cloud", "mars"]].concat(),
        "x",
    );
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr.contains("unknown cloud 'mars'"),
        "{}",
        bad.stderr
    );
}
