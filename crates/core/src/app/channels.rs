//! Channels the technician adds (webhooks today), and delivering to them.

use chrono::Utc;
use secrecy::SecretString;

use super::{Error, Session};
use crate::deliver::{self, Chat, Pass, Route};

impl Session {
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
        let (store, secrets) = {
            let mode = self.mode.read().await;
            (mode.store.clone(), mode.secrets.clone())
        };
        let (name, url) = (name.to_string(), url.to_string());
        // The keychain is reached over D-Bus or the platform's API: blocking calls.
        tokio::task::spawn_blocking(move || {
            deliver::add_webhook(&store, secrets.as_ref(), &name, &url, &secret, &route)
        })
        .await
        .map_err(|e| Error::Failed(format!("adding the channel stopped: {e}")))??;
        Ok(())
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
        let (store, secrets) = {
            let mode = self.mode.read().await;
            (mode.store.clone(), mode.secrets.clone())
        };
        let name = name.to_string();
        tokio::task::spawn_blocking(move || {
            deliver::add_chat(&store, secrets.as_ref(), chat, &name, &url, &route)
        })
        .await
        .map_err(|e| Error::Failed(format!("adding the channel stopped: {e}")))??;
        Ok(())
    }

    /// Removes a channel the technician added, with what waited for it and its secret.
    pub async fn remove_channel(&self, name: &str) -> Result<(), Error> {
        let (store, secrets) = {
            let mode = self.mode.read().await;
            (mode.store.clone(), mode.secrets.clone())
        };
        let name = name.to_string();
        tokio::task::spawn_blocking(move || deliver::remove(&store, secrets.as_ref(), &name))
            .await
            .map_err(|e| Error::Failed(format!("removing the channel stopped: {e}")))??;
        Ok(())
    }

    /// Sends channel `name` a signed test delivery; `Err` says why it did not arrive.
    pub async fn test_channel(&self, name: &str) -> Result<(), Error> {
        let (store, secrets) = {
            let mode = self.mode.read().await;
            (mode.store.clone(), mode.secrets.clone())
        };
        Ok(deliver::test(&store, secrets, name).await?)
    }

    /// Delivers what waits for the channels the technician added: what is due after its
    /// backoff, or everything waiting when `retry_now`. Answers how each channel went.
    pub async fn deliver_to_channels(&self, retry_now: bool) -> Result<Vec<Pass>, Error> {
        let (store, secrets) = {
            let mode = self.mode.read().await;
            (mode.store.clone(), mode.secrets.clone())
        };
        let now = (!retry_now).then(Utc::now);
        Ok(deliver::deliver_all(&store, secrets, now).await?)
    }
}
