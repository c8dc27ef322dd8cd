//! Running the chosen steps, each read afresh, acted on, read back and recorded.

use super::*;

impl Remediator<'_> {
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

    pub(super) async fn run_step(
        &self,
        t: &Target,
        step: &PlannedStep,
    ) -> Result<StepResult, RemediateError> {
        let stats = RetryStats::default();
        let ms = self.microsoft(t, &stats);
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
    pub(super) fn record(
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
}

/// What one step did, before it is recorded.
pub(crate) struct StepDone {
    pub(super) outcome: Outcome,
    pub(super) request: String,
    pub(super) before: Option<Value>,
    pub(super) after: Option<Value>,
    pub(super) detail: String,
    pub(super) warning: Option<String>,
    pub(super) password: Option<SecretString>,
}

impl StepDone {
    pub(super) fn new(
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

    pub(super) fn failed(request: String, before: Option<Value>, detail: String) -> StepDone {
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
pub(super) fn verify<T>(
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
