//! Rulewatch's engine without a window: authentication, the Management Activity API
//! collector, detection, the SQLite store and the keychain. The CLI and the desktop
//! shell are thin front ends over [`engine::Engine`].

pub mod activity;
pub mod allowlist;
pub mod api;
pub mod auth;
pub mod cloud;
pub mod detect;
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
pub mod shown;
pub mod sign_ins;
pub mod store;
pub mod tenants;
pub mod undo;

/// The default data directory: the platform's per-user data folder.
pub fn default_data_dir() -> Option<std::path::PathBuf> {
    directories::ProjectDirs::from("", "", "Rulewatch").map(|d| d.data_dir().to_path_buf())
}
