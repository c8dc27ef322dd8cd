//! `rulewatch tenant add|list|remove`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{ArgGroup, Subcommand};
use rulewatch_core::app::{NewCredential, TenantInput};
use rulewatch_core::shown::shown;
use secrecy::SecretString;

use crate::{Global, output};

#[derive(Subcommand)]
pub(crate) enum TenantCommand {
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
        /// The app's certificate with its RSA private key: a PEM file, or a .pfx/.p12 file
        /// (as Windows exports it) whose password is read from standard input
        #[arg(long, value_name = "FILE.pem|FILE.pfx")]
        certificate: Option<PathBuf>,
        /// Your MSP's own tenant id, sent as PublisherIdentifier so Microsoft counts the
        /// calls against your quota; asked once (when stdin is a terminal) and stored
        #[arg(long, value_name = "GUID")]
        msp_tenant_id: Option<String>,
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

/// Asks at the terminal for the MSP's own tenant id; `None` when skipped.
fn ask_msp_tenant() -> Result<Option<String>> {
    eprint!(
        "Your MSP's own tenant id (Microsoft counts Management API calls against it as PublisherIdentifier; \
         Enter to skip): "
    );
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading your MSP's tenant id")?;
    Ok(Some(line.trim().to_string()).filter(|l| !l.is_empty()))
}

/// Windows exports a certificate with its key as .pfx (or .p12).
fn is_pkcs12(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("pfx") || e.eq_ignore_ascii_case("p12"))
}

pub(crate) async fn run(g: &Global, cmd: TenantCommand) -> Result<ExitCode> {
    let session = g.session()?;
    match cmd {
        TenantCommand::Add {
            tenant_id,
            name,
            client_id,
            client_secret_stdin,
            certificate,
            msp_tenant_id,
        } => {
            let stdin_taken = client_secret_stdin || certificate.as_deref().is_some_and(is_pkcs12);
            let credential = match (client_secret_stdin, certificate) {
                (true, _) => {
                    let text = crate::read_stdin("the client secret")?;
                    if text.trim().is_empty() {
                        bail!(
                            "the client secret read from standard input is empty; pipe the secret's value, e.g. \
                             `printf %s \"$SECRET\" | rulewatch tenant add … --client-secret-stdin`"
                        );
                    }
                    NewCredential::ClientSecret(SecretString::from(text))
                }
                (false, Some(path)) if is_pkcs12(&path) => {
                    let text = crate::read_stdin(&format!("the password of {}", path.display()))?;
                    NewCredential::CertificatePkcs12 {
                        path,
                        password: SecretString::from(text),
                    }
                }
                (false, Some(path)) => NewCredential::CertificateFile(path),
                (false, None) => bail!(
                    "give --client-secret-stdin, or --certificate with a .pem file or a .pfx/.p12 file (its password on standard input)"
                ),
            };
            let asked = match msp_tenant_id {
                Some(id) => Some(id),
                None if !session.msp_tenant()?.ask => None,
                // stdin is free for the question only when the secret did not come through it.
                None if !stdin_taken && std::io::stdin().is_terminal() => ask_msp_tenant()?,
                None => None,
            };
            let input = TenantInput {
                tenant_id,
                name,
                client_id,
                credential,
                cloud: session.config().cloud,
                msp_tenant_id: asked,
            };
            let added = session.add_tenant(input, "with --cloud").await?;
            eprintln!(
                "Added tenant {} ({}), {}; its secret is in the OS keychain. Run `rulewatch scan` to check it.",
                shown(&added.tenant.name),
                added.tenant.tenant_id,
                shown(&added.place)
            );
            match added.msp_tenant_id {
                Some(id) => {
                    eprintln!("Your MSP's tenant {id} is sent as PublisherIdentifier from now on.")
                }
                None if session.msp_tenant()?.ask => eprintln!(
                    "Each tenant's own id is sent as PublisherIdentifier, so each spends its own Microsoft quota. \
                     Give your MSP's own tenant id once with `--msp-tenant-id`."
                ),
                None => {}
            }
        }
        TenantCommand::List { json } => output::tenants(&session.tenants().await?, json)?,
        TenantCommand::Remove { tenant_id } => {
            session.remove_tenant(&tenant_id).await?;
            eprintln!("Removed tenant {tenant_id} and its keychain entries; its alerts are kept.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
