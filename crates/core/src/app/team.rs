//! Team mode's use cases: joining the team's database, leaving it, and what the team
//! is doing (who is on duty, which workstation scans which tenant).

use secrecy::SecretString;
use serde::Serialize;

use super::{Config, Error, Session};
use crate::team;

/// A technician's duty, as the team sees it.
#[derive(Debug, Clone, Serialize)]
pub struct OnDuty {
    /// The technician.
    pub technician: String,
    /// On duty: notified of new alerts.
    pub on_duty: bool,
    /// Since when.
    pub since: String,
}

/// A lease held now: a tenant being scanned, an alert being remediated, a channel
/// being delivered.
#[derive(Debug, Clone, Serialize)]
pub struct Lease {
    /// What it is on: a tenant's id, `remediation:ID` or `channel:NAME`.
    pub key: String,
    /// Who holds it (process, run and, for remediation, technician).
    pub holder: String,
    /// Until when, unless given back or renewed.
    pub until: String,
}

/// A tenant's last scan, by whichever workstation ran it.
#[derive(Debug, Clone, Serialize)]
pub struct TenantScan {
    /// The tenant's id.
    pub tenant_id: String,
    /// Its name.
    pub name: String,
    /// The last scan that finished completely.
    pub last_success_at: Option<String>,
}

/// What `team status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct TeamStatus {
    /// The team's database, without its password.
    pub url: String,
    /// How the connection is protected (`verify-full`, …).
    pub sslmode: &'static str,
    /// This workstation's id.
    pub workstation: String,
    /// When this workstation joined.
    pub joined_at: String,
    /// Every technician who has set their duty.
    pub technicians: Vec<OnDuty>,
    /// The leases not yet ended.
    pub leases: Vec<Lease>,
    /// Every tenant's last scan.
    pub tenants: Vec<TenantScan>,
}

/// Joins the team whose database `url` names, with `password` (else the URL's own):
/// checks that the server is reachable as the URL says and brings its schema up to date
/// before anything is recorded. Answers the URL without its password and the sslmode.
pub fn join_team(
    config: &Config,
    url: &str,
    password: Option<String>,
) -> Result<(String, &'static str), Error> {
    let secrets = config.keychain();
    let (membership, target) = team::join(
        &config.data_dir,
        secrets.as_ref(),
        url,
        password.map(SecretString::from),
    )?;
    Ok((membership.url, target.sslmode().as_str()))
}

/// Leaves the team: the data folder's own file is used again. Answers the URL left, or
/// `None` when the folder was in no team.
pub fn leave_team(config: &Config) -> Result<Option<String>, Error> {
    let secrets = config.keychain();
    Ok(team::leave(&config.data_dir, secrets.as_ref())?.map(|m| m.url))
}

impl Session {
    /// The key that signs the team's remediation record, as text to hand to a colleague's
    /// workstation over a channel the technicians trust.
    pub async fn share_record_key(&self) -> Result<String, Error> {
        use secrecy::ExposeSecret;
        self.in_team()?;
        Ok(self
            .store()
            .await
            .share_record_key()?
            .expose_secret()
            .to_string())
    }

    /// Adopts the team record's key a colleague's workstation shared, once it is shown to
    /// sign every row; answers the step the record ends at.
    pub async fn adopt_record_key(&self, key: String) -> Result<i64, Error> {
        self.in_team()?;
        Ok(self
            .store()
            .await
            .adopt_record_key(&SecretString::from(key))?
            .id)
    }

    /// Copies this data folder's own file (its alerts, tenants without secrets,
    /// allowlist and remediation record) into the team's database, each thing once.
    pub async fn migrate_to_team(&self) -> Result<crate::store::Migrated, Error> {
        self.in_team()?;
        let local = crate::store::Store::open(&self.config.data_dir)?;
        Ok(self.store().await.migrate_from(&local)?)
    }

    fn in_team(&self) -> Result<(), Error> {
        match self.workstation {
            Some(_) => Ok(()),
            None => Err(Error::Invalid(
                "this data folder is in no team: its remediation record's key never leaves this computer".into(),
            )),
        }
    }

    /// The team's state, or `None` when this data folder is in no team.
    pub async fn team_status(&self) -> Result<Option<TeamStatus>, Error> {
        let Some(membership) = team::membership(&self.config.data_dir)? else {
            return Ok(None);
        };
        let (target, _) = team::parse(&membership.url)?;
        let store = self.store().await;
        let now = crate::store::ts(crate::clock::now());
        Ok(Some(TeamStatus {
            url: membership.url,
            sslmode: target.sslmode().as_str(),
            workstation: membership.workstation,
            joined_at: membership.joined_at,
            technicians: store
                .duty_roster()?
                .into_iter()
                .map(|(technician, on_duty, since)| OnDuty {
                    technician,
                    on_duty,
                    since,
                })
                .collect(),
            leases: store
                .leases()?
                .into_iter()
                .filter(|(_, _, until)| *until > now)
                .map(|(key, holder, until)| Lease { key, holder, until })
                .collect(),
            tenants: store
                .statuses()?
                .into_iter()
                .map(|s| TenantScan {
                    tenant_id: s.tenant_id,
                    name: s.name,
                    last_success_at: s.last_success_at.map(crate::store::ts),
                })
                .collect(),
        }))
    }
}
