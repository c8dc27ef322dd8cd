//! The Microsoft calls remediation makes: Graph users (B1–B3) and Exchange's
//! `InvokeCommand` (B7), each answered as data or as a reason in plain words.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::{Api, ApiError, CallError, Request};
use crate::auth::{AppIdentity, Resource};
use crate::http::RetryStats;

/// What a refused or failed call means for the technician.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub message: String,
    /// Microsoft says the object is not there (404): a rule already removed.
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
            401 | 403 => format!(
                "{what}: permission denied. {said}. Grant the app {grant}, then retry this step."
            ),
            404 => format!("{what}: not found. {said}."),
            _ => format!("{what}: {said}."),
        };
        Refusal {
            message,
            not_found: e.status.as_u16() == 404,
        }
    }
}

/// The account fields remediation reads (Graph `user`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Account {
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
pub const GRANT_READ_USER: &str = "the Microsoft Graph application permission User.Read.All";
pub const GRANT_BLOCK: &str =
    "the Microsoft Graph application permission User.EnableDisableAccount.All";
pub const GRANT_REVOKE: &str = "the Microsoft Graph application permission User.RevokeSessions.All";
pub const GRANT_PASSWORD: &str = "the Microsoft Graph application permission User-PasswordProfile.ReadWrite.All and the \
     User Administrator role (Privileged Authentication Administrator for an admin's password)";
pub const GRANT_EXCHANGE: &str = "the Office 365 Exchange Online application permission Exchange.ManageAsApp and the \
     Exchange Administrator role";

/// Microsoft's calls for one tenant.
pub struct Microsoft<'a> {
    pub api: &'a Api,
    pub app: &'a AppIdentity,
    pub stats: &'a RetryStats,
}

fn path_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl Microsoft<'_> {
    fn user_url(&self, upn: &str) -> String {
        format!(
            "{}/v1.0/users/{}",
            self.api.endpoints.graph,
            path_segment(upn)
        )
    }

    pub async fn account(&self, upn: &str) -> Result<Account, Refusal> {
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
            .map_err(|e| Refusal::from_call(e, &what, GRANT_READ_USER))?;
        serde_json::from_slice(&reply.body).map_err(|e| Refusal {
            message: format!("{what}: the answer cannot be read ({e})"),
            not_found: false,
        })
    }

    /// `PATCH /users/{upn}`; `body` may hold a new password, which goes nowhere else.
    pub async fn update_account(
        &self,
        upn: &str,
        body: &Value,
        what: &str,
        grant: &str,
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
            .map_err(|e| Refusal::from_call(e, what, grant))
    }

    pub async fn revoke_sessions(&self, upn: &str) -> Result<(), Refusal> {
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
            .map_err(|e| Refusal::from_call(e, &what, GRANT_REVOKE))
    }

    /// Runs one Exchange cmdlet against `mailbox`, following `@odata.nextLink` pages
    /// (B7: the same body is POSTed again to the next link).
    pub async fn cmdlet(
        &self,
        mailbox: &str,
        name: &str,
        parameters: Value,
        what: &str,
    ) -> Result<Vec<Value>, Refusal> {
        let body = json!({"CmdletInput": {"CmdletName": name, "Parameters": parameters}});
        let mut url = format!(
            "{}/adminapi/beta/{}/InvokeCommand",
            self.api.endpoints.exchange, self.app.tenant_id
        );
        let mut rows = Vec::new();
        loop {
            let request = Request {
                json: Some(&body),
                headers: vec![
                    ("X-AnchorMailbox", format!("UPN:{mailbox}")),
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
                .map_err(|e| Refusal::from_call(e, what, GRANT_EXCHANGE))?;
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
