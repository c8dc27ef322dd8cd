//! Exchange Online's admin REST `InvokeCommand` (B7): the cmdlets remediation runs on inbox
//! rules, mailbox forwarding and accepted domains, against the state audit records built.
//!
//! As the real service answers (../shared/reference/m365-api.md §G):
//! - Errors (§G 6): every cmdlet failure is HTTP 400 with `error.message` "Invalid
//!   Operation"; the words and the .NET type are in the lowercase
//!   `error.innererror.internalexception`, and in `error.details[].message` (`id|Type|text`)
//!   only for exceptions with an Exchange error id. "Not found" is
//!   `ManagementObjectNotFoundException` on a 400, never a 404. An app without an Exchange
//!   role gets 403 with a body of NUL bytes.
//! - `Get-InboxRule` (§G 7): `Identity` is `<mailbox GUID>\<rule id>`, `RuleIdentity` a JSON
//!   number above `i64::MAX`, recipients in display form (`"x" [SMTP:x@y]`, or
//!   `"Name" [EX:/o=…]` for a mailbox of the organization), the fields `ErrorType`,
//!   `IsValid`, `ObjectState`, `SupportedByTask`, and with `IncludeHidden` every mailbox's
//!   "Junk E-mail Rule".
//! - `New-InboxRule` (§G 7) takes only the parameters its documentation lists: anything
//!   else (`Enabled` too) is 400 `AmbiguousParameterSetException`; an empty value or a
//!   recipient in display form is refused.
//! - Mailboxes (§G 12) are found by UPN, object id, mailbox GUID, any SMTP address, alias or
//!   display name; a name two mailboxes share is `ManagementObjectAmbiguousException`.
//!   `Get-Mailbox` shows the primary SMTP address, which can differ from the UPN, and
//!   `ExternalDirectoryObjectId`. A `UPN:` anchor must name a user principal.
//! - Reads show a remediation write only after the tenant's `write_visible_after_ms`
//!   (§G 11), as Graph's do (`directory.rs`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::app::{App, TenantEntry};
use crate::directory::{Account, Directory, Lookup, set_rule_params, smtp};
use crate::ids;
use crate::scenario::InboxRule;
use crate::token::{Audience, Bearer};

/// Entra roles that let an app run every Exchange cmdlet (B7).
const EXCHANGE_DIRECTORY_ROLES: [&str; 2] = ["Exchange Administrator", "Global Administrator"];

const NOT_FOUND: Exception = Exception {
    id: Some("Ex6F9304"),
    type_name: "Microsoft.Exchange.Management.Tasks.ManagementObjectNotFoundException",
};
const PARAMETER_BINDING: Exception = Exception {
    id: None,
    type_name: "System.Management.Automation.ParameterBindingException",
};
/// Guess: the type's namespace, by analogy with `ManagementObjectNotFoundException`.
const AMBIGUOUS_OBJECT: Exception = Exception {
    id: None,
    type_name: "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
};
const COMMAND_NOT_FOUND: Exception = Exception {
    id: None,
    type_name: "System.Management.Automation.CommandNotFoundException",
};

/// The .NET exception behind a failed cmdlet, with Exchange's error id when it has one.
#[derive(Clone, Copy)]
struct Exception {
    id: Option<&'static str>,
    type_name: &'static str,
}

/// EXO's OData error body (../shared/reference/m365-api.md §G 6): `error.message` is always "Invalid
/// Operation"; the words are in `error.innererror.internalexception` (lowercase on the wire)
/// and, for exceptions with an Exchange error id, in `error.details[].message` as
/// `id|Type|text`. Refusals of the token itself keep their own 401 message.
pub(crate) struct ExoError {
    status: StatusCode,
    code: &'static str,
    message: String,
    exception: Option<Exception>,
    /// Answer 403 with a body of NUL bytes instead (§G 6).
    nul_body: bool,
}

pub(crate) fn exo_error(status: StatusCode, code: &'static str, message: &str) -> ExoError {
    ExoError {
        status,
        code,
        message: message.to_string(),
        exception: None,
        nul_body: false,
    }
}

/// A failed cmdlet. Always 400: the status does not tell failures apart, "not found"
/// included (§G 6). Guess: 400 rather than 404 for `ManagementObjectNotFoundException`,
/// because §G 6 lists every failure as 400 or 403 and the exact status is still to verify.
fn cmdlet_error(exception: Exception, message: String) -> ExoError {
    ExoError {
        status: StatusCode::BAD_REQUEST,
        code: "BadRequest",
        message,
        exception: Some(exception),
        nul_body: false,
    }
}

/// The service's own text when the call never reached a cmdlet.
const SERVICE_EXCEPTION: &str = "Microsoft.Exchange.Admin.OData.Core.ODataServiceException";

impl IntoResponse for ExoError {
    fn into_response(self) -> Response {
        let ExoError {
            status,
            code,
            message,
            exception,
            nul_body,
        } = self;
        if nul_body {
            return (StatusCode::FORBIDDEN, vec![0u8; 64]).into_response();
        }
        if status == StatusCode::UNAUTHORIZED {
            let body = json!({"error": {"code": code, "message": message}});
            let mut response = (status, Json(body)).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            return response;
        }
        let type_name = exception.map_or(SERVICE_EXCEPTION, |e| e.type_name);
        let mut error = json!({
            "code": code,
            "message": "Invalid Operation",
            "innererror": {
                "type": SERVICE_EXCEPTION,
                "internalexception": {"message": message, "type": type_name},
            },
        });
        if let Some(Exception {
            id: Some(id),
            type_name,
        }) = exception
        {
            error["details"] = json!([{"code": "Context", "target": "", "message": format!("{id}|{type_name}|{message}")}]);
        }
        (status, Json(json!({ "error": error }))).into_response()
    }
}

/// What EXO answered G2O when the app's service principal held no Exchange role: 403
/// with a body of NUL bytes (§G 6).
fn role_missing() -> ExoError {
    ExoError {
        nul_body: true,
        ..exo_error(StatusCode::FORBIDDEN, "", "")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    cmdlet_input: CmdletInput,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CmdletInput {
    cmdlet_name: String,
    #[serde(default)]
    parameters: Map<String, Value>,
}

/// Cmdlet parameters, named case-insensitively as PowerShell does.
struct Params<'a>(&'a Map<String, Value>);

impl Params<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    }

    fn switch(&self, name: &str) -> bool {
        match self.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }

    fn required(&self, name: &str, cmdlet: &str) -> Result<&str, ExoError> {
        self.text(name).ok_or_else(|| {
            cmdlet_error(
                PARAMETER_BINDING,
                format!("A parameter cannot be found or is empty: {cmdlet} needs -{name}."),
            )
        })
    }

    /// As the audit log renders parameters, to share the record parser.
    fn as_record_params(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .map(|(name, value)| {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
                    Value::Array(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(";"),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (name.clone(), text)
            })
            .collect()
    }
}

/// One call: the tenant, its directory, and the mailbox `X-AnchorMailbox` names, if a user.
struct Call<'a> {
    entry: &'a TenantEntry,
    directory: &'a mut Directory,
    anchor: Option<String>,
}

/// `POST /adminapi/beta/{tenant}/InvokeCommand`.
pub(crate) async fn invoke(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match run(&app, &tenant, &headers, &body) {
        Ok(value) => Json(json!({
            "@odata.context": format!(
                "https://outlook.office365.com/adminapi/beta/{}/$metadata#Collection(Exchange.GenericHashTable)",
                tenant.to_ascii_lowercase()
            ),
            "adminapi.warnings@odata.type": "#Collection(String)",
            "@adminapi.warnings": [],
            "value": value,
        }))
        .into_response(),
        Err(err) => err.into_response(),
    }
}

fn run(app: &App, tenant: &str, headers: &HeaderMap, body: &[u8]) -> Result<Vec<Value>, ExoError> {
    let unauthorized = |message: &str| exo_error(StatusCode::UNAUTHORIZED, "Unauthorized", message);
    let grant = match app.tokens.bearer(headers) {
        Bearer::Valid(grant) if grant.audience == Audience::Outlook => grant,
        Bearer::Expired => return Err(unauthorized("The access token is expired.")),
        _ => return Err(unauthorized("The access token is missing or invalid.")),
    };
    if app.tenant_by_name(tenant) != Some(grant.tenant) {
        return Err(unauthorized(
            "The tenant in the request URL does not match the access token's tenant.",
        ));
    }
    let entry = &app.tenants[grant.tenant];
    match &grant.delegated {
        // A technician's GDAP roles alone decide, as consent gave the app Exchange.Manage (C3).
        // Guess: the wording of the refusal.
        Some(delegation) => {
            if !EXCHANGE_DIRECTORY_ROLES
                .iter()
                .any(|role| delegation.has_role(role))
            {
                return Err(unauthorized(&format!(
                    "The user {} isn't assigned to any management roles in this organization.",
                    delegation.upn
                )));
            }
        }
        None => {
            // Guess: the service's refusal when consent lacks the app role (not documented).
            if !grant.roles.iter().any(|r| r == "Exchange.ManageAsApp") {
                return Err(unauthorized(
                    "The access token does not carry the Exchange.ManageAsApp application permission.",
                ));
            }
            if !EXCHANGE_DIRECTORY_ROLES
                .iter()
                .any(|role| entry.has_directory_role(role))
            {
                return Err(role_missing());
            }
        }
    }
    let Some(anchor) = headers
        .get("X-AnchorMailbox")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
    else {
        return Err(exo_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The request must carry an X-AnchorMailbox header naming the mailbox or organization it is for.",
        ));
    };
    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        return Err(exo_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The request body must be {\"CmdletInput\": {\"CmdletName\": …, \"Parameters\": {…}}}.",
        ));
    };
    let mut directory = entry.directory();
    let anchor = anchor_mailbox(&directory, anchor)?;
    let mut call = Call {
        entry,
        directory: &mut directory,
        anchor,
    };
    let input = envelope.cmdlet_input;
    let params = Params(&input.parameters);
    match input.cmdlet_name.to_ascii_lowercase().as_str() {
        "get-inboxrule" => call.get_inbox_rule(&params),
        "new-inboxrule" => call.new_inbox_rule(&params),
        "disable-inboxrule" => call.change_rule(&params, RuleChange::Disable),
        "enable-inboxrule" => call.change_rule(&params, RuleChange::Enable),
        "remove-inboxrule" => call.change_rule(&params, RuleChange::Remove),
        "get-mailbox" => call.get_mailbox(&params),
        "set-mailbox" => call.set_mailbox(&params),
        "get-accepteddomain" => Ok(call.accepted_domains()),
        _ => Err(cmdlet_error(
            COMMAND_NOT_FOUND,
            format!(
                "The term '{}' is not recognized as the name of a cmdlet, function, script file, or operable \
                 program. Check the spelling of the name, or if a path was included, verify that the path is \
                 correct and try again.",
                input.cmdlet_name
            ),
        )),
    }
}

/// The mailbox `X-AnchorMailbox` routes to: `UPN:x@y` must be a user principal name and
/// `SMTP:x@y` one of a mailbox's addresses; `APP:SystemMailbox{…}@tenant` is the
/// organization (../shared/reference/m365-api.md B7). Guess: a `UPN:` anchor that names no user principal is
/// refused, because EXO routes by it and CIPP anchors by the resolved UPN (§G 12); the
/// wording is ours.
fn anchor_mailbox(directory: &Directory, anchor: &str) -> Result<Option<String>, ExoError> {
    let (scheme, value) = anchor.split_once(':').unwrap_or(("", anchor));
    let found = match scheme.to_ascii_lowercase().as_str() {
        "app" => return Ok(None),
        "upn" => directory
            .accounts()
            .find(|a| a.upn.eq_ignore_ascii_case(value.trim()))
            .map(|a| a.upn.to_ascii_lowercase()),
        "smtp" => directory
            .accounts()
            .find(|a| {
                a.smtp_addresses()
                    .any(|s| s.eq_ignore_ascii_case(value.trim()))
            })
            .map(|a| a.upn.to_ascii_lowercase()),
        _ => None,
    };
    found.map(Some).ok_or_else(|| {
        exo_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!(
                "The X-AnchorMailbox '{anchor}' does not name a mailbox in this organization."
            ),
        )
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RuleChange {
    Disable,
    Enable,
    Remove,
}

impl Call<'_> {
    /// Exchange's answer for an identity it cannot resolve.
    fn not_found(&self, identity: &str) -> ExoError {
        let tenant = self.entry.id.as_bytes();
        let server = format!(
            "{}.{}",
            ids::server(&[b"dc", tenant]),
            ids::forest(&[tenant])
        );
        cmdlet_error(
            NOT_FOUND,
            format!(
                "The operation couldn't be performed because object '{identity}' couldn't be found on '{server}'."
            ),
        )
    }

    /// The mailbox a parameter names, else the anchor mailbox (app-only has none of its own).
    fn mailbox(&self, named: Option<&str>) -> Result<String, ExoError> {
        match named {
            Some(identity) => self.directory.find_mailbox(identity).map_err(|e| match e {
                Lookup::NotFound => self.not_found(identity),
                Lookup::Ambiguous => cmdlet_error(
                    AMBIGUOUS_OBJECT,
                    format!("The operation couldn't be performed because '{identity}' matches multiple entries."),
                ),
            }),
            None => self.anchor.clone().ok_or_else(|| {
                cmdlet_error(
                    PARAMETER_BINDING,
                    "No mailbox was named: pass -Mailbox or a user in X-AnchorMailbox.".into(),
                )
            }),
        }
    }

    /// The mailbox to change; reads use `Directory::visible`.
    fn account(&mut self, key: &str) -> &mut Account {
        self.directory.write(key).expect("resolved mailbox")
    }

    fn get_inbox_rule(&mut self, params: &Params) -> Result<Vec<Value>, ExoError> {
        let key = self.mailbox(params.text("Mailbox"))?;
        let include_hidden = params.switch("IncludeHidden");
        let directory = &*self.directory;
        let account = directory.visible(&key).expect("resolved mailbox");
        let mut rules: Vec<Value> = (0..account.inbox_rules.len())
            .filter(|&i| include_hidden || !account.inbox_rules[i].spec.hidden)
            .map(|i| rule_json(directory, account, i))
            .collect();
        if include_hidden {
            rules.push(junk_mail_rule(account, rules.len()));
        }
        Ok(rules)
    }

    /// Only New-InboxRule's own parameters, each with a value (../shared/reference/m365-api.md §G 7).
    fn new_inbox_rule(&mut self, params: &Params) -> Result<Vec<Value>, ExoError> {
        check_new_inbox_rule(self.directory, params)?;
        let name = params.required("Name", "New-InboxRule")?;
        let key = self.mailbox(params.text("Mailbox"))?;
        let mut spec = InboxRule::named(name);
        set_rule_params(&mut spec, &params.as_record_params());
        let index = self.account(&key).add_rule(spec);
        let directory = &*self.directory;
        Ok(vec![rule_json(
            directory,
            directory.account(&key).expect("resolved"),
            index,
        )])
    }

    /// `Identity` is `<mailbox>\<id>`, an id, or a name; the last two are looked up in `Mailbox`
    /// or the anchor mailbox.
    fn change_rule(&mut self, params: &Params, change: RuleChange) -> Result<Vec<Value>, ExoError> {
        let cmdlet = match change {
            RuleChange::Disable => "Disable-InboxRule",
            RuleChange::Enable => "Enable-InboxRule",
            RuleChange::Remove => "Remove-InboxRule",
        };
        let identity = params.required("Identity", cmdlet)?;
        let (mailbox, rule) = match identity.rsplit_once('\\') {
            Some((mailbox, rule)) => (Some(mailbox), rule),
            None => (params.text("Mailbox"), identity),
        };
        let key = self
            .mailbox(mailbox)
            .map_err(|_| self.not_found(identity))?;
        let found = self
            .directory
            .account(&key)
            .and_then(|a| a.rule_index(rule));
        let Some(index) = found else {
            return Err(self.not_found(identity));
        };
        let account = self.account(&key);
        match change {
            RuleChange::Remove => {
                account.inbox_rules.remove(index);
            }
            _ => account.inbox_rules[index].spec.enabled = change == RuleChange::Enable,
        }
        Ok(Vec::new())
    }

    /// Without `Identity`, every mailbox, as the cmdlet lists them.
    fn get_mailbox(&mut self, params: &Params) -> Result<Vec<Value>, ExoError> {
        match params.text("Identity") {
            Some(identity) => {
                let key = self.mailbox(Some(identity))?;
                Ok(vec![mailbox_json(
                    self.directory.visible(&key).expect("resolved mailbox"),
                )])
            }
            None => Ok(self
                .directory
                .accounts()
                .filter_map(|a| self.directory.visible(&a.upn))
                .map(mailbox_json)
                .collect()),
        }
    }

    /// Only the parameters given change; null or empty clears an address.
    fn set_mailbox(&mut self, params: &Params) -> Result<Vec<Value>, ExoError> {
        let identity = params.required("Identity", "Set-Mailbox")?;
        let key = self.mailbox(Some(identity))?;
        let account = self.account(&key);
        if params.get("ForwardingSmtpAddress").is_some() {
            account.forwarding_smtp_address = params.text("ForwardingSmtpAddress").map(smtp);
        }
        if params.get("ForwardingAddress").is_some() {
            account.forwarding_address = params.text("ForwardingAddress").map(String::from);
        }
        if params.get("DeliverToMailboxAndForward").is_some() {
            account.deliver_to_mailbox_and_forward = params.switch("DeliverToMailboxAndForward");
        }
        Ok(Vec::new())
    }

    fn accepted_domains(&self) -> Vec<Value> {
        let tenant = &self.entry.config;
        let default = tenant.primary_domain();
        tenant
            .domains
            .iter()
            .map(|domain| {
                json!({
                    "DomainName": domain,
                    "Name": domain,
                    "DomainType": "Authoritative",
                    "Default": domain == default,
                })
            })
            .collect()
    }
}

/// A mailbox as `Get-Mailbox` shows it: the UPN and Entra object id Graph takes, and
/// the primary SMTP address, which can differ from the UPN (../shared/reference/m365-api.md §G 12).
fn mailbox_json(account: &Account) -> Value {
    json!({
        "UserPrincipalName": account.upn,
        "PrimarySmtpAddress": account.primary_smtp,
        "EmailAddresses": account.email_addresses(),
        "Alias": account.alias,
        "Name": account.alias,
        "DisplayName": account.display_name,
        "Identity": account.alias,
        "Guid": account.mailbox_guid.to_string(),
        "ExchangeGuid": account.mailbox_guid.to_string(),
        "ExternalDirectoryObjectId": account.id.to_string(),
        "RecipientTypeDetails": "UserMailbox",
        "ForwardingSmtpAddress": account.forwarding_smtp_address,
        "ForwardingAddress": account.forwarding_address,
        "DeliverToMailboxAndForward": account.deliver_to_mailbox_and_forward,
    })
}

/// New-InboxRule's parameters in Exchange Online, from its documentation's `Identity`
/// parameter set (MicrosoftDocs/office-docs-powershell
/// `exchange/exchange-ps/ExchangePowerShell/New-InboxRule.md`; `DomainController` is
/// on-premises only). There is no `Enabled` (§G 7).
const NEW_INBOX_RULE_PARAMETERS: [&str; 68] = [
    "Name",
    "AlwaysDeleteOutlookRulesBlob",
    "ApplyCategory",
    "ApplySystemCategory",
    "BodyContainsWords",
    "Confirm",
    "CopyToFolder",
    "DeleteMessage",
    "DeleteSystemCategory",
    "ExceptIfBodyContainsWords",
    "ExceptIfFlaggedForAction",
    "ExceptIfFrom",
    "ExceptIfFromAddressContainsWords",
    "ExceptIfHasAttachment",
    "ExceptIfHasClassification",
    "ExceptIfHeaderContainsWords",
    "ExceptIfMessageTypeMatches",
    "ExceptIfMyNameInCcBox",
    "ExceptIfMyNameInToBox",
    "ExceptIfMyNameInToOrCcBox",
    "ExceptIfMyNameNotInToBox",
    "ExceptIfReceivedAfterDate",
    "ExceptIfReceivedBeforeDate",
    "ExceptIfRecipientAddressContainsWords",
    "ExceptIfSentOnlyToMe",
    "ExceptIfSentTo",
    "ExceptIfSubjectContainsWords",
    "ExceptIfSubjectOrBodyContainsWords",
    "ExceptIfWithImportance",
    "ExceptIfWithinSizeRangeMaximum",
    "ExceptIfWithinSizeRangeMinimum",
    "ExceptIfWithSensitivity",
    "FlaggedForAction",
    "Force",
    "ForwardAsAttachmentTo",
    "ForwardTo",
    "From",
    "FromAddressContainsWords",
    "HasAttachment",
    "HasClassification",
    "HeaderContainsWords",
    "Mailbox",
    "MarkAsRead",
    "MarkImportance",
    "MessageTypeMatches",
    "MoveToFolder",
    "MyNameInCcBox",
    "MyNameInToBox",
    "MyNameInToOrCcBox",
    "MyNameNotInToBox",
    "PinMessage",
    "Priority",
    "ReceivedAfterDate",
    "ReceivedBeforeDate",
    "RecipientAddressContainsWords",
    "RedirectTo",
    "SendTextMessageNotificationTo",
    "SentOnlyToMe",
    "SentTo",
    "SoftDeleteMessage",
    "StopProcessingRules",
    "SubjectContainsWords",
    "SubjectOrBodyContainsWords",
    "WhatIf",
    "WithImportance",
    "WithinSizeRangeMaximum",
    "WithinSizeRangeMinimum",
    "WithSensitivity",
];

/// New-InboxRule's recipient parameters (`RecipientIdParameter[]`).
const RECIPIENT_PARAMETERS: [&str; 7] = [
    "ForwardTo",
    "ForwardAsAttachmentTo",
    "RedirectTo",
    "From",
    "SentTo",
    "ExceptIfFrom",
    "ExceptIfSentTo",
];

const AMBIGUOUS_PARAMETER_SET: Exception = Exception {
    id: None,
    type_name: "System.Management.Automation.AmbiguousParameterSetException",
};
const VALIDATION: Exception = Exception {
    id: None,
    type_name: "System.Management.Automation.ParameterBindingValidationException",
};

/// Refuses what Exchange refuses in a New-InboxRule call (§G 7): a parameter of no set
/// (or of the `FromMessage` set, which the sandbox does not model), an empty value, or a
/// recipient that is neither an address nor a mailbox, such as the display form
/// `"x" [SMTP:x@y]` Get-InboxRule shows. Guess: the exception for such a recipient
/// (Exchange resolves it as a recipient name and finds none).
fn check_new_inbox_rule(directory: &Directory, params: &Params) -> Result<(), ExoError> {
    for (name, value) in params.0 {
        if !NEW_INBOX_RULE_PARAMETERS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name))
        {
            return Err(cmdlet_error(
                AMBIGUOUS_PARAMETER_SET,
                format!(
                    "Invalid cmdlet parameters specified. Parameter set cannot be resolved using the specified \
                     named parameters: '{name}'."
                ),
            ));
        }
        let empty = match value {
            Value::Null => true,
            Value::String(s) => s.trim().is_empty(),
            Value::Array(items) => {
                items.is_empty()
                    || items
                        .iter()
                        .any(|i| i.as_str().is_some_and(|s| s.trim().is_empty()))
            }
            _ => false,
        };
        if empty {
            return Err(cmdlet_error(
                VALIDATION,
                format!(
                    "Cannot validate argument on parameter '{name}'. The argument is null or empty. Provide an \
                     argument that is not null or empty, and then try the command again."
                ),
            ));
        }
        if RECIPIENT_PARAMETERS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name))
        {
            let values: Vec<&str> = match value {
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                other => other.as_str().into_iter().collect(),
            };
            for recipient in values {
                let address = recipient.contains('@')
                    && !recipient.contains([' ', '"', '[', ']', '<', '>', ';']);
                if !address && directory.find_mailbox(recipient).is_err() {
                    return Err(cmdlet_error(
                        NOT_FOUND,
                        format!(
                            "The operation couldn't be performed because object '{recipient}' couldn't be found."
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// How Get-InboxRule shows a recipient (§G 7): a mailbox of the organization by its
/// legacy Exchange DN, anyone else by SMTP address, each after a quoted display name.
fn recipient_display(directory: &Directory, address: &str) -> String {
    match directory
        .find_mailbox(address)
        .ok()
        .and_then(|key| directory.account(&key))
    {
        Some(a) => format!(
            "\"{}\" [EX:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={}-{}]",
            a.display_name,
            a.mailbox_guid.simple(),
            a.alias
        ),
        None => format!("\"{address}\" [SMTP:{address}]"),
    }
}

/// Every mailbox's hidden junk-mail rule, which Get-InboxRule lists with `IncludeHidden`
/// (§G 7; CIPP skips it by name).
fn junk_mail_rule(account: &Account, index: usize) -> Value {
    let id = ids::rule_id(&[b"junk", account.upn.to_ascii_lowercase().as_bytes()]);
    json!({
        "Identity": format!("{}\\{id}", account.mailbox_guid),
        "RuleIdentity": id,
        "Name": "Junk E-mail Rule",
        "Enabled": true,
        "Priority": index + 1,
        "Description": "",
        "MailboxOwnerId": account.upn,
        "InError": false,
        "ErrorType": "None",
        "IsValid": true,
        "ObjectState": "Unchanged",
        "SupportedByTask": false,
    })
}

/// A rule as `Get-InboxRule` shows it (§G 7): `RuleIdentity` a JSON number above
/// `i64::MAX`, recipients in display form, unset lists null, as in Exchange. Guess: the
/// values of `ErrorType`, `ObjectState` and `SupportedByTask` (G2O names the fields only).
fn rule_json(directory: &Directory, account: &Account, index: usize) -> Value {
    let rule = &account.inbox_rules[index];
    let s = &rule.spec;
    let list = |v: &Vec<String>| if v.is_empty() { Value::Null } else { json!(v) };
    let recipients = |v: &Vec<String>| {
        if v.is_empty() {
            Value::Null
        } else {
            json!(
                v.iter()
                    .map(|a| recipient_display(directory, a))
                    .collect::<Vec<_>>()
            )
        }
    };
    json!({
        "Identity": account.rule_identity(rule),
        "RuleIdentity": rule.id,
        "Name": s.name,
        "Enabled": s.enabled,
        "Priority": index + 1,
        "Description": describe(s),
        "MailboxOwnerId": account.upn,
        "ForwardTo": recipients(&s.forward_to),
        "ForwardAsAttachmentTo": recipients(&s.forward_as_attachment_to),
        "RedirectTo": recipients(&s.redirect_to),
        "DeleteMessage": s.delete_message,
        "SoftDeleteMessage": s.soft_delete_message,
        "MoveToFolder": s.move_to_folder,
        "MarkAsRead": s.mark_as_read,
        "StopProcessingRules": s.stop_processing_rules,
        "From": recipients(&s.from),
        "SubjectContainsWords": list(&s.subject_contains_words),
        "SubjectOrBodyContainsWords": list(&s.subject_or_body_contains_words),
        "BodyContainsWords": list(&s.body_contains_words),
        "ErrorType": "None",
        "IsValid": true,
        "ObjectState": "Unchanged",
        "SupportedByTask": true,
        "InError": false,
    })
}

/// The rule in words, laid out like Exchange's `Description`.
fn describe(s: &InboxRule) -> String {
    let quoted = |v: &[String]| {
        v.iter()
            .map(|x| format!("'{x}'"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let mut conditions = Vec::new();
    if !s.from.is_empty() {
        conditions.push(format!("the message was received from {}", quoted(&s.from)));
    }
    for (words, place) in [
        (&s.subject_contains_words, "the subject"),
        (&s.subject_or_body_contains_words, "the subject or body"),
        (&s.body_contains_words, "the body"),
    ] {
        if !words.is_empty() {
            conditions.push(format!("includes {} in {place}", quoted(words)));
        }
    }
    let mut actions = Vec::new();
    for (to, verb) in [
        (&s.forward_to, "forward the message to"),
        (
            &s.forward_as_attachment_to,
            "forward the message as an attachment to",
        ),
        (&s.redirect_to, "redirect the message to"),
    ] {
        if !to.is_empty() {
            actions.push(format!("{verb} {}", quoted(to)));
        }
    }
    if let Some(folder) = &s.move_to_folder {
        actions.push(format!("move the message to folder '{folder}'"));
    }
    if s.delete_message || s.soft_delete_message {
        actions.push("delete the message".into());
    }
    if s.mark_as_read {
        actions.push("mark the message as read".into());
    }
    if s.stop_processing_rules {
        actions.push("stop processing more rules on this message".into());
    }
    let mut text = String::new();
    if !conditions.is_empty() {
        text.push_str("If the message:\r\n");
        for (i, c) in conditions.iter().enumerate() {
            let and = if i == 0 { "" } else { "and " };
            text.push_str(&format!("\t{and}{c}\r\n"));
        }
    }
    text.push_str("Take the following actions:\r\n");
    for (i, a) in actions.iter().enumerate() {
        let and = if i == 0 { "" } else { "and " };
        text.push_str(&format!("\t{and}{a}\r\n"));
    }
    text
}
