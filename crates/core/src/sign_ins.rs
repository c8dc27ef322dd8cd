//! Where each user signs in from, read from `Audit.AzureActiveDirectory` `UserLoggedIn`
//! records when sign-in collection is on. An inbox rule made from an address, country
//! or network the user has never signed in from is more likely an intruder's.
#![warn(missing_docs)]

use serde::Deserialize;

use crate::detect::record::normalize_ip;
use crate::split::Malformed;
pub use crate::store::SignIn;
use crate::store::Store;

/// The content type whose `UserLoggedIn` records are the sign-ins.
pub const AUDIT_AZURE_AD: &str = "Audit.AzureActiveDirectory";

/// The setting that turns collection on (a JSON boolean; off when absent).
pub const SETTING: crate::store::Key<bool> = crate::store::Key::new("sign_ins.collect");

/// Whether sign-in collection is on (off until turned on).
pub fn enabled(store: &Store) -> crate::store::Result<bool> {
    Ok(store.setting(&SETTING)?.unwrap_or(false))
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "Operation", default)]
    operation: String,
    #[serde(rename = "ResultStatus", default)]
    result_status: String,
    #[serde(rename = "UserId", default)]
    user_id: String,
    #[serde(rename = "ClientIP", default)]
    client_ip: String,
    #[serde(rename = "ActorIpAddress", default)]
    actor_ip: String,
    #[serde(rename = "CreationTime", default)]
    creation_time: String,
}

/// The successful sign-ins among a blob's records (from `split::records`), with the
/// number of records; anything else is skipped unparsed.
pub fn sign_ins<'a>(
    records: impl IntoIterator<Item = Result<&'a str, Malformed>>,
) -> Result<(usize, Vec<SignIn>), Malformed> {
    let mut count = 0;
    let mut texts = Vec::new();
    for r in records {
        let r = r?;
        count += 1;
        if r.contains("UserLoggedIn") {
            texts.push(r);
        }
    }
    let found = texts
        .into_iter()
        .filter_map(|r| serde_json::from_str::<Raw>(r).ok())
        .filter(|r| {
            r.operation == "UserLoggedIn" && r.result_status.eq_ignore_ascii_case("success")
        })
        .filter_map(|r| {
            let ip = normalize_ip(&r.client_ip).or_else(|| normalize_ip(&r.actor_ip))?;
            let at = crate::detect::record::parse_creation_time(&r.creation_time)?;
            let user = r.user_id.trim().to_lowercase();
            (!user.is_empty() && ip.parse::<std::net::IpAddr>().is_ok()).then_some(SignIn {
                user,
                ip,
                at,
            })
        })
        .collect();
    Ok((count, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successful_sign_ins_with_their_address() {
        let records = [
            r#"{"Operation":"UserLoggedIn","ResultStatus":"Success","UserId":"Lidia@Contoso.com","ClientIP":"104.28.196.199","CreationTime":"2023-06-18T12:26:59"}"#,
            r#"{"Operation":"UserLoginFailed","ResultStatus":"Failed","UserId":"lidia@contoso.com","ClientIP":"198.51.100.1","CreationTime":"2023-06-18T12:26:59"}"#,
            r#"{"Operation":"UserLoggedIn","ResultStatus":"Success","UserId":"a@contoso.com","ClientIP":"","ActorIpAddress":"[2001:db8::1]:443","CreationTime":"2023-06-18T12:27:00"}"#,
            r#"{"Operation":"UserLoggedIn","ResultStatus":"Success","UserId":"b@contoso.com","ClientIP":"XXX","CreationTime":"2023-06-18T12:27:00"}"#,
            r#"{"Operation":"MailItemsAccessed","UserId":"c@contoso.com"}"#,
        ];
        let body = format!("[{}]", records.join(","));
        let (count, found) = sign_ins(crate::split::records(body.as_bytes())).unwrap();
        assert_eq!(count, 5);
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].user.as_str(), found[0].ip.as_str()),
            ("lidia@contoso.com", "104.28.196.199")
        );
        assert_eq!(found[0].at.to_rfc3339(), "2023-06-18T12:26:59+00:00");
        assert_eq!(found[1].ip, "2001:db8::1");
    }
}
