//! End-to-end tests: the `rulewatch` binary against the sandbox over loopback HTTP,
//! with a real SQLite file and the real keychain (run under scripts/with-keyring.sh).

mod allow;
mod channels;
mod check;
mod clouds;
mod crash;
mod email;
mod endpoint_override;
mod enrich;
mod faults;
mod files;
mod geo;
mod harness;
mod keychain;
mod network;
mod partner;
mod psa;
mod publisher;
mod remediate;
mod scan;
mod takeover;
mod team;
mod terminal;
mod triage;
mod tuning;
mod watch;
