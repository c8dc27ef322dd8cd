//! The account-takeover chain an incident can hold (issue 16 item 4): a change made from a
//! country the account had never signed in from, a new or removed MFA method, then the
//! account's mail forwarded outside, all within a day. Each alert still alerts on its
//! own; the chain makes its incident critical and says so in one sentence, which channels
//! and the panel show as the incident's title.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::detect::{INBOX_RULE_EXTERNAL_FORWARD, MAILBOX_EXTERNAL_FORWARD, MFA_CHANGED};

/// The chain's links must all fall within this span: an intruder's sign-in, MFA change
/// and forwarding rule come within hours of each other (detections-and-response.md 2.6);
/// the incident's own window (a day) bounds it.
const CHAIN_SPAN: chrono::Duration = super::incidents::INCIDENT_WINDOW;

/// One alert as the chain reads it.
pub(super) struct Link<'a> {
    pub(super) rule: &'a str,
    pub(super) at: DateTime<Utc>,
    /// The alert's origin (see `enrich`): its familiarity and location.
    pub(super) origin: Option<&'a Value>,
}

/// The chain found in an incident's alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Chain {
    /// The country the account had never signed in from, as the origin names it.
    pub(super) country: String,
}

impl Chain {
    /// The incident's title: one sentence, attacker text made visible by the caller.
    pub(super) fn sentence(&self, subject: &str) -> String {
        format!(
            "Account takeover: {subject} was used from {}, where it had never signed in, then its MFA was \
             changed and its mail forwarded outside",
            self.country
        )
    }
}

fn new_country(origin: Option<&Value>) -> Option<String> {
    let origin = origin?;
    if origin["familiarity"] != "new_country" {
        return None;
    }
    let location = &origin["location"];
    Some(
        location["country"]
            .as_str()
            .or(location["country_code"].as_str())
            .unwrap_or("a new country")
            .to_string(),
    )
}

/// The chain in `links` (any order): a new-country origin at or before an MFA change, at
/// or before the mail forwarded outside, first to last within [`CHAIN_SPAN`].
pub(super) fn find(links: &[Link<'_>]) -> Option<Chain> {
    let forwards = links
        .iter()
        .filter(|l| l.rule == INBOX_RULE_EXTERNAL_FORWARD || l.rule == MAILBOX_EXTERNAL_FORWARD);
    for forward in forwards {
        for mfa in links
            .iter()
            .filter(|l| l.rule == MFA_CHANGED && l.at <= forward.at)
        {
            let foreign = links
                .iter()
                .filter(|l| l.at <= mfa.at && forward.at - l.at <= CHAIN_SPAN)
                .find_map(|l| new_country(l.origin));
            if let Some(country) = foreign {
                return Some(Chain { country });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use serde_json::json;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::hours(hours)
    }

    #[test]
    fn sign_in_abroad_then_mfa_then_forwarding_is_a_chain_in_order_and_within_a_day() {
        let lagos = json!({"familiarity": "new_country", "location": {"country": "Nigeria", "country_code": "NG"}});
        let home =
            json!({"familiarity": "known_address", "location": {"country": "United Kingdom"}});
        let link = |rule, hours, origin| Link {
            rule,
            at: at(hours),
            origin,
        };
        let chain = find(&[
            link(INBOX_RULE_EXTERNAL_FORWARD, 3, Some(&home)),
            link(MFA_CHANGED, 1, Some(&lagos)),
        ]);
        assert_eq!(
            chain,
            Some(Chain {
                country: "Nigeria".into()
            })
        );
        // A forwarding before the MFA change, an MFA change from home, or links more than a
        // day apart are no chain.
        assert_eq!(
            find(&[
                link(INBOX_RULE_EXTERNAL_FORWARD, 0, Some(&home)),
                link(MFA_CHANGED, 1, Some(&lagos)),
            ]),
            None
        );
        assert_eq!(
            find(&[
                link(MFA_CHANGED, 1, Some(&home)),
                link(MAILBOX_EXTERNAL_FORWARD, 2, None),
            ]),
            None
        );
        assert_eq!(
            find(&[
                link(MFA_CHANGED, 0, Some(&lagos)),
                link(MAILBOX_EXTERNAL_FORWARD, 25, None),
            ]),
            None
        );
        // The new country may show on an earlier alert of the account than the MFA change.
        assert!(
            find(&[
                link("inbox-rule-hides-mail", 0, Some(&lagos)),
                link(MFA_CHANGED, 1, None),
                link(MAILBOX_EXTERNAL_FORWARD, 2, None),
            ])
            .is_some()
        );
    }
}
