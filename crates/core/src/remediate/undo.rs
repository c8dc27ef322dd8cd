//! Undoing a recorded step from its verified before-state.

use super::*;

impl Remediator<'_> {
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
        let ms = self.microsoft(&t, &stats);
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
