//! Stable, realistic-looking identifiers derived from names, so the same user always has
//! the same mailbox GUID, PUID and SID across records and runs.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// SHA-256 over the parts, separated so that ("ab","c") and ("a","bc") differ.
pub(crate) fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

pub(crate) fn seed(parts: &[&[u8]]) -> u64 {
    let d = digest(parts);
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

pub(crate) fn guid(parts: &[&[u8]]) -> Uuid {
    let d = digest(parts);
    uuid::Builder::from_random_bytes(d[..16].try_into().expect("16 bytes")).into_uuid()
}

pub(crate) fn hex(parts: &[&[u8]], len: usize) -> String {
    digest(parts)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..len]
        .to_string()
}

/// Exchange's `UserKey` for cloud users: a 16-hex-digit PUID starting `1003`.
pub(crate) fn puid(tenant_id: &str, upn: &str) -> String {
    let d = digest(&[
        b"puid",
        tenant_id.as_bytes(),
        upn.to_ascii_lowercase().as_bytes(),
    ]);
    format!("10032000{:02X}{:02X}{:02X}{:02X}", d[0], d[1], d[2], d[3])
}

/// A user's Entra object id, which sign-in and directory records, Graph and Exchange's
/// `ExternalDirectoryObjectId` all give the same user.
pub(crate) fn user_object_id(tenant_id: &str, upn: &str) -> Uuid {
    guid(&[
        b"user",
        tenant_id.as_bytes(),
        upn.to_ascii_lowercase().as_bytes(),
    ])
}

pub(crate) fn mailbox_guid(tenant_id: &str, upn: &str) -> Uuid {
    guid(&[
        b"mailbox",
        tenant_id.as_bytes(),
        upn.to_ascii_lowercase().as_bytes(),
    ])
}

/// A Windows SID like Exchange Online shows for mailbox owners.
pub(crate) fn sid(tenant_id: &str, upn: &str) -> String {
    let d = digest(&[
        b"sid",
        tenant_id.as_bytes(),
        upn.to_ascii_lowercase().as_bytes(),
    ]);
    let part = |i: usize| u32::from_le_bytes(d[i..i + 4].try_into().expect("4 bytes"));
    format!(
        "S-1-5-21-{}-{}-{}-{}",
        part(0),
        part(4),
        part(8),
        10_000 + part(12) % 90_000
    )
}

/// A mailbox server name such as `KL1PR02MB6845`.
pub(crate) fn server(parts: &[&[u8]]) -> String {
    const SITES: [&str; 8] = ["AM6", "DB9", "VI1", "PA4", "MW4", "SN6", "KL1", "TY0"];
    let d = digest(parts);
    format!(
        "{}PR{:02}MB{:04}",
        SITES[d[0] as usize % SITES.len()],
        d[1] % 20,
        u16::from_le_bytes([d[2], d[3]]) % 10_000
    )
}

/// A forest front-end such as `APCPR02A010.PROD.OUTLOOK.COM`, used in rule ObjectIds.
pub(crate) fn forest(parts: &[&[u8]]) -> String {
    const FORESTS: [&str; 4] = ["EURPR", "NAMPR", "APCPR", "GBRPR"];
    let d = digest(parts);
    format!(
        "{}{:02}A{:03}.PROD.OUTLOOK.COM",
        FORESTS[d[0] as usize % FORESTS.len()],
        d[1] % 10,
        d[2] % 100
    )
}

/// An inbox rule's `RuleIdentity`: Exchange's are numbers above `i64::MAX` (../shared/reference/m365-api.md §G 7),
/// so a client that reads them through `i64` or `f64` breaks here as it would there.
pub(crate) fn rule_id(parts: &[&[u8]]) -> u64 {
    seed(parts) | 1 << 63
}

/// The mailbox alias Exchange shows in ObjectIds: the UPN's local part.
pub(crate) fn alias(upn: &str) -> &str {
    upn.split('@').next().unwrap_or(upn)
}
