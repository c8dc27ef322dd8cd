//! Secure and Remediate: the plan with the live state, the chosen steps run and
//! verified, a step undone, and the hash-chained record of every step.

use std::sync::PoisonError;

use super::{Error, Session};
use crate::remediate::{self, Action, Operator, Plan, Remediator, StepResult};
use crate::shown::shown;
use crate::store::{ChainHead, ChainReport, LogEntry};
use crate::undo::UndoPreview;

/// A recorded step about to be undone: its verified row and what undoing puts back.
#[derive(Debug)]
pub struct UndoStep {
    /// The step's row, checked against the chain.
    pub entry: LogEntry,
    /// What undoing it puts back, in words.
    pub preview: UndoPreview,
}

/// How long one alert's Secure and Remediate run may hold its lock: far longer than its
/// steps and read-backs take, so only a process that died leaves it, and that one's
/// lock ends at once (its process is gone).
const REMEDIATION_LEASE: chrono::Duration = chrono::Duration::minutes(30);

impl Session {
    /// The remediation steps checked by default in a plan.
    fn remediation_defaults(&self) -> Result<Vec<Action>, Error> {
        Ok(remediate::default_actions(&self.home)?)
    }

    /// Reads the alert's mailbox, rules and account live and offers the steps; the plan
    /// is kept, as the steps it offers are the ones [`Session::remediate`] may run.
    pub async fn remediation_plan(&self, alert_id: i64) -> Result<Plan, Error> {
        let (engine, _) = self.current().await;
        let plan = engine
            .remediator(
                Operator::named(&self.config.technician),
                self.remediation_defaults()?,
            )
            .plan(alert_id)
            .await?;
        self.plans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(alert_id, plan.clone());
        Ok(plan)
    }

    /// The plan's steps chosen by action names (`block-sign-in`, …), or its checked
    /// steps when none are named.
    pub fn choose_steps(plan: &Plan, actions: Option<&[String]>) -> Result<Vec<String>, Error> {
        let Some(names) = actions else {
            return Ok(plan
                .steps
                .iter()
                .filter(|s| s.selected)
                .map(|s| s.key.clone())
                .collect());
        };
        let actions = names
            .iter()
            .map(|a| {
                Action::parse(a).ok_or_else(|| {
                    let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                    Error::Invalid(format!(
                        "unknown action '{}': use {}",
                        shown(a),
                        known.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Remediator::choose(plan, &actions))
    }

    /// The account steps for the account that made the change, when it is another
    /// account of the tenant; refused in words otherwise.
    pub fn actor_steps(plan: &Plan) -> Result<Vec<String>, Error> {
        if let Some(why) = &plan.actor_not_offered {
            return Err(Error::Invalid(why.clone()));
        }
        if !plan.actor_differs {
            return Err(Error::Invalid(format!(
                "the change was made by {}, not by another account",
                shown(&plan.actor)
            )));
        }
        Ok(plan
            .steps
            .iter()
            .filter(|s| s.account.eq_ignore_ascii_case(&plan.actor) && s.rule_identity.is_none())
            .map(|s| s.key.clone())
            .collect())
    }

    /// Runs the chosen steps of the alert's last plan in order, each reading the state
    /// afresh and verified after; `progress` hears each step as it ends.
    pub async fn remediate(
        &self,
        alert_id: i64,
        keys: &[String],
        progress: impl FnMut(&StepResult),
    ) -> Result<Vec<StepResult>, Error> {
        let plan = self
            .plans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&alert_id)
            .cloned()
            .ok_or_else(|| {
                Error::Invalid(
                    "the plan for this alert was not read yet: open Secure and Remediate again"
                        .into(),
                )
            })?;
        let store = self.store().await;
        // A colleague who took the alert is working it: acting under them is refused.
        store.may_act_on(alert_id, &self.config.technician)?;
        // One run per alert at a time across the processes on this store: a second
        // technician's run is told whose is going on.
        let lease = format!("remediation:{alert_id}");
        let holder = format!(
            "{}:{}",
            crate::store::lease_holder(),
            self.config.technician
        );
        let now = chrono::Utc::now();
        if !store.take_scan_lease(&lease, &holder, now, now + REMEDIATION_LEASE)? {
            let who = store
                .lease_holder(&lease)?
                .and_then(|h| h.splitn(3, ':').nth(2).map(str::to_string))
                .unwrap_or_else(|| "another technician".into());
            return Err(Error::Invalid(format!(
                "Secure and Remediate of alert {alert_id} is running already, started by {who}; wait for it to end, then read the plan again"
            )));
        }
        let (engine, _) = self.current().await;
        let run = engine
            .remediator(
                Operator::named(&self.config.technician),
                self.remediation_defaults()?,
            )
            .run(&plan, keys, progress)
            .await;
        // The steps ran and are recorded: a lock that cannot be given back must not hide
        // their results (it ends with this process anyway).
        if let Err(e) = store.release_scan_lease(&lease, &holder) {
            tracing::warn!(
                "the Secure and Remediate lock of alert {alert_id} is not given back: {e}"
            );
        }
        Ok(run?)
    }

    /// The recorded step, checked against the chain, and what undoing it puts back;
    /// an edited record is refused.
    pub async fn undo_preview(&self, action_id: i64) -> Result<UndoStep, Error> {
        let store = self.store().await;
        Ok(UndoStep {
            entry: store.verified_log_entry(action_id)?,
            preview: crate::undo::undo_preview(&store, action_id)?,
        })
    }

    /// Reverses one recorded step, recorded as a step of its own.
    pub async fn undo(&self, action_id: i64) -> Result<StepResult, Error> {
        let (engine, _) = self.current().await;
        Ok(engine
            .remediator(Operator::named(&self.config.technician), Vec::new())
            .undo(action_id)
            .await?)
    }

    /// Every recorded step, oldest first.
    pub async fn remediation_log(&self) -> Result<Vec<LogEntry>, Error> {
        Ok(self.store().await.log()?)
    }

    /// The steps taken for one alert.
    pub async fn alert_history(&self, alert_id: i64) -> Result<Vec<LogEntry>, Error> {
        Ok(self.store().await.log_for_alert(alert_id)?)
    }

    /// Checks that no recorded step was changed, deleted or inserted (since `head`, an
    /// earlier check's head, when given).
    pub async fn verify_log(&self, since: Option<&ChainHead>) -> Result<ChainReport, Error> {
        let store = self.store().await;
        Ok(match since {
            Some(head) => store.verify_log_since(head)?,
            None => store.verify_log()?,
        })
    }
}
