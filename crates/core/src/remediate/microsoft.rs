//! The Microsoft calls remediation makes: Graph users (B1–B3) and Exchange's
//! `InvokeCommand` (B7), each answered as data or as a reason in plain words.

use std::future::Future;
use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::{Api, ApiError, CallError, Request};
use crate::auth::{AppIdentity, AuthMethod, Resource};
use crate::http::RetryStats;

/// What a refused or failed call means for the technician.
#[derive(Debug, Clone)]
pub(super) struct Refusal {
    pub message: String,
    /// Microsoft says the object is not there (Graph's 404, Exchange's
    /// `ManagementObjectNotFoundException`): a rule already removed.
    pub not_found: bool,
}

impl Refusal {
    fn from_call(e: CallError, what: &str, grant: &str) -> Refusal {
        match e {
            CallError::Problem(p) => Refusal {
                message: p.message,
                not_found: false,
            },
            CallError::Api(e) => Refusal::from_api(e, what, grant),
        }
    }

    fn from_api(e: ApiError, what: &str, grant: &str) -> Refusal {
        let code = if e.code.is_empty() {
            String::new()
        } else {
            format!("{}: ", e.code)
        };
        let said = format!(
            "Microsoft answered HTTP {} ({code}{})",
            e.status.as_u16(),
            e.message
        );
        let message = match e.status.as_u16() {
            _ if e.not_found() => format!("{what}: not found. {said}."),
            401 | 403 => format!(
                "{what}: permission denied. {said}. Grant the app {grant}, then retry this step."
            ),
            _ => format!("{what}: {said}."),
        };
        Refusal {
            not_found: e.not_found(),
            message,
        }
    }

    /// As [`Refusal::from_call`], for an Exchange cmdlet: a 403 with nothing readable in it
    /// is Exchange's answer to a service principal without an Exchange role (§G 6).
    fn from_exchange(e: CallError, what: &str, grant: &str) -> Refusal {
        match e {
            CallError::Api(e) if e.message.is_empty() && e.code.is_empty() => Refusal {
                message: format!(
                    "{what}: Exchange refused (HTTP {}) with an empty answer: the app's service principal probably \
                     lacks the Exchange Administrator role. Grant the app {grant}, then retry this step.",
                    e.status.as_u16()
                ),
                not_found: false,
            },
            e => Refusal::from_call(e, what, grant),
        }
    }
}

/// The account fields remediation reads (Graph `user`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(super) struct Account {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub user_principal_name: String,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(default)]
    pub sign_in_sessions_valid_from_date_time: Option<String>,
    #[serde(default)]
    pub last_password_change_date_time: Option<String>,
}

const ACCOUNT_FIELDS: &str = "id,userPrincipalName,accountEnabled,onPremisesSyncEnabled,signInSessionsValidFromDateTime,lastPasswordChangeDateTime";
/// What to grant for a call, in the words of each way of signing in: an app's own
/// (application) permissions and Entra roles, or the partner app's delegated
/// permissions and the technician's GDAP roles (../shared/reference/m365-api.md B1–B3, B7, §G 5).
pub(super) struct Grant {
    application: &'static str,
    delegated: &'static str,
}

pub(super) const GRANT_READ_USER: Grant = Grant {
    application: "the Microsoft Graph application permission User.Read.All",
    delegated: "the delegated Microsoft Graph permission User.ReadWrite.All (or User.Read.All) and a GDAP role that may read users",
};
pub(super) const GRANT_BLOCK: Grant = Grant {
    application: "the Microsoft Graph application permission User.EnableDisableAccount.All (for an admin account, also a \
         privileged Entra role on the app)",
    delegated: "the delegated Microsoft Graph permission User.ReadWrite.All and the User Administrator GDAP role; for an \
         admin account, the delegated permission Directory.AccessAsUser.All and a privileged GDAP role",
};
pub(super) const GRANT_REVOKE: Grant = Grant {
    application: "the Microsoft Graph application permission User.RevokeSessions.All",
    delegated: "the delegated Microsoft Graph permission User.ReadWrite.All and the User Administrator GDAP role",
};
pub(super) const GRANT_PASSWORD: Grant = Grant {
    application: "the Microsoft Graph application permission User-PasswordProfile.ReadWrite.All and the User \
         Administrator role (Privileged Authentication Administrator for an admin's password)",
    delegated: "the delegated Microsoft Graph permission Directory.AccessAsUser.All (or \
         User-PasswordProfile.ReadWrite.All) and the User Administrator GDAP role (Privileged Authentication \
         Administrator for an admin's password)",
};
pub(super) const GRANT_EXCHANGE: Grant = Grant {
    application: "the Office 365 Exchange Online application permission Exchange.ManageAsApp and the Exchange \
         Administrator role",
    delegated: "the delegated Office 365 Exchange Online permission Exchange.Manage and the Exchange Administrator GDAP role",
};

impl Grant {
    /// The words for `app`: delegated for a tenant reached through the partner sign-in.
    fn words(&self, app: &AppIdentity) -> &'static str {
        match app.method {
            AuthMethod::Partner => self.delegated,
            _ => self.application,
        }
    }
}

/// Microsoft's calls for one tenant.
pub(super) struct Microsoft<'a> {
    pub api: &'a Api,
    pub app: &'a AppIdentity,
    pub stats: &'a RetryStats,
    /// The waits between read-backs of a change that does not show yet.
    pub verify_delays: &'a [Duration],
}

fn path_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl Microsoft<'_> {
    /// Reads a change back until it `shows`, waiting each of `verify_delays` in turn
    /// before reading again: Entra and Exchange show a write everywhere only after a
    /// while (../shared/reference/m365-api.md §G 11). Answers the last read.
    pub(super) async fn read_back<T, F: Future<Output = Result<T, Refusal>>>(
        &self,
        read: impl Fn() -> F,
        shows: impl Fn(&T) -> bool,
    ) -> Result<T, Refusal> {
        let mut last = read().await;
        for delay in self.verify_delays {
            if last.as_ref().is_ok_and(&shows) {
                break;
            }
            tracing::info!(
                "the change does not show yet; reading it back again in {:.1} s",
                delay.as_secs_f64()
            );
            tokio::time::sleep(*delay).await;
            last = read().await;
        }
        last
    }

    fn user_url(&self, upn: &str) -> String {
        format!(
            "{}/v1.0/users/{}",
            self.api.endpoints_of(self.app).graph,
            path_segment(upn)
        )
    }

    pub(super) async fn account(&self, upn: &str) -> Result<Account, Refusal> {
        let what = format!("reading the account {upn}");
        let url = format!("{}?$select={ACCOUNT_FIELDS}", self.user_url(upn));
        let reply = self
            .api
            .send(
                self.app,
                Resource::Graph,
                Method::GET,
                &url,
                &what,
                self.stats,
                Request::default(),
            )
            .await
            .map_err(|e| Refusal::from_call(e, &what, GRANT_READ_USER.words(self.app)))?;
        serde_json::from_slice(&reply.body).map_err(|e| Refusal {
            message: format!("{what}: the answer cannot be read ({e})"),
            not_found: false,
        })
    }

    /// `PATCH /users/{upn}`; `body` may hold a new password, which goes nowhere else.
    pub(super) async fn update_account(
        &self,
        upn: &str,
        body: &Value,
        what: &str,
        grant: &Grant,
    ) -> Result<(), Refusal> {
        let request = Request {
            json: Some(body),
            headers: Vec::new(),
        };
        self.api
            .send(
                self.app,
                Resource::Graph,
                Method::PATCH,
                &self.user_url(upn),
                what,
                self.stats,
                request,
            )
            .await
            .map(drop)
            .map_err(|e| Refusal::from_call(e, what, grant.words(self.app)))
    }

    pub(super) async fn revoke_sessions(&self, upn: &str) -> Result<(), Refusal> {
        let what = format!("revoking the sessions of {upn}");
        let url = format!("{}/revokeSignInSessions", self.user_url(upn));
        self.api
            .send(
                self.app,
                Resource::Graph,
                Method::POST,
                &url,
                &what,
                self.stats,
                Request::default(),
            )
            .await
            .map(drop)
            .map_err(|e| Refusal::from_call(e, &what, GRANT_REVOKE.words(self.app)))
    }

    /// Runs one Exchange cmdlet against `mailbox` (a resolved UPN, which also routes the
    /// call: `X-AnchorMailbox: UPN:…`), following `@odata.nextLink` pages (B7: the same
    /// body is POSTed again to the next link).
    pub(super) async fn cmdlet(
        &self,
        mailbox: &str,
        name: &str,
        parameters: Value,
        what: &str,
    ) -> Result<Vec<Value>, Refusal> {
        self.invoke(format!("UPN:{mailbox}"), name, parameters, what)
            .await
    }

    /// Runs one Exchange cmdlet at the organization level, anchored on its system mailbox
    /// as CIPP does for tenant-level calls (B7): for finding a mailbox not yet resolved.
    pub(super) async fn org_cmdlet(
        &self,
        name: &str,
        parameters: Value,
        what: &str,
    ) -> Result<Vec<Value>, Refusal> {
        let anchor = format!(
            "APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{}",
            self.app.tenant_id
        );
        self.invoke(anchor, name, parameters, what).await
    }

    async fn invoke(
        &self,
        anchor: String,
        name: &str,
        parameters: Value,
        what: &str,
    ) -> Result<Vec<Value>, Refusal> {
        let body = json!({"CmdletInput": {"CmdletName": name, "Parameters": parameters}});
        let mut url = format!(
            "{}/adminapi/beta/{}/InvokeCommand",
            self.api.endpoints_of(self.app).exchange,
            self.app.tenant_id
        );
        let mut rows = Vec::new();
        loop {
            let request = Request {
                json: Some(&body),
                headers: vec![
                    ("X-AnchorMailbox", anchor.clone()),
                    ("Prefer", "odata.maxpagesize=1000".into()),
                ],
            };
            let reply = self
                .api
                .send(
                    self.app,
                    Resource::Exchange,
                    Method::POST,
                    &url,
                    what,
                    self.stats,
                    request,
                )
                .await
                .map_err(|e| Refusal::from_exchange(e, what, GRANT_EXCHANGE.words(self.app)))?;
            let page: Value = serde_json::from_slice(&reply.body).map_err(|e| Refusal {
                message: format!("{what}: the answer cannot be read ({e})"),
                not_found: false,
            })?;
            if let Some(items) = page["value"].as_array() {
                rows.extend(items.iter().cloned());
            }
            match page["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_string(),
                None => return Ok(rows),
            }
        }
    }
}
