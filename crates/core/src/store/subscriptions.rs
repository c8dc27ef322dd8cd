//! When each tenant's feed subscriptions were last started, and how that went.

use super::db::{OptionalExtension, params};
use chrono::{DateTime, Utc};

use super::{Result, Store, parse_ts, ts};

/// The last `subscriptions/start` of one tenant's content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionStart {
    /// When the start was made.
    pub at: DateTime<Utc>,
    /// The problem's kind and message when Microsoft refused it.
    pub failed: Option<(String, String)>,
}

impl Store {
    /// The last start of the tenant's `content_type` subscription; `None` when none was
    /// recorded.
    pub fn subscription_start(
        &self,
        tenant_id: &str,
        content_type: &str,
    ) -> Result<Option<SubscriptionStart>> {
        self.with(|c| {
            let row: Option<(String, Option<String>, Option<String>)> = c
                .query_row(
                    "SELECT started_at, problem, message FROM subscription_starts
                     WHERE tenant_id = ?1 AND content_type = ?2",
                    [tenant_id, content_type],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            Ok(row.and_then(|(at, problem, message)| {
                Some(SubscriptionStart {
                    at: parse_ts(&at)?,
                    failed: problem.zip(message),
                })
            }))
        })
    }

    /// Records a start made at `at`, with its problem when it failed.
    pub fn record_subscription_start(
        &self,
        tenant_id: &str,
        content_type: &str,
        at: DateTime<Utc>,
        failed: Option<(&str, &str)>,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO subscription_starts (tenant_id, content_type, started_at, problem, message)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant_id, content_type) DO UPDATE SET
                     started_at = excluded.started_at, problem = excluded.problem, message = excluded.message",
                params![tenant_id, content_type, ts(at), failed.map(|f| f.0), failed.map(|f| f.1)],
            )?;
            Ok(())
        })
    }
}
