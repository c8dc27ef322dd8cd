//! Secure and Remediate: contain the mailbox an alert is about, one verified step at a
//! time. Every step reads the state first (so a repeat is "already so"), acts, reads it
//! back, and is recorded in the hash-chained log with its before- and after-state, so
//! the reversible ones can be undone. A failed step never stops the others.

mod mailbox;
mod microsoft;
mod password;
mod rules;

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

use microsoft::{Account, GRANT_BLOCK, GRANT_PASSWORD, Microsoft, Refusal};
pub(crate) use rules::read_rule;
pub use rules::{Forwarding, LiveRule};

/// What a step does. The names are the CLI's `--actions` words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    BlockSignIn,
    RevokeSessions,
    ResetPassword,
    DisableRule,
    RemoveRule,
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
    Done,
    AlreadySo,
    Skipped,
    Failed,
    /// Microsoft accepted the change, but reading it back for the whole verification
    /// schedule did not show it yet: Entra and Exchange are eventually consistent
    /// (../shared/reference/m365-api.md §G 11). Never reported as failed.
    SentNotVisible,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::AlreadySo => "already_so",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::SentNotVisible => "sent_not_visible",
        }
    }

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
    pub action: Action,
    /// The account or mailbox the step changes.
    pub account: String,
    /// For rule steps, the rule's Exchange identity and name.
    pub rule_identity: Option<String>,
    pub rule_name: Option<String>,
    /// What the step does, in words.
    pub label: String,
    /// The state read just now, in words.
    pub current: String,
    /// Checked by default.
    pub selected: bool,
    pub warning: Option<String>,
}

/// What Secure and Remediate would do for one alert, with the live state.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub alert_id: i64,
    pub tenant_id: String,
    pub tenant_name: String,
    /// The mailbox's UPN, as Microsoft resolved the alert's target.
    pub mailbox: String,
    /// The alert's own name for the mailbox (a GUID, alias or another address) when it
    /// is not the UPN: shown as "resolved from …".
    pub resolved_from: Option<String>,
    /// The mailbox owner's Entra object id, when Microsoft gave it.
    pub mailbox_id: Option<String>,
    pub actor: String,
    /// The change was made by another account, offered for containment too.
    pub actor_differs: bool,
    /// Why the account that made the change is not offered, when it is another account
    /// that is none of this tenant's (a partner technician through GDAP, a guest).
    pub actor_not_offered: Option<String>,
    pub account_enabled: Option<bool>,
    pub synced_from_on_premises: bool,
    pub forwarding: Option<Forwarding>,
    /// Every rule in the mailbox, hidden ones included.
    pub rules: Vec<LiveRule>,
    /// Reads that failed, in words: the steps they concern may fail too.
    pub problems: Vec<String>,
    pub steps: Vec<PlannedStep>,
}

/// One step's result, as shown and recorded.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    /// The log row; `undo` takes it.
    pub action_id: i64,
    pub key: String,
    pub action: String,
    pub account: String,
    pub rule_name: Option<String>,
    pub outcome: Outcome,
    pub detail: String,
    pub warning: Option<String>,
    pub reversible: bool,
    /// The new password, for the one display. Never serialised, stored or logged.
    #[serde(skip)]
    pub password: Option<SecretString>,
}

#[derive(Debug, thiserror::Error)]
pub enum RemediateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "alert {id} is about {target}, which is not a mailbox; Secure and Remediate contains mailboxes (inbox rules, \
         forwarding, delegation). Handle this alert in the Exchange admin center"
    )]
    NotAMailbox { id: i64, target: String },
    #[error(
        "alert {id} is about {target}, which does not resolve to exactly one mailbox ({why}). Secure and Remediate \
         acts only on a mailbox Microsoft confirms; check the mailbox in the Exchange admin center"
    )]
    Unresolved {
        id: i64,
        target: String,
        why: String,
    },
    #[error(
        "alert {id} is about the outside address {destination}, which receives mail forwarded from several mailboxes: \
         there is no mailbox of it to contain. Secure and Remediate each forwarding mailbox through its own alert: {members}"
    )]
    FanIn {
        id: i64,
        destination: String,
        members: String,
    },
    #[error(
        "alert {id} is about the mail-flow rule {rule}, which applies to the whole organisation; Rulewatch does not change \
         mail-flow rules. In the Exchange admin center, open Mail flow > Rules, disable or remove {rule}, then check the \
         account that made it, {actor}"
    )]
    MailFlowRule {
        id: i64,
        rule: String,
        actor: String,
    },
    #[error(
        "alert {id} names {target}, whose domain is none of {tenant}'s accepted domains: it is no mailbox of this tenant, \
         so Secure and Remediate has nothing to contain here"
    )]
    OutsideTenant {
        id: i64,
        target: String,
        tenant: String,
    },
    #[error("no step '{0}' in the plan; the plan lists the steps with their keys")]
    UnknownStep(String),
    #[error("both disable-rule and remove-rule are chosen for rule {0}: choose one")]
    Conflict(String),
    #[error("step {id} ({action}) cannot be undone: {why}")]
    CannotUndo {
        id: i64,
        action: String,
        why: String,
    },
    #[error("nothing was chosen; choose at least one step")]
    NothingChosen,
}

/// The setting naming the steps checked by default.
pub const DEFAULTS_SETTING: &str = "remediation.defaults";

/// Checked unless the technician chose otherwise: everything but removing rules, which
/// destroys evidence.
pub fn default_actions(store: &Store) -> Result<Vec<Action>, StoreError> {
    Ok(store.setting(DEFAULTS_SETTING)?.unwrap_or_else(|| {
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
    pub os_user: String,
    pub machine: String,
}

impl Operator {
    /// The OS user and machine running Rulewatch.
    pub fn current() -> Operator {
        Operator {
            os_user: whoami::username().unwrap_or_else(|_| "unknown user".into()),
            machine: whoami::hostname().unwrap_or_else(|_| "unknown machine".into()),
        }
    }
}

/// Secure and Remediate for the tenants of one store.
pub struct Remediator<'a> {
    pub api: &'a Api,
    pub store: &'a Store,
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

impl Target {
    fn alert_rule_names(&self) -> Vec<String> {
        self.alert.details["rule_name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(|n| vec![n.to_string()])
            .unwrap_or_default()
    }
}

/// Whether `address` belongs to the tenant; unknown domains (not read yet) do not refuse.
fn in_tenant(address: &str, accepted_domains: &[String]) -> bool {
    accepted_domains.is_empty()
        || accepted_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain_of(address)))
}

/// Only an alert about one of the tenant's mailboxes, named by one valid address, is
/// contained; the others say what to do instead. (The target is the attacker's text
/// until checked: a rule name must never choose the mailbox a step changes.)
fn containable(alert: &Alert, accepted_domains: &[String]) -> Result<(), RemediateError> {
    let id = alert.id;
    if alert.rule == FORWARDING_FAN_IN {
        let members: Vec<String> = alert.details["forwards"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                let alert = f["alert_id"]
                    .as_i64()
                    .map_or("an alert".to_string(), |a| format!("alert {a}"));
                let mailbox = visible_text(f["mailbox"].as_str().unwrap_or_default());
                format!(
                    "{alert} ({mailbox} in {})",
                    visible_text(f["tenant_name"].as_str().unwrap_or_default())
                )
            })
            .collect();
        return Err(RemediateError::FanIn {
            id,
            destination: visible_text(&alert.target),
            members: members.join(", "),
        });
    }
    if alert.rule == TRANSPORT_RULE_REDIRECT {
        let rule = format!(
            "\"{}\"",
            visible_text(alert.details["rule_name"].as_str().unwrap_or_default())
        );
        return Err(RemediateError::MailFlowRule {
            id,
            rule,
            actor: visible_text(&alert.actor),
        });
    }
    // A GUID or alias is resolved through Exchange when planning; an address must be
    // one address, of this tenant.
    if !alert.target.contains('@') {
        return Ok(());
    }
    if !is_one_address(&alert.target) {
        return Err(RemediateError::NotAMailbox {
            id,
            target: visible_text(&alert.target),
        });
    }
    if !in_tenant(&alert.target, accepted_domains) {
        return Err(RemediateError::OutsideTenant {
            id,
            target: visible_text(&alert.target),
            tenant: visible_text(&alert.tenant_name),
        });
    }
    Ok(())
}

/// The visible text of what an alert names, for messages.
fn shown(s: &str) -> String {
    crate::detect::visible_text(s)
}

fn key(action: Action, account: &str, rule: Option<&str>) -> String {
    match rule {
        Some(r) => format!("{}:{account}:{r}", action.as_str()),
        None => format!("{}:{account}", action.as_str()),
    }
}

fn enabled_words(account: &Account) -> &'static str {
    match account.account_enabled {
        Some(false) => "sign-in is blocked",
        Some(true) => "sign-in is allowed",
        None => "sign-in state unknown",
    }
}

fn sync_warning(account: &Account) -> Option<String> {
    (account.on_premises_sync_enabled == Some(true)).then(|| {
        format!(
            "{} is synced from on-premises Active Directory: the next sync overwrites changes made in the cloud. Disable the \
             account in Active Directory too",
            account.user_principal_name
        )
    })
}

impl<'a> Remediator<'a> {
    fn target(&self, alert_id: i64) -> Result<Target, RemediateError> {
        let (alert, _) = self.store.alert_with_record(alert_id)?;
        let accepted_domains = self
            .store
            .accepted_domains(&alert.tenant_id)?
            .map(|(d, _)| d)
            .unwrap_or_default();
        containable(&alert, &accepted_domains)?;
        let tenant = self.store.tenant(&alert.tenant_id)?;
        let app = tenant.app();
        Ok(Target {
            alert,
            app,
            ctx: TenantContext { accepted_domains },
        })
    }

    /// The account that made the change, when it is another account of this tenant than
    /// the mailbox (named `target` in the alert, `upn` once resolved);
    /// otherwise, for another account, why it is not offered.
    fn actor_to_contain(t: &Target, upn: &str) -> Result<Option<String>, String> {
        let (actor, target) = (&t.alert.actor, &t.alert.target);
        if actor.trim().is_empty()
            || actor.eq_ignore_ascii_case(target)
            || actor.eq_ignore_ascii_case(upn)
        {
            return Ok(None);
        }
        let actor_shown = visible_text(actor);
        if !is_one_address(actor) {
            return Err(format!(
                "{actor_shown} is not an account Rulewatch can contain (not one mail address)"
            ));
        }
        if !in_tenant(actor, &t.ctx.accepted_domains) {
            return Err(format!(
                "{actor_shown} is not an account of {}: its domain is none of the tenant's accepted domains. A partner \
                 technician (GDAP) or a guest is contained in its own tenant: remove its access to this customer in \
                 Partner Center, or block it where it signs in",
                visible_text(&t.alert.tenant_name)
            ));
        }
        Ok(Some(actor.clone()))
    }

    /// Reads the live state and lays out the steps, the default ones checked.
    pub async fn plan(&self, alert_id: i64) -> Result<Plan, RemediateError> {
        let t = self.target(alert_id)?;
        let defaults = &self.defaults;
        let stats = RetryStats::default();
        let ms = Microsoft {
            api: self.api,
            app: &t.app,
            stats: &stats,
            verify_delays: &self.verify_delays,
        };
        let target = t.alert.target.trim();
        if !mailbox::is_target(target) {
            return Err(RemediateError::NotAMailbox {
                id: alert_id,
                target: shown(target),
            });
        }
        let resolved =
            mailbox::resolve(&ms, target)
                .await
                .map_err(|why| RemediateError::Unresolved {
                    id: alert_id,
                    target: shown(target),
                    why,
                })?;
        let mailbox = resolved.upn.clone();
        let mut problems = Vec::new();
        let mut steps = Vec::new();

        let account = ms
            .account(&mailbox)
            .await
            .map_err(|r| problems.push(r.message))
            .ok();
        self.account_steps(&mailbox, account.as_ref(), Some(defaults), &mut steps);
        let (actor, actor_not_offered) = match Self::actor_to_contain(&t, &mailbox) {
            Ok(actor) => (actor, None),
            Err(why) => (None, Some(why)),
        };
        if let Some(actor) = &actor {
            let actor_account = ms
                .account(actor)
                .await
                .map_err(|r| problems.push(r.message))
                .ok();
            self.account_steps(actor, actor_account.as_ref(), None, &mut steps);
        }

        let rules = match rules::list(&ms, &mailbox, &t.ctx, &t.alert_rule_names()).await {
            Ok(rules) => rules,
            Err(r) => {
                problems.push(r.message);
                Vec::new()
            }
        };
        for name in t.alert_rule_names() {
            if !rules.iter().any(|r| r.about_alert) {
                for action in [Action::DisableRule, Action::RemoveRule] {
                    steps.push(PlannedStep {
                        key: key(action, &mailbox, Some(&name)),
                        action,
                        account: mailbox.clone(),
                        rule_identity: Some(name.clone()),
                        rule_name: Some(name.clone()),
                        label: rules::label(action, &name),
                        current: "not in the mailbox now".into(),
                        selected: false,
                        warning: None,
                    });
                }
            }
        }
        for rule in rules.iter().filter(|r| !r.system) {
            for action in [Action::DisableRule, Action::RemoveRule] {
                steps.push(PlannedStep {
                    key: key(action, &mailbox, Some(&rule.identity)),
                    action,
                    account: mailbox.clone(),
                    rule_identity: Some(rule.identity.clone()),
                    rule_name: Some(rule.name.clone()),
                    label: rules::label(action, &rule.name),
                    current: format!(
                        "{}: {}",
                        if rule.enabled { "enabled" } else { "disabled" },
                        rule.description
                    ),
                    selected: rule.about_alert && defaults.contains(&action),
                    warning: Some(rules::CLIENT_ONLY_RULES.into()),
                });
            }
        }

        let forwarding = match rules::forwarding(&ms, &mailbox).await {
            Ok(f) => Some(f),
            Err(r) => {
                problems.push(r.message);
                None
            }
        };
        steps.push(PlannedStep {
            key: key(Action::ClearForwarding, &mailbox, None),
            action: Action::ClearForwarding,
            account: mailbox.clone(),
            rule_identity: None,
            rule_name: None,
            label: format!("Clear mailbox forwarding of {mailbox}"),
            current: forwarding
                .as_ref()
                .map_or("forwarding unknown".into(), Forwarding::words),
            selected: defaults.contains(&Action::ClearForwarding)
                && forwarding.as_ref().is_none_or(|f| !f.is_clear()),
            warning: None,
        });

        Ok(Plan {
            alert_id,
            tenant_id: t.alert.tenant_id.clone(),
            tenant_name: t.alert.tenant_name.clone(),
            resolved_from: (!target.eq_ignore_ascii_case(&mailbox)).then(|| target.to_string()),
            mailbox_id: resolved.object_id,
            mailbox,
            actor: t.alert.actor.clone(),
            actor_differs: actor.is_some(),
            actor_not_offered,
            account_enabled: account.as_ref().and_then(|a| a.account_enabled),
            synced_from_on_premises: account
                .as_ref()
                .is_some_and(|a| a.on_premises_sync_enabled == Some(true)),
            forwarding,
            rules,
            problems,
            steps,
        })
    }

    /// The account steps for `upn`: the mailbox's with `defaults`, the actor's unchecked.
    fn account_steps(
        &self,
        upn: &str,
        account: Option<&Account>,
        defaults: Option<&[Action]>,
        steps: &mut Vec<PlannedStep>,
    ) {
        let whose = if defaults.is_some() {
            ""
        } else {
            " (the account that made the change)"
        };
        let current = account.map_or("account state unknown".into(), |a| {
            enabled_words(a).to_string()
        });
        for (action, label) in [
            (
                Action::BlockSignIn,
                format!("Block sign-in for {upn}{whose}"),
            ),
            (
                Action::RevokeSessions,
                format!("Revoke every session of {upn}{whose}"),
            ),
            (
                Action::ResetPassword,
                format!("Reset the password of {upn}{whose}, to be changed at next sign-in"),
            ),
        ] {
            steps.push(PlannedStep {
                key: key(action, upn, None),
                action,
                account: upn.to_string(),
                rule_identity: None,
                rule_name: None,
                label,
                current: current.clone(),
                selected: defaults.is_some_and(|d| d.contains(&action)),
                warning: if action == Action::BlockSignIn {
                    account.and_then(sync_warning)
                } else {
                    None
                },
            });
        }
    }

    /// The steps the CLI's `--actions` words choose from a plan: account steps for the
    /// mailbox, rule steps for the rule(s) the alert is about.
    pub fn choose(plan: &Plan, actions: &[Action]) -> Vec<String> {
        plan.steps
            .iter()
            .filter(|s| {
                actions.contains(&s.action) && s.account.eq_ignore_ascii_case(&plan.mailbox)
            })
            // Account steps; rule steps for the alert's rule, also when it is no longer in
            // the mailbox (so a repeat says "already so").
            .filter(|s| {
                s.rule_identity.is_none()
                    || plan
                        .rules
                        .iter()
                        .any(|r| r.about_alert && Some(&r.identity) == s.rule_identity.as_ref())
                    || !plan
                        .rules
                        .iter()
                        .any(|r| Some(&r.identity) == s.rule_identity.as_ref())
            })
            .map(|s| s.key.clone())
            .collect()
    }

    /// Runs the chosen steps of `plan` in order, each reading the state afresh.
    pub async fn run(
        &self,
        plan: &Plan,
        keys: &[String],
        mut progress: impl FnMut(&StepResult),
    ) -> Result<Vec<StepResult>, RemediateError> {
        if keys.is_empty() {
            return Err(RemediateError::NothingChosen);
        }
        for k in keys {
            if !plan.steps.iter().any(|s| &s.key == k) {
                return Err(RemediateError::UnknownStep(k.clone()));
            }
        }
        let chosen: Vec<&PlannedStep> = plan
            .steps
            .iter()
            .filter(|s| keys.contains(&s.key))
            .collect();
        for s in &chosen {
            if s.action == Action::DisableRule
                && chosen
                    .iter()
                    .any(|o| o.action == Action::RemoveRule && o.rule_identity == s.rule_identity)
            {
                return Err(RemediateError::Conflict(
                    s.rule_name.clone().unwrap_or_default(),
                ));
            }
        }
        let t = self.target(plan.alert_id)?;
        let mut order: Vec<&PlannedStep> = chosen;
        order.sort_by_key(|s| Action::ALL.iter().position(|a| *a == s.action));
        let mut results = Vec::new();
        for step in order {
            let result = self.run_step(&t, step).await?;
            progress(&result);
            results.push(result);
        }
        Ok(results)
    }

    async fn run_step(&self, t: &Target, step: &PlannedStep) -> Result<StepResult, RemediateError> {
        let stats = RetryStats::default();
        let ms = Microsoft {
            api: self.api,
            app: &t.app,
            stats: &stats,
            verify_delays: &self.verify_delays,
        };
        let done = match step.action {
            Action::BlockSignIn => self.block(&ms, &step.account, false).await,
            Action::RevokeSessions => self.revoke(&ms, &step.account, t.alert.event_time).await,
            Action::ResetPassword => self.reset(&ms, &step.account, t).await,
            Action::DisableRule | Action::RemoveRule => {
                let identity = step.rule_identity.as_deref().unwrap_or_default();
                rules::change(&ms, &step.account, identity, step.action).await
            }
            Action::ClearForwarding => rules::clear_forwarding(&ms, &step.account).await,
        };
        self.record(t, step.action.as_str(), step, done, None)
    }

    /// Appends the step to the log and turns it into a result.
    fn record(
        &self,
        t: &Target,
        action: &str,
        step: &PlannedStep,
        done: StepDone,
        undoes: Option<i64>,
    ) -> Result<StepResult, RemediateError> {
        let partner = match t.app.method {
            AuthMethod::Partner => crate::partner::account(self.store)?.map(|a| a.upn),
            _ => None,
        };
        let entry = self.store.append_log(&NewLogEntry {
            os_user: self.operator.os_user.clone(),
            machine: self.operator.machine.clone(),
            operator: partner,
            tenant_id: t.alert.tenant_id.clone(),
            mailbox: step.account.clone(),
            alert_id: Some(t.alert.id),
            action: action.to_string(),
            request: done.request,
            before: done.before,
            after: done.after,
            result: done.outcome.as_str().into(),
            detail: done.detail.clone(),
            undoes,
        })?;
        Ok(StepResult {
            action_id: entry.id,
            key: step.key.clone(),
            action: action.to_string(),
            account: step.account.clone(),
            rule_name: step.rule_name.clone(),
            outcome: done.outcome,
            detail: done.detail,
            warning: done.warning,
            reversible: undoes.is_none() && done.outcome.sent() && step.action.reversible(),
            password: done.password,
        })
    }

    async fn block(&self, ms: &Microsoft<'_>, upn: &str, enable: bool) -> StepDone {
        let request = format!("PATCH /v1.0/users/{upn} accountEnabled={enable}");
        let verb = if enable {
            "allowing sign-in for"
        } else {
            "blocking sign-in for"
        };
        let what = format!("{verb} {upn}");
        let before = match ms.account(upn).await {
            Ok(a) => a,
            Err(r) => return StepDone::failed(request, None, r.message),
        };
        let warning = sync_warning(&before);
        let state = |a: &Account| json!({"account_enabled": a.account_enabled});
        if before.account_enabled == Some(enable) {
            return StepDone {
                warning,
                ..StepDone::already(request, state(&before), enabled_words(&before).into())
            };
        }
        if let Err(r) = ms
            .update_account(upn, &json!({"accountEnabled": enable}), &what, &GRANT_BLOCK)
            .await
        {
            return StepDone {
                warning,
                ..StepDone::failed(request, Some(state(&before)), r.message)
            };
        }
        let shows = |a: &Account| a.account_enabled == Some(enable);
        let verified = ms.read_back(|| ms.account(upn), shows).await;
        StepDone {
            warning,
            ..verify(
                request,
                state(&before),
                verified,
                state,
                shows,
                enabled_words,
            )
        }
    }

    async fn revoke(
        &self,
        ms: &Microsoft<'_>,
        upn: &str,
        event: Option<DateTime<Utc>>,
    ) -> StepDone {
        let request = format!("POST /v1.0/users/{upn}/revokeSignInSessions");
        let before = match ms.account(upn).await {
            Ok(a) => a,
            Err(r) => return StepDone::failed(request, None, r.message),
        };
        let valid_from = |a: &Account| {
            a.sign_in_sessions_valid_from_date_time
                .as_deref()
                .and_then(parse_ts)
        };
        let state =
            |a: &Account| json!({"sessions_valid_from": a.sign_in_sessions_valid_from_date_time});
        if let (Some(from), Some(event)) = (valid_from(&before), event)
            && from > event
        {
            let detail = format!(
                "every session from before {} was already revoked (after the alert's event)",
                from.to_rfc3339()
            );
            return StepDone::already(request, state(&before), detail);
        }
        if let Err(r) = ms.revoke_sessions(upn).await {
            return StepDone::failed(request, Some(state(&before)), r.message);
        }
        let old = valid_from(&before);
        let shows = |a: &Account| valid_from(a) != old || old.is_none();
        let verified = ms.read_back(|| ms.account(upn), shows).await;
        verify(
            request,
            state(&before),
            verified,
            state,
            shows,
            |_| "sessions revoked; Microsoft takes a few minutes to end them, and access tokens already issued last up to an hour",
        )
    }

    async fn reset(&self, ms: &Microsoft<'_>, upn: &str, t: &Target) -> StepDone {
        let request = format!(
            "PATCH /v1.0/users/{upn} passwordProfile (new password, change at next sign-in)"
        );
        let before = match ms.account(upn).await {
            Ok(a) => a,
            Err(r) => return StepDone::failed(request, None, r.message),
        };
        let state = |a: &Account| json!({"password_changed_at": a.last_password_change_date_time});
        if let Some(earlier) = self.reset_since_alert(t, upn) {
            let detail = format!(
                "Rulewatch already reset this password for this alert at {} (step {})",
                earlier.at, earlier.id
            );
            return StepDone::already(request, state(&before), detail);
        }
        let password = match password::generate() {
            Ok(p) => p,
            Err(e) => return StepDone::failed(request, Some(state(&before)), e),
        };
        let body = {
            use secrecy::ExposeSecret;
            json!({"passwordProfile": {"password": password.expose_secret(), "forceChangePasswordNextSignIn": true}})
        };
        let what = format!("resetting the password of {upn}");
        let sent = ms.update_account(upn, &body, &what, &GRANT_PASSWORD).await;
        drop(body);
        if let Err(r) = sent {
            return StepDone::failed(request, Some(state(&before)), r.message);
        }
        let old = before.last_password_change_date_time.clone();
        let shows = |a: &Account| a.last_password_change_date_time != old || old.is_none();
        let verified = ms.read_back(|| ms.account(upn), shows).await;
        let mut done = verify(
            request,
            state(&before),
            verified,
            state,
            shows,
            |_| "password reset; the user must change it at next sign-in. It is shown once and stored nowhere",
        );
        // Sent but not visible yet may still take effect: the technician needs the password.
        if done.outcome.sent() {
            done.password = Some(password);
        }
        done
    }

    fn reset_since_alert(&self, t: &Target, upn: &str) -> Option<LogEntry> {
        self.store
            .log_for_alert(t.alert.id)
            .ok()?
            .into_iter()
            .find(|e| {
                e.step.action == Action::ResetPassword.as_str()
                    && Outcome::sent_str(&e.step.result)
                    && e.step.mailbox.eq_ignore_ascii_case(upn)
            })
    }

    /// Reverses a recorded step from its before-state, after the technician confirmed.
    pub async fn undo(&self, action_id: i64) -> Result<StepResult, RemediateError> {
        let entry = self.store.verified_log_entry(action_id)?;
        let cannot = |why: &str| RemediateError::CannotUndo {
            id: action_id,
            action: entry.step.action.clone(),
            why: why.into(),
        };
        let action =
            Action::parse(&entry.step.action).ok_or_else(|| cannot("it is itself an undo"))?;
        if !action.reversible() {
            return Err(cannot(match action {
                Action::ResetPassword => {
                    "the old password is not kept anywhere; reset it again if needed"
                }
                _ => "ended sessions cannot be restored; the user signs in again",
            }));
        }
        if !Outcome::sent_str(&entry.step.result) {
            return Err(cannot("it changed nothing (it was not done)"));
        }
        let alert_id = entry
            .step
            .alert_id
            .ok_or_else(|| cannot("it is not tied to an alert"))?;
        let t = self.target(alert_id)?;
        let rule_name = entry
            .step
            .before
            .as_ref()
            .and_then(|b| b["Name"].as_str())
            .map(str::to_string);
        let step = PlannedStep {
            key: format!("undo:{action_id}"),
            action,
            account: entry.step.mailbox.clone(),
            rule_identity: None,
            rule_name,
            label: String::new(),
            current: String::new(),
            selected: true,
            warning: None,
        };
        let name = action.undo_name();
        if let Some(earlier) = self
            .store
            .undos_of(action_id)?
            .into_iter()
            .find(|e| e.step.result == Outcome::Done.as_str())
        {
            let detail = format!(
                "step {action_id} was already undone at {} (step {})",
                earlier.at, earlier.id
            );
            return self.record(
                &t,
                &name,
                &step,
                StepDone::new(Outcome::AlreadySo, String::new(), None, None, detail),
                Some(action_id),
            );
        }
        let stats = RetryStats::default();
        let ms = Microsoft {
            api: self.api,
            app: &t.app,
            stats: &stats,
            verify_delays: &self.verify_delays,
        };
        let before = entry.step.before.clone().unwrap_or(Value::Null);
        let done = match action {
            Action::BlockSignIn => self.block(&ms, &entry.step.mailbox, true).await,
            Action::DisableRule => rules::enable(&ms, &entry.step.mailbox, &before).await,
            Action::RemoveRule => rules::recreate(&ms, &entry.step.mailbox, &before).await,
            Action::ClearForwarding => {
                rules::restore_forwarding(&ms, &entry.step.mailbox, &before).await
            }
            Action::RevokeSessions | Action::ResetPassword => unreachable!("refused above"),
        };
        self.record(&t, &name, &step, done, Some(action_id))
    }
}

/// What one step did, before it is recorded.
pub(crate) struct StepDone {
    outcome: Outcome,
    request: String,
    before: Option<Value>,
    after: Option<Value>,
    detail: String,
    warning: Option<String>,
    password: Option<SecretString>,
}

impl StepDone {
    fn new(
        outcome: Outcome,
        request: String,
        before: Option<Value>,
        after: Option<Value>,
        detail: String,
    ) -> StepDone {
        StepDone {
            outcome,
            request,
            before,
            after,
            detail,
            warning: None,
            password: None,
        }
    }

    /// Nothing to do: the state read is already what the step would make it.
    pub(crate) fn already(request: String, state: Value, detail: String) -> StepDone {
        StepDone::new(
            Outcome::AlreadySo,
            request,
            Some(state.clone()),
            Some(state),
            detail,
        )
    }

    fn failed(request: String, before: Option<Value>, detail: String) -> StepDone {
        StepDone::new(Outcome::Failed, request, before, None, detail)
    }

    /// Microsoft accepted the change but reading it back does not show it (or the read
    /// failed with `unread`): sent, not yet visible (../shared/reference/m365-api.md §G 11).
    pub(crate) fn not_visible(
        request: String,
        before: Option<Value>,
        after: Option<Value>,
        unread: Option<String>,
    ) -> StepDone {
        let detail = match unread {
            None => "sent, not yet visible — check again: Microsoft accepted the change, but reading it back does not \
                     show it yet (Microsoft can take a while to show a change everywhere). Run this step again later: \
                     it says \"already so\" once the change shows"
                .to_string(),
            Some(why) => format!(
                "sent, not yet visible — check again: Microsoft accepted the change, but reading it back failed ({why}). \
                 Run this step again later to check"
            ),
        };
        StepDone::new(Outcome::SentNotVisible, request, before, after, detail)
    }
}

/// Reads the state back: done when it shows the change; sent but not yet visible when
/// Microsoft accepted it and the read-backs ([`Microsoft::read_back`]) never showed it.
fn verify<T>(
    request: String,
    before: Value,
    read_back: Result<T, Refusal>,
    state: impl Fn(&T) -> Value,
    changed: impl Fn(&T) -> bool,
    words: impl Fn(&T) -> &'static str,
) -> StepDone {
    match read_back {
        Ok(now) if changed(&now) => StepDone::new(
            Outcome::Done,
            request,
            Some(before),
            Some(state(&now)),
            words(&now).into(),
        ),
        Ok(now) => StepDone::not_visible(request, Some(before), Some(state(&now)), None),
        Err(r) => StepDone::not_visible(request, Some(before), None, Some(r.message)),
    }
}
