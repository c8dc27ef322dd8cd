//! Rulewatch's engine without a window. The front ends (the `rulewatch` CLI and the
//! desktop tray app) go through one door, [`app::Session`]; everything else here is
//! the layers behind it, each using only those below (`tests/layers.rs` checks it):
//!
//! 1. **Model and errors**: [`cloud`], [`problem`], [`secrets`], [`split`], [`folder`],
//!    [`logging`] (and detection, its own pure crate: [`detect`], [`allowlist`], [`shown`]).
//! 2. **Microsoft's clients**: [`http`] (retries, throttling), [`auth`] (app-only and
//!    partner tokens), [`api`] (Graph and Exchange), [`activity`] (the Management
//!    Activity API), [`graph`].
//! 3. **The store**: [`store`], one SQLite file.
//! 4. **Collection, enrichment, remediation, the partner**: [`engine`], [`sign_ins`],
//!    [`enrich`], [`geo`], [`remediate`], [`undo`], [`report`], [`tenants`], [`partner`],
//!    [`deliver`] (webhooks).
//! 5. **The application layer**: [`app`].
//!
//! # One record, from blob to notification
//!
//! A scan ([`app::Session::scan`] → [`engine::Engine`]) lists each tenant's new content
//! blobs for `Audit.Exchange` ([`activity`]), downloads one, and [`split`] cuts it into
//! records without parsing them all. Detection's prefilter keeps the few that can matter;
//! [`detect`] reads each (`New-InboxRule` with `DeleteMessage`, `Set-Mailbox
//! -ForwardingSmtpAddress`, …) against the tenant's accepted domains and says what the rule
//! does in plain words. The allowlist may quiet a finding; [`enrich`] adds where the
//! change came from ([`geo`], [`sign_ins`]). The blob's alerts, its cursor and a delivery
//! row per alert and channel are committed in one transaction ([`store`]), so a crash
//! repeats a blob but never loses or doubles an alert. Each front end then takes its own
//! queue ([`app::Session::deliver_new_alerts`]): the CLI prints each alert, the desktop
//! raises a native notification, and each is marked delivered, for that channel only,
//! once shown.

// Every public item says what it is (issue 12 item 7).
#![warn(missing_docs)]

pub mod activity;
pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod cloud;
pub mod deliver;
pub mod engine;
pub mod enrich;
pub mod folder;
pub mod geo;
pub mod graph;
pub mod http;
pub mod logging;
pub mod partner;
pub mod problem;
pub mod remediate;
pub mod report;
pub mod secrets;
pub mod sign_ins;
pub mod split;
pub mod store;
pub mod team;
pub mod tenants;
pub mod tuning;
pub mod undo;

/// The default data directory: the platform's per-user data folder.
pub fn default_data_dir() -> Option<std::path::PathBuf> {
    directories::ProjectDirs::from("", "", "Rulewatch").map(|d| d.data_dir().to_path_buf())
}

// Detection lives in its own crate, so nothing there can do I/O; these keep its
// modules where the rest of core and the front ends have always found them.
pub use rulewatch_detect as detect;
pub use rulewatch_detect::{allowlist, shown};
