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
mod app_access;
mod app_consent;
mod audit_tampering;
pub mod burst;
mod conditional_access;
mod delegation;
pub mod evidence;
pub mod fan_in;
mod hides_mail;
mod inbox_rule;
pub mod input;
mod legacy_protocol;
mod mail_record;
mod mailbox_forward;
mod mfa_change;
mod outlook_rule;
mod privileged_role;
mod protection_policy;
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

use std::cell::RefCell;
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

/// Whether a finding is a sign only when made from a country or network its author never
/// signed in from (the caller knows the sign-ins; detection does not): a user
/// registering an MFA method for their own account is daily life, the same registration
/// from a new country is an intruder securing their hold (issue 16 item 1).
pub fn needs_new_origin(rule: &str, details: &Evidence, actor: &str, target: &str) -> bool {
    rule == MFA_CHANGED
        && matches!(details, Evidence::Mfa(m) if m.change == mfa_change::REGISTERED)
        && actor.trim().eq_ignore_ascii_case(target.trim())
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
/// The rule id of consent granted to an application.
pub const APP_CONSENT: &str = app_consent::RULE.id;
/// The rule id of an application given new credentials or mail permissions.
pub const APP_ACCESS: &str = app_access::RULE.id;
/// The rule id of a directory (admin) role given to someone.
pub const PRIVILEGED_ROLE: &str = privileged_role::RULE.id;
/// The rule id of MFA turned off or a sign-in method added.
pub const MFA_CHANGED: &str = mfa_change::RULE.id;
/// The rule id of conditional access or security defaults weakened.
pub const CONDITIONAL_ACCESS: &str = conditional_access::RULE.id;
/// The rule id of POP, IMAP or SMTP AUTH turned on.
pub const LEGACY_PROTOCOL: &str = legacy_protocol::RULE.id;
/// The rule id of a DLP, retention, alert or threat-protection policy removed or turned off.
pub const PROTECTION_POLICY: &str = protection_policy::RULE.id;
/// The rule id of many messages deleted from one mailbox within the hour.
pub const MAILBOX_MASS_DELETION: &str = burst::MASS_DELETION.id;
/// The rule id of many folders of one mailbox synchronised within the hour.
pub const MAILBOX_BULK_SYNC: &str = burst::BULK_SYNC.id;
/// The rule id of many accounts deleted, or several admins removed, by one actor.
pub const ACCESS_REMOVAL: &str = burst::ACCESS_REMOVAL.id;

/// A needle of the pre-filter: lower-cased text, and where its mark starts.
type Needle = (&'static str, usize);

/// How long a needle's mark is: the bytes of it the vectorised search looks for, after
/// which the whole needle is checked. Teddy compares as many bytes per position as the
/// shortest mark has, up to four: three, each chosen rare in mailbox-audit noise and in
/// the corpus, read a tenth faster than the four-byte tails they replaced; two read a
/// third slower, stopped at every common pair (measured with the pipeline benchmark).
const MARK: usize = 3;

/// Operations any rule looks at, lower-cased; the cheap pre-filter in [`is_candidate`]
/// keys on them.
/// (`set-mailbox` also covers Set-MailboxAuditBypassAssociation and
/// Set-MailboxFolderPermission; `inboxrule` covers UpdateInboxRules.)
/// Each comes with where its mark starts: the filter searches for marks, rare in
/// mail-access noise (`oxp`, not `mai`), then checks the whole needle around them.
/// Searching for whole needles stops at every `MailboxGuid` and `ParentFolder`.
const WATCHED: [Needle; 7] = [
    ("inboxrule", 4),
    ("set-mailbox", 2),
    ("transportrule", 7),
    ("mailboxpermission", 5),
    ("recipientpermission", 8),
    ("folderpermission", 5),
    ("adminauditlogconfig", 11),
];

/// Needles searched for only in records that hold a gate needle, which mail-access
/// noise lacks: each needle more in the first search slows it for every record
/// (measured on mail-access records, the twenty-one below would cost it a quarter of its
/// speed; behind their two gates, nothing measurable).
const GATED: [(Needle, &[Needle]); 2] =
    [(CMDLET_RECORD, &CMDLETS), (DIRECTORY_WORKLOAD, &DIRECTORY)];

/// A `Parameters` field, quotes included: every Exchange and Security & Compliance cmdlet
/// record has one; mailbox-access records carry `OperationProperties` instead.
const CMDLET_RECORD: Needle = ("\"parameters\"", 5);

/// Cmdlets of the newer Exchange and Security & Compliance rules, as [`WATCHED`].
/// (`casmailbox` also covers Set-CASMailboxPlan; `compliancepolicy` the DLP and retention
/// policies.)
const CMDLETS: [Needle; 10] = [
    ("casmailbox", 0),
    ("transportconfig", 7),
    ("managementroleassignment", 18),
    ("organizationconfig", 14),
    ("compliancepolicy", 8),
    ("protectionalert", 3),
    ("antiphish", 3),
    ("safelinks", 2),
    ("safeattachment", 1),
    ("malwarefilter", 8),
];

/// The workload every Entra ID record names (`"Workload":"AzureActiveDirectory"`).
const DIRECTORY_WORKLOAD: Needle = ("azureactivedirectory", 7);

/// Operations the directory (Entra ID) rules look at, lower-cased, as [`WATCHED`]. Their
/// names hold spaces and end with a period, which the needles leave out; `member to role`
/// is every way into a directory role, PIM's included; `strongauthentication` and
/// `conditionalaccess` are the names of the properties `Update user.` and `Update
/// policy.` change.
const DIRECTORY: [Needle; 11] = [
    ("consent to application", 9),
    ("principal credentials", 8),
    ("certificates and secrets", 11),
    ("app role assignment", 2),
    ("member to role", 5),
    ("strong authentication", 5),
    ("strongauthentication", 5),
    ("security info", 7),
    ("conditional access", 10),
    ("conditionalaccess", 2),
    ("security defaults", 7),
];

/// A set of needles and the search for their marks; see [`is_candidate`].
struct Needles {
    needles: Vec<Needle>,
    search: MarkSearch,
}

impl Needles {
    fn new(needles: Vec<Needle>, vectorised: bool, order: &[&str]) -> Needles {
        Needles {
            search: MarkSearch::new(&needles, vectorised, order),
            needles,
        }
    }

    /// Whether any needle is anywhere in `raw`, ASCII case ignored; `folded` is `raw`
    /// folded (see [`sift_folded`]).
    fn in_text(&self, raw: &str, folded: &[u8]) -> bool {
        self.first(raw, folded, &[], 0).is_some()
    }

    /// The first whole needle in `raw` whose mark starts at byte `from` or later, ASCII
    /// case ignored, found through its mark in `folded` and passing over the needles
    /// `skip`: which it is, and where its mark starts. No two needles share a mark, so
    /// trying every mark found in turn misses none.
    fn first(
        &self,
        raw: &str,
        folded: &[u8],
        skip: &[usize],
        mut from: usize,
    ) -> Option<(usize, usize)> {
        let text = raw.as_bytes();
        while let Some((at, i)) = self.search.find(folded, from) {
            let (needle, mark) = self.needles[i];
            // Only letters fold onto letters, and `\r` onto `-` and NUL onto space: the
            // check on the raw text turns the few extra marks away.
            if !skip.contains(&i)
                && at.checked_sub(mark).is_some_and(|start| {
                    text.get(start..start + needle.len())
                        .is_some_and(|t| t.eq_ignore_ascii_case(needle.as_bytes()))
                })
            {
                return Some((i, at));
            }
            from = at + 1;
        }
        None
    }
}

/// The marks of a needle set, searched for together in folded text (see
/// [`is_candidate`]): with Teddy, the vectorised search, where the CPU has it, else with
/// an automaton. (An ASCII-case-insensitive automaton over the raw text reads it several
/// times slower.)
struct MarkSearch {
    engine: Engine,
    /// The needle each pattern given the engine is the mark of.
    needle_of: Vec<usize>,
}

enum Engine {
    Vectorised(packed::Searcher),
    Automaton(AhoCorasick),
}

impl MarkSearch {
    /// The search for the marks of `needles`, given to it in the order of `order` (any
    /// mark it does not list after those it does, as they come).
    fn new(needles: &[Needle], vectorised: bool, order: &[&str]) -> MarkSearch {
        let mut needle_of: Vec<usize> = (0..needles.len()).collect();
        needle_of.sort_by_key(|&i| {
            let (needle, at) = needles[i];
            order
                .iter()
                .position(|m| *m == mark(needle, at))
                .unwrap_or(order.len())
        });
        let marks: Vec<&str> = needle_of
            .iter()
            .map(|&i| mark(needles[i].0, needles[i].1))
            .collect();
        let engine = match vectorised
            .then(|| packed::Searcher::new(marks.iter()))
            .flatten()
        {
            Some(searcher) => Engine::Vectorised(searcher),
            None => Engine::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&marks)
                    .expect("a few dozen short literal marks always build"),
            ),
        };
        MarkSearch { engine, needle_of }
    }

    /// The leftmost mark starting at or after `from`: where it starts, and whose it is.
    fn find(&self, text: &[u8], from: usize) -> Option<(usize, usize)> {
        let found = match &self.engine {
            Engine::Vectorised(searcher) => searcher.find_in(text, Span::from(from..text.len())),
            Engine::Automaton(automaton) => automaton.find(Input::new(text).range(from..)),
        };
        found.map(|m| (m.start(), self.needle_of[m.pattern().as_usize()]))
    }
}

/// The order the first search gives Teddy its marks in. Slim Teddy has eight buckets,
/// and aho-corasick 1.1 puts the fourteen marks given in this order into them by twos
/// (the first and the ninth, and so on; the seventh and eighth alone). A bucket lets
/// through any mix of its marks' bytes' low and high halves, so two marks sharing one
/// stop the search at text that is neither; paired as they came, the marks stopped it
/// about ten times as often as they occur in the sandbox's mail noise, and the checks
/// were a third of the search's time. These pairs, the best of every pairing counted
/// over 40 MB of that noise, stop it about a fifth more often than the marks occur
/// (issue 15).
const FIRST_ORDER: [&str; 14] = [
    "xru", "t-m", "rtr", "tpe", "rpe", "ogc", "met", "tiv", "oxp", "rdd", "ftd", "syn", "e u",
    "m r",
];

/// The [`MARK`] bytes of `needle` from `at`.
fn mark(needle: &str, at: usize) -> &str {
    &needle[at..at + MARK]
}

/// The searches of [`sift`]: [`WATCHED`], the gates of [`GATED`] and the events bursts
/// count ([`burst::COUNTED`]) in one pass, then, where a gate is found, the needles it
/// guards. One pass, not one per question: each reads every byte of the record.
struct Sieve {
    first: Needles,
    gated: Vec<Needles>,
}

/// Where the gates start among the first search's needles, and where the counted events do.
const GATES_AT: usize = WATCHED.len();
const COUNTED_AT: usize = GATES_AT + GATED.len();

impl Sieve {
    fn new(vectorised: bool) -> Sieve {
        let mut first = WATCHED.to_vec();
        first.extend(GATED.iter().map(|(gate, _)| *gate));
        first.extend(burst::COUNTED);
        Sieve {
            first: Needles::new(first, vectorised, &FIRST_ORDER),
            gated: GATED
                .iter()
                .map(|(_, needles)| Needles::new(needles.to_vec(), vectorised, &[]))
                .collect(),
        }
    }

    /// Whether `raw` holds any of [`WATCHED`] (or a gate and a needle it guards), and
    /// whether it holds an event a burst counts. Needles that can no longer change an
    /// answer are passed over, so the search ends at the text's end or both answers.
    fn sift(&self, raw: &str, folded: &[u8]) -> Sifted {
        let mut sifted = Sifted::default();
        let mut passed: Vec<usize> = Vec::new();
        // Every mark before the one found was tried with fewer needles passed over and
        // turned away, so the next search starts after it: the text is read once.
        let mut from = 0;
        while let Some((i, at)) = self.first.first(raw, folded, &passed, from) {
            from = at + 1;
            if i >= COUNTED_AT {
                sifted.countable = true;
                passed.extend(COUNTED_AT..COUNTED_AT + burst::COUNTED.len());
            } else if i < GATES_AT || self.gated[i - GATES_AT].in_text(raw, folded) {
                sifted.candidate = true;
                passed.extend(0..COUNTED_AT);
            } else {
                passed.push(i);
            }
            if sifted.candidate && sifted.countable {
                break;
            }
        }
        sifted
    }
}

/// What one search of a record's raw JSON says it may hold (see [`sift`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sifted {
    /// Some rule may fire on it: it holds a watched operation.
    pub candidate: bool,
    /// It may be an event a burst counts (mail deleted or synchronised, an account
    /// deleted, an admin removed): [`burst::counted`] reads it.
    pub countable: bool,
}

static SIEVE: LazyLock<Sieve> = LazyLock::new(|| Sieve::new(true));

thread_local! {
    /// Room for [`sift`] to fold a record in, kept by each thread, so a record is folded
    /// without an allocation of its own.
    static FOLDED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Room [`FOLDED`] keeps after a record, at most: a rare huge record does not keep its
/// size of memory for good.
const FOLDED_KEPT: usize = 64 * 1024;

/// Cheap test on a record's raw JSON: can any rule fire on it? Most of a blob is mail
/// access noise that never needs a full parse. A needle anywhere in the record counts,
/// without ASCII case, so a re-cased operation or a watched word in another field cannot
/// slip past the filter; cmdlets of the newer rules count in records with `Parameters`,
/// directory operations in records of the Entra ID workload.
pub fn is_candidate(raw_json: &str) -> bool {
    sift(raw_json).candidate
}

/// [`is_candidate`], and whether the record may be an event a burst counts, from one
/// search of its raw JSON: what a scan asks of every record.
pub fn sift(raw_json: &str) -> Sifted {
    FOLDED.with_borrow_mut(|folded| {
        folded.clear();
        folded.extend(raw_json.bytes().map(|c| c | 0x20));
        let sifted = sift_folded(raw_json, folded);
        if folded.capacity() > FOLDED_KEPT {
            *folded = Vec::new();
        }
        sifted
    })
}

/// [`sift`], given `raw_json` already folded: each byte with bit 5 set, which lower-cases
/// ASCII letters in one vector operation (and leaves `-` and space as they are), as the
/// split of a blob hands each record over.
///
/// # Panics
/// When `folded` is not as long as `raw_json`.
pub fn sift_folded(raw_json: &str, folded: &[u8]) -> Sifted {
    assert_eq!(
        folded.len(),
        raw_json.len(),
        "a record and its folded bytes differ in length"
    );
    SIEVE.sift(raw_json, folded)
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
        modified_properties: Vec::new(),
        target: Vec::new(),
        affected_items: 0,
        folder: String::new(),
        folders: Vec::new(),
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
    legacy_protocol::detect(record, &mut findings);
    protection_policy::detect(record, &mut findings);
    app_consent::detect(record, &mut findings);
    app_access::detect(record, &mut findings);
    privileged_role::detect(record, &mut findings);
    mfa_change::detect(record, &mut findings);
    conditional_access::detect(record, &mut findings);
    findings
}
