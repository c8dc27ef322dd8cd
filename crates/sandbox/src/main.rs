//! `m365-sandbox --listen ADDR (--scenario FILE | --demo)`: serves until interrupted.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use m365_sandbox::Scenario;
use tracing_subscriber::EnvFilter;

/// A loopback stand-in for the Microsoft 365 endpoints Rulewatch calls.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Scenario file (JSON).
    #[arg(long, required_unless_present = "demo", conflicts_with = "demo")]
    scenario: Option<PathBuf>,
    /// Play the built-in demo scenario.
    #[arg(long)]
    demo: bool,
}

/// Exit code for an unusable scenario file.
const BAD_SCENARIO: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let scenario = match &args.scenario {
        None => Scenario::demo(),
        Some(path) => match std::fs::read_to_string(path) {
            Err(err) => {
                eprintln!("m365-sandbox: cannot read {}: {err}", path.display());
                return ExitCode::from(BAD_SCENARIO);
            }
            Ok(text) => match Scenario::from_json(&text) {
                Err(err) => {
                    eprintln!("m365-sandbox: {}: {err}", path.display());
                    return ExitCode::from(BAD_SCENARIO);
                }
                Ok(scenario) => scenario,
            },
        },
    };
    let sandbox = match m365_sandbox::start(args.listen, scenario).await {
        Ok(sandbox) => sandbox,
        Err(err) => {
            eprintln!("m365-sandbox: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", sandbox.base_url());
    if let Err(err) = std::io::stdout().flush() {
        eprintln!("m365-sandbox: cannot write to stdout: {err}");
        return ExitCode::FAILURE;
    }
    if let Err(err) = stopped().await {
        eprintln!("m365-sandbox: cannot wait for a stop signal: {err}");
    }
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}

/// Ctrl-C, or SIGTERM where there is one.
async fn stopped() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
