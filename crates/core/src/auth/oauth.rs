//! The `oauth2` crate's flows against Entra, sent through Rulewatch's own HTTP layer
//! (its retries, its reqwest), with Entra's answers turned into plain words. Token
//! bodies never reach an error: a parse failure drops the body it could not read.
#![warn(missing_docs)]

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AsyncHttpClient, Client, EndpointNotSet, EndpointSet, ErrorResponseType,
    ExtraDeviceAuthorizationFields, ExtraTokenFields, HttpRequest, HttpResponse, RequestTokenError,
    StandardErrorResponse, StandardRevocableToken, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::http::{Http, HttpError, RetryStats};
use crate::problem::{Problem, ProblemKind};

/// Entra adds the ID token to the token answer; it names who signed in.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct IdToken {
    /// The ID token (a JWT), present when `openid` was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Seconds the refresh token lives, when Entra says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_in: Option<u64>,
}
impl ExtraTokenFields for IdToken {}

/// Entra's device-code answer carries the sentence to show the user.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct DeviceMessage {
    /// Entra's sentence naming the page to open and the code to enter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
impl ExtraDeviceAuthorizationFields for DeviceMessage {}

/// Entra's token answer, with its ID token.
pub(crate) type Tokens = StandardTokenResponse<IdToken, BasicTokenType>;

/// A public client (no secret: a desktop app cannot keep one) of one Entra tenant.
pub(crate) type EntraClient<Auth = EndpointNotSet, Device = EndpointNotSet, Token = EndpointSet> =
    Client<
        BasicErrorResponse,
        Tokens,
        BasicTokenIntrospectionResponse,
        StandardRevocableToken,
        BasicRevocationErrorResponse,
        Auth,
        Device,
        EndpointNotSet,
        EndpointNotSet,
        Token,
    >;

/// What `oauth2` sends through: Rulewatch's retrying HTTP. Error answers are handed
/// back as answers, for `oauth2` to read Entra's error. It owns what it uses (no
/// lifetimes), so the futures stay `Send` wherever the desktop's tasks need them.
pub(crate) struct Transport {
    /// The retrying HTTP layer requests go through.
    pub http: Http,
    /// This transport's own retry counts; [`Transport::count_into`] passes them on.
    pub stats: Arc<RetryStats>,
    /// What the requests are for, in messages.
    pub what: String,
}

impl Transport {
    pub(crate) fn new(http: &Http, what: impl Into<String>) -> Transport {
        Transport {
            http: http.clone(),
            stats: Arc::default(),
            what: what.into(),
        }
    }

    /// Adds this transport's retries to a caller's counts.
    pub(crate) fn count_into(&self, stats: &RetryStats) {
        stats
            .throttled
            .fetch_add(self.stats.throttled(), Ordering::Relaxed);
        stats
            .transient
            .fetch_add(self.stats.transient(), Ordering::Relaxed);
    }
}

impl<'c> AsyncHttpClient<'c> for Transport {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Problem>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let sent = self
                .http
                .send(&self.what, &self.stats, || {
                    self.http
                        .client()
                        .request(parts.method.clone(), &url)
                        .headers(parts.headers.clone())
                        .body(body.clone())
                })
                .await;
            let reply = match sent {
                Ok(reply) | Err(HttpError::Status { reply, .. }) => reply,
                Err(e) => return Err(Problem::from(e)),
            };
            let mut response = HttpResponse::new(reply.body.to_vec());
            *response.status_mut() = reply.status;
            *response.headers_mut() = reply.headers;
            Ok(response)
        })
    }
}

/// The AADSTS number at the start of Entra's error description.
pub(crate) fn aadsts(description: &str) -> Option<u32> {
    let digits: String = description
        .strip_prefix("AADSTS")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// What ended a device code sign-in, in plain words, for the errors that end the polling
/// (Entra's device code flow: `expired_token`, `authorization_declined`; RFC 8628's
/// `access_denied`).
fn device_code_ended(error: &str) -> Option<&'static str> {
    match error {
        "expired_token" => Some(
            "the code was not entered in time: Microsoft accepts a device code for 15 minutes only. \
             Start the sign-in again and enter the new code promptly",
        ),
        "authorization_declined" | "access_denied" => Some(
            "the sign-in was declined on Microsoft's page (someone answered that they were not trying to sign in). \
             Start the sign-in again if that was a mistake; if nobody at your MSP started it, tell whoever looks after security",
        ),
        _ => None,
    }
}

/// Entra refused or failed a token request of the partner account.
pub(crate) fn token_problem<T: ErrorResponseType + Display + 'static>(
    e: RequestTokenError<Problem, StandardErrorResponse<T>>,
    what: &str,
) -> Problem {
    match e {
        RequestTokenError::ServerResponse(answer) => {
            let error = answer.error().to_string();
            let description = answer.error_description().cloned().unwrap_or_default();
            let said = description
                .lines()
                .next()
                .unwrap_or(&error)
                .trim()
                .to_string();
            if let Some(happened) = device_code_ended(&error) {
                return Problem::new(
                    ProblemKind::SignInNeeded,
                    format!("{what}: {happened} (Microsoft said: {said})"),
                );
            }
            let (kind, advice) = match aadsts(&description) {
                // Expired for inactivity, revoked, or the user must sign in again (MFA, password change).
                Some(700082 | 50173 | 70008 | 700084 | 50076 | 50079 | 50078 | 50133 | 50089) => (
                    ProblemKind::SignInNeeded,
                    "The partner sign-in has lapsed: sign in again",
                ),
                Some(65001 | 700016 | 7000229 | 650052) => (
                    ProblemKind::ConsentMissing,
                    "Rulewatch's app is not consented in this customer tenant: a Global Administrator of the customer, \
                     or a partner admin through GDAP, must grant consent to the app",
                ),
                Some(50020 | 50177 | 90072 | 50034) => (
                    ProblemKind::PermissionMissing,
                    "The partner account has no access to this customer: check that a GDAP relationship is active and \
                     that the account is in a security group with roles in it",
                ),
                _ => (
                    ProblemKind::BadResponse,
                    "Check the partner app's registration and try again",
                ),
            };
            Problem::new(
                kind,
                format!("{what}: Microsoft refused ({said}). {advice}"),
            )
        }
        RequestTokenError::Request(problem) => problem,
        // The unreadable body may hold tokens: it is dropped, never shown.
        RequestTokenError::Parse(e, _body) => Problem::new(
            ProblemKind::BadResponse,
            format!("{what}: Microsoft's answer cannot be read ({})", e.path()),
        ),
        RequestTokenError::Other(e) => {
            Problem::new(ProblemKind::BadResponse, format!("{what}: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lapsed_or_declined_device_code_says_what_happened() {
        let lapsed = device_code_ended("expired_token").unwrap();
        assert!(lapsed.contains("not entered in time"), "{lapsed}");
        let declined = device_code_ended("authorization_declined").unwrap();
        assert!(declined.contains("declined"), "{declined}");
        assert_eq!(device_code_ended("authorization_pending"), None);
    }

    #[test]
    fn aadsts_numbers_are_read_from_the_start_of_the_description() {
        assert_eq!(
            aadsts("AADSTS700082: The refresh token has expired due to inactivity."),
            Some(700082)
        );
        assert_eq!(
            aadsts("AADSTS65001: The user or administrator has not consented"),
            Some(65001)
        );
        assert_eq!(aadsts("something else"), None);
    }
}
