//! The account-takeover chain an incident can hold (issue 16 item 4): a change made from a
//! country the account had never signed in from, then a hold on the account (a new or
//! removed MFA method, a password-only mail protocol turned on, an application given
//! consent to it), then its mail taken (forwarded outside, hidden by a rule, synchronised
//! or deleted in bulk), all within a day. Each alert still alerts on its own; the chain
//! makes its incident critical and says so in one sentence, which channels and the panel
//! show as the incident's title.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::detect::{
    APP_CONSENT, INBOX_RULE_EXTERNAL_FORWARD, INBOX_RULE_HIDES_MAIL, LEGACY_PROTOCOL,
    MAILBOX_BULK_SYNC, MAILBOX_EXTERNAL_FORWARD, MAILBOX_MASS_DELETION, MFA_CHANGED,
};

/// The chain's links must all fall within this span: an intruder's sign-in, MFA change
/// and forwarding rule come within hours of each other (detections-and-response.md 2.6);
/// the incident's own window (a day) bounds it.
const CHAIN_SPAN: chrono::Duration = super::incidents::INCIDENT_WINDOW;

/// What keeps an intruder in once the password is changed, by rule, with how the
/// sentence says it; the first is the pattern the issue names and is preferred.
/// (identity-and-account-takeover.md: MFA registration, legacy protocols that skip MFA,
/// consent phishing.)
const HOLDS: [(&str, &str); 3] = [
    (MFA_CHANGED, "its MFA was changed"),
    (
        LEGACY_PROTOCOL,
        "a password-only mail protocol was turned on for it",
    ),
    (APP_CONSENT, "an application was given consent to it"),
];

/// What takes the account's mail, by rule, with how the sentence says it; forwarding
/// outside first (detections-and-response.md: the BEC rule, then bulk access).
const TAKES: [(&str, &str); 5] = [
    (INBOX_RULE_EXTERNAL_FORWARD, "its mail forwarded outside"),
    (MAILBOX_EXTERNAL_FORWARD, "its mail forwarded outside"),
    (INBOX_RULE_HIDES_MAIL, "its mail hidden by an inbox rule"),
    (MAILBOX_BULK_SYNC, "its mailbox synchronised in bulk"),
    (MAILBOX_MASS_DELETION, "its mail deleted in bulk"),
];

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
    /// The hold, as the sentence says it.
    pub(super) hold: &'static str,
    /// What was done to the mail, as the sentence says it.
    pub(super) take: &'static str,
}

impl Chain {
    /// The incident's title: one sentence, attacker text made visible by the caller.
    pub(super) fn sentence(&self, subject: &str) -> String {
        format!(
            "Account takeover: {subject} was used from {}, where it had never signed in, then {} and {}",
            self.country, self.hold, self.take
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

/// The chain in `links` (any order): a new-country origin at or before a hold, at or
/// before the mail taken, first to last within [`CHAIN_SPAN`]. Of several, the one of the
/// earliest kinds in [`TAKES`] and [`HOLDS`].
pub(super) fn find(links: &[Link<'_>]) -> Option<Chain> {
    for (take_rule, take) in TAKES {
        for taken in links.iter().filter(|l| l.rule == take_rule) {
            for (hold_rule, hold) in HOLDS {
                for held in links
                    .iter()
                    .filter(|l| l.rule == hold_rule && l.at <= taken.at)
                {
                    let foreign = links
                        .iter()
                        .filter(|l| l.at <= held.at && taken.at - l.at <= CHAIN_SPAN)
                        .find_map(|l| new_country(l.origin));
                    if let Some(country) = foreign {
                        return Some(Chain {
                            country,
                            hold,
                            take,
                        });
                    }
                }
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
                country: "Nigeria".into(),
                hold: "its MFA was changed",
                take: "its mail forwarded outside",
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

    #[test]
    fn other_holds_and_other_ways_of_taking_mail_make_the_chain_too() {
        let lagos = json!({"familiarity": "new_country", "location": {"country_code": "NG"}});
        let link = |rule, hours, origin| Link {
            rule,
            at: at(hours),
            origin,
        };
        let imap_then_sync = find(&[
            link(LEGACY_PROTOCOL, 1, Some(&lagos)),
            link(MAILBOX_BULK_SYNC, 2, None),
        ])
        .unwrap();
        assert_eq!(
            imap_then_sync.sentence("ceo@contoso.com"),
            "Account takeover: ceo@contoso.com was used from NG, where it had never signed in, then a \
             password-only mail protocol was turned on for it and its mailbox synchronised in bulk"
        );
        let consent_then_hidden = find(&[
            link(APP_CONSENT, 1, Some(&lagos)),
            link(INBOX_RULE_HIDES_MAIL, 2, None),
            link(MAILBOX_MASS_DELETION, 3, None),
        ])
        .unwrap();
        assert_eq!(
            (consent_then_hidden.hold, consent_then_hidden.take),
            (
                "an application was given consent to it",
                "its mail hidden by an inbox rule"
            )
        );
        // Neither a hold alone nor a taking alone is a chain, nor a sign of either kind
        // that is no hold (a delegation) before the mail is taken.
        assert_eq!(find(&[link(LEGACY_PROTOCOL, 1, Some(&lagos))]), None);
        assert_eq!(find(&[link(MAILBOX_BULK_SYNC, 1, Some(&lagos))]), None);
        assert_eq!(
            find(&[
                link("mailbox-delegation", 1, Some(&lagos)),
                link(MAILBOX_BULK_SYNC, 2, None),
            ]),
            None
        );
    }
}
