//! DLP, retention, alert and threat-protection policies removed or turned off: what
//! would have stopped, kept or flagged an attacker's mail, switched off first.
//!
//! Where the records land: anti-phishing, Safe Links, Safe Attachments and anti-malware
//! policies are Exchange Online cmdlets (RecordType 1, content type `Audit.Exchange`, as
//! Sentinel's and Elastic's rules read them). DLP and retention compliance policies and
//! alert policies are Security & Compliance cmdlets (RecordType 18,
//! SecurityComplianceCenterEOPCmdlet). GUESS: the Management Activity API files those
//! under `Audit.General`, "everything else", since no other content type names them
//! (m365-api.md A7); Rulewatch must subscribe to it to see them.
//!
//! Severity: a DLP or retention policy removed or turned off high (mail can leave, or be
//! purged, unnoticed); a DLP policy put in test mode, and alert, anti-phishing, Safe
//! Links, Safe Attachments or anti-malware policies and rules removed or turned off,
//! medium.

use super::record::{AuditRecord, truth};
use super::text::visible;
use super::{Finding, PROTECTION_POLICY, Severity};
use crate::evidence::{Evidence, PolicyEvidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// A protection policy removed or turned off.
pub(crate) const RULE: Rule = Rule {
    id: "protection-policy-disabled",
    title: "Mail protection turned off",
    notification: "mail protection turned off",
    description: "A DLP, retention or alert policy, or an anti-phishing, Safe Links, Safe Attachments or \
                  anti-malware policy or rule, was removed or turned off. Anti-phishing, Safe Links, Safe \
                  Attachments and anti-malware changes come from Exchange (content type Audit.Exchange); \
                  DLP, retention and alert policies from Security & Compliance PowerShell (RecordType 18, \
                  content type Audit.General).",
    false_positives: "Policy clean-up or replacement by the tenant's admins; a DLP policy tested before \
                      it is enforced.",
    attack: "T1562.001",
    severity: "a DLP or retention policy removed or turned off: high; a DLP policy in test mode, or alert, \
               anti-phishing, Safe Links, Safe Attachments or anti-malware policies removed or turned off: \
               medium",
    quieted_by: &[TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1562/001/",
        "https://github.com/Azure/Azure-Sentinel/blob/master/Solutions/Microsoft%20365/Analytic%20Rules/office_policytampering.yaml",
        "https://github.com/elastic/detection-rules/blob/main/rules/integrations/o365/defense_evasion_exchange_dlp_policy_removed.toml",
        "https://learn.microsoft.com/office/office-365-management-api/office-365-management-activity-api-schema#auditlogrecordtype",
        "https://learn.microsoft.com/powershell/module/exchange/set-dlpcompliancepolicy",
    ],
    corpus: Corpus::Missing("no verbatim policy removal record is public in the corpus's sources"),
};

/// A kind of policy: the cmdlets' noun, what to call it, how grave losing it is, and
/// which `Set-` parameter value turns it off.
struct Kind {
    noun: &'static str,
    name: &'static str,
    severity: Severity,
    off: Option<(&'static str, bool)>,
}

const KINDS: [Kind; 11] = [
    Kind {
        noun: "DlpCompliancePolicy",
        name: "DLP policy",
        severity: Severity::High,
        off: Some(("Enabled", false)),
    },
    Kind {
        noun: "RetentionCompliancePolicy",
        name: "retention policy",
        severity: Severity::High,
        off: Some(("Enabled", false)),
    },
    Kind {
        noun: "ProtectionAlert",
        name: "alert policy",
        severity: Severity::Medium,
        off: Some(("Disabled", true)),
    },
    Kind {
        noun: "AntiPhishPolicy",
        name: "anti-phishing policy",
        severity: Severity::Medium,
        off: Some(("Enabled", false)),
    },
    Kind {
        noun: "AntiPhishRule",
        name: "anti-phishing rule",
        severity: Severity::Medium,
        off: None,
    },
    Kind {
        noun: "SafeLinksPolicy",
        name: "Safe Links policy",
        severity: Severity::Medium,
        off: Some(("EnableSafeLinksForEmail", false)),
    },
    Kind {
        noun: "SafeLinksRule",
        name: "Safe Links rule",
        severity: Severity::Medium,
        off: None,
    },
    Kind {
        noun: "SafeAttachmentPolicy",
        name: "Safe Attachments policy",
        severity: Severity::Medium,
        off: Some(("Enable", false)),
    },
    Kind {
        noun: "SafeAttachmentRule",
        name: "Safe Attachments rule",
        severity: Severity::Medium,
        off: None,
    },
    Kind {
        noun: "MalwareFilterPolicy",
        name: "anti-malware policy",
        severity: Severity::Medium,
        off: None,
    },
    Kind {
        noun: "MalwareFilterRule",
        name: "anti-malware rule",
        severity: Severity::Medium,
        off: None,
    },
];

pub(super) fn detect(record: &AuditRecord, findings: &mut Vec<Finding>) {
    let Some((verb, noun)) = record.operation.trim().split_once('-') else {
        return;
    };
    let Some(kind) = KINDS.iter().find(|k| k.noun.eq_ignore_ascii_case(noun)) else {
        return;
    };
    let dlp = kind.noun == "DlpCompliancePolicy";
    let (severity, change) = match verb.to_ascii_lowercase().as_str() {
        "remove" => (kind.severity, "removed"),
        "disable" => (kind.severity, "turned off"),
        "set" => {
            let turned_off = kind
                .off
                .is_some_and(|(param, off)| record.param(param).and_then(truth) == Some(off));
            let mode = record
                .param("Mode")
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if turned_off || (dlp && mode == "disable") {
                (kind.severity, "turned off")
            } else if dlp && mode.starts_with("testwith") {
                (Severity::Medium, "put in test mode (not enforced)")
            } else {
                return;
            }
        }
        _ => return,
    };
    let policy = ["Identity", "Name"]
        .iter()
        .filter_map(|p| record.param(p))
        .find(|v| !v.trim().is_empty())
        .unwrap_or(&record.object_id)
        .trim()
        .to_string();
    findings.push(Finding {
        rule: PROTECTION_POLICY,
        severity,
        target: "the whole organisation".to_string(),
        actor: record.user_id.clone(),
        summary: format!(
            "The {} {} was {change} by {}.",
            kind.name,
            visible(&policy),
            visible(&record.user_id)
        ),
        details: Evidence::Policy(PolicyEvidence {
            operation: record.operation.clone(),
            policy,
            change: change.to_string(),
            parameters: record.conditions(),
        }),
    });
}
