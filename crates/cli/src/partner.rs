//! `rulewatch partner`: sign in once as the MSP's partner account (with MFA, in the
//! browser or with a device code) and watch every customer it reaches through GDAP.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use rulewatch_core::app::{CustomerRow, SignInWith};
use rulewatch_core::shown::shown;
use serde_json::json;

use crate::Global;

#[derive(Subcommand)]
pub(crate) enum PartnerCommand {
    /// Sign in as the partner account: in the browser (Microsoft sends it back to a
    /// loopback port), or with --device-code on a machine without one
    Login {
        /// The partner (MSP) tenant id
        #[arg(long)]
        tenant: String,
        /// The partner app's client id (a multi-tenant public client)
        #[arg(long)]
        client_id: String,
        /// Print a code to enter at Microsoft's device login page instead
        #[arg(long)]
        device_code: bool,
        /// Only print the sign-in address; do not start a browser
        #[arg(long)]
        no_browser: bool,
    },
    /// List the customers now, with whether each is watched and its access state
    Customers {
        #[arg(long)]
        json: bool,
    },
    /// Watch one customer (again)
    Watch { tenant_id: String },
    /// Stop watching one customer, and keep it out of "watch all"
    Exclude { tenant_id: String },
    /// Whether new customers are watched automatically (on unless turned off)
    WatchAll {
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// The signed-in account (never its tokens)
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Remove the refresh token from the keychain and forget the account
    Logout,
}

pub(crate) async fn run(g: &Global, cmd: PartnerCommand) -> Result<ExitCode> {
    match cmd {
        PartnerCommand::Login {
            tenant,
            client_id,
            device_code,
            no_browser,
        } => {
            let session = g.session()?;
            let mut open = |url: &str| {
                eprintln!(
                    "Sign in to Microsoft in your browser. If it does not open, visit:\n{url}"
                );
                if !no_browser && let Err(e) = opener::open_browser(url) {
                    eprintln!("(the browser could not be started: {e})");
                }
            };
            let mut show = |message: &str| eprintln!("{}", shown(message));
            let with = if device_code {
                SignInWith::DeviceCode(&mut show)
            } else {
                SignInWith::Browser(&mut open)
            };
            let account = session.partner_sign_in(&tenant, &client_id, with).await?;
            eprintln!(
                "Signed in as {} (partner tenant {}). The refresh token is in the OS keychain.",
                shown(&account.upn),
                account.tenant_id
            );
            let found = session.discover().await?;
            eprintln!(
                "{} customer(s) found; {} now watched.",
                found.customers,
                found.now_watched.len()
            );
            for c in &found.now_watched {
                eprintln!("  watching {} ({})", shown(&c.name), shown(&c.tenant_id));
            }
            Ok(ExitCode::SUCCESS)
        }
        PartnerCommand::Customers { json } => {
            let session = g.session()?;
            session.discover().await?;
            customers(&session.customers()?, json)
        }
        PartnerCommand::Watch { tenant_id } => {
            match g.session()?.watch_customer(&tenant_id)? {
                (c, true) => eprintln!("{} is already watched.", shown(&c.name)),
                (c, false) => eprintln!("Watching {}.", shown(&c.name)),
            }
            Ok(ExitCode::SUCCESS)
        }
        PartnerCommand::Exclude { tenant_id } => {
            let c = g.session()?.exclude_customer(&tenant_id)?;
            eprintln!(
                "{} is no longer watched, and stays out of \"watch all\"; its alerts are kept.",
                c.tenant_id
            );
            Ok(ExitCode::SUCCESS)
        }
        PartnerCommand::WatchAll { state } => {
            g.session()?.set_watch_all(state == "on")?;
            eprintln!(
                "New customers are {} watched automatically.",
                if state == "on" { "now" } else { "no longer" }
            );
            Ok(ExitCode::SUCCESS)
        }
        PartnerCommand::Status { json } => {
            let state = g.session()?.partner_state()?;
            let account = state.account;
            if json {
                println!(
                    "{}",
                    json!({"account": account, "watch_all": state.watch_all})
                );
            } else {
                match account {
                    Some(a) => println!(
                        "Signed in as {} (partner tenant {}, app {}) since {}; last refreshed {}.",
                        shown(&a.upn),
                        a.tenant_id,
                        a.client_id,
                        a.signed_in_at,
                        a.refreshed_at
                    ),
                    None => println!("No partner account is signed in."),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PartnerCommand::Logout => {
            g.session()?.partner_sign_out().await?;
            eprintln!("Signed out: the refresh token is removed from the keychain.");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn customers(rows: &[CustomerRow], json: bool) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&rows)?)?;
    } else {
        for c in rows {
            let watch = if c.watched {
                "watched"
            } else if c.excluded {
                "excluded"
            } else {
                "not watched"
            };
            let access = match c.access {
                Some(state) => format!(
                    "{state:?}{}",
                    c.message
                        .as_deref()
                        .map(|m| format!(": {}", shown(m)))
                        .unwrap_or_default()
                ),
                None => "not scanned yet".into(),
            };
            let roles = c.gdap_roles.as_ref().map_or("roles unknown".into(), |r| {
                if r.is_empty() {
                    "no GDAP roles".into()
                } else {
                    shown(&r.join(", "))
                }
            });
            writeln!(
                out,
                "{}  {}  {watch}  {access}  [{roles}]",
                shown(&c.tenant_id),
                shown(&c.name)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
