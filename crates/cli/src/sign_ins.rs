//! `rulewatch sign-ins on|off|show`: whether scans also read Entra sign-ins, so a change
//! made from a country or network its author never signed in from is raised.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use rulewatch_core::app::AUDIT_AZURE_AD;

use crate::Global;

#[derive(Subcommand)]
pub(crate) enum SignInsCommand {
    /// Read Audit.AzureActiveDirectory sign-ins on every scan from now on
    On,
    /// Stop reading sign-ins (those already read are kept)
    Off,
    /// Whether sign-ins are read
    Show,
}

pub(crate) fn run(g: &Global, cmd: SignInsCommand) -> Result<ExitCode> {
    let session = g.session()?;
    match cmd {
        SignInsCommand::On => {
            session.set_sign_ins(true)?;
            eprintln!(
                "Scans now read {AUDIT_AZURE_AD} sign-ins too. The app registration needs no other permission \
                 (ActivityFeed.Read covers it); the first scan reads the same backfill as for mail."
            );
        }
        SignInsCommand::Off => {
            session.set_sign_ins(false)?;
            eprintln!("Scans no longer read sign-ins; those already read still inform alerts.");
        }
        SignInsCommand::Show => {
            let on = session.sign_ins()?;
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
