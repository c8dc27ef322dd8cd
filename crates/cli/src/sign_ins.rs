//! `rulewatch sign-ins on|off|show`: whether scans also read Entra sign-ins, so a change
//! made from a country or network its author never signed in from is raised.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use rulewatch_core::sign_ins::{self, AUDIT_AZURE_AD, SETTING};

use crate::Global;

#[derive(Subcommand)]
pub enum SignInsCommand {
    /// Read Audit.AzureActiveDirectory sign-ins on every scan from now on
    On,
    /// Stop reading sign-ins (those already read are kept)
    Off,
    /// Whether sign-ins are read
    Show,
}

pub fn run(g: &Global, cmd: SignInsCommand) -> Result<ExitCode> {
    let store = g.store()?;
    match cmd {
        SignInsCommand::On => {
            store.set_setting(SETTING, &true)?;
            eprintln!(
                "Scans now read {AUDIT_AZURE_AD} sign-ins too. The app registration needs no other permission \
                 (ActivityFeed.Read covers it); the first scan reads the same backfill as for mail."
            );
        }
        SignInsCommand::Off => {
            store.set_setting(SETTING, &false)?;
            eprintln!("Scans no longer read sign-ins; those already read still inform alerts.");
        }
        SignInsCommand::Show => {
            let on = sign_ins::enabled(&store)?;
            println!(
                "sign-ins are {}",
                if on {
                    "read on every scan"
                } else {
                    "not read (turn on with `rulewatch sign-ins on`)"
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
