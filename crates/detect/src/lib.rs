//! Detection: a pure function from one audit record and the tenant's context to the
//! threats it shows. Each rule lives in its own module and adds its findings; a new
//! rule is a new module listed in [`detect`].
//!
//! This crate does no I/O and depends on nothing that could: the compiler, not a
//! habit, keeps detection pure. Around the rules it holds what they share with the
//! rest of Rulewatch: the record model, the allowlist's matching, the `check` input
//! formats, and [`shown`], how attacker-written text is made safe to show.

// Every public item of the pure crate says what it is; core and the sandbox follow
// (issue 12 item 7).
#![warn(missing_docs)]

pub mod address;
pub mod allowlist;
mod audit_tampering;
mod delegation;
pub mod evidence;
pub mod fan_in;
mod hides_mail;
mod inbox_rule;
pub mod input;
mod mailbox_forward;
mod outlook_rule;
pub mod record;
pub mod rule;
pub mod rules;
pub mod shown;
mod signals;
mod target;
#[cfg(test)]
mod tests;
mod text;
mod transport_rule;

use std::sync::LazyLock;

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, Input, MatchKind, Span};
use serde::{Deserialize, Serialize};

pub use evidence::Evidence;
pub use record::AuditRecord;
pub use text::visible as visible_text;

/// What detection knows of the tenant besides the record.
#[derive(Debug, Clone, Default)]
pub struct TenantContext {
    /// Accepted (verified) domains, lower-cased. Anything else is outside.
    pub accepted_domains: Vec<String>,
}

/// How urgent a finding is; ordered, so the most urgent sorts last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The lowest.
    Low,
    /// Above low.
    Medium,
    /// Above medium.
    High,
    /// The highest.
    Critical,
}

impl Severity {
    /// The severity named in lower case, as stored (`"high"`).
    pub fn parse(s: &str) -> Option<Self> {
        [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// One step graver; critical stays critical.
    pub fn raised(self) -> Self {
        match self {
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }

    /// The name stored and sent to the panel (`"high"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One threat shown by one record.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The id of the rule that found it (see [`rules`]).
    pub rule: &'static str,
    /// How urgent it is.
    pub severity: Severity,
    /// The mailbox that was changed.
    pub target: String,
    /// Who made the change (`UserId`).
    pub actor: String,
    /// One plain sentence for the technician.
    pub summary: String,
    /// What the record showed, typed by rule (destinations, rule name, actions…).
    pub details: Evidence,
}

/// A finding with the facts of the record that showed it: what `scan` stores and
/// `check` prints.
#[derive(Debug, Clone, Serialize)]
pub struct RecordAlert {
    /// The audit record's `Id`.
    pub record_id: String,
    /// The record's `Operation`, e.g. `New-InboxRule`.
    pub operation: String,
    /// Where the change came from, as the record gives it (with a port, sometimes).
    pub client_ip: Option<String>,
    /// When the change was made (`CreationTime`), when it can be read.
    pub event_time: Option<chrono::DateTime<chrono::Utc>>,
    /// What was found.
    #[serde(flatten)]
    pub finding: Finding,
}

/// Every finding of one record, with the record's facts.
pub fn alerts(record: &AuditRecord, ctx: &TenantContext) -> Vec<RecordAlert> {
    detect(record, ctx)
        .into_iter()
        .map(|finding| RecordAlert {
            record_id: record.id.clone(),
            operation: record.operation.clone(),
            client_ip: record.client_address(),
            event_time: record.event_time(),
            finding,
        })
        .collect()
}

/// The rule id of an inbox rule that sends mail outside.
pub const INBOX_RULE_EXTERNAL_FORWARD: &str = inbox_rule::RULE.id;
/// The rule id of an inbox rule that deletes, moves or marks mail read.
pub const INBOX_RULE_HIDES_MAIL: &str = hides_mail::RULE.id;
/// The rule id of mailbox forwarding to an outside address.
pub const MAILBOX_EXTERNAL_FORWARD: &str = mailbox_forward::RULE.id;
/// The rule id of a transport (mail flow) rule that redirects or copies mail out.
pub const TRANSPORT_RULE_REDIRECT: &str = transport_rule::RULE.id;
/// The rule id of mailbox delegation (full access, send as, folder permissions).
pub const MAILBOX_DELEGATION: &str = delegation::RULE.id;
/// The rule id of audit logging turned off or bypassed.
pub const AUDIT_TAMPERING: &str = audit_tampering::RULE.id;
/// The rule id of several mailboxes forwarding to one destination.
pub const FORWARDING_FAN_IN: &str = fan_in::RULE.id;

/// Operations any rule looks at, lower-cased; the cheap pre-filter in
/// [`is_candidate`] keys on them.
/// (`set-mailbox` also covers Set-MailboxAuditBypassAssociation and
/// Set-MailboxFolderPermission; `inboxrule` covers UpdateInboxRules.)
/// Each comes with where its tail starts: the filter searches for tails, which begin
/// with letters rare in mail-access noise (`xper`, not `mail`), then checks the head.
/// Searching for whole needles stops at every `MailboxGuid` and `ParentFolder`.
const WATCHED: [(&str, usize); 7] = [
    ("inboxrule", 4),
    ("set-mailbox", 2),
    ("transportrule", 7),
    ("mailboxpermission", 6),
    ("recipientpermission", 8),
    ("folderpermission", 5),
    ("adminauditlogconfig", 4),
];

/// The longest needle in [`WATCHED`].
const LONGEST_WATCHED: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < WATCHED.len() {
        if WATCHED[i].0.len() > longest {
            longest = WATCHED[i].0.len();
        }
        i += 1;
    }
    longest
};

/// The tails of [`WATCHED`], searched for together in folded text (see
/// [`is_candidate`]): with Teddy, the vectorised search, where the CPU has it, else with
/// an automaton. (An ASCII-case-insensitive automaton over the raw text reads it several
/// times slower.)
enum TailSearch {
    Vectorised(packed::Searcher),
    Automaton(AhoCorasick),
}

impl TailSearch {
    fn new(vectorised: bool) -> TailSearch {
        let tails = WATCHED.map(|(needle, at)| &needle[at..]);
        match vectorised.then(|| packed::Searcher::new(tails)).flatten() {
            Some(searcher) => TailSearch::Vectorised(searcher),
            None => TailSearch::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(tails)
                    .expect("a handful of short literal tails always builds"),
            ),
        }
    }

    /// The leftmost tail starting at or after `from`: where it starts, and whose it is.
    fn find(&self, text: &[u8], from: usize) -> Option<(usize, usize)> {
        let found = match self {
            TailSearch::Vectorised(searcher) => {
                searcher.find_in(text, Span::from(from..text.len()))
            }
            TailSearch::Automaton(automaton) => automaton.find(Input::new(text).range(from..)),
        };
        found.map(|m| (m.start(), m.pattern().as_usize()))
    }

    /// Whether `text` holds a whole needle, ASCII case ignored, found through its tail in
    /// `folded`. No tail is a prefix of another, so trying every start in turn misses none.
    fn any_needle(&self, folded: &[u8], text: &[u8]) -> bool {
        let mut from = 0;
        while let Some((at, i)) = self.find(folded, from) {
            let (needle, tail) = WATCHED[i];
            if at.checked_sub(tail).is_some_and(|start| {
                text[start..start + needle.len()].eq_ignore_ascii_case(needle.as_bytes())
            }) {
                return true;
            }
            from = at + 1;
        }
        false
    }
}

static TAILS: LazyLock<TailSearch> = LazyLock::new(|| TailSearch::new(true));

/// Folding happens in windows of this many bytes on the stack, whatever the record's size.
const WINDOW: usize = 4096;

/// Cheap test on a record's raw JSON: can any rule fire on it? Most of a blob is mail
/// access noise that never needs a full parse. A needle anywhere in the record counts,
/// without ASCII case, so a re-cased operation or a watched word in another field cannot
/// slip past the filter.
pub fn is_candidate(raw_json: &str) -> bool {
    is_candidate_with(&TAILS, raw_json)
}

fn is_candidate_with(search: &TailSearch, raw_json: &str) -> bool {
    let bytes = raw_json.as_bytes();
    let mut folded = [0u8; WINDOW];
    let mut start = 0;
    loop {
        let end = (start + WINDOW).min(bytes.len());
        let window = &mut folded[..end - start];
        // Setting bit 5 lower-cases letters in one vector operation and leaves `-` as it
        // is; only letters fold onto letters, and `\r` onto `-`, so the check on the
        // raw text in `any_needle` turns the few extra hits away.
        for (f, b) in window.iter_mut().zip(&bytes[start..end]) {
            *f = b | 0x20;
        }
        if search.any_needle(window, &bytes[start..end]) {
            return true;
        }
        if end == bytes.len() {
            return false;
        }
        // Windows overlap by a needle less one byte, so none is cut in two.
        start = end - (LONGEST_WATCHED - 1);
    }
}

/// Every finding of every rule for one record.
/// A rule as it stands in a mailbox now, given as its cmdlet parameters (what
/// `Get-InboxRule` shows), read as a new rule is read: its sentence, and what the rules
/// find in it.
pub fn live_rule(
    mailbox: &str,
    name: &str,
    parameters: Vec<(String, String)>,
    ctx: &TenantContext,
) -> (String, Vec<Finding>) {
    let mut parameters: Vec<record::Param> = parameters
        .into_iter()
        .map(|(name, value)| record::Param { name, value })
        .collect();
    parameters.push(record::Param {
        name: "Mailbox".into(),
        value: mailbox.into(),
    });
    parameters.push(record::Param {
        name: "Name".into(),
        value: name.into(),
    });
    let record = AuditRecord {
        id: String::new(),
        creation_time: String::new(),
        operation: "New-InboxRule".into(),
        user_id: mailbox.into(),
        client_ip: String::new(),
        object_id: format!("{mailbox}\\{name}"),
        result_status: "True".into(),
        parameters,
        operation_properties: Vec::new(),
        item: serde_json::Value::Null,
        mailbox_owner_upn: mailbox.into(),
        organization_id: String::new(),
        organization_name: String::new(),
    };
    let sentence = inbox_rule::InboxRule::from_cmdlet(&record)
        .map(|r| r.sentence(ctx))
        .unwrap_or_default();
    (sentence, detect(&record, ctx))
}

/// Every finding `record` shows, by every rule, in `ctx` (the tenant's accepted domains); the
/// allowlist is applied by the caller.
pub fn detect(record: &AuditRecord, ctx: &TenantContext) -> Vec<Finding> {
    // Failed attempts changed nothing, and Exchange's own housekeeping is no threat.
    if record.failed() || record.by_system() {
        return Vec::new();
    }
    let mut findings = Vec::new();
    if let Some(rule) =
        inbox_rule::InboxRule::from_cmdlet(record).or_else(|| outlook_rule::read(record))
    {
        inbox_rule::detect(&rule, record, ctx, &mut findings);
        hides_mail::detect(&rule, record, ctx, &mut findings);
    }
    mailbox_forward::detect(record, ctx, &mut findings);
    transport_rule::detect(record, ctx, &mut findings);
    delegation::detect(record, ctx, &mut findings);
    audit_tampering::detect(record, &mut findings);
    findings
}
