//! `rulewatch tenant add|list|remove`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{ArgGroup, Subcommand};
use rulewatch_core::secrets::Keychain;
use rulewatch_core::tenants::{self, NewCredential, NewTenant};
use secrecy::SecretString;

use crate::{Global, output};

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Add a client tenant reached by an Entra app registration (app-only)
    #[command(group(ArgGroup::new("credential").required(true).args(["client_secret_stdin", "certificate"])))]
    Add {
        /// The client tenant's id (GUID)
        #[arg(long)]
        tenant_id: String,
        /// A display name, e.g. the customer's name
        #[arg(long)]
        name: String,
        /// The app registration's application (client) id
        #[arg(long)]
        client_id: String,
        /// Read the client secret from standard input (never from the command line)
        #[arg(long)]
        client_secret_stdin: bool,
        /// A PEM file with the app's certificate and its RSA private key
        #[arg(long, value_name = "FILE.pem")]
        certificate: Option<PathBuf>,
    },
    /// List the configured tenants
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a tenant and its keychain entries (its alerts stay)
    Remove {
        /// The tenant id
        tenant_id: String,
    },
}

pub async fn run(g: &Global, cmd: TenantCommand) -> Result<ExitCode> {
    let store = g.store()?;
    match cmd {
        TenantCommand::Add {
            tenant_id,
            name,
            client_id,
            client_secret_stdin,
            certificate,
        } => {
            let credential = match (client_secret_stdin, certificate) {
                (true, _) => {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .context("reading the client secret from standard input")?;
                    NewCredential::ClientSecret(SecretString::from(text))
                }
                (false, Some(path)) => NewCredential::CertificateFile(path),
                (false, None) => bail!("give --client-secret-stdin or --certificate FILE.pem"),
            };
            let new = NewTenant {
                tenant_id,
                name,
                client_id,
                credential,
            };
            let row =
                tokio::task::spawn_blocking(move || tenants::add_tenant(&store, &Keychain, new))
                    .await??;
            eprintln!(
                "Added tenant {} ({}); its secret is in the OS keychain. Run `rulewatch scan` to check it.",
                row.name, row.tenant_id
            );
        }
        TenantCommand::List { json } => output::tenants(&store.tenants()?, json)?,
        TenantCommand::Remove { tenant_id } => {
            let id = tenant_id.clone();
            tokio::task::spawn_blocking(move || tenants::remove_tenant(&store, &Keychain, &id))
                .await??;
            eprintln!("Removed tenant {tenant_id} and its keychain entries; its alerts are kept.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
