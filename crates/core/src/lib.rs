//! Rulewatch's engine without a window: authentication, the Management Activity API
//! collector, detection, the SQLite store and the keychain. The CLI and the desktop
//! shell are thin front ends over [`engine::Engine`].

pub mod activity;
pub mod api;
pub mod app;
pub mod auth;
pub mod cloud;
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
pub mod tenants;
pub mod undo;

/// The default data directory: the platform's per-user data folder.
pub fn default_data_dir() -> Option<std::path::PathBuf> {
    directories::ProjectDirs::from("", "", "Rulewatch").map(|d| d.data_dir().to_path_buf())
}

// Detection lives in its own crate, so nothing there can do I/O; these keep its
// modules where the rest of core and the front ends have always found them.
pub use rulewatch_detect as detect;
pub use rulewatch_detect::{allowlist, shown};
