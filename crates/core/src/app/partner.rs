//! The partner account (GDAP): sign in once, list the customers, watch all or some.

use std::sync::PoisonError;

use serde::Serialize;

use super::{Error, Session};
use crate::partner::{self, Discovery, PartnerAccount};
use crate::problem::Problem;
use crate::store::CustomerRow;

/// How the partner account signs in.
pub enum SignInWith<'a> {
    /// In the default browser: `open` gets the sign-in address, to open and to show.
    Browser(&'a mut (dyn FnMut(&str) + Send)),
    /// With a device code: `show` gets Microsoft's sentence naming the page and the code.
    DeviceCode(&'a mut (dyn FnMut(&str) + Send)),
}

/// The partner account, its customers and what went wrong last, for the panel.
#[derive(Debug, Serialize)]
pub struct PartnerState {
    /// The signed-in account, when there is one.
    pub account: Option<PartnerAccount>,
    /// Whether new customers are watched automatically.
    pub watch_all: bool,
    /// The customers as last listed.
    pub customers: Vec<CustomerRow>,
    /// Why the customers could not be listed, or the sign-in lapsed.
    pub problem: Option<String>,
    /// What kind of problem, to act on: `sign_in_needed` offers a new sign-in.
    pub problem_kind: Option<&'static str>,
}

impl Session {
    /// The signed-in partner account (never its tokens).
    pub fn partner_account(&self) -> Result<Option<PartnerAccount>, Error> {
        Ok(partner::account(&self.home)?)
    }

    /// The partner account, its customers and its last problem.
    pub fn partner_state(&self) -> Result<PartnerState, Error> {
        let problem = self
            .partner_problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Ok(PartnerState {
            account: partner::account(&self.home)?,
            watch_all: partner::watch_all(&self.home)?,
            customers: self.home.customers()?,
            problem_kind: problem.as_ref().map(|p| p.kind.as_str()),
            problem: problem.map(|p| p.message),
        })
    }

    /// Signs the partner account in; the technician's own tenants are watched from then
    /// on, so a sandbox being watched ends.
    pub async fn partner_sign_in(
        &self,
        tenant_id: &str,
        client_id: &str,
        with: SignInWith<'_>,
    ) -> Result<PartnerAccount, Error> {
        let tenant_id = crate::tenants::parse_guid(tenant_id, "the partner tenant id")?;
        let client_id = crate::tenants::parse_guid(client_id, "the partner app's client id")?;
        self.leave_sandbox().await?;
        let (engine, _) = self.current().await;
        let signed_in = match with {
            SignInWith::Browser(open) => {
                engine
                    .partner()
                    .sign_in_browser(&tenant_id, &client_id, |url| open(url))
                    .await
            }
            SignInWith::DeviceCode(show) => {
                engine
                    .partner()
                    .sign_in_device(&tenant_id, &client_id, |text| show(text))
                    .await
            }
        };
        Ok(signed_in?)
    }

    /// Removes the refresh token from the keychain and forgets the account.
    pub async fn partner_sign_out(&self) -> Result<(), Error> {
        let (engine, _) = self.current().await;
        tokio::task::spawn_blocking(move || {
            engine.partner().sign_out()?;
            engine.forget_tokens();
            Ok::<_, Problem>(())
        })
        .await
        .map_err(|e| Error::Failed(format!("signing out stopped: {e}")))??;
        self.note_partner_problem(None);
        Ok(())
    }

    /// Lists the customers now and, with "watch all" on, watches the new ones; why it
    /// failed is kept for [`Session::partner_state`].
    pub async fn discover(&self) -> Result<Discovery, Error> {
        let (engine, _) = self.current().await;
        let found = engine.discover().await;
        self.note_partner_problem(found.as_ref().err().cloned());
        Ok(found?)
    }

    /// The customers as last listed.
    pub fn customers(&self) -> Result<Vec<CustomerRow>, Error> {
        Ok(self.home.customers()?)
    }

    /// Whether new customers are watched automatically.
    pub fn set_watch_all(&self, on: bool) -> Result<(), Error> {
        Ok(self.home.set_setting(&partner::WATCH_ALL_SETTING, &on)?)
    }

    /// Watches one customer (again); answers it, and whether it was watched already.
    pub fn watch_customer(&self, tenant_id: &str) -> Result<(CustomerRow, bool), Error> {
        Ok(partner::watch_customer(&self.home, tenant_id)?)
    }

    /// Stops watching one customer and keeps it out of "watch all"; its alerts stay.
    pub fn exclude_customer(&self, tenant_id: &str) -> Result<CustomerRow, Error> {
        Ok(partner::exclude_customer(&self.home, tenant_id)?)
    }
}
