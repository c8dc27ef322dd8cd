//! Each tenant's accounts and mailboxes: what remediation reads and changes.
//!
//! State starts from the scenario's users and follows the tenant's planted audit records
//! as they are released (the attacker's `New-InboxRule`, `Set-Mailbox`, …), applied lazily
//! whenever the state is read. Remediation calls then change the same state.

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
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub upn: String,
    pub id: Uuid,
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

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: u64,
    pub spec: InboxRule,
}

impl Directory {
    /// `released` are the tenant's planted records with their release times.
    pub fn new(
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
        };
        for user in &tenant.users {
            directory.add_user(user);
        }
        directory
    }

    fn add_user(&mut self, user: &User) {
        let mut account = Account::new(&self.tenant_id, &user.upn, &user.display_name);
        account.account_enabled = user.account_enabled;
        account.on_premises_sync = user.on_premises_sync;
        account.forwarding_smtp_address = user.forwarding_smtp_address.as_deref().map(smtp);
        for rule in &user.inbox_rules {
            account.add_rule(rule.clone());
        }
        self.accounts.insert(user.upn.to_ascii_lowercase(), account);
    }

    /// Applies every planted record released by `now`.
    pub fn catch_up(&mut self, now: DateTime<Utc>) {
        while self.pending.front().is_some_and(|(at, _)| *at <= now) {
            let (_, record) = self.pending.pop_front().expect("checked above");
            self.apply(&record);
        }
    }

    /// When sessions and passwords date from if never changed in the sandbox.
    pub fn baseline(&self) -> DateTime<Utc> {
        self.baseline
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    /// By UPN or object id, ignoring case.
    pub fn account(&self, key: &str) -> Option<&Account> {
        let key = self.key(key)?;
        self.accounts.get(&key)
    }

    pub fn account_mut(&mut self, key: &str) -> Option<&mut Account> {
        let key = self.key(key)?;
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

    /// A mailbox named as Exchange accepts it: UPN, alias, mailbox GUID, or a
    /// distinguished name ending in one of those (as real `Set-Mailbox` records show).
    pub fn mailbox_key(&self, identity: &str) -> Option<String> {
        let identity = identity.trim();
        if let Some(key) = self.key(identity) {
            return Some(key);
        }
        let last = identity.rsplit(['/', '\\']).next().unwrap_or(identity);
        self.accounts
            .iter()
            .find(|(key, a)| {
                last.eq_ignore_ascii_case(ids::alias(key))
                    || last.eq_ignore_ascii_case(&a.display_name)
                    || last
                        .eq_ignore_ascii_case(&ids::mailbox_guid(&self.tenant_id, key).to_string())
            })
            .map(|(k, _)| k.clone())
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
            id: ids::guid(&[
                b"user",
                tenant_id.as_bytes(),
                upn.to_ascii_lowercase().as_bytes(),
            ]),
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
    pub fn add_rule(&mut self, spec: InboxRule) -> usize {
        // The first rule of a name gets the id `attacks::set_inbox_rule_forward` puts in
        // its ObjectId; a re-created one gets a fresh id, as in Exchange.
        let upn = self.upn.to_ascii_lowercase();
        let mut id = ids::seed(&[b"rule", upn.as_bytes(), spec.name.as_bytes()]);
        while !self.issued.insert(id) {
            id = ids::seed(&[b"rule again", upn.as_bytes(), &id.to_le_bytes()]);
        }
        self.inbox_rules.push(Rule { id, spec });
        self.inbox_rules.len() - 1
    }

    /// A rule by id or name, as `Identity` takes either.
    pub fn rule_index(&self, identity: &str) -> Option<usize> {
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

    /// `upn\id`, the rule `Identity` Exchange shows.
    pub fn rule_identity(&self, rule: &Rule) -> String {
        format!("{}\\{}", self.upn, rule.id)
    }

    /// For `GET /_sandbox/tenants/{id}/users/{upn}`; never holds a password.
    pub fn state(&self) -> Value {
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
