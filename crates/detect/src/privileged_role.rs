//! A directory (Entra ID) role given to a user, a group or an application, directly or
//! through PIM (content type `Audit.AzureActiveDirectory`). An attacker who took over an
//! admin gives a second account Global Administrator to keep control.
//!
//! Roles are known by template id, which Microsoft fixes for each built-in role, then by
//! `WellKnownObjectName`, and by exact name only when the record gives neither: a custom
//! role named `Global Аdministrator` (Cyrillic А) is not Global Administrator, but it is
//! reported as an imitation, and an imitated name on Global Administrator's own template
//! is still Global Administrator.
//!
//! Severity: Global Administrator critical; the privileged roles below, and any role named
//! to imitate one, high; other roles with "admin" in their name medium; anything else low.
//! PIM activations of an existing eligible assignment are not new grants and raise nothing.

use super::record::{AuditRecord, DISPLAY_NAME, OTHER_ID, is_guid};
use super::signals::fold;
use super::text::visible;
use super::{Finding, PRIVILEGED_ROLE, Severity};
use crate::evidence::{Evidence, RoleGrantEvidence};
use crate::rule::{Corpus, Rule, TrustKind};

/// A directory role given to someone.
pub(crate) const RULE: Rule = Rule {
    id: "privileged-role-assigned",
    title: "Admin role granted",
    notification: "admin role granted",
    description: "A user, group or application was given a directory role in Entra ID (`Add member to \
                  role.`, `Add eligible member to role.`, or PIM's completed assignments; content type \
                  Audit.AzureActiveDirectory). A group given a role passes it to every member; group \
                  membership changes themselves do not say whether the group holds a role.",
    false_positives: "Planned admin changes and onboarding of new staff or partners; PIM activations are \
                      left out.",
    attack: "T1098.003",
    severity: "Global Administrator: critical; Privileged Role, Privileged Authentication, Exchange, \
               SharePoint, User, Authentication, Helpdesk, Security, Application, Cloud Application and \
               Conditional Access Administrator, or a role named to imitate one: high; other admin roles: \
               medium; other roles: low",
    quieted_by: &[TrustKind::Rule],
    references: &[
        "https://attack.mitre.org/techniques/T1098/003/",
        "https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference",
        "https://learn.microsoft.com/purview/audit-log-activities#role-administration-activities",
        "https://learn.microsoft.com/entra/identity/monitoring-health/reference-audit-activities#privileged-identity-management-pim",
        "https://github.com/splunk/security_content/blob/develop/detections/cloud/o365_high_privilege_role_granted.yml",
    ],
    corpus: Corpus::Missing(
        "none in the corpus; real Add member to role. records (Global Reader, Helpdesk Administrator) are \
         public in elastic/beats x-pack/filebeat/module/o365/audit/test/08-azuread-users.log under the \
         Elastic License, which keeps them out of this repository: run through `rulewatch check` they \
         alert low and high",
    ),
};

/// A built-in directory role: its name, template id, and `WellKnownObjectName` where
/// Sentinel's rules name one.
pub(crate) struct Role {
    pub(crate) name: &'static str,
    template: &'static str,
    well_known: &'static str,
}

const GLOBAL_ADMINISTRATOR: Role = Role {
    name: "Global Administrator",
    template: "62e90394-69f5-4237-9190-012177145e10",
    well_known: "TenantAdmins",
};

/// What Global Administrator was called before Entra ID, and still is in some records.
const GLOBAL_ADMINISTRATOR_OLD_NAME: &str = "Company Administrator";

/// Roles that can take over the tenant or its mail: template ids from Microsoft's
/// permissions reference, the set from Splunk's privileged-role lookup
/// (identity-and-account-takeover.md §3).
const PRIVILEGED: [Role; 11] = [
    Role {
        name: "Privileged Role Administrator",
        template: "e8611ab8-c189-46e8-94e1-60213ab1f814",
        well_known: "PrivilegedRoleAdmins",
    },
    Role {
        name: "Privileged Authentication Administrator",
        template: "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        well_known: "PrivilegedAuthenticationAdmins",
    },
    Role {
        name: "Exchange Administrator",
        template: "29232cdf-9323-42fd-ade2-1d097af3e4de",
        well_known: "",
    },
    Role {
        name: "SharePoint Administrator",
        template: "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        well_known: "",
    },
    Role {
        name: "User Administrator",
        template: "fe930be7-5e62-47db-91af-98c3a49a38b1",
        well_known: "UserAccountAdmins",
    },
    Role {
        name: "Authentication Administrator",
        template: "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        well_known: "",
    },
    Role {
        name: "Helpdesk Administrator",
        template: "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        well_known: "",
    },
    Role {
        name: "Security Administrator",
        template: "194ae4cb-b126-40b2-bd5b-6091b380977d",
        well_known: "",
    },
    Role {
        name: "Application Administrator",
        template: "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        well_known: "",
    },
    Role {
        name: "Cloud Application Administrator",
        template: "158c047a-c907-4556-b7ef-446551a6b5f7",
        well_known: "",
    },
    Role {
        name: "Conditional Access Administrator",
        template: "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        well_known: "",
    },
];

/// A role as a record names it, known or not.
pub(crate) enum Identified {
    /// Global Administrator.
    Global,
    /// One of the other privileged roles.
    Privileged(&'static Role),
    /// A role whose name, with look-alike letters folded, is a privileged role's, but
    /// which is not that role.
    Imitation(&'static Role),
    /// Any other role.
    Other,
}

impl Identified {
    pub(crate) fn severity(&self, name: &str) -> Severity {
        match self {
            Identified::Global => Severity::Critical,
            Identified::Privileged(_) | Identified::Imitation(_) => Severity::High,
            Identified::Other if fold(name).contains("admin") => Severity::Medium,
            Identified::Other => Severity::Low,
        }
    }
}

/// Which role `name`, `template` and `well_known` (as a record gives them; empty when it
/// does not) are.
pub(crate) fn identify(name: &str, template: &str, well_known: &str) -> Identified {
    let roles = || std::iter::once(&GLOBAL_ADMINISTRATOR).chain(PRIVILEGED.iter());
    let known = |r: &'static Role| {
        if std::ptr::eq(r, &GLOBAL_ADMINISTRATOR) {
            Identified::Global
        } else {
            Identified::Privileged(r)
        }
    };
    let same = |a: &str, b: &str| !a.is_empty() && a.eq_ignore_ascii_case(b);
    if let Some(r) = roles().find(|r| {
        same(template, r.template) || (!r.well_known.is_empty() && same(well_known, r.well_known))
    }) {
        return known(r);
    }
    let names = |r: &Role| {
        let mut n = vec![r.name];
        if std::ptr::eq(r, &GLOBAL_ADMINISTRATOR) {
            n.push(GLOBAL_ADMINISTRATOR_OLD_NAME);
        }
        n
    };
    if template.is_empty()
        && well_known.is_empty()
        && let Some(r) = roles().find(|r| names(r).iter().any(|n| same(name.trim(), n)))
    {
        return known(r);
    }
    let folded = fold(name);
    match roles().find(|r| names(r).iter().any(|n| fold(n) == folded)) {
        Some(r) => Identified::Imitation(r),
        None => Identified::Other,
    }
}

/// Completed grants. Requests, approvals, cancellations and PIM activations (an eligible
/// assignment used) are not. GUESS: whether PIM's activities reach the unified audit log,
/// and under these names, is unverified (identity-and-account-takeover.md §4); they are
/// Entra ID's names.
const GRANTS: [&str; 7] = [
    "Add member to role.",
    "Add eligible member to role.",
    "Add member to role in PIM completed (permanent)",
    "Add member to role in PIM completed (timebound)",
    "Add eligible member to role in PIM completed (permanent)",
    "Add eligible member to role in PIM completed (timebound)",
    "Add member to role outside of PIM (permanent)",
];

pub(super) fn detect(record: &AuditRecord, findings: &mut Vec<Finding>) {
    if !GRANTS.iter().any(|g| record.is_activity(g)) {
        return;
    }
    let value = |name| record.new_value(name).unwrap_or("");
    // GUESS: PIM's records may name the role only in `Target`, as Entra ID's do in
    // `targetResources`; `Target` stands in only when the role properties are absent.
    let mut name = value("Role.DisplayName").to_string();
    if name.is_empty() {
        name = record
            .target
            .iter()
            .filter(|t| t.kind == Some(DISPLAY_NAME))
            .map(|t| t.id.trim())
            .find(|n| !matches!(identify(n, "", ""), Identified::Other))
            .unwrap_or("")
            .to_string();
    }
    let mut template = value("Role.TemplateId").to_string();
    if template.is_empty() {
        template = record
            .target
            .iter()
            .map(|t| t.id.trim())
            .filter(|id| is_guid(id))
            .find(|id| {
                matches!(
                    identify("", id, ""),
                    Identified::Global | Identified::Privileged(_)
                )
            })
            .unwrap_or("")
            .to_string();
    }
    let role = identify(&name, &template, value("Role.WellKnownObjectName"));
    let shown_role = match (&role, name.is_empty()) {
        (Identified::Global, true) => GLOBAL_ADMINISTRATOR.name.to_string(),
        (Identified::Privileged(r), true) => r.name.to_string(),
        (_, true) => "(unnamed)".to_string(),
        (_, false) => name.clone(),
    };
    let class = |c: &str| {
        record
            .target
            .iter()
            .any(|t| t.kind == Some(OTHER_ID) && t.id.trim().eq_ignore_ascii_case(c))
    };
    let member = if class("Group") {
        "group"
    } else if class("ServicePrincipal") {
        "application"
    } else {
        "user"
    };
    let target = record.directory_target();
    let eligible = record.operation.to_ascii_lowercase().contains("eligible");
    let mut summary = match member {
        "group" => format!("Group {}", visible(&target)),
        "application" => format!("Application {}", visible(&target)),
        _ => visible(&target),
    };
    summary.push_str(&format!(
        " was given the {} role{} by {}",
        visible(&shown_role),
        if eligible {
            " (eligible, through PIM)"
        } else {
            ""
        },
        visible(&record.user_id)
    ));
    if member == "group" {
        summary.push_str(": every member of the group now holds it");
    }
    summary.push('.');
    let lookalike_of = match &role {
        Identified::Imitation(r) => {
            summary.push_str(&format!(
                " The role's name imitates {} with look-alike characters.",
                r.name
            ));
            Some(r.name.to_string())
        }
        _ => None,
    };
    findings.push(Finding {
        rule: PRIVILEGED_ROLE,
        severity: role.severity(&name),
        target,
        actor: record.user_id.clone(),
        summary,
        details: Evidence::RoleGrant(RoleGrantEvidence {
            operation: record.operation.clone(),
            role: name,
            template_id: (!template.is_empty()).then_some(template),
            member: member.to_string(),
            lookalike_of,
        }),
    });
}
