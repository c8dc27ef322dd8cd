//! The built-in demo: two tenants with everyday mailbox traffic and five planted attacks,
//! released a minute before start so a first scan finds them (a poller lists content
//! up to the current second, so content of that very second waits for the next scan).

use chrono::{SubsecRound, Utc};
use serde_json::Value;

use crate::attacks::{self, ForwardKind, RecordCtx};
use crate::ids;
use crate::scenario::{
    ContentType, Faults, Noise, PlantedRecord, Scenario, SubscriptionState, Tenant, TenantCloud,
    User, default_directory_roles, default_roles,
};

/// One multi-tenant app consented in both tenants, as an MSP's would be.
const DEMO_CLIENT_ID: &str = "9d3f1a2b-6c4e-4f8a-b1d2-3e4f5a6b7c8d";
const DEMO_CLIENT_SECRET: &str = "sandbox-demo-secret";

fn tenant(tenant_id: &str, name: &str, domains: &[&str], users: &[(&str, &str)]) -> Tenant {
    Tenant {
        tenant_id: tenant_id.into(),
        name: name.into(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        client_id: DEMO_CLIENT_ID.into(),
        client_secret: DEMO_CLIENT_SECRET.into(),
        audit_enabled: true,
        users: users
            .iter()
            .map(|(upn, name)| User::new(upn, name))
            .collect(),
        certificates: Vec::new(),
        subscription: SubscriptionState::Enabled,
        consented: true,
        roles: default_roles(),
        directory_roles: default_directory_roles(),
        write_visible_after_ms: 0,
        token_refusal: None,
        cloud: TenantCloud::Global,
    }
}

impl Scenario {
    /// Contoso and Fabrikam, 600 Exchange noise records each (with Entra ID and General
    /// noise in proportion), and five attacks: forward-all rule,
    /// delete-all rule ".", external `Set-Mailbox` forwarding, a `Set-InboxRule` redirect,
    /// and an admin forwarding someone else's mail. Attackers use documentation IP ranges.
    pub fn demo() -> Scenario {
        let contoso = tenant(
            "b7e1c3a2-5d4f-4e6a-9c8b-1a2b3c4d5e6f",
            "Contoso",
            &["contoso.com", "contoso.onmicrosoft.com"],
            &[
                ("admin@contoso.com", "Contoso IT Admin"),
                ("adele.vance@contoso.com", "Adele Vance"),
                ("megan.bowen@contoso.com", "Megan Bowen"),
                ("lee.gu@contoso.com", "Lee Gu"),
            ],
        );
        let fabrikam = tenant(
            "4c8d2e1f-9a3b-4d7c-8e5f-6a1b2c3d4e5f",
            "Fabrikam",
            &["fabrikam.com", "fabrikam.onmicrosoft.com"],
            &[
                ("admin@fabrikam.com", "Fabrikam IT Admin"),
                ("diego.siciliani@fabrikam.com", "Diego Siciliani"),
                ("isaiah.langer@fabrikam.com", "Isaiah Langer"),
                ("johanna.lorenz@fabrikam.com", "Johanna Lorenz"),
                ("lynne.robbins@fabrikam.com", "Lynne Robbins"),
            ],
        );
        // rebase_times replaces CreationTime with the release time; this only dates the token fields.
        let now = Utc::now().trunc_subsecs(0);
        let ctx = |tenant: &Tenant, n: u8, actor: &str, target: &str, ip: &str| RecordCtx {
            tenant_id: tenant.tenant_id.clone(),
            tenant_initial_domain: tenant.initial_domain().to_string(),
            actor_upn: actor.into(),
            target_upn: target.into(),
            client_ip: ip.into(),
            creation_time: now,
            record_id: ids::guid(&[b"demo attack", &[n]]),
        };
        let adele = "adele.vance@contoso.com";
        let megan = "megan.bowen@contoso.com";
        let lee = "lee.gu@contoso.com";
        let diego = "diego.siciliani@fabrikam.com";
        let isaiah = "isaiah.langer@fabrikam.com";
        let attacks: Vec<(&Tenant, Value)> = vec![
            (
                &contoso,
                attacks::new_inbox_rule_forward(
                    &ctx(&contoso, 1, adele, adele, "203.0.113.7:51234"),
                    "Invoice sync",
                    &["ap-desk@payments-portal.example"],
                    ForwardKind::ForwardTo,
                ),
            ),
            (
                &contoso,
                attacks::new_inbox_rule_delete_all(
                    &ctx(&contoso, 2, megan, megan, "198.51.100.23:40112"),
                    ".",
                ),
            ),
            (
                &contoso,
                attacks::set_mailbox_forwarding(
                    &ctx(&contoso, 3, lee, lee, "[2001:db8::5c]:52611"),
                    Some("smtp:lee.backup@mailbox-relay.example"),
                    None,
                    false,
                ),
            ),
            (
                &fabrikam,
                attacks::set_inbox_rule_forward(
                    &ctx(&fabrikam, 4, diego, diego, "203.0.113.45:60123"),
                    "Team updates",
                    &["diego.s@freemail.example"],
                    ForwardKind::RedirectTo,
                ),
            ),
            (
                &fabrikam,
                attacks::new_inbox_rule_forward(
                    &ctx(
                        &fabrikam,
                        5,
                        "admin@fabrikam.com",
                        isaiah,
                        "198.51.100.77:44321",
                    ),
                    "Archive copy",
                    // The drop box Contoso's rule feeds too: the demo's fan-in.
                    &["ap-desk@payments-portal.example"],
                    ForwardKind::ForwardAsAttachmentTo,
                ),
            ),
        ];
        let records = attacks
            .into_iter()
            .map(|(tenant, record)| PlantedRecord {
                tenant_id: tenant.tenant_id.clone(),
                content_type: ContentType::Exchange,
                release_after_s: -60,
                record,
                expired: false,
            })
            .collect();
        Scenario {
            tenants: vec![contoso, fabrikam],
            records,
            noise: Noise {
                records_per_tenant: 600,
                seed: 7,
                ..Noise::default()
            },
            page_size: 100,
            rebase_times: true,
            faults: Faults::default(),
            records_per_blob: 100,
            token_lifetime_s: 3599,
            clock_speed: 1,
            next_page_header: "NextPageUri".into(),
            // The planted attacks come from documentation ranges, which are never located.
            geo: None,
            partner: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_valid_and_round_trips_through_json() {
        let demo = Scenario::demo();
        demo.validate().unwrap();
        let text = serde_json::to_string(&demo).unwrap();
        let back = Scenario::from_json(&text).unwrap();
        assert_eq!(back.tenants.len(), 2);
        assert_eq!(back.records.len(), 5);
        assert!(
            back.tenants
                .iter()
                .all(|t| (3..=5).contains(&t.users.len()))
        );
        let ops: Vec<&str> = back
            .records
            .iter()
            .map(|r| r.record["Operation"].as_str().unwrap())
            .collect();
        assert_eq!(
            ops,
            [
                "New-InboxRule",
                "New-InboxRule",
                "Set-Mailbox",
                "Set-InboxRule",
                "New-InboxRule"
            ]
        );
    }
}
