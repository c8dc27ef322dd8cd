//! `Consent to application.` (Entra ID, content type `Audit.AzureActiveDirectory`): a
//! user or an admin let an application act on their data. An attacker holding a session
//! consents to a mail client or exporter, and the grant outlives a password reset.
//!
//! Severity: consent for the whole organisation (admin consent, on behalf of all users,
//! or application permissions) is high, critical with mail permissions or for a listed
//! application; one user's consent to a listed application is high, to mail permissions
//! with `offline_access` (lasting access, Sentinel's high case) high, to mail
//! permissions alone medium, to anything else low.

use super::record::{AuditRecord, DISPLAY_NAME, is_guid, truth};
use super::signals::fold;
use super::text::{list, visible};
use super::{APP_CONSENT, Finding, Severity};
use crate::evidence::{ConsentEvidence, Evidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// Consent granted to an application.
pub(crate) const RULE: Rule = Rule {
    id: "app-consent-granted",
    title: "Application consent granted",
    notification: "application consent granted",
    description: "Someone consented to an application (`Consent to application.` in Entra ID's audit \
                  records, content type Audit.AzureActiveDirectory): for their own account, or as an \
                  admin for the whole organisation. Attackers holding a stolen session consent to mail \
                  clients and exporters (eM Client, PerfectData) whose access survives a password reset. \
                  Applications known to be abused this way, and mail permissions, raise the severity.",
    false_positives: "Users signing in to approved business applications; admins approving an application \
                      the organisation adopted. Check the application's publisher and permissions.",
    attack: "T1528",
    severity: "whole organisation: high, critical with mail permissions or for a listed application; one \
               user: a listed application, or mail permissions with offline_access, high; mail permissions \
               medium; anything else low",
    quieted_by: &[TrustKind::Application, TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1528/",
        "https://learn.microsoft.com/defender-office-365/detect-and-remediate-illicit-consent-grants",
        "https://github.com/elastic/detection-rules/blob/main/rules/integrations/o365/initial_access_identity_illicit_consent_grant_via_registered_application.toml",
        "https://github.com/huntresslabs/rogueapps",
    ],
    corpus: Corpus::Missing(
        "none in the corpus; a real admin consent (User.Read only, to the tenant's own app) is public in \
         elastic/beats x-pack/filebeat/module/o365/audit/test/08-azuread.log under the Elastic License, \
         which keeps it out of this repository: run through `rulewatch check` it stays quiet, as a \
         sign-in-only consent to an unlisted app should",
    ),
};

/// An application seen in mail theft, with why and where that is documented.
struct Listed {
    name: &'static str,
    ids: &'static [&'static str],
    why: &'static str,
}

/// Applications abused to read, export or send a taken-over mailbox's mail. Matched by
/// id, which an attacker cannot reuse, or by name, which an imitation would copy.
const LISTED: [Listed; 12] = [
    // Huntress rogueapps; huntress.com/blog/legitimate-apps-as-traitorware-for-persistent-microsoft-365-compromise
    Listed {
        name: "eM Client",
        ids: &["e9a7fea1-1cc0-4cd9-a31b-9137ca5deedd"],
        why: "a mail client that copies the whole mailbox to the attacker's machine",
    },
    // Huntress rogueapps; darktrace.com/blog/how-abuse-of-perfectdata-software-may-create-a-perfect-storm-an-emerging-trend-in-account-takeovers
    Listed {
        name: "PERFECTDATA SOFTWARE",
        ids: &["ff8d92dc-3d82-41d6-bcbd-b9174d163620"],
        why: "exports whole mailboxes",
    },
    // Huntress rogueapps: PerfectData renamed, same publisher.
    Listed {
        name: "Mail_Backup",
        ids: &["2ef68ccc-8a4d-42ff-ae88-2d7bb89ad139"],
        why: "exports whole mailboxes (PerfectData renamed)",
    },
    // Huntress rogueapps; darktrace.com/blog/business-email-compromise-to-mass-phishing-campaign-attack-analysis
    Listed {
        name: "Newsletter Software Supermailer",
        ids: &["a245e8c0-b53c-4b67-9b45-751d1dff8e6b"],
        why: "mass mailing, used to send phishing from the taken-over mailbox",
    },
    // Huntress rogueapps (first id); randomaccess3/detections MaliciousOauthAppDetections.json (second).
    Listed {
        name: "rclone",
        ids: &[
            "b15665d9-eda6-4092-8539-0eec376afd59",
            "4761b959-9780-4c2d-87a3-512b4638f767",
        ],
        why: "downloads every OneDrive and SharePoint file the account can read",
    },
    // Huntress rogueapps.
    Listed {
        name: "CloudSponge",
        ids: &["a43e5392-f48b-46a4-a0f1-098b5eeb4757"],
        why: "exports the mailbox's contacts for onward phishing",
    },
    // Huntress rogueapps; huntress.com/blog/traitorware-court-the-case-for-sigparser
    Listed {
        name: "SigParser",
        ids: &["caffae8c-0882-4c81-9a27-d1803af53a40"],
        why: "harvests contacts from mail and calendars",
    },
    // randomaccess3/detections MaliciousOauthAppDetections.json (the next five).
    Listed {
        name: "ZoomInfo Login",
        ids: &["858d7e42-35f0-44b7-9033-df309239a47f"],
        why: "address-book exfiltration",
    },
    Listed {
        name: "Communitiez Login",
        ids: &["497ac034-5120-4c1a-929a-0351f5c09918"],
        why: "address-book exfiltration",
    },
    Listed {
        name: "Fastmail",
        ids: &["77468577-4f6e-40e7-b745-11d3d0c28095"],
        why: "a third-party client that reads the whole mailbox",
    },
    Listed {
        name: "Spike",
        ids: &["946c777c-bc85-489e-b034-392389ae23d6"],
        why: "a third-party client that reads the whole mailbox",
    },
    Listed {
        name: "PostBox",
        ids: &["179d5108-412b-4c95-8e34-06786784ab39"],
        why: "a third-party client that reads the whole mailbox",
    },
];

/// Permissions that read, change or send mail, lower-cased, compared whole (so
/// `Mail.ReadBasic`, headers only, is not `Mail.Read`): Graph's delegated and application
/// mail permissions, Exchange's EWS, IMAP, POP, ActiveSync and SMTP ones, and
/// `full_access_as_app` (Sentinel's and Splunk's consent rules, and the brief's list).
const MAIL_PERMISSIONS: [&str; 14] = [
    "mail.read",
    "mail.readwrite",
    "mail.read.shared",
    "mail.readwrite.shared",
    "mail.send",
    "mail.send.shared",
    "mailboxsettings.readwrite",
    "ews.accessasuser.all",
    "imap.accessasuser.all",
    "pop.accessasuser.all",
    "eas.accessasuser.all",
    "smtp.send",
    "full_access_as_app",
    "full_access_as_user",
];

/// Access that lasts: a refresh token the application keeps using.
const OFFLINE: &str = "offline_access";

/// Scopes that only sign a user in and read profiles, lower-cased: what a line-of-business
/// app's consent asks for (the OpenID Connect scopes, learn.microsoft.com/entra/
/// identity-platform/scopes-oidc; `User.Read` and `User.ReadBasic.All`, which Microsoft
/// Graph's permissions reference lets users consent to without an admin). A consent to
/// these alone, to an app no list names, raises nothing: admins grant them to every new
/// business app.
const SIGN_IN_ONLY: [&str; 6] = [
    "openid",
    "profile",
    "email",
    OFFLINE,
    "user.read",
    "user.readbasic.all",
];

pub(super) fn detect(record: &AuditRecord, findings: &mut Vec<Finding>) {
    if !record.is_activity("Consent to application.") {
        return;
    }
    let flag = |name| record.new_value(name).and_then(truth) == Some(true);
    // ConsentAction.Permissions reads `<before> => <after>`; the grants made are after it.
    let granted = record
        .modified("ConsentAction.Permissions")
        .map(|p| p.new_value.rsplit("=>").next().unwrap_or("").to_string())
        .unwrap_or_default();
    let tenant_wide = flag("ConsentContext.IsAdminConsent")
        || flag("ConsentContext.OnBehalfOfAll")
        || granted.to_ascii_lowercase().contains("allprincipals");
    let app_only = flag("ConsentContext.IsAppOnly");
    let permissions = scopes(&granted);
    let mut mail: Vec<String> = Vec::new();
    let mut offline = false;
    for word in words(&granted) {
        let lower = word.to_ascii_lowercase();
        offline |= lower == OFFLINE;
        if MAIL_PERMISSIONS.contains(&lower.as_str())
            && !mail.iter().any(|m| m.eq_ignore_ascii_case(word))
        {
            mail.push(word.to_string());
        }
    }
    let app_name = record
        .target_of(DISPLAY_NAME)
        .unwrap_or("an unnamed application")
        .to_string();
    let ids = app_ids(record);
    let listed = listed(&app_name, &ids);
    let sign_in_only = !permissions.is_empty()
        && permissions
            .iter()
            .all(|p| SIGN_IN_ONLY.contains(&p.to_ascii_lowercase().as_str()));
    if sign_in_only && listed.is_none() && !app_only {
        return;
    }
    let severity = if tenant_wide || app_only {
        if mail.is_empty() && listed.is_none() {
            Severity::High
        } else {
            Severity::Critical
        }
    } else if listed.is_some() || (!mail.is_empty() && offline) {
        Severity::High
    } else if !mail.is_empty() {
        Severity::Medium
    } else {
        Severity::Low
    };
    let (target, whom) = if tenant_wide || app_only {
        (
            "the whole organisation".to_string(),
            "the whole organisation",
        )
    } else {
        (record.user_id.clone(), "their own account")
    };
    let mut summary = format!(
        "{} consented to application {} for {whom}",
        visible(&record.user_id),
        visible(&app_name)
    );
    if !mail.is_empty() {
        let shown: Vec<String> = mail.iter().map(|m| visible(m)).collect();
        summary.push_str(&format!(", with mail permissions {}", list(&shown)));
    }
    summary.push('.');
    if let Some(l) = listed {
        summary.push_str(&format!(
            " {} is known from account takeovers: {}.",
            l.name, l.why
        ));
    }
    findings.push(Finding {
        rule: APP_CONSENT,
        severity,
        target,
        actor: record.user_id.clone(),
        summary,
        details: Evidence::Consent(ConsentEvidence {
            app_name,
            app_id: ids.into_iter().next(),
            tenant_wide,
            app_only,
            mail_permissions: mail,
            permissions,
            listed: listed.map(|l| l.why.to_string()),
        }),
    });
}

/// The scopes of every grant in the text, as written: `..., Scope: openid Mail.Read, ...]`.
fn scopes(granted: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in granted.split("Scope:").skip(1) {
        let value = part.split([',', ']']).next().unwrap_or("");
        for scope in value.split_whitespace() {
            if !out.iter().any(|s| s == scope) {
                out.push(scope.to_string());
            }
        }
    }
    out
}

/// The text's words as permission names are written (`Mail.Read`, `full_access_as_app`).
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.is_empty())
}

/// The application's ids the record names: `TargetId.ServicePrincipalNames` holds its
/// application id; `Target` its service principal's.
fn app_ids(record: &AuditRecord) -> Vec<String> {
    let names = record
        .modified("TargetId.ServicePrincipalNames")
        .map(|p| p.new_value.as_str())
        .unwrap_or("");
    let mut ids: Vec<String> = Vec::new();
    for id in names
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .chain(record.target.iter().map(|t| t.id.trim()))
        .filter(|id| is_guid(id))
        .map(str::to_ascii_lowercase)
    {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The listed application this one is, by id or by its name with look-alike letters
/// folded away.
fn listed(name: &str, ids: &[String]) -> Option<&'static Listed> {
    let name = fold(name);
    LISTED
        .iter()
        .find(|l| l.ids.iter().any(|id| ids.iter().any(|i| i == id)) || fold(l.name) == name)
}
