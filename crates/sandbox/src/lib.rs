//! A loopback stand-in for the Microsoft 365 endpoints Rulewatch calls: Entra's token
//! endpoint, the Office 365 Management Activity API and Graph's domain list, playing a
//! scenario of tenants, planted audit records, background noise and injected faults.

mod activity;
mod app;
pub mod attacks;
mod certs;
mod control;
mod demo;
mod faults;
mod feed;
mod graph;
mod ids;
mod ipstack;
pub mod mmdb;
mod noise;
mod scenario;
mod server;
mod times;
mod token;

pub use ipstack::{GeoScenario, IpLocation};
pub use scenario::{
    ContentType, Endpoint, FaultKind, Faults, Noise, PlantedRecord, Scenario, ScenarioError,
    ScriptedFault, SubscriptionState, Tenant, User,
};
pub use server::{RunningSandbox, start};
