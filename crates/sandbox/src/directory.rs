//! Each tenant's accounts and mailboxes: what remediation reads and changes.
//!
//! State starts from the scenario's users and follows the tenant's planted audit records
//! as they are released (the attacker's `New-InboxRule`, `Set-Mailbox`, …), applied lazily
//! whenever the state is read. Remediation calls then change the same state.
//!
//! Users carry an object id, a mailbox GUID, an alias, a primary SMTP address (which the
//! scenario can set apart from the UPN) and further addresses, as real mailboxes do
//! (../shared/reference/m365-api.md §G 12). With the tenant's `write_visible_after_ms`, a remediation write is
//! made at once but reads keep showing the account as it was until that long after the
//! latest write (§G 11: Entra is eventually consistent; Exchange's REST calls are not
//! pinned to one backend).

use std::collections::{BTreeMap, HashSet, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ids;
use crate::scenario::{InboxRule, Tenant, User};

/// How long before sandbox start every account last changed its password and signed in
/// afresh, so Graph has a time to show before any remediation.
const ACCOUNT_AGE: Duration = Duration::days(30);

pub(crate) struct Directory {
    tenant_id: String,
    /// Keyed by lower-cased UPN.
    accounts: BTreeMap<String, Account>,
    /// Planted records of this tenant not yet released, by release time.
    pending: VecDeque<(DateTime<Utc>, Value)>,
    baseline: DateTime<Utc>,
    /// How long a write stays invisible to reads (the tenant's `write_visible_after_ms`).
    pub write_delay: Duration,
    /// Accounts as reads still see them after a write, until the time given (§G 11).
    stale: BTreeMap<String, (Account, DateTime<Utc>)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub upn: String,
    /// The Entra object id (Exchange's `ExternalDirectoryObjectId`).
    pub id: Uuid,
    /// Exchange's own id for the mailbox, which rule identities and records use.
    pub mailbox_guid: Uuid,
    /// The mail nickname: the UPN's local part unless the scenario says otherwise.
    pub alias: String,
    /// Where mail is sent from; differs from the UPN for some users (../shared/reference/m365-api.md §G 12).
    pub primary_smtp: String,
    /// Further SMTP addresses the mailbox receives at.
    pub proxy_addresses: Vec<String>,
    /// Entra admin roles the user holds: changing a privileged user needs more (§G 5).
    pub directory_roles: Vec<String>,
    pub display_name: String,
    pub account_enabled: bool,
    pub on_premises_sync: bool,
    pub sessions_revoked_at: Option<DateTime<Utc>>,
    pub password_changed_at: Option<DateTime<Utc>>,
    pub force_change_password: bool,
    /// Always with the `smtp:` prefix, as Exchange stores it.
    pub forwarding_smtp_address: Option<String>,
    pub forwarding_address: Option<String>,
    pub deliver_to_mailbox_and_forward: bool,
    /// In priority order.
    pub inbox_rules: Vec<Rule>,
    /// Every rule id this mailbox has used, so a re-created rule gets a fresh one.
    issued: HashSet<u64>,
}

/// Why an identity names no single mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    NotFound,
    Ambiguous,
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: u64,
    pub spec: InboxRule,
}

impl Directory {
    /// `released` are the tenant's planted records with their release times.
    pub(crate) fn new(
        tenant: &Tenant,
        tenant_id: &str,
        mut released: Vec<(DateTime<Utc>, Value)>,
        start: DateTime<Utc>,
    ) -> Directory {
        released.sort_by_key(|(at, _)| *at);
        let mut directory = Directory {
            tenant_id: tenant_id.to_string(),
            accounts: BTreeMap::new(),
            pending: released.into(),
            baseline: start - ACCOUNT_AGE,
            write_delay: Duration::zero(),
            stale: BTreeMap::new(),
        };
        for user in &tenant.users {
            directory.add_user(user);
        }
        directory
    }

    fn add_user(&mut self, user: &User) {
        let mut account = Account::new(&self.tenant_id, &user.upn, &user.display_name);
        if let Some(primary) = &user.primary_smtp_address {
            account.primary_smtp = primary.clone();
        }
        if let Some(alias) = &user.alias {
            account.alias = alias.clone();
        }
        account.proxy_addresses = user.proxy_addresses.clone();
        if let Some(guid) = user
            .mailbox_guid
            .as_deref()
            .and_then(|g| Uuid::parse_str(g).ok())
        {
            account.mailbox_guid = guid;
        }
        account.directory_roles = user.directory_roles.clone();
        account.account_enabled = user.account_enabled;
        account.on_premises_sync = user.on_premises_sync;
        account.forwarding_smtp_address = user.forwarding_smtp_address.as_deref().map(smtp);
        for rule in &user.inbox_rules {
            account.add_rule(rule.clone());
        }
        self.accounts.insert(user.upn.to_ascii_lowercase(), account);
    }

    /// Applies every planted record released by `now`.
    pub(crate) fn catch_up(&mut self, now: DateTime<Utc>) {
        while self.pending.front().is_some_and(|(at, _)| *at <= now) {
            let (_, record) = self.pending.pop_front().expect("checked above");
            self.apply(&record);
        }
    }

    /// When sessions and passwords date from if never changed in the sandbox.
    pub(crate) fn baseline(&self) -> DateTime<Utc> {
        self.baseline
    }

    pub(crate) fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    /// By UPN or object id, ignoring case.
    pub(crate) fn account(&self, key: &str) -> Option<&Account> {
        let key = self.key(key)?;
        self.accounts.get(&key)
    }

    /// The account as a Graph or Exchange read shows it: while a write is not yet
    /// visible, as it was before (../shared/reference/m365-api.md §G 11: Entra is eventually consistent and
    /// Exchange's REST calls are not pinned to one backend).
    pub(crate) fn visible(&self, key: &str) -> Option<&Account> {
        let key = self.key(key)?;
        match self.stale.get(&key) {
            Some((before, until)) if Utc::now() < *until => Some(before),
            _ => self.accounts.get(&key),
        }
    }

    /// The account for a remediation write: with a write delay, reads keep showing it as
    /// it is now until the delay has passed since the latest write.
    pub(crate) fn write(&mut self, key: &str) -> Option<&mut Account> {
        let key = self.key(key)?;
        if self.write_delay > Duration::zero() {
            let now = Utc::now();
            let until = now + self.write_delay;
            match self.stale.get_mut(&key) {
                Some((_, shown_until)) if now < *shown_until => *shown_until = until,
                _ => {
                    let before = self.accounts.get(&key)?.clone();
                    self.stale.insert(key.clone(), (before, until));
                }
            }
        }
        self.accounts.get_mut(&key)
    }

    fn key(&self, key: &str) -> Option<String> {
        let lower = key.to_ascii_lowercase();
        if self.accounts.contains_key(&lower) {
            return Some(lower);
        }
        let id = Uuid::parse_str(key).ok()?;
        self.accounts
            .iter()
            .find(|(_, a)| a.id == id)
            .map(|(k, _)| k.clone())
    }

    /// A mailbox named as Exchange accepts it, else `None` (not found or ambiguous).
    pub(crate) fn mailbox_key(&self, identity: &str) -> Option<String> {
        self.find_mailbox(identity).ok()
    }

    /// A mailbox named as Exchange accepts it: UPN, object id, mailbox GUID, any of its
    /// SMTP addresses, alias or display name, or a distinguished name ending in one of
    /// those (as real `Set-Mailbox` records show). An alias or name can match several.
    pub(crate) fn find_mailbox(&self, identity: &str) -> Result<String, Lookup> {
        let identity = identity.trim();
        if let Some(key) = self.key(identity) {
            return Ok(key);
        }
        let last = identity.rsplit(['/', '\\']).next().unwrap_or(identity);
        let exact = self.accounts.iter().find(|(_, a)| {
            a.smtp_addresses().any(|s| s.eq_ignore_ascii_case(last))
                || Uuid::parse_str(last).is_ok_and(|guid| guid == a.mailbox_guid)
        });
        if let Some((key, _)) = exact {
            return Ok(key.clone());
        }
        let named: Vec<&String> = self
            .accounts
            .iter()
            .filter(|(_, a)| {
                last.eq_ignore_ascii_case(&a.alias) || last.eq_ignore_ascii_case(&a.display_name)
            })
            .map(|(k, _)| k)
            .collect();
        match named.as_slice() {
            [] => Err(Lookup::NotFound),
            [one] => Ok((*one).clone()),
            _ => Err(Lookup::Ambiguous),
        }
    }

    /// The account for `upn`, created on first mention by an audit record.
    fn ensure(&mut self, upn: &str) -> &mut Account {
        let tenant_id = &self.tenant_id;
        self.accounts
            .entry(upn.to_ascii_lowercase())
            .or_insert_with(|| Account::new(tenant_id, upn, ids::alias(upn)))
    }

    /// A mailbox an audit record names, else the record's actor.
    fn record_mailbox(&mut self, named: Option<&str>, actor: &str) -> Option<String> {
        match named {
            Some(identity) => match self.mailbox_key(identity) {
                Some(key) => Some(key),
                None if identity.contains('@') => {
                    self.ensure(identity);
                    Some(identity.to_ascii_lowercase())
                }
                None => self.mailbox_key(actor),
            },
            None => self.mailbox_key(actor),
        }
    }

    fn apply(&mut self, record: &Value) {
        // A cmdlet that failed changed nothing.
        if matches!(record["ResultStatus"].as_str(), Some("False" | "Failed")) {
            return;
        }
        let actor = record["UserId"].as_str().unwrap_or_default();
        if actor.contains('@') {
            self.ensure(actor);
        }
        let params: Vec<(String, String)> = record["Parameters"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|p| {
                        Some((
                            p["Name"].as_str()?.to_string(),
                            p["Value"].as_str().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let param = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let operation = record["Operation"].as_str().unwrap_or_default();
        match operation {
            "New-InboxRule" => {
                let Some(name) = param("Name") else { return };
                let named = param("Mailbox").or(param("Identity"));
                let Some(key) = self.record_mailbox(named, actor) else {
                    return;
                };
                let mut spec = InboxRule::named(name);
                set_rule_params(&mut spec, &params);
                self.accounts
                    .get_mut(&key)
                    .expect("resolved")
                    .add_rule(spec);
            }
            "Set-InboxRule" | "Remove-InboxRule" | "Disable-InboxRule" | "Enable-InboxRule" => {
                let Some(identity) = param("Identity") else {
                    return;
                };
                let (named, rule) = match identity.rsplit_once('\\') {
                    Some((mailbox, rule)) => (Some(mailbox), rule),
                    None => (param("Mailbox"), identity),
                };
                let Some(key) = self.record_mailbox(named, actor) else {
                    return;
                };
                let account = self.accounts.get_mut(&key).expect("resolved");
                let found = account.rule_index(rule);
                match (operation, found) {
                    ("Set-InboxRule", Some(i)) => {
                        set_rule_params(&mut account.inbox_rules[i].spec, &params);
                    }
                    // The rule predates the sandbox (made in Outlook, say): it exists now.
                    ("Set-InboxRule", None) => {
                        let mut spec = InboxRule::named(rule);
                        set_rule_params(&mut spec, &params);
                        account.add_rule(spec);
                    }
                    ("Remove-InboxRule", Some(i)) => {
                        account.inbox_rules.remove(i);
                    }
                    (_, Some(i)) => {
                        account.inbox_rules[i].spec.enabled = operation == "Enable-InboxRule";
                    }
                    (_, None) => {}
                }
            }
            "Set-Mailbox" => {
                let Some(key) = self.record_mailbox(param("Identity"), actor) else {
                    return;
                };
                let account = self.accounts.get_mut(&key).expect("resolved");
                if let Some(address) = param("ForwardingSmtpAddress") {
                    account.forwarding_smtp_address = non_empty(address).map(smtp);
                }
                if let Some(address) = param("ForwardingAddress") {
                    account.forwarding_address = non_empty(address).map(String::from);
                }
                if let Some(deliver) = param("DeliverToMailboxAndForward") {
                    account.deliver_to_mailbox_and_forward = truthy(deliver);
                }
            }
            _ => {}
        }
    }
}

impl Account {
    fn new(tenant_id: &str, upn: &str, display_name: &str) -> Account {
        Account {
            upn: upn.to_string(),
            // The same id the sandbox's sign-in records give the user.
            id: ids::user_object_id(tenant_id, upn),
            mailbox_guid: ids::mailbox_guid(tenant_id, upn),
            alias: ids::alias(upn).to_string(),
            primary_smtp: upn.to_string(),
            proxy_addresses: Vec::new(),
            directory_roles: Vec::new(),
            display_name: display_name.to_string(),
            account_enabled: true,
            on_premises_sync: false,
            sessions_revoked_at: None,
            password_changed_at: None,
            force_change_password: false,
            forwarding_smtp_address: None,
            forwarding_address: None,
            deliver_to_mailbox_and_forward: false,
            inbox_rules: Vec::new(),
            issued: HashSet::new(),
        }
    }

    /// Adds a rule at the lowest priority and returns its position.
    pub(crate) fn add_rule(&mut self, spec: InboxRule) -> usize {
        // The first rule of a name gets the id `attacks::set_inbox_rule_forward` puts in
        // its ObjectId; a re-created one gets a fresh id, as in Exchange.
        let upn = self.upn.to_ascii_lowercase();
        let mut id = ids::rule_id(&[b"rule", upn.as_bytes(), spec.name.as_bytes()]);
        while !self.issued.insert(id) {
            id = ids::rule_id(&[b"rule again", upn.as_bytes(), &id.to_le_bytes()]);
        }
        self.inbox_rules.push(Rule { id, spec });
        self.inbox_rules.len() - 1
    }

    /// A rule by id or name, as `Identity` takes either.
    pub(crate) fn rule_index(&self, identity: &str) -> Option<usize> {
        let identity = identity.trim();
        self.inbox_rules
            .iter()
            .position(|r| r.id.to_string() == identity)
            .or_else(|| {
                self.inbox_rules
                    .iter()
                    .position(|r| r.spec.name.eq_ignore_ascii_case(identity))
            })
    }

    /// `<mailbox GUID>\<rule id>`, the rule `Identity` Exchange shows (§G 7).
    pub(crate) fn rule_identity(&self, rule: &Rule) -> String {
        format!("{}\\{}", self.mailbox_guid, rule.id)
    }

    /// Every SMTP address the mailbox receives at, the primary one first.
    pub(crate) fn smtp_addresses(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.primary_smtp.as_str())
            .chain(std::iter::once(self.upn.as_str()))
            .chain(self.proxy_addresses.iter().map(String::as_str))
    }

    /// Exchange's `EmailAddresses`: `SMTP:` marks the primary address, `smtp:` the others.
    pub(crate) fn email_addresses(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.smtp_addresses()
            .filter(|a| seen.insert(a.to_ascii_lowercase()))
            .enumerate()
            .map(|(i, a)| format!("{}:{a}", if i == 0 { "SMTP" } else { "smtp" }))
            .collect()
    }

    /// Whether the user holds an Entra admin role (§G 5).
    pub(crate) fn privileged(&self) -> bool {
        !self.directory_roles.is_empty()
    }

    /// For `GET /_sandbox/tenants/{id}/users/{upn}`; never holds a password.
    pub(crate) fn state(&self) -> Value {
        #[derive(Serialize)]
        struct RuleState<'a> {
            identity: String,
            rule_identity: String,
            priority: usize,
            #[serde(flatten)]
            spec: &'a InboxRule,
        }
        let rules: Vec<RuleState> = self
            .inbox_rules
            .iter()
            .enumerate()
            .map(|(i, rule)| RuleState {
                identity: self.rule_identity(rule),
                rule_identity: rule.id.to_string(),
                priority: i + 1,
                spec: &rule.spec,
            })
            .collect();
        json!({
            "upn": self.upn,
            "id": self.id.to_string(),
            "display_name": self.display_name,
            "account_enabled": self.account_enabled,
            "on_premises_sync": self.on_premises_sync,
            "sessions_revoked_at": self.sessions_revoked_at.map(graph_time),
            "password_changed_at": self.password_changed_at.map(graph_time),
            "force_change_password": self.force_change_password,
            "forwarding_smtp_address": self.forwarding_smtp_address,
            "forwarding_address": self.forwarding_address,
            "deliver_to_mailbox_and_forward": self.deliver_to_mailbox_and_forward,
            "inbox_rules": rules,
        })
    }
}

impl InboxRule {
    /// An enabled rule with no conditions or actions yet.
    pub(crate) fn named(name: &str) -> InboxRule {
        InboxRule {
            name: name.to_string(),
            enabled: true,
            hidden: false,
            forward_to: Vec::new(),
            forward_as_attachment_to: Vec::new(),
            redirect_to: Vec::new(),
            delete_message: false,
            soft_delete_message: false,
            move_to_folder: None,
            mark_as_read: false,
            stop_processing_rules: false,
            from: Vec::new(),
            subject_contains_words: Vec::new(),
            subject_or_body_contains_words: Vec::new(),
            body_contains_words: Vec::new(),
        }
    }
}

/// Applies cmdlet parameters as the audit log renders them: lists `;`-separated,
/// switches `True`/`False`. Parameters the sandbox does not model are ignored.
pub(crate) fn set_rule_params(spec: &mut InboxRule, params: &[(String, String)]) {
    for (name, value) in params {
        let list = || {
            value
                .split(';')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        };
        match name.to_ascii_lowercase().as_str() {
            "name" if !value.is_empty() => spec.name = value.clone(),
            "enabled" => spec.enabled = truthy(value),
            "forwardto" => spec.forward_to = list(),
            "forwardasattachmentto" => spec.forward_as_attachment_to = list(),
            "redirectto" => spec.redirect_to = list(),
            "deletemessage" => spec.delete_message = truthy(value),
            "softdeletemessage" => spec.soft_delete_message = truthy(value),
            "movetofolder" => spec.move_to_folder = non_empty(value).map(String::from),
            "markasread" => spec.mark_as_read = truthy(value),
            "stopprocessingrules" => spec.stop_processing_rules = truthy(value),
            "from" => spec.from = list(),
            "subjectcontainswords" => spec.subject_contains_words = list(),
            "subjectorbodycontainswords" => spec.subject_or_body_contains_words = list(),
            "bodycontainswords" => spec.body_contains_words = list(),
            _ => {}
        }
    }
}

fn truthy(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

fn non_empty(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|v| !v.is_empty())
}

/// `x@y` or `smtp:x@y` as Exchange stores it: `smtp:x@y`.
pub(crate) fn smtp(address: &str) -> String {
    let address = address.trim();
    match address.split_once(':') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("smtp") => format!("smtp:{rest}"),
        _ => format!("smtp:{address}"),
    }
}

/// Graph's timestamps: RFC 3339 in UTC with `Z`, whole seconds.
pub(crate) fn graph_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
