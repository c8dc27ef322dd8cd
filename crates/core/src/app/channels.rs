//! Channels the technician adds (webhooks, Teams, Slack, e-mail, PSAs), and delivering
//! to them.

use std::sync::Arc;

use secrecy::SecretString;

use super::{Error, Session};
use crate::deliver::{self, ChannelError, Chat, CompanyMatch, EmailConfig, Pass, PsaConfig, Route};
use crate::secrets::SecretStore;
use crate::store::Store;

impl Session {
    /// The store and the keychain of the current mode.
    async fn channel_parts(&self) -> (Arc<Store>, Arc<dyn SecretStore>) {
        let mode = self.mode.read().await;
        (mode.store.clone(), mode.secrets.clone())
    }

    /// Runs `change` on the store and keychain off the async threads: the keychain is
    /// reached over D-Bus or the platform's API, in blocking calls.
    async fn change_channels(
        &self,
        change: impl FnOnce(&Store, &dyn SecretStore) -> Result<(), ChannelError> + Send + 'static,
    ) -> Result<(), Error> {
        let (store, secrets) = self.channel_parts().await;
        tokio::task::spawn_blocking(move || change(&store, secrets.as_ref()))
            .await
            .map_err(|e| Error::Failed(format!("changing the channels stopped: {e}")))??;
        Ok(())
    }

    /// Adds a webhook channel: its URL is checked (`https://`, or `http://` on this
    /// machine only), its signing secret goes to the keychain. It receives the alerts
    /// stored from now on, those `route` lets through.
    pub async fn add_webhook(
        &self,
        name: &str,
        url: &str,
        secret: SecretString,
        route: Route,
    ) -> Result<(), Error> {
        let (name, url) = (name.to_string(), url.to_string());
        self.change_channels(move |store, secrets| {
            deliver::add_webhook(store, secrets, &name, &url, &secret, &route)
        })
        .await
    }

    /// Adds a Teams or Slack channel; its webhook URL, the credential itself, goes to the
    /// keychain.
    pub async fn add_chat(
        &self,
        chat: Chat,
        name: &str,
        url: SecretString,
        route: Route,
    ) -> Result<(), Error> {
        let name = name.to_string();
        self.change_channels(move |store, secrets| {
            deliver::add_chat(store, secrets, chat, &name, &url, &route)
        })
        .await
    }

    /// Adds an e-mail channel; the relay's password, when it signs in, goes to the
    /// keychain.
    pub async fn add_email(
        &self,
        name: &str,
        config: EmailConfig,
        password: Option<SecretString>,
        route: Route,
    ) -> Result<(), Error> {
        let name = name.to_string();
        self.change_channels(move |store, secrets| {
            deliver::add_email(store, secrets, &name, &config, password.as_ref(), &route)
        })
        .await
    }

    /// Adds a PSA channel (ConnectWise, Autotask or HaloPSA); its secret goes to the
    /// keychain.
    pub async fn add_psa(
        &self,
        name: &str,
        config: PsaConfig,
        secret: SecretString,
        route: Route,
    ) -> Result<(), Error> {
        let name = name.to_string();
        self.change_channels(move |store, secrets| {
            deliver::add_psa(store, secrets, &name, &config, &secret, &route)
        })
        .await
    }

    /// Every tenant with its company in PSA channel `name`: the one confirmed, and the
    /// one the PSA's company names suggest.
    pub async fn psa_companies(&self, name: &str) -> Result<Vec<CompanyMatch>, Error> {
        let (store, secrets) = self.channel_parts().await;
        Ok(deliver::psa_companies(&store, secrets, name).await?)
    }

    /// Confirms tenants' companies in PSA channel `name`: (tenant id, company id) pairs.
    pub async fn map_companies(&self, name: &str, pairs: Vec<(String, i64)>) -> Result<(), Error> {
        let store = self.mode.read().await.store.clone();
        Ok(deliver::map_companies(&store, name, &pairs)?)
    }

    /// Removes a channel the technician added, with what waited for it and its secret.
    pub async fn remove_channel(&self, name: &str) -> Result<(), Error> {
        let name = name.to_string();
        self.change_channels(move |store, secrets| deliver::remove(store, secrets, &name))
            .await
    }

    /// Sends channel `name` a signed test delivery; `Err` says why it did not arrive.
    pub async fn test_channel(&self, name: &str) -> Result<(), Error> {
        let (store, secrets) = self.channel_parts().await;
        Ok(deliver::test(&store, secrets, name).await?)
    }

    /// Delivers what waits for the channels the technician added: what is due after its
    /// backoff, or everything waiting when `retry_now`. Answers how each channel went.
    pub async fn deliver_to_channels(&self, retry_now: bool) -> Result<Vec<Pass>, Error> {
        let (store, secrets) = self.channel_parts().await;
        let now = (!retry_now).then(crate::clock::now);
        Ok(deliver::deliver_all(&store, secrets, now).await?)
    }
}
