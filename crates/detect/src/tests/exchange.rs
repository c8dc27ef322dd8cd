//! Exchange-side takeover signs on crafted records in the real shape (RecordType 1
//! cmdlets, and Security & Compliance cmdlets with their command-line `Parameters`):
//! protocols turned on, protection turned off, mailbox-wide roles, auditing narrowed.

use serde_json::{Value, json};

use super::*;

/// A Security & Compliance cmdlet record, `Parameters` as the command line it logs.
fn compliance(operation: &str, parameters: &str) -> Value {
    json!({
        "Id": "22222222-2222-2222-2222-222222222222",
        "RecordType": 18,
        "CreationTime": "2026-11-27T10:00:00",
        "Operation": operation,
        "Workload": "SecurityComplianceCenter",
        "ResultStatus": "True",
        "UserId": "admin@contoso.com",
        "ObjectId": "",
        "Parameters": parameters,
    })
}

fn verdict(v: &Value) -> (&'static str, Severity) {
    let f = one(v);
    (f.rule, f.severity)
}

#[test]
fn legacy_protocols_by_how_many_and_where() {
    let both = one(&record(
        "Set-CASMailbox",
        "admin@contoso.com",
        &[
            ("Identity", "f23cb258-50ca-4092-9027-5c4ca2f1d999"),
            ("PopEnabled", "$True"),
            ("ImapEnabled", "1"),
        ],
    ));
    assert_eq!(
        (both.rule, both.severity, both.target.as_str()),
        (
            LEGACY_PROTOCOL,
            Severity::Medium,
            "f23cb258-50ca-4092-9027-5c4ca2f1d999"
        )
    );
    assert_eq!(
        both.summary,
        "POP and IMAP were turned on for mailbox f23cb258-50ca-4092-9027-5c4ca2f1d999 by \
         admin@contoso.com: they take a password alone, with no MFA."
    );
    // A helpdesk turning IMAP on for one mailbox, in any case: low.
    let imap = record(
        "set-casmailbox",
        "helpdesk@contoso.com",
        &[("imapenabled", "true"), ("identity", "scanner@contoso.com")],
    );
    assert_eq!(verdict(&imap), (LEGACY_PROTOCOL, Severity::Low));
    assert_eq!(one(&imap).target, "scanner@contoso.com");
    let smtp_and_pop = record(
        "Set-CASMailbox",
        "admin@contoso.com",
        &[
            ("SmtpClientAuthenticationDisabled", "$false"),
            ("Identity", "adele@contoso.com"),
            ("PopEnabled", "True"),
        ],
    );
    let Evidence::Protocol(p) = one(&smtp_and_pop).details else {
        panic!("protocol evidence")
    };
    assert_eq!(p.protocols, ["POP", "SMTP AUTH"]);
    let plan = record(
        "Set-CASMailboxPlan",
        "admin@contoso.com",
        &[
            ("Identity", "ExchangeOnlineEnterprise"),
            ("ImapEnabled", "True"),
        ],
    );
    assert_eq!(verdict(&plan), (LEGACY_PROTOCOL, Severity::High));
    let org = one(&record(
        "Set-TransportConfig",
        "admin@contoso.com",
        &[("SmtpClientAuthenticationDisabled", "False")],
    ));
    assert_eq!(
        (org.severity, org.target.as_str()),
        (Severity::High, "the whole organisation")
    );
}

#[test]
fn protocols_turned_off_or_left_to_the_default_raise_nothing() {
    for params in [
        vec![("Identity", "adele"), ("PopEnabled", "False")],
        vec![
            ("Identity", "adele"),
            ("ImapEnabled", "$false"),
            ("PopEnabled", "0"),
        ],
        vec![
            ("Identity", "adele"),
            ("SmtpClientAuthenticationDisabled", "$null"),
        ],
        vec![
            ("Identity", "adele"),
            ("SmtpClientAuthenticationDisabled", "True"),
        ],
        vec![
            ("Identity", "adele"),
            ("OWAEnabled", "True"),
            ("EwsEnabled", "True"),
        ],
    ] {
        assert!(run(&record("Set-CASMailbox", "admin@contoso.com", &params)).is_empty());
    }
    for value in ["True", "", "$null"] {
        let v = record(
            "Set-TransportConfig",
            "admin@contoso.com",
            &[("SmtpClientAuthenticationDisabled", value)],
        );
        assert!(run(&v).is_empty(), "{value}");
    }
}

#[test]
fn compliance_policies_removed_or_disabled_through_security_and_compliance_powershell() {
    let removed = one(&compliance(
        "Remove-DlpCompliancePolicy",
        "-Identity \"Block card numbers\" -Confirm:$false",
    ));
    assert_eq!(
        (removed.rule, removed.severity),
        (PROTECTION_POLICY, Severity::High)
    );
    assert_eq!(
        removed.summary,
        "The DLP policy Block card numbers was removed by admin@contoso.com."
    );
    assert_eq!(removed.target, "the whole organisation");
    assert_eq!(
        verdict(&compliance(
            "Set-DlpCompliancePolicy",
            "-Identity 'Block card numbers' -Mode Disable"
        )),
        (PROTECTION_POLICY, Severity::High)
    );
    assert_eq!(
        verdict(&compliance(
            "set-dlpcompliancepolicy",
            "-Mode:TestWithoutNotifications -Identity PCI"
        )),
        (PROTECTION_POLICY, Severity::Medium)
    );
    assert_eq!(
        verdict(&compliance(
            "Set-RetentionCompliancePolicy",
            "-Identity \"Keep mail 7 years\" -Enabled $false"
        )),
        (PROTECTION_POLICY, Severity::High)
    );
    assert_eq!(
        verdict(&compliance(
            "Remove-RetentionCompliancePolicy",
            "-Identity Legal"
        )),
        (PROTECTION_POLICY, Severity::High)
    );
    // Switches written as `$true`, or quoted as tools print a command line.
    for disabled in ["$true", "\"True\""] {
        let v = compliance(
            "Set-ProtectionAlert",
            &format!("-Identity \"Creation of forwarding/redirect rule\" -Disabled {disabled}"),
        );
        assert_eq!(
            verdict(&v),
            (PROTECTION_POLICY, Severity::Medium),
            "{disabled}"
        );
    }
    for quiet in [
        compliance("Set-DlpCompliancePolicy", "-Identity PCI -Mode Enable"),
        compliance("Set-ProtectionAlert", "-Identity x -Disabled:$false"),
        compliance("New-DlpCompliancePolicy", "-Name PCI -Mode Enable"),
        compliance(
            "Set-RetentionCompliancePolicy",
            "-Identity Legal -Comment \"-Enabled $false\"",
        ),
    ] {
        assert!(run(&quiet).is_empty(), "{}", quiet["Parameters"]);
    }
}

#[test]
fn threat_protection_removed_or_disabled_through_exchange_powershell() {
    for (operation, params) in [
        (
            "Disable-AntiPhishRule",
            vec![("Identity", "Office365 AntiPhish Default")],
        ),
        (
            "remove-safelinkspolicy",
            vec![("Identity", "Contoso links")],
        ),
        (
            "Set-SafeAttachmentPolicy",
            vec![("Identity", "Contoso attachments"), ("Enable", "$False")],
        ),
        (
            "Remove-MalwareFilterRule",
            vec![("Identity", "Contoso malware")],
        ),
        (
            "Set-AntiPhishPolicy",
            vec![
                ("Enabled", "False"),
                ("Identity", "Office365 AntiPhish Default"),
            ],
        ),
    ] {
        let v = record(operation, "admin@contoso.com", &params);
        assert_eq!(
            verdict(&v),
            (PROTECTION_POLICY, Severity::Medium),
            "{operation}"
        );
    }
    for (operation, params) in [
        ("New-AntiPhishPolicy", vec![("Name", "Strict")]),
        ("Enable-AntiPhishRule", vec![("Identity", "Strict")]),
        (
            "Set-AntiPhishPolicy",
            vec![("Identity", "Strict"), ("Enabled", "True")],
        ),
        (
            "Set-SafeLinksPolicy",
            vec![("Identity", "x"), ("TrackClicks", "False")],
        ),
    ] {
        let v = record(operation, "admin@contoso.com", &params);
        assert!(run(&v).is_empty(), "{operation}");
    }
}

#[test]
fn application_impersonation_and_application_mail_roles_cover_every_mailbox() {
    let imp = one(&record(
        "New-ManagementRoleAssignment",
        "admin@contoso.com",
        &[
            ("Role", "ApplicationImpersonation"),
            ("User", "svc-sync@contoso.com"),
            ("Name", "Sync"),
        ],
    ));
    assert_eq!(
        (imp.rule, imp.severity, imp.target.as_str()),
        (
            MAILBOX_DELEGATION,
            Severity::High,
            "every mailbox in the organisation"
        )
    );
    assert_eq!(
        imp.summary,
        "svc-sync@contoso.com was given the management role ApplicationImpersonation over every \
         mailbox in the organisation."
    );
    // Re-cased, to an application by id; a custom role imitating the name in Cyrillic.
    for role in ["applicationimpersonation", "Application\u{406}mpersonation"] {
        let v = record(
            "new-managementroleassignment",
            "admin@contoso.com",
            &[
                ("App", "6f1c2a3b-1111-4222-8333-944455556666"),
                ("Role", role),
            ],
        );
        assert_eq!(verdict(&v), (MAILBOX_DELEGATION, Severity::High), "{role}");
    }
    let scoped = one(&record(
        "New-ManagementRoleAssignment",
        "admin@contoso.com",
        &[
            ("App", "6f1c2a3b-1111-4222-8333-944455556666"),
            ("Role", "Application Mail.Read"),
            ("CustomResourceScope", "Finance"),
        ],
    ));
    assert_eq!(
        (scoped.severity, scoped.target.as_str()),
        (Severity::High, "the mailboxes of scope Finance")
    );
    let by_id = record(
        "New-ManagementRoleAssignment",
        "admin@contoso.com",
        &[
            ("Role", "0b4e4f5a-7c3d-4c0e-9d7e-2f1b9a6c8d10"),
            ("User", "bob@contoso.com"),
        ],
    );
    assert_eq!(verdict(&by_id), (MAILBOX_DELEGATION, Severity::Medium));
    let everyday = record(
        "New-ManagementRoleAssignment",
        "admin@contoso.com",
        &[
            ("Role", "Mail Recipients"),
            ("User", "helpdesk@contoso.com"),
        ],
    );
    assert!(run(&everyday).is_empty());
}

#[test]
fn mailbox_auditing_off_for_everyone_or_narrowed_for_one() {
    let org = one(&record(
        "Set-OrganizationConfig",
        "admin@contoso.com",
        &[("AuditDisabled", "$true")],
    ));
    assert_eq!(
        (org.rule, org.severity, org.target.as_str()),
        (
            AUDIT_TAMPERING,
            Severity::Critical,
            "the whole organisation"
        )
    );
    assert!(
        run(&record(
            "Set-OrganizationConfig",
            "admin@contoso.com",
            &[("AuditDisabled", "False")]
        ))
        .is_empty()
    );
    let narrowed = one(&record(
        "Set-Mailbox",
        "admin@contoso.com",
        &[
            ("Identity", "ceo@contoso.com"),
            ("AuditOwner", "MailboxLogin, HardDelete"),
        ],
    ));
    assert_eq!(
        (narrowed.rule, narrowed.severity),
        (AUDIT_TAMPERING, Severity::High)
    );
    assert_eq!(
        narrowed.summary,
        "Mailbox ceo@contoso.com no longer logs UpdateInboxRules, MailItemsAccessed, SoftDelete, \
         MoveToDeletedItems and UpdateFolderPermissions when its owner signs in."
    );
    let removed = one(&record(
        "set-mailbox",
        "admin@contoso.com",
        &[
            ("Identity", "ceo@contoso.com"),
            ("AuditDelegate", "@{Remove=\"SoftDelete\"}"),
        ],
    ));
    assert_eq!(removed.severity, Severity::Medium);
    assert!(
        removed
            .summary
            .ends_with("no longer logs SoftDelete when its delegate signs in.")
    );
    let emptied = record(
        "Set-Mailbox",
        "admin@contoso.com",
        &[("Identity", "ceo@contoso.com"), ("AuditAdmin", "$null")],
    );
    assert_eq!(verdict(&emptied), (AUDIT_TAMPERING, Severity::High));
    let unknown = record(
        "Set-Mailbox",
        "admin@contoso.com",
        &[
            ("Identity", "ceo@contoso.com"),
            ("AuditOwner", "System.Collections.Hashtable"),
        ],
    );
    assert_eq!(verdict(&unknown), (AUDIT_TAMPERING, Severity::Medium));
    let bypass = record(
        "Set-MailboxAuditBypassAssociation",
        "admin@contoso.com",
        &[
            ("Identity", "svc@contoso.com"),
            ("AuditBypassEnabled", "$True"),
        ],
    );
    assert_eq!(verdict(&bypass), (AUDIT_TAMPERING, Severity::High));
}

#[test]
fn audit_lists_that_keep_or_add_what_is_needed_raise_nothing() {
    for (param, value) in [
        ("AuditAdmin", "@{Add=\"MailboxLogin\"}"),
        (
            "AuditOwner",
            "ApplyRecord,HardDelete,MailItemsAccessed,MailboxLogin,MoveToDeletedItems,Send,\
             SoftDelete,Update,UpdateCalendarDelegation,UpdateFolderPermissions,UpdateInboxRules",
        ),
    ] {
        let v = record(
            "Set-Mailbox",
            "admin@contoso.com",
            &[("Identity", "ceo@contoso.com"), (param, value)],
        );
        assert!(run(&v).is_empty(), "{value}");
    }
}
