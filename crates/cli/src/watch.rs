//! `rulewatch watch`: the scheduler without a window, for a small server or VM that covers
//! the nights. It scans at once and then at the interval set in the panel (or with
//! `--every`), prints each new alert from its own queue (so it never takes one from the
//! desktop app or `rulewatch scan` on the same data folder), delivers to the channels,
//! and stops cleanly on SIGTERM or Ctrl-C. Every blob commits in one transaction, so a
//! stop at any instant loses nothing and the next start resumes where it stopped.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use rulewatch_core::app::clock;
use rulewatch_core::app::{FrontEnd, SCAN_INTERVAL_MINUTES};

use crate::{Global, channel, scan};

pub(crate) async fn run(g: &Global, every: Option<u32>, json: bool) -> Result<ExitCode> {
    let session = g.session()?;
    if let Some(m) = every
        && !SCAN_INTERVAL_MINUTES.contains(&m)
    {
        anyhow::bail!(
            "--every {m} is out of range: give {} to {} minutes",
            SCAN_INTERVAL_MINUTES.start(),
            SCAN_INTERVAL_MINUTES.end()
        );
    }
    session.register(FrontEnd::Watch).await?;
    let mut stop = stop_signal()?;
    loop {
        let minutes = every.unwrap_or_else(|| session.preferences().scan_interval_minutes);
        let cycle = async {
            if session.has_anything_to_scan().await? {
                scan::run_scan(&session, FrontEnd::Watch, false, json).await?;
            } else {
                scan::print_new_alerts(&session, FrontEnd::Watch, json).await?;
            }
            channel::deliver(&session).await;
            anyhow::Ok(())
        };
        tokio::select! {
            done = cycle => {
                if let Err(e) = done {
                    // A failed cycle is said and the next one tried: the watcher keeps watching.
                    eprintln!("this scan failed: {e:#}; the next is in {minutes} min");
                }
            }
            _ = &mut stop => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(clock::wall(Duration::from_secs(u64::from(minutes) * 60))) => {}
            _ = &mut stop => break,
        }
    }
    eprintln!("stopped; the next start resumes where this one stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGTERM (systemd's stop) or Ctrl-C.
fn stop_signal() -> Result<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        Ok(Box::pin(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
        }))
    }
}
