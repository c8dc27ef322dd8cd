//! A loopback stand-in for the Microsoft 365 endpoints Rulewatch calls: Entra's token
//! endpoint, the Office 365 Management Activity API, Graph's domain list and user calls and
//! Exchange's admin `InvokeCommand` for remediation, playing a
//! scenario of tenants, planted audit records, background noise and injected faults.

// Every public item of the library crates says what it is (issue 12 item 7).
#![warn(missing_docs)]

mod activity;
mod app;
pub mod attacks;
mod certs;
mod control;
mod demo;
mod directory;
mod elsewhere;
mod exchange;
mod faults;
mod feed;
pub mod folder;
mod graph;
mod hooks;
mod ids;
mod ipstack;
pub mod mmdb;
mod noise;
mod openid;
mod partner;
pub mod psa;
mod scenario;
mod server;
#[cfg(feature = "testkit")]
pub mod testkit;
mod times;
mod token;
mod users;

pub use ipstack::{GeoScenario, IpLocation};
pub use scenario::{
    ContentType, Endpoint, FaultKind, Faults, InboxRule, Noise, Partner, PartnerUser,
    PlantedRecord, Scenario, ScenarioError, ScriptedFault, SubscriptionState, Tenant, User,
};
pub use server::{RunningSandbox, start};
pub use times::Clock;
