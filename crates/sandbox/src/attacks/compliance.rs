//! Security & Compliance cmdlet records (`Audit.General`, RecordType 18
//! `SecurityComplianceCenterEOPCmdlet`): DLP, alert and retention policy changes.
//!
//! The fields are the schema's "Security and Compliance Center schema"
//! (MicrosoftDocs/office-365-management-api office-365-management-activity-api-schema.md),
//! which types `Parameters` as one string, and the common schema's cmdlet conventions
//! (`ResultStatus` `True`, the cmdlet as `Operation`). GUESS: no verbatim record was
//! found, so the string is written as PowerShell tools print a command line,
//! `-Identity "Name" -Disabled "True"`, and `ObjectId` is the policy's name.

use serde_json::{Value, json};

use super::RecordCtx;
use crate::ids;
use crate::times::record_time;

/// A Security & Compliance cmdlet `cmdlet` run by the actor on `object_id` with
/// `parameters` (names without the dash).
pub(crate) fn compliance_record(
    ctx: &RecordCtx,
    cmdlet: &str,
    object_id: &str,
    parameters: &[(&str, &str)],
) -> Value {
    let id = ctx.record_id.as_bytes().as_slice();
    let command_line = parameters
        .iter()
        .map(|(name, value)| format!("-{name} \"{value}\""))
        .collect::<Vec<_>>()
        .join(" ");
    json!({
        "CreationTime": record_time(ctx.creation_time),
        "Id": ctx.record_id.to_string(),
        "Operation": cmdlet,
        "OrganizationId": ctx.tenant_id,
        "RecordType": 18,
        "ResultStatus": "True",
        "UserKey": ids::puid(&ctx.tenant_id, &ctx.actor_upn),
        "UserType": 2,
        "Version": 1,
        "Workload": "SecurityComplianceCenter",
        "ClientIP": ctx.client_ip,
        "ObjectId": object_id,
        "UserId": ctx.actor_upn,
        "ClientApplication": "",
        "ClientRequestId": ids::guid(&[b"client request", id]).to_string(),
        "CmdletVersion": "",
        "Parameters": command_line,
        "SessionId": ids::guid(&[b"session", ctx.actor_upn.as_bytes(), ctx.tenant_id.as_bytes()]).to_string(),
        "StartTime": record_time(ctx.creation_time),
    })
}

/// `Remove-DlpCompliancePolicy -Identity <name>` (`Audit.General`, RecordType 18): a DLP
/// policy deleted, one of the Remove/Disable operations naming Dlp that Sentinel's
/// "Office policy tampering" flags (identity-and-account-takeover.md §5).
pub fn remove_dlp_policy(ctx: &RecordCtx, name: &str) -> Value {
    compliance_record(
        ctx,
        "Remove-DlpCompliancePolicy",
        name,
        &[("Identity", name)],
    )
}

/// `Set-ProtectionAlert -Identity <name> -Disabled True` (`Audit.General`, RecordType 18):
/// an alert policy switched off; `Disabled` is the cmdlet's own switch for that
/// (Microsoft365DSC's SCProtectionAlert, "Enables or disables the alert policy").
pub fn disable_protection_alert(ctx: &RecordCtx, name: &str) -> Value {
    compliance_record(
        ctx,
        "Set-ProtectionAlert",
        name,
        &[("Identity", name), ("Disabled", "True")],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attacks::tests::ctx;

    #[test]
    fn tampering_cmdlets_are_security_and_compliance_records() {
        let c = ctx("admin@contoso.com", "admin@contoso.com");
        for (r, operation, parameters) in [
            (
                remove_dlp_policy(&c, "U.S. Financial Data"),
                "Remove-DlpCompliancePolicy",
                r#"-Identity "U.S. Financial Data""#,
            ),
            (
                disable_protection_alert(&c, "Suspicious email forwarding activity"),
                "Set-ProtectionAlert",
                r#"-Identity "Suspicious email forwarding activity" -Disabled "True""#,
            ),
        ] {
            assert_eq!(r["RecordType"], 18);
            assert_eq!(r["Workload"], "SecurityComplianceCenter");
            assert_eq!(r["ResultStatus"], "True");
            assert_eq!(r["UserType"], 2);
            assert_eq!(r["Operation"], operation);
            assert_eq!(r["Parameters"], parameters, "one string, not a list");
            assert_eq!(r["UserId"], "admin@contoso.com");
            assert_eq!(r["CreationTime"], "2026-11-27T10:00:05");
        }
    }
}
