//! End-to-end tests: the `rulewatch` binary against the sandbox over loopback HTTP,
//! with a real SQLite file and the real keychain (run under scripts/with-keyring.sh).

mod allow;
mod check;
mod crash;
mod enrich;
mod faults;
mod geo;
mod harness;
mod keychain;
mod partner;
mod publisher;
mod remediate;
mod scan;
