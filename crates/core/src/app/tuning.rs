//! Tuning that an MSP can live with (issue 16 item 5): allowlist entries with a scope,
//! an expiry and a reason, severities per rule and tenant, and both of a tenant's as
//! `rulewatch check` replays an exported log with them.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;

use super::{Error, Session};
use crate::allowlist::{
    TrustEntry, TrustKind, normalize_account, normalize_destination, normalize_rule_id,
    normalize_rule_name,
};
use crate::detect::Severity;
use crate::store::NewTrust;
use crate::tuning::{self, SeverityOverride, Tuning};

/// The longest reason kept: a sentence or two, not a document.
const REASON_MAX: usize = 500;

/// An allowlist entry as a technician asks for it, values as typed.
#[derive(Debug, Clone, Deserialize)]
pub struct TrustRequest {
    /// The tenant it applies to; none: every tenant.
    pub tenant_id: Option<String>,
    /// The one account (the mailbox or user an alert is about) it applies to; none:
    /// every account.
    pub account: Option<String>,
    /// What it trusts.
    pub kind: TrustKind,
    /// A destination, inbox rule name, application id or rule id.
    pub value: String,
    /// Why it is trusted: required, for whoever reads the list later.
    pub reason: String,
    /// When it stops quieting anything: a date (the end of that day, UTC), a time
    /// (RFC 3339), or a span from now (`12h`, `30d`, `2w`). None: until it is removed.
    pub expires: Option<String>,
}

/// A tenant's tuning and what Rulewatch last read of its domains: what `rulewatch check`
/// replays an exported log with.
#[derive(Debug, Clone)]
pub struct TenantTuning {
    /// The tenant's name.
    pub name: String,
    /// Its allowlist as it stands now, and its severities.
    pub tuning: Tuning,
    /// Its accepted domains as last read from Graph, if a scan ever read them.
    pub accepted_domains: Option<Vec<String>>,
}

impl Session {
    /// Adds an allowlist entry (or gives an existing one of the same scope and value this
    /// reason and expiry); alerts it covers from now on are stored as suppressed.
    pub async fn trust(&self, request: &TrustRequest) -> Result<TrustEntry, Error> {
        let tenant_id = some_tenant(request.tenant_id.as_deref())?;
        let account = request
            .account
            .as_deref()
            .map(normalize_account)
            .transpose()?;
        let value = match request.kind {
            TrustKind::Destination => normalize_destination(&request.value)?,
            TrustKind::RuleName => normalize_rule_name(&request.value)?,
            TrustKind::Application => {
                crate::tenants::parse_guid(&request.value, "the application id")?
            }
            TrustKind::Rule => normalize_rule_id(&request.value)?,
        };
        let reason = checked_reason(&request.reason)?;
        let now = crate::clock::now();
        let expires_at = request
            .expires
            .as_deref()
            .map(|e| expiry(e, now))
            .transpose()?;
        let (entry, _) = self.store().await.add_trust(NewTrust {
            tenant_id: tenant_id.as_deref(),
            account: account.as_deref(),
            kind: request.kind,
            value: &value,
            reason: Some(&reason),
            added_by: Some(&self.config.technician),
            expires_at,
        })?;
        Ok(entry)
    }

    /// The allowlist: every entry, or those that apply to one tenant (its own and every
    /// tenant's). Expired entries are listed too; [`TrustEntry::active`] tells them.
    pub async fn trusted(&self, tenant_id: Option<&str>) -> Result<Vec<TrustEntry>, Error> {
        let tenant_id = some_tenant(tenant_id)?;
        Ok(self.store().await.trust_entries(tenant_id.as_deref())?)
    }

    /// Removes an allowlist entry by its number; the alerts it suppressed stay so.
    pub async fn untrust(&self, id: i64) -> Result<TrustEntry, Error> {
        Ok(self.store().await.remove_trust(id)?)
    }

    /// Every rule severity the MSP set, for one tenant or for all.
    pub async fn rule_severities(&self) -> Result<Vec<SeverityOverride>, Error> {
        Ok(self
            .store()
            .await
            .setting(&tuning::SETTING)?
            .unwrap_or_default())
    }

    /// Sets `rule`'s severity for tenant `tenant_id` (every tenant when `None`), or back
    /// to the rule's own when `severity` is `None`; alerts stored from now on get it.
    /// Answers every severity set.
    pub async fn set_rule_severity(
        &self,
        rule: &str,
        tenant_id: Option<&str>,
        severity: Option<Severity>,
    ) -> Result<Vec<SeverityOverride>, Error> {
        if crate::detect::rules::rule(rule).is_none() {
            return Err(Error::Invalid(format!(
                "no rule is called {}: `rulewatch rules` lists them",
                crate::shown::shown(rule)
            )));
        }
        let store = self.store().await;
        let tenant_id = some_tenant(tenant_id)?;
        if let Some(t) = &tenant_id {
            store.tenant(t)?;
        }
        let overrides = tuning::with(
            store.setting(&tuning::SETTING)?.unwrap_or_default(),
            rule,
            tenant_id.as_deref(),
            severity,
        );
        store.set_setting(&tuning::SETTING, &overrides)?;
        Ok(overrides)
    }

    /// Tenant `tenant_id`'s tuning as it stands now, with its domains as last read.
    pub async fn tenant_tuning(&self, tenant_id: &str) -> Result<TenantTuning, Error> {
        let tenant_id = crate::tenants::parse_guid(tenant_id, "the tenant id")?;
        let store = self.store().await;
        let name = store.tenant(&tenant_id)?.name;
        Ok(TenantTuning {
            name,
            tuning: Tuning::of_tenant(&store, &tenant_id)?,
            accepted_domains: store.accepted_domains(&tenant_id)?.map(|(d, _)| d),
        })
    }
}

/// A tenant id as given, checked and normalised; none stands for every tenant.
fn some_tenant(tenant_id: Option<&str>) -> Result<Option<String>, Error> {
    Ok(tenant_id
        .map(|t| crate::tenants::parse_guid(t, "the tenant id"))
        .transpose()?)
}

fn checked_reason(reason: &str) -> Result<String, Error> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::Invalid(
            "give the reason the entry is safe (--reason), for whoever reads the allowlist later"
                .into(),
        ));
    }
    if reason.chars().count() > REASON_MAX || reason.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "the reason must be one line of at most {REASON_MAX} characters"
        )));
    }
    Ok(reason.to_string())
}

/// When an entry given `text` expires, from `now`.
fn expiry(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, Error> {
    let text = text.trim();
    let bad = || {
        Error::Invalid(format!(
            "the expiry '{}' is not a date (2027-01-31), a time (2027-01-31T18:00:00Z) or a span from now (12h, 30d, 2w)",
            crate::shown::shown(text)
        ))
    };
    let at = if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        // The whole of the day named: "until 31 January" includes the 31st.
        date.succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .ok_or_else(bad)?
            .and_utc()
    } else if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        time.with_timezone(&Utc)
    } else {
        let split = text.len().checked_sub(1).ok_or_else(bad)?;
        let (count, unit) = text.split_at(split);
        let count: i64 = count.parse().map_err(|_| bad())?;
        let span = match unit {
            "h" => Duration::try_hours(count),
            "d" => Duration::try_days(count),
            "w" => Duration::try_weeks(count),
            _ => None,
        }
        .filter(|_| count > 0)
        .ok_or_else(bad)?;
        now.checked_add_signed(span).ok_or_else(bad)?
    };
    if at <= now {
        return Err(Error::Invalid(format!(
            "the expiry {} has passed; give a later one",
            at.format("%Y-%m-%d %H:%MZ")
        )));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-03T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn an_expiry_is_a_date_a_time_or_a_span_from_now() {
        let at = |t: &str| expiry(t, now()).map(|d| d.to_rfc3339());
        assert_eq!(at("2027-01-31").unwrap(), "2027-02-01T00:00:00+00:00");
        assert_eq!(
            at("2026-12-03T10:00:00+01:00").unwrap(),
            "2026-12-03T09:00:00+00:00"
        );
        assert_eq!(at(" 12h").unwrap(), "2026-12-03T20:00:00+00:00");
        assert_eq!(at("30d").unwrap(), "2027-01-02T08:00:00+00:00");
        assert_eq!(at("2w").unwrap(), "2026-12-17T08:00:00+00:00");
        for bad in ["", "h", "0d", "-3d", "12x", "tomorrow", "99999999999999w"] {
            let e = at(bad).unwrap_err().to_string();
            assert!(e.contains("is not a date"), "{bad}: {e}");
        }
        let past = at("2026-12-01").unwrap_err().to_string();
        assert!(past.contains("has passed"), "{past}");
    }

    #[test]
    fn a_reason_is_required_and_one_line() {
        assert!(
            checked_reason("  ")
                .unwrap_err()
                .to_string()
                .contains("--reason")
        );
        assert!(checked_reason("a\nb").is_err());
        assert_eq!(
            checked_reason(" scanner needs IMAP ").unwrap(),
            "scanner needs IMAP"
        );
    }
}
