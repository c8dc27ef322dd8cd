//! A scan's progress on stderr: a bar when stderr is a terminal (indicatif), otherwise a
//! plain line at each tenth of the tenants, so a log of a long scan shows it moving
//! without a line per tenant.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Scans of fewer tenants than this are quick enough to go without plain lines.
const LINES_FROM: usize = 10;

pub(crate) enum ScanProgress {
    Bar(ProgressBar),
    /// The last tenth a plain line was printed for.
    Lines(Mutex<usize>),
}

impl ScanProgress {
    pub(crate) fn new() -> ScanProgress {
        if !std::io::stderr().is_terminal() {
            return ScanProgress::Lines(Mutex::new(0));
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:30} {pos}/{len} tenants scanned · {elapsed} (about {eta} left)",
        ) {
            bar.set_style(style);
        }
        ScanProgress::Bar(bar)
    }

    /// `done` of `total` tenants are scanned.
    pub(crate) fn update(&self, done: usize, total: usize) {
        match self {
            ScanProgress::Bar(bar) => {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
            ScanProgress::Lines(printed) if total >= LINES_FROM => {
                let tenth = done * 10 / total;
                let mut printed = printed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if tenth > *printed {
                    *printed = tenth;
                    eprintln!("Scanned {done}/{total} tenants");
                }
            }
            ScanProgress::Lines(_) => {}
        }
    }

    /// Runs `f`, which writes to the terminal, with the bar out of its way.
    pub(crate) fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match self {
            ScanProgress::Bar(bar) => bar.suspend(f),
            ScanProgress::Lines(_) => f(),
        }
    }

    /// The scan ended: the bar goes, so the summary lines follow the command line.
    pub(crate) fn finish(&self) {
        if let ScanProgress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
