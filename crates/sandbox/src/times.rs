//! The time formats Microsoft uses in records, blob listings and query windows.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SubsecRound, Utc};

/// Audit records: UTC without a zone suffix, e.g. `2023-05-29T12:29:35`.
pub(crate) fn record_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Blob listings: milliseconds and `Z`, e.g. `2015-05-23T17:35:00.000Z`.
pub(crate) fn content_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Entra error bodies: `2024-02-05 10:11:12Z`.
pub(crate) fn entra_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// The sandbox's clock: the wall clock, or with `clock_speed` above 1 a scenario clock that
/// starts at the sandbox's start and runs that many times as fast, so a test lives through a
/// day of feed, tokens and retries in minutes. A client on the same scenario clock is given
/// the anchor and speed (`GET /_sandbox/clock`) and computes the same time; tests build
/// one from them with [`Clock::from_anchor`].
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    anchor: DateTime<Utc>,
    speed: u32,
}

impl Clock {
    /// A clock that starts now; `speed` 1 is the wall clock.
    pub(crate) fn start(speed: u32) -> Clock {
        Clock {
            anchor: Utc::now().trunc_subsecs(3),
            speed: speed.max(1),
        }
    }

    /// The clock `GET /_sandbox/clock` describes: `speed` times as fast as the wall clock
    /// from the wall-clock instant `anchor`.
    pub fn from_anchor(anchor: DateTime<Utc>, speed: u32) -> Clock {
        Clock {
            anchor,
            speed: speed.max(1),
        }
    }

    /// This clock's time when the wall clock reads `wall`.
    pub fn at(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        if self.speed == 1 {
            return wall;
        }
        self.anchor + (wall - self.anchor) * i32::try_from(self.speed).unwrap_or(i32::MAX)
    }

    /// Now, on this clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.at(Utc::now())
    }

    /// Now, at the millisecond precision blob listings show.
    pub(crate) fn now_ms(&self) -> DateTime<Utc> {
        self.now().trunc_subsecs(3)
    }

    /// The wall-clock instant the scenario clock starts from, and its speed.
    pub fn anchor(&self) -> (DateTime<Utc>, u32) {
        (self.anchor, self.speed)
    }
}

/// `startTime`/`endTime`: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS`, UTC;
/// a trailing `Z` and fractional seconds are accepted too since clients send them.
pub(crate) fn parse_window_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)
        })?;
    Some(naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_times_accept_the_documented_formats() {
        let cases = [
            ("2026-11-27", "2026-11-27T00:00:00.000Z"),
            ("2026-11-27T10:05", "2026-11-27T10:05:00.000Z"),
            ("2026-11-27T10:05:09", "2026-11-27T10:05:09.000Z"),
            ("2026-11-27T10:05:09Z", "2026-11-27T10:05:09.000Z"),
            ("2026-11-27T10:05:09.25Z", "2026-11-27T10:05:09.250Z"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_window_time(input).map(content_time).as_deref(),
                Some(expected),
                "{input}"
            );
        }
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-11-27 10:05",
            "2026-11-27T10",
        ] {
            assert_eq!(parse_window_time(bad), None, "{bad}");
        }
    }
}
