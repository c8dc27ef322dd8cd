//! The account steps: block sign-in, revoke sessions, reset the password.

use super::*;

impl Remediator<'_> {
    pub(super) async fn block(&self, ms: &Microsoft<'_>, upn: &str, enable: bool) -> StepDone {
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

    pub(super) async fn revoke(
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
        // Seen only as a new time: an account that had none must now show one, or the
        // step would count as verified without anything read back.
        let shows = |a: &Account| valid_from(a).is_some_and(|now| Some(now) != old);
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

    pub(super) async fn reset(&self, ms: &Microsoft<'_>, upn: &str, t: &Target) -> StepDone {
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
        // As for sessions: a change is seen only as a new time, never assumed.
        let shows = |a: &Account| {
            a.last_password_change_date_time.is_some() && a.last_password_change_date_time != old
        };
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

    pub(super) fn reset_since_alert(&self, t: &Target, upn: &str) -> Option<LogEntry> {
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
}
