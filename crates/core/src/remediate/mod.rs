//! Secure and Remediate: contain the mailbox an alert is about, one verified step at a
//! time. Every step reads the state first (so a repeat is "already so"), acts, reads it
//! back, and is recorded in the hash-chained log with its before- and after-state, so
//! the reversible ones can be undone. A failed step never stops the others.

mod mailbox;
mod microsoft;
mod password;
mod plan;
mod rules;
mod run;
mod steps;
mod undo;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::Api;
use crate::auth::{AppIdentity, AuthMethod};
use crate::detect::address::{domain_of, is_one_address};
use crate::detect::{FORWARDING_FAN_IN, TRANSPORT_RULE_REDIRECT, TenantContext, visible_text};
use crate::http::RetryStats;
use crate::store::{Alert, LogEntry, NewLogEntry, Store, StoreError, parse_ts};

pub(crate) use mailbox::{named_by_id, upn_of};
use microsoft::{Account, GRANT_BLOCK, GRANT_PASSWORD, Microsoft, Refusal};
use plan::{enabled_words, sync_warning};
pub(crate) use rules::read_rule;
pub use rules::{Forwarding, LiveRule};
use run::{StepDone, verify};

/// What a step does. The names are the CLI's `--actions` words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Block the account's sign-in in Entra (`accountEnabled` false); undone by allowing it
    /// again.
    BlockSignIn,
    /// Revoke the account's sign-in sessions and refresh tokens; cannot be undone.
    RevokeSessions,
    /// Set a new random password, to be changed at next sign-in; shown once, stored nowhere,
    /// and cannot be undone.
    ResetPassword,
    /// Disable an inbox rule, keeping it as evidence; undone by enabling it again.
    DisableRule,
    /// Remove an inbox rule, its whole definition kept in the record; undone by recreating it.
    RemoveRule,
    /// Clear the mailbox's forwarding; undone by restoring the forwarding recorded before.
    ClearForwarding,
}

impl Action {
    /// The order steps run in, as Microsoft and CIPP contain an account: lock the door,
    /// end the sessions, change the key, then undo what the intruder set up.
    pub const ALL: [Action; 6] = [
        Action::BlockSignIn,
        Action::RevokeSessions,
        Action::ResetPassword,
        Action::DisableRule,
        Action::RemoveRule,
        Action::ClearForwarding,
    ];

    /// The step's CLI name (`block-sign-in`, …), as the record stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::BlockSignIn => "block-sign-in",
            Action::RevokeSessions => "revoke-sessions",
            Action::ResetPassword => "reset-password",
            Action::DisableRule => "disable-rule",
            Action::RemoveRule => "remove-rule",
            Action::ClearForwarding => "clear-forwarding",
        }
    }

    /// The action named `s` (surrounding spaces ignored), if it is one.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s.trim())
    }

    /// Whether Undo can put back what the step changed.
    pub fn reversible(self) -> bool {
        !matches!(self, Action::RevokeSessions | Action::ResetPassword)
    }

    fn undo_name(self) -> String {
        format!("undo-{}", self.as_str())
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Microsoft made the change, and reading it back shows it.
    Done,
    /// Nothing to do: the state already was what the step makes it (or the rule was already
    /// gone).
    AlreadySo,
    /// Not run: what it would change is gone (a rule to disable that is no longer in the
    /// mailbox).
    Skipped,
    /// Reading the state or making the change failed; see the detail. The other steps still
    /// run.
    Failed,
    /// Microsoft accepted the change, but reading it back for the whole verification
    /// schedule did not show it yet: Entra and Exchange are eventually consistent
    /// (../shared/reference/m365-api.md §G 11). Never reported as failed.
    SentNotVisible,
}

impl Outcome {
    /// The name the record stores as the step's result (`done`, `already_so`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::AlreadySo => "already_so",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::SentNotVisible => "sent_not_visible",
        }
    }

    /// For people: "already so", "FAILED", "sent, not yet visible", …
    pub fn words(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::AlreadySo => "already so",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "FAILED",
            Outcome::SentNotVisible => "sent, not yet visible",
        }
    }

    /// The change went to Microsoft: it can be undone, and a password reset's new
    /// password must be shown.
    pub fn sent(self) -> bool {
        matches!(self, Outcome::Done | Outcome::SentNotVisible)
    }

    fn sent_str(result: &str) -> bool {
        [Outcome::Done, Outcome::SentNotVisible]
            .iter()
            .any(|o| o.as_str() == result)
    }
}

/// How long to wait before each further read-back of a change that does not show yet:
/// about 1, 2, 4 and 8 s, as Entra's eventual consistency asks (../shared/reference/m365-api.md §G 11).
pub fn default_verify_delays() -> Vec<std::time::Duration> {
    [1, 2, 4, 8].map(std::time::Duration::from_secs).to_vec()
}

/// One step the plan offers.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    /// Names the step when choosing what to run.
    pub key: String,
    /// What the step does.
    pub action: Action,
    /// The account or mailbox the step changes.
    pub account: String,
    /// For rule steps, the rule's Exchange identity and name.
    pub rule_identity: Option<String>,
    /// For rule steps, the rule's name (from the mailbox, or from the alert when the rule is
    /// no longer there).
    pub rule_name: Option<String>,
    /// What the step does, in words.
    pub label: String,
    /// The state read just now, in words.
    pub current: String,
    /// Checked by default.
    pub selected: bool,
    /// What to know before running it: an on-premises sync that undoes a block, or Outlook's
    /// client-only rules that a rule change deletes.
    pub warning: Option<String>,
}

/// What Secure and Remediate would do for one alert, with the live state.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The alert the plan is for.
    pub alert_id: i64,
    /// The alert's tenant id.
    pub tenant_id: String,
    /// The tenant's name, as the alert recorded it.
    pub tenant_name: String,
    /// The mailbox's UPN, as Microsoft resolved the alert's target.
    pub mailbox: String,
    /// The alert's own name for the mailbox (a GUID, alias or another address) when it
    /// is not the UPN: shown as "resolved from …".
    pub resolved_from: Option<String>,
    /// The mailbox owner's Entra object id, when Microsoft gave it.
    pub mailbox_id: Option<String>,
    /// Who made the change, as the audit record names them.
    pub actor: String,
    /// The change was made by another account, offered for containment too.
    pub actor_differs: bool,
    /// Why the account that made the change is not offered, when it is another account
    /// that is none of this tenant's (a partner technician through GDAP, a guest).
    pub actor_not_offered: Option<String>,
    /// Whether the mailbox's owner can sign in; `None` when it could not be read.
    pub account_enabled: Option<bool>,
    /// The account is synced from on-premises Active Directory, whose next sync overwrites a
    /// change made in the cloud.
    pub synced_from_on_premises: bool,
    /// The mailbox's forwarding now; `None` when it could not be read.
    pub forwarding: Option<Forwarding>,
    /// Every rule in the mailbox, hidden ones included.
    pub rules: Vec<LiveRule>,
    /// Reads that failed, in words: the steps they concern may fail too.
    pub problems: Vec<String>,
    /// The steps offered, for the mailbox, the account that made the change (when offered),
    /// its rules and its forwarding, with the default ones selected.
    pub steps: Vec<PlannedStep>,
}

/// One step's result, as shown and recorded.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    /// The log row; `undo` takes it.
    pub action_id: i64,
    /// The planned step's key (`undo:<id>` for an undo).
    pub key: String,
    /// The action's name as recorded (`block-sign-in`, or `undo-block-sign-in` for an undo).
    pub action: String,
    /// The account or mailbox the step changed.
    pub account: String,
    /// For rule steps, the rule's name.
    pub rule_name: Option<String>,
    /// How the step ended.
    pub outcome: Outcome,
    /// What was found or done, or why it failed, in words.
    pub detail: String,
    /// What the technician should still know or do (e.g. the account is synced from
    /// on-premises).
    pub warning: Option<String>,
    /// Whether Undo can reverse it: a reversible action whose change went to Microsoft, and
    /// not itself an undo.
    pub reversible: bool,
    /// The new password, for the one display. Never serialised, stored or logged.
    #[serde(skip)]
    pub password: Option<SecretString>,
}

/// Why Secure and Remediate refused, or could not go on. A step that fails is no error:
/// its [`StepResult`] says [`Outcome::Failed`].
#[derive(Debug, thiserror::Error)]
pub enum RemediateError {
    /// The store failed, or has no such alert, tenant or step.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The alert's target is not a mailbox Rulewatch can act on.
    #[error(
        "alert {id} is about {target}, which is not a mailbox; Secure and Remediate contains mailboxes (inbox rules, \
         forwarding, delegation). Handle this alert in the Exchange admin center"
    )]
    NotAMailbox {
        /// The alert's id.
        id: i64,
        /// What the alert names, as visible text.
        target: String,
    },
    /// Microsoft did not resolve the alert's target to exactly one mailbox.
    #[error(
        "alert {id} is about {target}, which does not resolve to exactly one mailbox ({why}). Secure and Remediate \
         acts only on a mailbox Microsoft confirms; check the mailbox in the Exchange admin center"
    )]
    Unresolved {
        /// The alert's id.
        id: i64,
        /// What the alert names, as visible text.
        target: String,
        /// Why it did not resolve, in words.
        why: String,
    },
    /// The alert is a forwarding fan-in: an outside address fed by several mailboxes, each
    /// contained through its own alert.
    #[error(
        "alert {id} is about the outside address {destination}, which receives mail forwarded from several mailboxes: \
         there is no mailbox of it to contain. Secure and Remediate each forwarding mailbox through its own alert: {members}"
    )]
    FanIn {
        /// The alert's id.
        id: i64,
        /// The outside address, as visible text.
        destination: String,
        /// The forwarding mailboxes with their tenants and alerts, in words.
        members: String,
    },
    /// The alert is about a mail-flow (transport) rule, which applies to the whole
    /// organisation and which Rulewatch does not change.
    #[error(
        "alert {id} is about the mail-flow rule {rule}, which applies to the whole organisation; Rulewatch does not change \
         mail-flow rules. In the Exchange admin center, open Mail flow > Rules, disable or remove {rule}, then check the \
         account that made it, {actor}"
    )]
    MailFlowRule {
        /// The alert's id.
        id: i64,
        /// The rule's name, quoted, as visible text.
        rule: String,
        /// The account that made the rule, as visible text.
        actor: String,
    },
    /// The alert's address is in none of the tenant's accepted domains.
    #[error(
        "alert {id} names {target}, whose domain is none of {tenant}'s accepted domains: it is no mailbox of this tenant, \
         so Secure and Remediate has nothing to contain here"
    )]
    OutsideTenant {
        /// The alert's id.
        id: i64,
        /// The address, as visible text.
        target: String,
        /// The tenant's name, as visible text.
        tenant: String,
    },
    /// A chosen key names no step of the plan; holds the key.
    #[error("no step '{0}' in the plan; the plan lists the steps with their keys")]
    UnknownStep(String),
    /// Both disabling and removing one rule were chosen; holds the rule's name.
    #[error("both disable-rule and remove-rule are chosen for rule {0}: choose one")]
    Conflict(String),
    /// The recorded step cannot be undone: it is an undo itself, cannot be reversed, changed
    /// nothing, or is tied to no alert.
    #[error("step {id} ({action}) cannot be undone: {why}")]
    CannotUndo {
        /// The step's id in the record.
        id: i64,
        /// The step's action, as recorded.
        action: String,
        /// Why not, in words.
        why: String,
    },
    /// No step was chosen.
    #[error("nothing was chosen; choose at least one step")]
    NothingChosen,
}

/// The setting naming the steps checked by default.
pub const DEFAULTS_SETTING: crate::store::Key<Vec<Action>> =
    crate::store::Key::new("remediation.defaults");

/// Checked unless the technician chose otherwise: everything but removing rules, which
/// destroys evidence.
pub fn default_actions(store: &Store) -> Result<Vec<Action>, StoreError> {
    Ok(store.setting(&DEFAULTS_SETTING)?.unwrap_or_else(|| {
        Action::ALL
            .into_iter()
            .filter(|a| *a != Action::RemoveRule)
            .collect()
    }))
}

/// Who is doing it, for the record. (A step in a tenant reached through the partner
/// account also records that account.)
#[derive(Debug, Clone)]
pub struct Operator {
    /// The technician running the step: their OS login unless they named themselves
    /// (`--technician`), so a team's shared record says who did what.
    pub os_user: String,
    /// The computer's host name.
    pub machine: String,
}

impl Operator {
    /// `technician` at this machine.
    pub fn named(technician: &str) -> Operator {
        Operator {
            os_user: technician.to_string(),
            machine: whoami::hostname().unwrap_or_else(|_| "unknown machine".into()),
        }
    }
}

/// Secure and Remediate for the tenants of one store.
pub struct Remediator<'a> {
    /// Microsoft's clients, with the engine's tokens.
    pub api: &'a Api,
    /// The store holding the alerts and the remediation record.
    pub store: &'a Store,
    /// Who is acting, recorded with every step.
    pub operator: Operator,
    /// The steps checked by default ([`default_actions`]).
    pub defaults: Vec<Action>,
    /// The waits between read-backs of a change ([`default_verify_delays`]).
    pub verify_delays: Vec<std::time::Duration>,
}

/// The alert, its tenant's app and context: what every step needs.
struct Target {
    alert: Alert,
    app: AppIdentity,
    ctx: TenantContext,
}

impl Remediator<'_> {
    /// The Microsoft calls for the target's tenant, counted in `stats`.
    fn microsoft<'s>(&'s self, t: &'s Target, stats: &'s RetryStats) -> Microsoft<'s> {
        Microsoft {
            api: self.api,
            app: &t.app,
            stats,
            verify_delays: &self.verify_delays,
        }
    }
}

impl Target {
    fn alert_rule_names(&self) -> Vec<String> {
        self.alert
            .details
            .rule_name()
            .filter(|n| !n.is_empty())
            .map(|n| vec![n.to_string()])
            .unwrap_or_default()
    }
}
