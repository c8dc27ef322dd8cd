//! Exchange Online's admin REST `InvokeCommand` (B7): the cmdlets remediation runs on inbox
//! rules, mailbox forwarding and accepted domains, against the state audit records built.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::app::{App, TenantEntry};
use crate::directory::{Account, Directory, set_rule_params, smtp};
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

/// EXO's OData error body. Cmdlet failures carry the exception in `details` and
/// `innererror.internalException`; service-level refusals carry neither.
pub(crate) struct ExoError {
    status: StatusCode,
    code: &'static str,
    message: String,
    exception: Option<Exception>,
}

pub(crate) fn exo_error(status: StatusCode, code: &'static str, message: &str) -> ExoError {
    ExoError {
        status,
        code,
        message: message.to_string(),
        exception: None,
    }
}

fn cmdlet_error(status: StatusCode, exception: Exception, message: String) -> ExoError {
    ExoError {
        status,
        code: if status == StatusCode::NOT_FOUND {
            "NotFound"
        } else {
            "BadRequest"
        },
        message,
        exception: Some(exception),
    }
}

impl IntoResponse for ExoError {
    fn into_response(self) -> Response {
        let ExoError {
            status,
            code,
            message,
            exception,
        } = self;
        let mut error = json!({
            "code": code,
            "message": message,
            "innererror": {
                "message": message,
                "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            },
        });
        if let Some(exception) = exception {
            let detail = match exception.id {
                Some(id) => format!("{id}|{}|{message}", exception.type_name),
                None => format!("{}|{message}", exception.type_name),
            };
            error["details"] = json!([{"code": "Context", "target": "", "message": detail}]);
            error["innererror"]["internalException"] =
                json!({"message": message, "type": exception.type_name});
        }
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response
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
                StatusCode::BAD_REQUEST,
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
            // The refusal the EXO V3 module relays when the app holds no suitable Entra role.
            if !EXCHANGE_DIRECTORY_ROLES
                .iter()
                .any(|role| entry.has_directory_role(role))
            {
                return Err(unauthorized(&format!(
                    "The role assigned to application {} isn't supported in this scenario. Please check online \
                     documentation for assigning correct Directory Roles to Azure AD Application for EXO \
                     App-Only Authentication.",
                    entry.config.client_id
                )));
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
    // `UPN:x@y` and `SMTP:x@y` name a user; `APP:SystemMailbox{…}@tenant` the organization.
    let anchor = anchor
        .split_once(':')
        .filter(|(scheme, _)| !scheme.eq_ignore_ascii_case("app"))
        .map_or(anchor, |(_, rest)| rest);
    let anchor = directory.mailbox_key(anchor);
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
            StatusCode::BAD_REQUEST,
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
            StatusCode::NOT_FOUND,
            NOT_FOUND,
            format!(
                "The operation couldn't be performed because object '{identity}' couldn't be found on '{server}'."
            ),
        )
    }

    /// The mailbox a parameter names, else the anchor mailbox (app-only has none of its own).
    fn mailbox(&self, named: Option<&str>) -> Result<String, ExoError> {
        match named {
            Some(identity) => self
                .directory
                .mailbox_key(identity)
                .ok_or_else(|| self.not_found(identity)),
            None => self.anchor.clone().ok_or_else(|| {
                cmdlet_error(
                    StatusCode::BAD_REQUEST,
                    PARAMETER_BINDING,
                    "No mailbox was named: pass -Mailbox or a user in X-AnchorMailbox.".into(),
                )
            }),
        }
    }

    fn account(&mut self, key: &str) -> &mut Account {
        self.directory.account_mut(key).expect("resolved mailbox")
    }

    fn get_inbox_rule(&mut self, params: &Params) -> Result<Vec<Value>, ExoError> {
        let key = self.mailbox(params.text("Mailbox"))?;
        let include_hidden = params.switch("IncludeHidden");
        let account = self.account(&key);
        Ok((0..account.inbox_rules.len())
            .filter(|&i| include_hidden || !account.inbox_rules[i].spec.hidden)
            .map(|i| rule_json(account, i))
            .collect())
    }

    fn new_inbox_rule(&mut self, params: &Params) -> Result<Vec<Value>, ExoError> {
        let name = params.required("Name", "New-InboxRule")?;
        let key = self.mailbox(params.text("Mailbox"))?;
        let mut spec = InboxRule::named(name);
        set_rule_params(&mut spec, &params.as_record_params());
        let account = self.account(&key);
        let index = account.add_rule(spec);
        Ok(vec![rule_json(account, index)])
    }

    /// `Identity` is `upn\id`, an id, or a name; the last two are looked up in `Mailbox`
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
                Ok(vec![mailbox_json(self.account(&key))])
            }
            None => Ok(self.directory.accounts().map(mailbox_json).collect()),
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

fn mailbox_json(account: &Account) -> Value {
    json!({
        "UserPrincipalName": account.upn,
        "PrimarySmtpAddress": account.upn,
        "Identity": ids::alias(&account.upn),
        "ForwardingSmtpAddress": account.forwarding_smtp_address,
        "ForwardingAddress": account.forwarding_address,
        "DeliverToMailboxAndForward": account.deliver_to_mailbox_and_forward,
    })
}

/// A rule as `Get-InboxRule` shows it; unset lists are null, as in Exchange.
fn rule_json(account: &Account, index: usize) -> Value {
    let rule = &account.inbox_rules[index];
    let s = &rule.spec;
    let list = |v: &Vec<String>| if v.is_empty() { Value::Null } else { json!(v) };
    json!({
        "Identity": account.rule_identity(rule),
        "RuleIdentity": rule.id.to_string(),
        "Name": s.name,
        "Enabled": s.enabled,
        "Priority": index + 1,
        "Description": describe(s),
        "MailboxOwnerId": account.upn,
        "ForwardTo": list(&s.forward_to),
        "ForwardAsAttachmentTo": list(&s.forward_as_attachment_to),
        "RedirectTo": list(&s.redirect_to),
        "DeleteMessage": s.delete_message,
        "SoftDeleteMessage": s.soft_delete_message,
        "MoveToFolder": s.move_to_folder,
        "MarkAsRead": s.mark_as_read,
        "StopProcessingRules": s.stop_processing_rules,
        "From": list(&s.from),
        "SubjectContainsWords": list(&s.subject_contains_words),
        "SubjectOrBodyContainsWords": list(&s.subject_or_body_contains_words),
        "BodyContainsWords": list(&s.body_contains_words),
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
