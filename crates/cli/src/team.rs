//! `rulewatch team join|leave|status`: this data folder's store on the team's
//! PostgreSQL database, or on its own file again.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use rulewatch_core::app::{join_team, leave_team};
use rulewatch_core::shown::shown;

use crate::Global;

#[derive(Subcommand)]
pub(crate) enum TeamCommand {
    /// Use the team's PostgreSQL database from now on. TLS with the server's
    /// certificate checked unless the URL's sslmode says otherwise (sslmode=disable only
    /// for a server on this machine); sslrootcert=FILE trusts your own CA
    Join {
        /// postgres://USER@HOST[:PORT]/DATABASE[?sslmode=…&sslrootcert=…]
        url: String,
        /// Read the database password from standard input (kept in the keychain)
        #[arg(long)]
        password_stdin: bool,
    },
    /// Use this data folder's own file again (what the team's database holds stays there)
    Leave,
    /// Copy this data folder's own alerts, tenants (not their secrets), allowlist and
    /// remediation record into the team's database; what it has already is not copied again
    Migrate,
    /// Print the key that signs the team's remediation record, for a colleague's
    /// workstation; or with --adopt, take that key from standard input
    RecordKey {
        /// Read the key a colleague's workstation printed from standard input
        #[arg(long)]
        adopt: bool,
    },
    /// Who is on duty, which workstation holds which tenant's scan, each tenant's last scan
    Status {
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(g: &Global, cmd: TeamCommand) -> Result<ExitCode> {
    match cmd {
        TeamCommand::Join {
            url,
            password_stdin,
        } => {
            let password = if password_stdin {
                let text = crate::read_stdin("the database password")?;
                let password = text.trim_end_matches(['\r', '\n']).to_string();
                if password.is_empty() {
                    bail!(
                        "the password on standard input is empty: pipe it in, as in `printf %s \"$PW\" | rulewatch team join URL --password-stdin`"
                    );
                }
                Some(password)
            } else {
                None
            };
            let (url, sslmode) = join_team(&g.config()?, &url, password)?;
            eprintln!(
                "Joined the team's database at {} ({}). Every Rulewatch on this data folder now shares its alerts, \
                 tenants and record; `rulewatch team leave` returns to the folder's own file.",
                shown(&url),
                describe(sslmode)
            );
        }
        TeamCommand::Leave => match leave_team(&g.config()?)? {
            Some(url) => eprintln!(
                "Left the team's database at {}; this data folder's own file is used again.",
                shown(&url)
            ),
            None => eprintln!("This data folder is in no team; nothing changed."),
        },
        TeamCommand::Migrate => {
            let m = g.session()?.migrate_to_team().await?;
            eprintln!(
                "Copied into the team's database: {} tenant(s), {} allowlist entr(ies), {} alert(s), {} remediation step(s). \
                 What it held already was left as it was; the copied alerts are not notified again.",
                m.tenants, m.allowlist, m.alerts, m.steps
            );
        }
        TeamCommand::RecordKey { adopt: false } => {
            let key = g.session()?.share_record_key().await?;
            eprintln!(
                "Whoever holds this key can sign the team's remediation record: hand it over only through a channel \
                 you trust (for example `rulewatch team record-key | ssh COLLEAGUE rulewatch team record-key --adopt`), \
                 never by chat or e-mail."
            );
            println!("{key}");
        }
        TeamCommand::RecordKey { adopt: true } => {
            let key = crate::read_stdin("the record's key")?;
            let head = g.session()?.adopt_record_key(key).await?;
            eprintln!(
                "The key signs every step of the team's remediation record (up to step {head}); this workstation \
                 now adds steps to it and checks it."
            );
        }
        TeamCommand::Status { json } => {
            let Some(status) = g.session()?.team_status().await? else {
                bail!(
                    "this data folder is in no team: join one with `rulewatch team join postgres://USER@HOST/DATABASE`"
                );
            };
            if json {
                println!("{}", serde_json::to_string(&status)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "team database: {} ({})",
                shown(&status.url),
                describe(status.sslmode)
            );
            println!(
                "this workstation: {} since {}",
                status.workstation, status.joined_at
            );
            println!("technicians:");
            if status.technicians.is_empty() {
                println!("  (nobody has gone off duty; everyone is notified)");
            }
            for t in &status.technicians {
                println!(
                    "  {:<24} {} since {}",
                    shown(&t.technician),
                    if t.on_duty { "on duty " } else { "off duty" },
                    t.since
                );
            }
            println!("leases held:");
            if status.leases.is_empty() {
                println!("  (none: nothing is being scanned, remediated or delivered)");
            }
            for l in &status.leases {
                println!(
                    "  {:<40} {} until {}",
                    shown(&l.key),
                    shown(&l.holder),
                    l.until
                );
            }
            println!("tenants:");
            for t in &status.tenants {
                println!(
                    "  {:<24} {:<38} last scanned {}",
                    shown(&t.name),
                    shown(&t.tenant_id),
                    t.last_success_at.as_deref().unwrap_or("never")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(sslmode: &str) -> &'static str {
    match sslmode {
        "verify-full" => "TLS, the server's certificate checked against its name",
        "verify-ca" => "TLS, the server's certificate checked but not its name",
        "require" => "TLS, the server's certificate NOT checked",
        _ => "no TLS: a server on this machine",
    }
}
