//! The sandbox over real loopback HTTP, as Rulewatch reaches it.

mod common;
mod faults;
mod feed;
mod folder;
mod graph_control;
mod ipstack;
mod partner;
mod psa;
mod remediation;
mod token;
