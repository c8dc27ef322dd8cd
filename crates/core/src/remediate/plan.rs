//! The plan: the alert's mailbox, rules and account read live, checked against the
//! tenant, and the steps offered with what each would change.

use super::*;

/// Whether `address` belongs to the tenant; unknown domains (not read yet) do not refuse.
pub(super) fn in_tenant(address: &str, accepted_domains: &[String]) -> bool {
    accepted_domains.is_empty()
        || accepted_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain_of(address)))
}

/// Only an alert about one of the tenant's mailboxes, named by one valid address, is
/// contained; the others say what to do instead. (The target is the attacker's text
/// until checked: a rule name must never choose the mailbox a step changes.)
pub(super) fn containable(
    alert: &Alert,
    accepted_domains: &[String],
) -> Result<(), RemediateError> {
    let id = alert.id;
    if alert.rule == FORWARDING_FAN_IN {
        let members: Vec<String> = alert
            .details
            .forwards()
            .iter()
            .map(|f| {
                let alert = f
                    .alert_id
                    .map_or("an alert".to_string(), |a| format!("alert {a}"));
                format!(
                    "{alert} ({} in {})",
                    visible_text(&f.mailbox),
                    visible_text(&f.tenant_name)
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
            visible_text(alert.details.rule_name().unwrap_or_default())
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
pub(super) fn shown(s: &str) -> String {
    crate::detect::visible_text(s)
}

pub(super) fn key(action: Action, account: &str, rule: Option<&str>) -> String {
    match rule {
        Some(r) => format!("{}:{account}:{r}", action.as_str()),
        None => format!("{}:{account}", action.as_str()),
    }
}

pub(super) fn enabled_words(account: &Account) -> &'static str {
    match account.account_enabled {
        Some(false) => "sign-in is blocked",
        Some(true) => "sign-in is allowed",
        None => "sign-in state unknown",
    }
}

pub(super) fn sync_warning(account: &Account) -> Option<String> {
    (account.on_premises_sync_enabled == Some(true)).then(|| {
        format!(
            "{} is synced from on-premises Active Directory: the next sync overwrites changes made in the cloud. Disable the \
             account in Active Directory too",
            account.user_principal_name
        )
    })
}

impl Remediator<'_> {
    pub(super) fn target(&self, alert_id: i64) -> Result<Target, RemediateError> {
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
    pub(super) fn actor_to_contain(t: &Target, upn: &str) -> Result<Option<String>, String> {
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
        let ms = self.microsoft(&t, &stats);
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
    pub(super) fn account_steps(
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
}
