//! Builders every test suite shares (the CLI's end-to-end tests, the desktop's, the
//! delivery measurement), behind the `testkit` feature so no shipped binary carries
//! them: a sandbox tenant with its own ids, secret, domains and users, its scenario
//! entry, and the context a planted record of it needs; and a real SMTP server.

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::attacks::RecordCtx;

/// The users every test tenant has, by the name before the `@`.
pub const USERS: [&str; 4] = ["adele", "megan", "lidia", "admin"];

/// One sandbox tenant: fresh ids, a secret and a domain of its own per call, so tests
/// running at once never share a keychain entry or a destination.
#[derive(Debug, Clone)]
pub struct TestTenant {
    /// The tenant's GUID, random per call.
    pub tenant_id: String,
    /// The display name: "Client 01" and so on, or what [`TestTenant::named`] set.
    pub name: String,
    /// The app's client GUID, random per call.
    pub client_id: String,
    /// The app's client secret, random per call.
    pub secret: String,
    /// The vanity domain the users live in, `client{i}-xxxxxx.example.com`, unique per call.
    pub domain: String,
    /// The initial domain, `client{i}x.onmicrosoft.com`: the same for every tenant numbered `i`.
    pub initial_domain: String,
    /// The users' addresses, in [`USERS`] order.
    pub users: Vec<String>,
}

impl TestTenant {
    /// The `i`th tenant of a test: "Client 01" and so on.
    pub fn new(i: usize) -> TestTenant {
        let domain = format!(
            "client{i}-{}.example.com",
            &Uuid::new_v4().simple().to_string()[..6]
        );
        TestTenant {
            tenant_id: Uuid::new_v4().to_string(),
            name: format!("Client {i:02}"),
            client_id: Uuid::new_v4().to_string(),
            secret: format!("s3cr3t~{}", Uuid::new_v4().simple()),
            users: USERS.iter().map(|u| format!("{u}@{domain}")).collect(),
            initial_domain: format!("client{i}x.onmicrosoft.com"),
            domain,
        }
    }

    /// The same tenant under another display name.
    pub fn named(mut self, name: &str) -> TestTenant {
        self.name = name.to_string();
        self
    }

    /// `rulewatch tenant add` for this tenant, its secret to come on standard input.
    pub fn add_args(&self) -> Vec<&str> {
        vec![
            "tenant",
            "add",
            "--tenant-id",
            &self.tenant_id,
            "--name",
            &self.name,
            "--client-id",
            &self.client_id,
            "--client-secret-stdin",
        ]
    }

    /// A user's address: `user("adele")`.
    pub fn user(&self, name: &str) -> String {
        format!("{name}@{}", self.domain)
    }

    /// The tenant's entry in a scenario's `tenants`.
    pub fn scenario_json(&self) -> Value {
        json!({
            "tenant_id": self.tenant_id,
            "name": self.name,
            "domains": [self.domain, self.initial_domain],
            "client_id": self.client_id,
            "client_secret": self.secret,
            "audit_enabled": true,
            "users": self.users.iter().map(|u| json!({"upn": u, "display_name": u})).collect::<Vec<_>>(),
        })
    }

    /// An attacker's address of this tenant's own: tenants of one test share no
    /// destination, so no forwarding fan-in arises unless a test plants one.
    pub fn drop_box(&self, name: &str) -> String {
        format!(
            "{name}.{}@evil.example",
            self.domain.split('.').next().unwrap_or_default()
        )
    }

    /// A record's context: `actor` changed `target`'s mailbox (indexes into [`USERS`]),
    /// half an hour ago, from a documentation address.
    /// Panics if an index is out of range.
    pub fn ctx(&self, actor: usize, target: usize) -> RecordCtx {
        RecordCtx {
            tenant_id: self.tenant_id.clone(),
            tenant_initial_domain: self.initial_domain.clone(),
            actor_upn: self.users[actor].clone(),
            target_upn: self.users[target].clone(),
            client_ip: "203.0.113.77:50123".into(),
            creation_time: Utc::now() - chrono::Duration::minutes(30),
            record_id: Uuid::new_v4(),
        }
    }

    /// A record's context for a user changing their own mailbox: `own("adele")`.
    /// Panics if `user` is not one of [`USERS`].
    pub fn own(&self, user: &str) -> RecordCtx {
        let i = USERS
            .iter()
            .position(|u| *u == user)
            .unwrap_or_else(|| panic!("{user} is none of the test tenant's users {USERS:?}"));
        self.ctx(i, i)
    }
}

/// `rulewatch channel add connectwise` for channel `name` on the sandbox's ConnectWise at
/// `site` (`{base}/connectwise`), filing unmapped tenants under company `default`, every
/// incident at priority 1; its private key ([`crate::psa::connectwise::PRIVATE_KEY`]) to
/// come on standard input.
pub fn connectwise_channel<'a>(name: &'a str, site: &'a str, default: &'a str) -> Vec<&'a str> {
    use crate::psa::connectwise::{CLIENT_ID, COMPANY_ID, PUBLIC_KEY};
    vec![
        "channel",
        "add",
        "connectwise",
        "--name",
        name,
        "--site",
        site,
        "--company-id",
        COMPANY_ID,
        "--public-key",
        PUBLIC_KEY,
        "--client-id",
        CLIENT_ID,
        "--board",
        "2",
        "--default-company",
        default,
        "--priority",
        "critical=1",
    ]
}

/// A real SMTP server (aiosmtpd, `scripts/smtp-sink.py`) on loopback for the e-mail
/// channel: STARTTLS or TLS on a certificate a CA made for this run signed, AUTH
/// required, every message kept in a folder as JSON. Stopped when dropped.
pub struct SmtpSink {
    child: std::process::Child,
    dir: tempfile::TempDir,
    /// The port it listens on at 127.0.0.1.
    pub port: u16,
}

impl SmtpSink {
    /// The user name it takes.
    pub const USER: &'static str = "rulewatch-relay";
    /// The password it takes.
    pub const PASSWORD: &'static str = "relay password, not in any log";

    /// Starts it in `mode` (`starttls` or `tls`). Panics when it cannot start (Debian's
    /// python3-aiosmtpd missing: `scripts/install-deps.sh test` installs it).
    pub fn start(mode: &str) -> SmtpSink {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp-sink.py");
        // Debian's python3-aiosmtpd lives in the system interpreter's packages.
        let child = std::process::Command::new("/usr/bin/python3")
            .arg(script)
            .args(["--dir", &dir.path().display().to_string(), "--mode", mode])
            .args(["--user", Self::USER, "--password", Self::PASSWORD])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("python3-aiosmtpd (scripts/install-deps.sh test installs it)");
        let port_file = dir.path().join("port");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !port_file.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the SMTP server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let port = std::fs::read_to_string(port_file)
            .expect("the port file")
            .parse()
            .expect("a port number");
        SmtpSink { child, dir, port }
    }

    /// The PEM file of the CA that signed the server's certificate.
    pub fn ca(&self) -> String {
        self.dir.path().join("ca.pem").display().to_string()
    }

    /// The next `n` messages are refused with 451, a temporary failure.
    pub fn fail(&self, n: u32) {
        std::fs::write(self.dir.path().join("fail"), n.to_string()).expect("the fail file");
    }

    /// Every message taken, in order: envelope, headers, decoded parts, `received_at`.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("the sink's folder")
            .map(|e| e.expect("a folder entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| {
                serde_json::from_str(&std::fs::read_to_string(p).expect("a message"))
                    .expect("the sink writes JSON")
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The password scripts/test-postgres.sh gives the throwaway cluster's user `rulewatch`.
pub const CLUSTER_PASSWORD: &str = "team-test-password";

/// The throwaway PostgreSQL cluster scripts/test-postgres.sh starts, as
/// `RULEWATCH_TEST_POSTGRES` names it (a libpq string over its Unix socket): it also
/// takes TCP connections on loopback, over TLS only, with a certificate for `localhost`
/// from a CA of its own.
#[derive(Debug, Clone)]
pub struct TestCluster {
    /// The libpq connection string over the Unix socket, as a superuser.
    pub socket: String,
    /// The cluster's folder: its socket, and `tls/ca.pem`.
    pub dir: std::path::PathBuf,
    /// The loopback TCP port.
    pub port: String,
}

impl TestCluster {
    /// The cluster `RULEWATCH_TEST_POSTGRES` names; panics saying how to start one.
    pub fn from_env() -> TestCluster {
        let socket = std::env::var("RULEWATCH_TEST_POSTGRES").unwrap_or_else(|_| {
            panic!(
                "the team tests need the throwaway PostgreSQL cluster scripts/test.sh starts \
                 (RULEWATCH_TEST_POSTGRES); run them through scripts/test.sh"
            )
        });
        let field = |name: &str| {
            socket
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("RULEWATCH_TEST_POSTGRES names no {name}"))
                .to_string()
        };
        TestCluster {
            dir: field("host").into(),
            port: field("port"),
            socket,
        }
    }

    /// Runs `sql` through psql over the socket; answers its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in("postgres", sql)
    }

    /// Runs `sql` in database `db` through psql over the socket.
    pub fn psql_in(&self, db: &str, sql: &str) -> String {
        let socket = self
            .socket
            .split_whitespace()
            .filter(|kv| !kv.starts_with("dbname="))
            .chain([format!("dbname={db}").as_str()])
            .collect::<Vec<_>>()
            .join(" ");
        let out = std::process::Command::new("psql")
            .args([&socket, "-Atqc", sql])
            .output()
            .expect("psql (postgresql-client) is needed by this test");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A new database of the caller's own, `rw_NAME_PID`; answers its name.
    pub fn database(&self, name: &str) -> String {
        let db = format!("rw_{name}_{}", std::process::id());
        self.psql(&format!("CREATE DATABASE {db}"));
        db
    }

    /// The cluster's CA certificate file.
    pub fn ca(&self) -> String {
        self.dir.join("tls/ca.pem").display().to_string()
    }

    /// Database `db` over loopback TLS, the server's certificate checked against the CA.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://rulewatch@localhost:{}/{db}?sslrootcert={}",
            self.port,
            self.ca()
        )
    }
}

/// Starts a sandbox playing `scenario` (its JSON) on a free loopback port, from code that
/// is not async itself (the benchmarks).
pub fn start_on(rt: &tokio::runtime::Runtime, scenario: &Value) -> crate::RunningSandbox {
    let scenario = crate::Scenario::from_json(&scenario.to_string()).expect("a valid scenario");
    rt.block_on(crate::start(
        "127.0.0.1:0".parse().expect("an address"),
        scenario,
    ))
    .expect("the sandbox starts")
}

/// The body of every `Audit.Exchange` blob a sandbox playing `scenario` (its JSON) would
/// serve, rendered in this process: planted records and the sandbox's own noise, for a
/// benchmark of what reads them that has no use for the HTTP between.
pub fn exchange_bodies(scenario: &Value) -> Vec<Vec<u8>> {
    let scenario = crate::Scenario::from_json(&scenario.to_string()).expect("a valid scenario");
    let feed = crate::feed::Feed::build(&scenario, Utc::now());
    feed.blobs_of(crate::scenario::ContentType::Exchange)
        .map(|blob| feed.body(blob))
        .collect()
}

/// GETs one of a sandbox's JSON endpoints (`/_sandbox/stats`) from code that is not async.
pub fn get_json(rt: &tokio::runtime::Runtime, url: &str) -> Value {
    rt.block_on(async {
        reqwest::get(url)
            .await
            .expect("the sandbox answers")
            .json()
            .await
            .expect("JSON")
    })
}

/// One planted delete-all inbox rule per tenant, listable `release_after_s` from the
/// sandbox's start (negative: already), as scenario records.
pub fn one_attack_each(tenants: &[TestTenant], release_after_s: i64) -> Vec<Value> {
    tenants
        .iter()
        .map(|t| {
            json!({
                "tenant_id": t.tenant_id, "content_type": "Audit.Exchange",
                "release_after_s": release_after_s,
                "record": crate::attacks::new_inbox_rule_delete_all(&t.ctx(0, 0), "."),
            })
        })
        .collect()
}
