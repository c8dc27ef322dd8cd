//! `forwarding-fan-in`: one outside address receiving forwarded mail from several
//! mailboxes, in one tenant or across the tenants Rulewatch watches. A phishing kit
//! that compromised many mailboxes usually forwards them all to the same drop box.

use chrono::{DateTime, Duration, Utc};

use super::text::{list, visible};
use super::{
    FORWARDING_FAN_IN, Finding, INBOX_RULE_EXTERNAL_FORWARD, MAILBOX_EXTERNAL_FORWARD, Severity,
};
pub use crate::evidence::Forward;
use crate::evidence::{Evidence, FanInEvidence};
use crate::rule::{Corpus, Rule};

/// One outside address receiving forwarded mail from several mailboxes.
pub const RULE: Rule = Rule {
    id: "forwarding-fan-in",
    title: "Several mailboxes forward to one address",
    notification: "several mailboxes forward to one address",
    description: "Mail of several mailboxes, in one tenant or across the tenants Rulewatch watches, is \
                  forwarded to the same outside address: the drop box of a phishing kit that took over many \
                  accounts.",
    false_positives: "A department forwarding to one outside service, such as a ticketing or CRM inbox.",
    attack: "T1114.003",
    severity: "critical for three or more mailboxes or more than one tenant; high for two",
    quieted_by: &[],
    references: &["https://attack.mitre.org/techniques/T1114/003/"],
    corpus: Corpus::Missing(
        "it correlates many forwarding alerts; the corpus holds one forwarding record",
    ),
};

/// Forwarding from different mailboxes this close together counts as one campaign.
pub const WINDOW: Duration = Duration::days(7);

/// The rules whose alerts mean "this mailbox's mail goes to that outside address".
pub fn is_forwarding(rule: &str) -> bool {
    rule == INBOX_RULE_EXTERNAL_FORWARD || rule == MAILBOX_EXTERNAL_FORWARD
}

/// A destination fed by more than one mailbox.
#[derive(Debug, Clone)]
pub struct FanIn {
    /// The outside address several mailboxes forward to.
    pub destination: String,
    /// Every forward of the campaign, oldest first.
    pub forwards: Vec<Forward>,
    /// The alert of the campaign as a whole.
    pub finding: Finding,
}

impl FanIn {
    /// When the first of the forwards was set up.
    pub fn first_event(&self) -> DateTime<Utc> {
        self.forwards[0].event_time
    }

    /// When the last of the forwards was set up.
    pub fn last_event(&self) -> DateTime<Utc> {
        self.forwards[self.forwards.len() - 1].event_time
    }

    /// The tenants involved, by name, in order of first appearance.
    pub fn tenant_names(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for f in &self.forwards {
            if !names.contains(&f.tenant_name.as_str()) {
                names.push(&f.tenant_name);
            }
        }
        names.join(" + ")
    }
}

/// Groups forwards to one destination into campaigns (each forward within [`WINDOW`]
/// of the previous one) and returns those reaching more than one mailbox.
pub fn campaigns(destination: &str, mut forwards: Vec<Forward>) -> Vec<FanIn> {
    forwards.sort_by(|a, b| {
        a.event_time
            .cmp(&b.event_time)
            .then(a.alert_id.cmp(&b.alert_id))
    });
    forwards.dedup();
    let mut groups: Vec<Vec<Forward>> = Vec::new();
    for f in forwards {
        match groups.last_mut() {
            Some(g) if f.event_time - g[g.len() - 1].event_time <= WINDOW => g.push(f),
            _ => groups.push(vec![f]),
        }
    }
    groups
        .into_iter()
        .filter_map(|g| judge(destination, g))
        .collect()
}

fn judge(destination: &str, forwards: Vec<Forward>) -> Option<FanIn> {
    let mut mailboxes: Vec<(String, String)> = Vec::new();
    let mut shown: Vec<String> = Vec::new();
    let mut actors: Vec<String> = Vec::new();
    let mut tenants: Vec<String> = Vec::new();
    for f in &forwards {
        if !mailboxes.contains(&f.mailbox_key()) {
            mailboxes.push(f.mailbox_key());
            shown.push(format!(
                "{} ({})",
                visible(&f.mailbox),
                visible(&f.tenant_name)
            ));
        }
        if !actors.contains(&f.actor) {
            actors.push(f.actor.clone());
        }
        if !tenants.contains(&f.tenant_id.to_lowercase()) {
            tenants.push(f.tenant_id.to_lowercase());
        }
    }
    if mailboxes.len() < 2 {
        return None;
    }
    let severity = if mailboxes.len() >= 3 || tenants.len() > 1 {
        Severity::Critical
    } else {
        Severity::High
    };
    let across = if tenants.len() > 1 {
        format!(" in {} tenants", tenants.len())
    } else {
        String::new()
    };
    let finding = Finding {
        rule: FORWARDING_FAN_IN,
        severity,
        target: destination.to_string(),
        actor: actors.join(", "),
        summary: format!(
            "Outside address {} receives mail forwarded from {} mailboxes{across} within 7 days: {}.",
            visible(destination),
            mailboxes.len(),
            list(&shown)
        ),
        details: Evidence::FanIn(FanInEvidence {
            destination: destination.to_string(),
            destinations: vec![destination.to_string()],
            mailboxes: mailboxes.len(),
            tenants: Some(tenants.len()),
            mailboxes_in_other_organisations: None,
            forwards: forwards.clone(),
        }),
    };
    Some(FanIn {
        destination: destination.to_string(),
        forwards,
        finding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fwd(id: i64, tenant: &str, mailbox: &str, day: i64) -> Forward {
        Forward {
            alert_id: Some(id),
            tenant_id: tenant.into(),
            tenant_name: format!("{tenant} Ltd"),
            mailbox: mailbox.into(),
            actor: mailbox.into(),
            operation: "New-InboxRule".into(),
            event_time: DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc)
                + Duration::days(day),
        }
    }

    #[test]
    fn one_mailbox_twice_is_no_campaign() {
        let found = campaigns(
            "eve@evil.example",
            vec![fwd(1, "a", "x@a.example", 0), fwd(2, "a", "X@a.example", 1)],
        );
        assert!(found.is_empty());
    }

    #[test]
    fn two_mailboxes_in_one_tenant_are_high_and_named() {
        let found = campaigns(
            "eve@evil.example",
            vec![fwd(1, "a", "x@a.example", 0), fwd(2, "a", "y@a.example", 6)],
        );
        assert_eq!(found.len(), 1);
        let f = &found[0].finding;
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.summary,
            "Outside address eve@evil.example receives mail forwarded from 2 mailboxes within 7 days: \
             x@a.example (a Ltd) and y@a.example (a Ltd)."
        );
    }

    #[test]
    fn across_tenants_is_critical() {
        let found = campaigns(
            "eve@evil.example",
            vec![fwd(2, "b", "y@b.example", 1), fwd(1, "a", "x@a.example", 0)],
        );
        assert_eq!(found[0].finding.severity, Severity::Critical);
        assert_eq!(found[0].tenant_names(), "a Ltd + b Ltd");
        assert!(
            found[0]
                .finding
                .summary
                .contains("2 mailboxes in 2 tenants")
        );
    }

    #[test]
    fn forwards_more_than_a_week_apart_are_separate() {
        let found = campaigns(
            "eve@evil.example",
            vec![fwd(1, "a", "x@a.example", 0), fwd(2, "a", "y@a.example", 8)],
        );
        assert!(found.is_empty());
    }
}
