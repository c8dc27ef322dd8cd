//! Where the front ends' diagnostics go: stderr at the level asked for (`-v`,
//! `RULEWATCH_LOG`), and for the desktop app and long CLI runs also a daily log file in
//! the data folder's `logs/` at the `-v` level, a week kept. Nothing logged carries a
//! secret (see secrets.rs); the file is the user's alone like the rest of the folder.
#![warn(missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Log files kept: one a day, a week.
const KEEP_DAYS: usize = 7;
/// What the file records: what `-v` shows.
const FILE_LEVEL: &str = "info";

/// The `logs/` folder of a data folder.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// Sends diagnostics to stderr (`RULEWATCH_LOG`, else `stderr_level`) and, when
/// `data_dir` is given and usable, to a daily file in its `logs/`. Answers the folder
/// the file is in; `None` when there is none (the store then reports why the data
/// folder cannot be used). Call it once per process: it installs the global subscriber,
/// and panics if one is already installed.
pub fn init(stderr_level: &str, data_dir: Option<&Path>) -> Option<PathBuf> {
    let stderr_filter =
        EnvFilter::try_from_env("RULEWATCH_LOG").unwrap_or_else(|_| EnvFilter::new(stderr_level));
    let stderr = fmt::layer()
        .with_writer(Shown(std::io::stderr))
        // Colours would be escaped like any other control sequence.
        .with_ansi(false)
        .with_target(false)
        .with_filter(stderr_filter);
    let file = data_dir.and_then(|d| match daily_file(d) {
        Ok(appender) => Some((log_dir(d), appender)),
        Err(e) => {
            eprintln!("warning: no log file is written: {e}");
            None
        }
    });
    let (dir, appender) = file.unzip();
    let file_layer = appender.map(|a| {
        fmt::layer()
            .with_writer(Shown(a))
            .with_ansi(false)
            .with_target(false)
            .with_filter(EnvFilter::new(FILE_LEVEL))
    });
    tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .init();
    dir
}

/// Log lines carry audit data, which attackers write: every event is written as
/// [`crate::shown::shown`] shows text, its own closing newline kept. tracing-subscriber
/// escapes ESC and C1 itself, but not a carriage return, a newline that forges another
/// line, or characters that reorder or hide text.
struct Shown<M>(M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Shown<M> {
    type Writer = ShownWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        ShownWriter(self.0.make_writer())
    }
}

struct ShownWriter<W>(W);

impl<W: Write> Write for ShownWriter<W> {
    /// The formatter hands over each event whole, in one call.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, end) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (text.as_ref(), ""),
        };
        let mut out = crate::shown::shown(body);
        out.push_str(end);
        self.0.write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn daily_file(data_dir: &Path) -> Result<tracing_appender::rolling::RollingFileAppender, String> {
    crate::folder::prepare(data_dir).map_err(|e| e.to_string())?;
    let dir = log_dir(data_dir);
    crate::folder::private_subfolder(&dir).map_err(|e| e.to_string())?;
    tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("rulewatch")
        .filename_suffix("log")
        .max_log_files(KEEP_DAYS)
        .build(&dir)
        .map_err(|e| format!("cannot open a log file in {} ({e})", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_cannot_return_the_cursor_forge_a_line_or_reorder_text() {
        let mut out = ShownWriter(Vec::new());
        out.write_all(b"INFO Contoso \xe2\x80\xaeltd: rule 'a\r\nERROR forged\x1b[2K'\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "INFO Contoso <U+202E>ltd: rule 'a\\u{d}\\u{a}ERROR forged\\u{1b}[2K'\n"
        );
    }
}
