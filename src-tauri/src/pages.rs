//! Letting go of pages the idle app holds but can read again from their files. Starting,
//! a scan and a panel touch code and read-only data of the app's own binary and of its
//! libraries (WebKit's relocation tables and speech voices, GTK); those pages then stay
//! mapped, counted against the app and kept from reclaim as mapped pages, long after
//! the work is done. Measured with /proc/PID/smaps in the tray, panel never opened: 72 MB
//! of PSS, 12 MB of it the binary's own code and some 25 MB more of clean, read-only
//! library pages.
//!
//! Only private, read-only mappings of files in which no page was ever written are let
//! go of, so no byte changes: the kernel reclaims exactly such pages under memory
//! pressure at any time, and each comes back from the page cache (or the file) the next
//! time it is read, as they do after such a reclaim.
//!
//! Only the app's own binary and shared libraries are let go of, never another file
//! mapping (a font, a cache): those stay mapped for the process's life, so the range
//! read from smaps cannot be unmapped and given to other memory before `madvise` runs.

/// After a scan with no panel open, and once a closed panel's network process has ended;
/// answers how many KB were let go of.
#[cfg(target_os = "linux")]
pub(crate) fn let_go(after: &str) -> usize {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut dropped = 0;
    let exe = std::fs::read_link("/proc/self/exe").unwrap_or_default();
    for mapping in clean_mappings(&smaps, &exe.to_string_lossy()) {
        // SAFETY: the range is a whole private mapping of a file, readable and never
        // writable, in which no page was written (no dirty, anonymous or swapped page),
        // so dropping its pages changes no byte: each is read again from the file.
        if unsafe {
            libc::madvise(
                mapping.start as *mut libc::c_void,
                mapping.len,
                libc::MADV_DONTNEED,
            )
        } == 0
        {
            dropped += mapping.resident_kb;
        }
    }
    tracing::info!(
        "{after}: let go of {} MB of code and read-only data read from files",
        dropped / 1024
    );
    dropped
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn let_go(_after: &str) -> usize {
    0
}

/// A mapping whose pages can be let go of, from /proc/self/smaps.
#[cfg(target_os = "linux")]
#[derive(Debug, PartialEq)]
struct Mapping {
    start: usize,
    len: usize,
    resident_kb: usize,
}

/// The private `r--p` and `r-xp` mappings of shared libraries and of `exe` in `smaps`
/// that hold pages (no empty one is worth a call) and no written one.
#[cfg(target_os = "linux")]
fn clean_mappings(smaps: &str, exe: &str) -> Vec<Mapping> {
    let mut found = Vec::new();
    let mut current: Option<(Mapping, bool)> = None;
    let mut finish = |current: Option<(Mapping, bool)>| {
        found.extend(
            current
                .filter(|(m, clean)| *clean && m.resident_kb > 0)
                .map(|(m, _)| m),
        );
    };
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            finish(current.take());
            let perms = words.next().unwrap_or_default();
            // Offset, device and inode, then the path, which may hold spaces.
            let path = words.skip(3).collect::<Vec<_>>().join(" ");
            let name = path.rsplit('/').next().unwrap_or_default();
            let library = name.ends_with(".so") || name.contains(".so.");
            // Files only, never the heap, stack or vDSO; a memfd's or a deleted file's
            // pages live in memory alone.
            let kept = path.starts_with('/')
                && (library || path == exe)
                && !path.starts_with("/memfd:")
                && !path.ends_with(" (deleted)");
            if matches!(perms, "r--p" | "r-xp") && kept && end > start {
                current = Some((
                    Mapping {
                        start,
                        len: end - start,
                        resident_kb: 0,
                    },
                    true,
                ));
            }
            continue;
        }
        let Some((mapping, clean)) = current.as_mut() else {
            continue;
        };
        let kb = words
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        match first {
            "Rss:" => mapping.resident_kb = kb,
            "Private_Dirty:" | "Shared_Dirty:" | "Anonymous:" | "Swap:" if kb > 0 => *clean = false,
            _ => {}
        }
    }
    finish(current);
    found
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{Mapping, clean_mappings};

    /// Only pages of the app's binary and of libraries, read and never written, are let
    /// go of: a mapping with a written page (relocated data, a debugger's breakpoint), a
    /// writable or shared one, another file (a font), memory with no file behind it, and
    /// an empty one keep theirs.
    #[test]
    fn only_clean_pages_of_the_binary_and_libraries_are_let_go_of() {
        let entry = |range: &str, perms: &str, path: &str, rss: usize, dirty: usize| {
            format!(
                "{range} {perms} 00000000 fe:00 42    {path}\nSize:  64 kB\nRss:  {rss} kB\n\
                 Pss:  {rss} kB\nShared_Dirty:  0 kB\nPrivate_Dirty:  {dirty} kB\n\
                 Anonymous:  {dirty} kB\nSwap:  0 kB\nVmFlags: rd ex mr mw me\n"
            )
        };
        let webkit = "/usr/lib/x86_64-linux-gnu/libwebkit2gtk-4.1.so.0.19.9";
        let app = "/opt/Rule watch/rulewatch-desktop";
        let smaps = [
            entry("1000-3000", "r-xp", webkit, 8, 0),
            entry("3000-4000", "r--p", webkit, 4, 4),
            entry("4000-5000", "rw-p", webkit, 4, 0),
            entry("5000-6000", "r--p", app, 4, 0),
            entry("6000-7000", "r-xp", app, 0, 0),
            entry(
                "7000-8000",
                "r--s",
                "/usr/share/icons/hicolor/icon-theme.cache",
                4,
                0,
            ),
            entry("8000-9000", "r--p", "/memfd:wayland-cursor", 4, 0),
            entry("9000-a000", "r--p", "/tmp/gone.so (deleted)", 4, 0),
            entry(
                "a000-b000",
                "r--p",
                "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                4,
                0,
            ),
            entry("b000-c000", "r--p", "[heap]", 4, 0),
            entry("c000-d000", "r-xp", "[vdso]", 4, 0),
            entry("d000-e000", "r--p", "", 4, 0),
            entry("e000-10000", "r-xp", app, 6, 0),
            entry("10000-11000", "r--p", "/opt/other/rulewatch-desktop", 4, 0),
            entry(
                "11000-12000",
                "r--p",
                "/usr/lib/x86_64-linux-gnu/libflite_cmu_us_slt.so.2.2",
                4,
                0,
            ),
        ]
        .concat();
        assert_eq!(
            clean_mappings(&smaps, app),
            [
                Mapping {
                    start: 0x1000,
                    len: 0x2000,
                    resident_kb: 8
                },
                Mapping {
                    start: 0x5000,
                    len: 0x1000,
                    resident_kb: 4
                },
                Mapping {
                    start: 0xe000,
                    len: 0x2000,
                    resident_kb: 6
                },
                Mapping {
                    start: 0x11000,
                    len: 0x1000,
                    resident_kb: 4
                },
            ]
        );
        assert_eq!(clean_mappings("", app), []);
    }

    /// A process carries on after letting go, with every library this crate links (GTK,
    /// WebKit, TLS, SQLite) mapped: were a written page ever let go of (relocated data,
    /// say), what it read next would be the file's bytes and this would crash or differ.
    #[test]
    fn a_process_that_let_go_runs_on() {
        let work = || {
            let value: serde_json::Value =
                serde_json::from_str(r#"{"rule": "Forward to bob@fabrikam.com", "n": [1, 2.5]}"#)
                    .expect("JSON");
            format!(
                "{value} {:?}",
                chrono::DateTime::from_timestamp(1_700_000_000, 0)
            )
        };
        let before = work();
        assert!(
            super::let_go("a test") > 0,
            "the test's own code and its libraries' were found and let go of"
        );
        assert_eq!(work(), before);
        super::let_go("a test again");
        assert_eq!(work(), before);
    }
}
