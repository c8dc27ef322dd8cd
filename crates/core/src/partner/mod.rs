//! Partner sign-in: a technician of the MSP signs in once, with MFA, in the browser
//! (authorization code with PKCE, answered on a loopback port) or with a device code;
//! the refresh token goes to the keychain and is exchanged at each customer tenant's
//! token endpoint for that tenant's tokens (`../shared/reference/m365-api.md` §C2). Rotated refresh tokens
//! replace the stored one at once; the old ones stay valid (§G 9), so customers'
//! exchanges run at once and the keychain keeps the newest.
#![warn(missing_docs)]

mod discovery;
mod loopback;
mod sign_in;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Key, Store, StoreError};

pub use discovery::{
    Customer, CustomerError, DISCOVERED_AT_SETTING, Discovery, WATCH_ALL_SETTING, customers,
    discover, discovery_due, exclude, exclude_customer, gdap_roles, watch, watch_all,
    watch_customer,
};
pub use sign_in::Partner;

/// Where the signed-in partner account is described (never its tokens).
pub const ACCOUNT_SETTING: Key<PartnerAccount> = Key::new("partner.account");

/// The signed-in partner account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerAccount {
    /// The partner's (the MSP's) own tenant, where the account signed in.
    pub tenant_id: String,
    /// The partner app's client id, used for every customer's tokens too.
    pub client_id: String,
    /// Who signed in (the ID token's `preferred_username`).
    pub upn: String,
    /// When the account signed in.
    pub signed_in_at: DateTime<Utc>,
    /// When the refresh token was last used (and rotated).
    pub refreshed_at: DateTime<Utc>,
    /// When Entra says the refresh token lapses, if it says.
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

impl PartnerAccount {
    /// When the refresh token lapses, if within 3 days of `now`: 90 days after its last
    /// use (Entra's inactivity limit; every scan of a partner customer uses and renews
    /// it), or earlier when Entra said so.
    pub fn lapses_soon(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let unused = self.refreshed_at + chrono::Duration::days(90);
        let at = self
            .refresh_expires_at
            .map_or(unused, |stated| stated.min(unused));
        (at - now < chrono::Duration::days(3)).then_some(at)
    }
}

/// The signed-in partner account, or `None` when nobody is signed in.
pub fn account(store: &Store) -> Result<Option<PartnerAccount>, StoreError> {
    store.setting(&ACCOUNT_SETTING)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn account(
        refreshed_days_ago: i64,
        expires_in_days: Option<i64>,
        now: DateTime<Utc>,
    ) -> PartnerAccount {
        PartnerAccount {
            tenant_id: "p".into(),
            client_id: "c".into(),
            upn: "tech@msp.example".into(),
            signed_in_at: now - chrono::Duration::days(100),
            refreshed_at: now - chrono::Duration::days(refreshed_days_ago),
            refresh_expires_at: expires_in_days.map(|d| now + chrono::Duration::days(d)),
        }
    }

    #[test]
    fn a_token_unused_for_almost_90_days_or_near_its_stated_expiry_lapses_soon() {
        let now = crate::clock::now();
        assert!(
            account(1, None, now).lapses_soon(now).is_none(),
            "used yesterday"
        );
        assert_eq!(
            account(88, None, now).lapses_soon(now),
            Some(now + chrono::Duration::days(2))
        );
        assert!(
            account(1, Some(2), now).lapses_soon(now).is_some(),
            "Entra's own expiry wins"
        );
        assert_eq!(
            account(88, Some(30), now).lapses_soon(now),
            Some(now + chrono::Duration::days(2)),
            "unused for 88 days, it lapses in 2 whatever Entra stated"
        );
        assert!(account(1, Some(30), now).lapses_soon(now).is_none());
    }
}
