//! Rulewatch's clock for everything it compares with Microsoft's times: the wall clock,
//! or, for tests and demos of the always-on watcher, the sandbox's scenario clock.
//!
//! `RULEWATCH_SCENARIO_CLOCK=ANCHOR_MS x SPEED` (e.g. `1796220000000x480`, as the
//! sandbox's `GET /_sandbox/clock` gives them) runs the clock `SPEED` times as fast from
//! the wall-clock instant `ANCHOR_MS` (Unix milliseconds), in step with a sandbox started
//! with that `clock_speed`, so a day of scans, incidents, quiet hours and digests passes in
//! minutes. Only the CLI reads the variable (`init_from_env`), and says so when it is set;
//! the desktop app always runs on the wall clock. Leases between processes stay on the
//! wall clock, since they time processes, not audit data.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The environment variable that sets a scenario clock.
pub const ENV: &str = "RULEWATCH_SCENARIO_CLOCK";

/// The fastest scenario clock accepted, the sandbox's own limit.
const MAX_SPEED: u32 = 3_600;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Scenario {
    anchor: DateTime<Utc>,
    speed: u32,
}

static SCENARIO: OnceLock<Scenario> = OnceLock::new();

/// `RULEWATCH_SCENARIO_CLOCK` is set to something that is not a scenario clock.
#[derive(Debug, thiserror::Error)]
#[error(
    "{ENV} is not ANCHOR_MSxSPEED (Unix milliseconds, then a speed from 1 to {MAX_SPEED}, e.g. 1796220000000x480); unset it to use the wall clock"
)]
pub struct BadScenarioClock;

/// Reads `RULEWATCH_SCENARIO_CLOCK` once; answers the speed when it sets a scenario clock.
pub fn init_from_env() -> Result<Option<u32>, BadScenarioClock> {
    let Some(text) = std::env::var_os(ENV) else {
        return Ok(None);
    };
    let scenario = text.to_str().and_then(parse).ok_or(BadScenarioClock)?;
    let set = *SCENARIO.get_or_init(|| scenario);
    Ok(Some(set.speed))
}

fn parse(text: &str) -> Option<Scenario> {
    let (anchor, speed) = text.trim().split_once(['x', 'X'])?;
    let anchor = DateTime::from_timestamp_millis(anchor.trim().parse().ok()?)?;
    let speed: u32 = speed.trim().parse().ok()?;
    (1..=MAX_SPEED)
        .contains(&speed)
        .then_some(Scenario { anchor, speed })
}

/// Now: the wall clock, or the scenario clock when one is set.
pub fn now() -> DateTime<Utc> {
    let wall = Utc::now();
    match SCENARIO.get() {
        Some(s) if s.speed > 1 => {
            s.anchor + (wall - s.anchor) * i32::try_from(s.speed).unwrap_or(i32::MAX)
        }
        _ => wall,
    }
}

/// How long `span` of this clock's time lasts on the wall clock, for sleeps and caches.
pub fn wall(span: Duration) -> Duration {
    match SCENARIO.get() {
        Some(s) => span / s.speed,
        None => span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_clocks_parse_only_in_the_documented_form() {
        assert_eq!(
            parse("1796220000000x480"),
            Some(Scenario {
                anchor: DateTime::from_timestamp_millis(1_796_220_000_000).unwrap(),
                speed: 480
            })
        );
        assert_eq!(parse(" 1796220000000X1 ").map(|s| s.speed), Some(1));
        for bad in [
            "",
            "480",
            "x480",
            "1796220000000x0",
            "1796220000000x3601",
            "soonx2",
            "1x2x3",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
