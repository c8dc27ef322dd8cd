//! Bursts: many events of one kind for one account within the hour, which no single
//! record shows. Mail deleted in bulk from a mailbox (covering tracks), a mailbox's
//! folders synchronised in bulk (a client downloading it), accounts deleted or admins
//! removed in bulk by one actor (locking the owners out).
//!
//! Pure, like [`fan_in`](crate::fan_in): the store keeps what [`counted`] extracts
//! from each record of a tenant (no other record need be parsed for it) for at least
//! [`WINDOW`], and hands them to [`bursts`], which decides. Thresholds are named
//! constants below, with their reasons.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::mail_record::MailRecord;
use super::privileged_role::{Identified, identify};
use super::record::{
    AuditRecord, UPN, address_of, by_system, failed, is_operation, parse_creation_time, scalar,
};
use super::text::{list, visible};
use super::{Finding, Needle, Severity};
use crate::evidence::{BurstEvidence, Evidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// Mail deleted in bulk from one mailbox.
pub const MASS_DELETION: Rule = Rule {
    id: "mailbox-mass-deletion",
    title: "Mail deleted in bulk",
    notification: "mail deleted in bulk",
    description: "Many messages were permanently deleted from one mailbox within the hour (`HardDelete`, \
                  `SoftDelete`; Exchange mailbox auditing, content type Audit.Exchange): an attacker \
                  covering the replies, bounces and warnings their fraud caused, or destroying mail.",
    false_positives: "A user emptying Deleted Items or the Recoverable Items folder; retention clean-up \
                      run as the user. Check the folders and the client.",
    attack: "T1070.008",
    severity: "50 messages or more within an hour: medium; 50 or more purged beyond recovery \
               (HardDelete), or 500 or more in all: high",
    quieted_by: &[TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1070/008/",
        "https://github.com/splunk/security_content/blob/develop/detections/cloud/o365_email_hard_delete_excessive_volume.yml",
        "https://learn.microsoft.com/purview/audit-log-activities#exchange-mailbox-activities",
    ],
    corpus: Corpus::Missing("it counts many deletion records; the corpus holds none"),
};

/// A mailbox's folders synchronised in bulk.
pub const BULK_SYNC: Rule = Rule {
    id: "mailbox-bulk-sync",
    title: "Mailbox synchronised in bulk",
    notification: "mailbox synchronised in bulk",
    description: "Many folders of one mailbox were synchronised within the hour (`MailItemsAccessed` with \
                  MailAccessType Sync; content type Audit.Exchange, logged only with Audit Premium \
                  licences; one record per folder per hour): a client downloaded the mailbox. Microsoft's \
                  guidance is to assume every item of a folder an attacker's client synchronised was \
                  taken. Weigh it against the account's sign-ins.",
    false_positives: "A new phone or computer, or Outlook rebuilding its cache, synchronises every folder.",
    attack: "T1114.002",
    severity: "25 folders or more within an hour: medium; 100 or more: high",
    quieted_by: &[TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1114/002/",
        "https://github.com/MicrosoftDocs/microsoft-365-docs/blob/public/microsoft-365/compliance/mailitemsaccessed-forensics-investigations.md",
        "https://github.com/elastic/detection-rules/blob/main/rules/integrations/o365/collection_exchange_excessive_mail_items_accessed.toml",
    ],
    corpus: Corpus::Missing("it counts many MailItemsAccessed records; the corpus holds none"),
};

/// Accounts deleted, or admins removed from their roles, in bulk by one actor.
pub const ACCESS_REMOVAL: Rule = Rule {
    id: "access-removal-burst",
    title: "Accounts or admins removed in bulk",
    notification: "accounts or admins removed in bulk",
    description: "One actor deleted many accounts (`Delete user.`), or removed several members of \
                  privileged directory roles (`Remove member from role.` and PIM's removals), within the \
                  hour (Entra ID, content type Audit.AzureActiveDirectory): an attacker locking the \
                  owners out of their own tenant.",
    false_positives: "Offboarding scripts and directory clean-up; an admin tidying role assignments.",
    attack: "T1531",
    severity: "10 accounts or more, or 2 privileged admins or more, within an hour: high; 2 Global \
               Administrators or more: critical",
    quieted_by: &[TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1531/",
        "https://github.com/Azure/Azure-Sentinel/blob/master/Solutions/Microsoft%20Entra%20ID/Analytic%20Rules/MultipleAdmin_membership_removals_from_NewAdmin.yaml",
        "https://github.com/SigmaHQ/sigma/blob/master/rules/cloud/azure/audit_logs/azure_priviledged_role_assignment_bulk_change.yml",
        "https://learn.microsoft.com/purview/audit-log-activities#user-administration-activities",
    ],
    corpus: Corpus::Missing("it counts many directory records; the corpus holds none"),
};

/// Events this far apart at most make one burst. Every public rule these follow counts
/// within the hour: Splunk's excessive hard deletes, Sentinel's admin removals, the SAP
/// solution's mass user deletions.
pub const WINDOW: Duration = Duration::hours(1);

/// Messages deleted from one mailbox within the window that make a burst: Splunk's
/// threshold for hard deletes (LETHAL's per day).
pub const DELETED_MESSAGES: u64 = 50;
/// Messages purged beyond recovery (`HardDelete`, from Recoverable Items) that make it
/// high: users rarely purge, and purged mail needs an admin to recover.
pub const PURGED_MESSAGES: u64 = 50;
/// Messages deleted in all that make it high: ten times the threshold, more than any
/// tidying of Deleted Items by hand.
pub const DELETED_MESSAGES_HIGH: u64 = 500;
/// Folders of one mailbox synchronised within the window that make a burst: above a
/// mailbox's dozen or so default folders, so the client took the user's own as well.
pub const SYNCED_FOLDERS: u64 = 25;
/// Folders synchronised that make it high: a large mailbox taken whole.
pub const SYNCED_FOLDERS_HIGH: u64 = 100;
/// Accounts deleted by one actor within the window that make a burst: the threshold of
/// Sentinel's SAP mass-deletion rules and identity-and-account-takeover.md §3.
pub const DELETED_ACCOUNTS: u64 = 10;
/// Privileged admins removed by one actor within the window that make a burst:
/// Sentinel's "more than one".
pub const REMOVED_ADMINS: u64 = 2;

/// What an event counts towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Messages deleted from a mailbox (`HardDelete`, `SoftDelete`).
    MailDeletion,
    /// Folders of a mailbox synchronised (`MailItemsAccessed`, Sync).
    MailSync,
    /// Accounts deleted (`Delete user.`).
    AccountDeletion,
    /// Members of privileged directory roles removed.
    AdminRemoval,
}

impl Kind {
    /// The kind as stored (`mail_deletion`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::MailDeletion => "mail_deletion",
            Kind::MailSync => "mail_sync",
            Kind::AccountDeletion => "account_deletion",
            Kind::AdminRemoval => "admin_removal",
        }
    }

    /// The rule a burst of this kind raises.
    pub fn rule(self) -> &'static Rule {
        match self {
            Kind::MailDeletion => &MASS_DELETION,
            Kind::MailSync => &BULK_SYNC,
            Kind::AccountDeletion | Kind::AdminRemoval => &ACCESS_REMOVAL,
        }
    }
}

/// One record's part in a possible burst.
///
/// Its texts are kept one after another in one string, not in a string each: a scan
/// makes one for every counted record, and packing them made the pipeline a twentieth
/// faster (issue 15). It is stored as JSON with a field for each text.
#[derive(Clone, PartialEq)]
pub struct Countable {
    /// What it counts towards.
    pub kind: Kind,
    /// How much it counts: messages deleted, folders synchronised, or one.
    pub weight: u64,
    /// Of the gravest sort: mail purged beyond recovery, a Global Administrator removed.
    pub grave: bool,
    /// When it happened.
    pub time: DateTime<Utc>,
    /// The key, record id, actor, address and item, in that order.
    text: String,
    /// Where each of them ends in `text`.
    ends: [usize; 5],
    /// Whether the record said where from.
    has_ip: bool,
}

/// A [`Countable`]'s texts, as the record gives them.
#[derive(Debug, Clone, Copy)]
pub struct Texts<'t> {
    /// Whose count within the tenant: the mailbox for mail kinds, the actor for
    /// directory kinds. Lower-cased when kept.
    pub key: &'t str,
    /// The audit record's `Id`: the same record fed twice counts once.
    pub record_id: &'t str,
    /// Who did it (`UserId`).
    pub actor: &'t str,
    /// Where from (`ClientIP`, without its port), when the record says: one synchronised
    /// folder from an address the account never signed in from is already the attacker's
    /// client, which the store, holding the sign-ins, can tell.
    pub client_ip: Option<&'t str>,
    /// What it touched, for the technician: a folder, an account and its role.
    pub item: &'t str,
}

impl Countable {
    /// The event `texts` tell of, its key lower-cased.
    pub fn new(
        kind: Kind,
        weight: u64,
        grave: bool,
        time: DateTime<Utc>,
        texts: Texts<'_>,
    ) -> Countable {
        let Texts {
            key,
            record_id,
            actor,
            client_ip,
            item,
        } = texts;
        let ip = client_ip.unwrap_or("");
        let mut text = String::with_capacity(
            key.len() + record_id.len() + actor.len() + ip.len() + item.len(),
        );
        if key.is_ascii() {
            text.push_str(key);
            text.make_ascii_lowercase();
        } else {
            text.push_str(&key.to_lowercase());
        }
        let mut ends = [text.len(); 5];
        for (end, part) in ends[1..].iter_mut().zip([record_id, actor, ip, item]) {
            text.push_str(part);
            *end = text.len();
        }
        Countable {
            kind,
            weight,
            grave,
            time,
            text,
            ends,
            has_ip: client_ip.is_some(),
        }
    }

    fn part(&self, n: usize) -> &str {
        let start = n.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.text[start..self.ends[n]]
    }

    /// Whose count, lower-cased, within the tenant: the mailbox for mail kinds, the
    /// actor for directory kinds.
    pub fn key(&self) -> &str {
        self.part(0)
    }

    /// The audit record's `Id`.
    pub fn record_id(&self) -> &str {
        self.part(1)
    }

    /// Who did it (`UserId`).
    pub fn actor(&self) -> &str {
        self.part(2)
    }

    /// Where from, when the record says.
    pub fn client_ip(&self) -> Option<&str> {
        self.has_ip.then(|| self.part(3))
    }

    /// What it touched: a folder, an account and its role.
    pub fn item(&self) -> &str {
        self.part(4)
    }

    fn wire(&self) -> Wire<'_> {
        Wire {
            kind: self.kind,
            key: Cow::Borrowed(self.key()),
            weight: self.weight,
            grave: self.grave,
            time: self.time,
            record_id: Cow::Borrowed(self.record_id()),
            actor: Cow::Borrowed(self.actor()),
            client_ip: self.client_ip().map(Cow::Borrowed),
            item: Cow::Borrowed(self.item()),
        }
    }
}

/// A [`Countable`] as stored: a field for each text, as it was before they were packed.
#[derive(Serialize, Deserialize)]
struct Wire<'t> {
    kind: Kind,
    #[serde(borrow)]
    key: Cow<'t, str>,
    weight: u64,
    grave: bool,
    time: DateTime<Utc>,
    #[serde(borrow)]
    record_id: Cow<'t, str>,
    #[serde(borrow)]
    actor: Cow<'t, str>,
    #[serde(borrow)]
    client_ip: Option<Cow<'t, str>>,
    #[serde(borrow)]
    item: Cow<'t, str>,
}

impl fmt::Debug for Countable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Countable")
            .field("kind", &self.kind)
            .field("key", &self.key())
            .field("weight", &self.weight)
            .field("grave", &self.grave)
            .field("time", &self.time)
            .field("record_id", &self.record_id())
            .field("actor", &self.actor())
            .field("client_ip", &self.client_ip())
            .field("item", &self.item())
            .finish()
    }
}

impl Serialize for Countable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.wire().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Countable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Countable, D::Error> {
        let w = Wire::deserialize(d)?;
        Ok(Countable::new(
            w.kind,
            w.weight,
            w.grave,
            w.time,
            Texts {
                key: &w.key,
                record_id: &w.record_id,
                actor: &w.actor,
                client_ip: w.client_ip.as_deref(),
                item: &w.item,
            },
        ))
    }
}

/// The operations [`counted`] reads, searched for in [`crate::sift`]'s one search
/// (marks at their index, ASCII case ignored). `"sync"`, quotes included, is
/// MailItemsAccessed's access type as a JSON value: the filter passes the records that
/// sync, not the far more common binds.
pub(crate) const COUNTED: [Needle; 5] = [
    ("harddelete", 2),
    ("softdelete", 2),
    ("\"sync\"", 1),
    ("delete user", 5),
    ("member from role", 10),
];

/// Removals of members from directory roles. PIM activations expiring, or given up,
/// are not. GUESS, as for grants (privileged_role.rs): PIM's names are Entra ID's.
const REMOVALS: [&str; 5] = [
    "Remove member from role.",
    "Remove member from role in PIM completed (permanent)",
    "Remove member from role in PIM completed (timebound)",
    "Remove eligible member from role in PIM completed (permanent)",
    "Remove eligible member from role in PIM completed (timebound)",
];

/// The event a record counts as in a burst, if any. A scan reads only the records
/// [`crate::sift`] says may be one.
pub fn counted(record: &AuditRecord) -> Option<Countable> {
    let mail = MailRecord::of(record);
    let time = match mail_event(&mail) {
        Told::Settled(event) => return event,
        Told::NoMail(time) => time,
    };
    if record.is_activity("Delete user.") {
        let account = record.directory_target();
        return Some(event(
            &mail,
            time,
            Kind::AccountDeletion,
            record.user_id.trim(),
            1,
            false,
            &account,
        ));
    }
    if REMOVALS.iter().any(|r| record.is_activity(r)) {
        // The role a member leaves is in the old values.
        let old = |name| {
            record
                .modified(name)
                .map_or("", |p| scalar(&p.old_value))
                .to_string()
        };
        let name = old("Role.DisplayName");
        let grave = match identify(
            &name,
            &old("Role.TemplateId"),
            &old("Role.WellKnownObjectName"),
        ) {
            Identified::Global => true,
            Identified::Privileged(_) => false,
            Identified::Imitation(_) | Identified::Other => return None,
        };
        let account = record
            .target_of(UPN)
            .map(str::to_string)
            .unwrap_or_else(|| record.directory_target());
        return Some(event(
            &mail,
            time,
            Kind::AdminRemoval,
            record.user_id.trim(),
            1,
            grave,
            &format!("{account} ({name})"),
        ));
    }
    None
}

/// [`counted`] for a record's raw JSON: what a scan asks of each record [`crate::sift`]
/// says may count. Mail events, nearly all of them, are read leanly, only the fields
/// counting them needs: by a quick scan where it is sure of the record, else by serde.
/// Any other record, or one the lean reading refuses, is read whole.
pub fn counted_json(raw: &str) -> Option<Countable> {
    if let Some(mail) =
        MailRecord::scan(raw).or_else(|| serde_json::from_str::<MailRecord>(raw).ok())
        && let Told::Settled(event) = mail_event(&mail)
    {
        return event;
    }
    counted(&serde_json::from_str(raw).ok()?)
}

/// What the fields of a [`MailRecord`] tell of the event a record counts as.
enum Told {
    /// All there is to tell: a mail event, or nothing (failed, Exchange's own, or with no
    /// time that can be read, or mail read but not synchronised).
    Settled(Option<Countable>),
    /// No mail event, made at this time; the record may be a directory event.
    NoMail(DateTime<Utc>),
}

/// The mail event a record counts as, from the fields a lean reading gives.
fn mail_event(mail: &MailRecord<'_>) -> Told {
    if failed(&mail.result_status) || by_system(&mail.user_id) {
        return Told::Settled(None);
    }
    let Some(time) = parse_creation_time(&mail.creation_time) else {
        return Told::Settled(None);
    };
    let mailbox = || {
        let owner = mail.mailbox_owner_upn.trim();
        if owner.is_empty() {
            mail.user_id.trim()
        } else {
            owner
        }
    };
    let is = |operation| is_operation(&mail.operation, operation);
    let hard = is("HardDelete");
    if hard || is("SoftDelete") {
        return Told::Settled(Some(event(
            mail,
            time,
            Kind::MailDeletion,
            mailbox(),
            mail.affected_items,
            hard,
            &mail.folder,
        )));
    }
    if is("MailItemsAccessed") {
        let sync = mail
            .mail_access_type
            .as_ref()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("sync"));
        return Told::Settled(sync.then(|| {
            event(
                mail,
                time,
                Kind::MailSync,
                mailbox(),
                mail.folders.len(),
                false,
                &mail.folders.join(", "),
            )
        }));
    }
    Told::NoMail(time)
}

/// One event of a record, with the record's facts.
fn event(
    mail: &MailRecord<'_>,
    time: DateTime<Utc>,
    kind: Kind,
    key: &str,
    weight: usize,
    grave: bool,
    item: &str,
) -> Countable {
    Countable::new(
        kind,
        weight.max(1) as u64,
        grave,
        time,
        Texts {
            key,
            record_id: &mail.id,
            actor: &mail.user_id,
            client_ip: address_of(&mail.client_ip),
            item,
        },
    )
}

/// The bursts among `events`, which may mix kinds, keys and duplicates: for each kind
/// and key, the window of at most [`WINDOW`] with the gravest, then largest, count, if
/// it reaches its threshold. The evidence lists the records counted, so a store can tell
/// a burst it already raised.
pub fn bursts(events: &[Countable]) -> Vec<Finding> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut index: HashMap<(Kind, &str), usize> = HashMap::new();
    let mut groups: Vec<Vec<&Countable>> = Vec::new();
    for e in events {
        // One record makes one event: the same id twice is the record fed twice.
        if !seen.insert(e.record_id()) {
            continue;
        }
        match index.get(&(e.kind, e.key())) {
            Some(&g) => groups[g].push(e),
            None => {
                index.insert((e.kind, e.key()), groups.len());
                groups.push(vec![e]);
            }
        }
    }
    groups.into_iter().filter_map(judge).collect()
}

/// The gravest, then largest, window of one kind and key that reaches its threshold.
fn judge(mut group: Vec<&Countable>) -> Option<Finding> {
    group.sort_by(|a, b| a.time.cmp(&b.time).then(a.record_id().cmp(b.record_id())));
    let kind = group[0].kind;
    let mut best: Option<(Severity, u64, usize, usize)> = None;
    let (mut start, mut total, mut grave) = (0, 0u64, 0u64);
    for (end, e) in group.iter().enumerate() {
        total += e.weight;
        grave += if e.grave { e.weight } else { 0 };
        while e.time - group[start].time > WINDOW {
            total -= group[start].weight;
            grave -= if group[start].grave {
                group[start].weight
            } else {
                0
            };
            start += 1;
        }
        if let Some(severity) = severity(kind, total, grave)
            && best.is_none_or(|(s, t, _, _)| (severity, total) > (s, t))
        {
            best = Some((severity, total, start, end));
        }
    }
    let (severity, _, start, end) = best?;
    Some(finding(kind, severity, &group[start..=end]))
}

/// The severity of a count within one window, or `None` below the threshold.
fn severity(kind: Kind, total: u64, grave: u64) -> Option<Severity> {
    match kind {
        Kind::MailDeletion if grave >= PURGED_MESSAGES || total >= DELETED_MESSAGES_HIGH => {
            Some(Severity::High)
        }
        Kind::MailDeletion if total >= DELETED_MESSAGES => Some(Severity::Medium),
        Kind::MailSync if total >= SYNCED_FOLDERS_HIGH => Some(Severity::High),
        Kind::MailSync if total >= SYNCED_FOLDERS => Some(Severity::Medium),
        Kind::AccountDeletion if total >= DELETED_ACCOUNTS => Some(Severity::High),
        Kind::AdminRemoval if grave >= REMOVED_ADMINS => Some(Severity::Critical),
        Kind::AdminRemoval if total >= REMOVED_ADMINS => Some(Severity::High),
        _ => None,
    }
}

/// Items a burst's evidence lists at most.
const MAX_ITEMS: usize = 50;
/// Items its summary names at most.
const SHOWN_ITEMS: usize = 5;

fn finding(kind: Kind, severity: Severity, window: &[&Countable]) -> Finding {
    let key = window[0].key().to_string();
    let total: u64 = window.iter().map(|e| e.weight).sum();
    let grave: u64 = window.iter().filter(|e| e.grave).map(|e| e.weight).sum();
    let (first, last) = (window[0].time, window[window.len() - 1].time);
    let mut actors: Vec<String> = Vec::new();
    let mut addresses: Vec<String> = Vec::new();
    let mut items: Vec<String> = Vec::new();
    for e in window {
        if !actors.iter().any(|a| a == e.actor()) {
            actors.push(e.actor().to_string());
        }
        if let Some(ip) = e
            .client_ip()
            .filter(|ip| !addresses.iter().any(|a| a == ip))
        {
            addresses.push(ip.to_string());
        }
        let item = e.item();
        if !item.is_empty() && !items.iter().any(|i| i == item) && items.len() < MAX_ITEMS {
            items.push(item.to_string());
        }
    }
    let minutes = match (last - first).num_minutes() {
        0 => "a minute".to_string(),
        1 => "1 minute".to_string(),
        m => format!("{m} minutes"),
    };
    let by: Vec<String> = actors.iter().map(|a| visible(a)).collect();
    let mut named: Vec<String> = items.iter().take(SHOWN_ITEMS).map(|i| visible(i)).collect();
    if items.len() > SHOWN_ITEMS {
        named.push(format!("{} more", items.len() - SHOWN_ITEMS));
    }
    let (target, summary) = match kind {
        Kind::MailDeletion => (
            key.clone(),
            format!(
                "{total} messages were deleted from mailbox {} within {minutes} by {}{}.",
                visible(&key),
                list(&by),
                if grave > 0 {
                    format!(", {grave} of them purged beyond recovery")
                } else {
                    String::new()
                }
            ),
        ),
        Kind::MailSync => (
            key.clone(),
            format!(
                "{total} folders of mailbox {} were synchronised within {minutes} by {}: a client \
                 downloaded the mailbox.",
                visible(&key),
                list(&by)
            ),
        ),
        Kind::AccountDeletion => (
            "the whole organisation".to_string(),
            format!(
                "{} deleted {total} accounts within {minutes}: {}.",
                list(&by),
                list(&named)
            ),
        ),
        Kind::AdminRemoval => (
            "the whole organisation".to_string(),
            format!(
                "{} removed {total} admins from their roles within {minutes}: {}.",
                list(&by),
                list(&named)
            ),
        ),
    };
    Finding {
        rule: kind.rule().id,
        severity,
        target,
        actor: actors.join(", "),
        summary,
        details: Evidence::Burst(BurstEvidence {
            key,
            total,
            grave,
            records: window.len(),
            first,
            last,
            actors,
            addresses,
            items,
            record_ids: window.iter().map(|e| e.record_id().to_string()).collect(),
        }),
    }
}
