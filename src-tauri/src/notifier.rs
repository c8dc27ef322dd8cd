//! Native notifications for new alerts, delivered from this desktop's own queue in the
//! store: an alert is marked delivered only once the notification daemon took it, so one
//! found just before a crash is notified after the restart, and none twice. More than
//! three at once become one summary. Every field an attacker or Microsoft wrote goes
//! through [`shown`], so no control character or bidi override reaches the notification
//! daemon. A later alert of an incident already notified replaces that incident's
//! notification (where the daemon allows it: the freedesktop one) rather than adding one.

use std::collections::BTreeMap;
#[cfg(all(unix, not(target_os = "macos")))]
use std::sync::Mutex;

use notify_rust::{Notification, Timeout};
use rulewatch_core::app::{Alert, Delivered, NotifyPrefs};
use rulewatch_core::detect::Severity;
use rulewatch_core::shown::shown;
use tauri::AppHandle;

use crate::window::{self, View};

/// Above this many new alerts, one summary notification instead of one each.
const SUMMARY_ABOVE: usize = 3;

/// Who is at this desktop: their name, and whether they are on duty.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Desk<'a> {
    pub technician: &'a str,
    pub on_duty: bool,
}

impl Desk<'_> {
    /// Whether `alert` rings this desktop: on duty, a severity the technician wants, and
    /// not an alert a colleague already holds (unless they want those too).
    fn wants(&self, alert: &Alert, prefs: &NotifyPrefs) -> bool {
        self.on_duty
            && prefs.allows(alert.severity)
            && (prefs.colleagues_taken
                || alert
                    .assignee
                    .as_deref()
                    .is_none_or(|who| who == self.technician))
    }
}

/// Notifies the new alerts; answers the ids done with (shown, or muted).
pub(crate) fn deliver(
    app: &AppHandle,
    pending: Vec<Alert>,
    prefs: &NotifyPrefs,
    desk: Desk<'_>,
) -> Delivered {
    deliver_with(pending, prefs, desk, |m, view| show(app, m, view))
}

/// Notifies `pending` through `show`, which says whether a notification daemon took
/// it; answers the ids done with. An alert not taken is left out, so it stays queued
/// for the next scan; a muted one is done with, without a word.
fn deliver_with(
    pending: Vec<Alert>,
    prefs: &NotifyPrefs,
    desk: Desk<'_>,
    mut show: impl FnMut(Message, View) -> bool,
) -> Delivered {
    let (wanted, muted): (Vec<Alert>, Vec<Alert>) =
        pending.into_iter().partition(|a| desk.wants(a, prefs));
    let mut delivered = Delivered {
        ids: muted.iter().map(|a| a.id).collect(),
        error: None,
    };
    let refused = || Some("no notification daemon took the notification".to_string());
    if wanted.len() > SUMMARY_ABOVE {
        if show(summary(&wanted), View::Current) {
            delivered.ids.extend(wanted.iter().map(|a| a.id));
        } else {
            delivered.error = refused();
        }
    } else {
        for alert in &wanted {
            if !show(single(alert), View::Alert(alert.id)) {
                delivered.error = refused();
                break;
            }
            delivered.ids.push(alert.id);
        }
    }
    delivered
}

/// What one notification says.
pub(crate) struct Message {
    pub title: String,
    pub body: String,
    pub critical: bool,
    /// The incident it is about, when it is about one alert.
    pub incident: Option<i64>,
}

/// The rule's own words, from the registry; an id it does not know is shown as it is.
fn rule_words(rule: &str) -> &str {
    rulewatch_core::detect::rules::rule(rule).map_or(rule, |r| r.notification)
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub(crate) fn single(a: &Alert) -> Message {
    let destinations: Vec<String> = a.details.destinations().into_iter().map(shown).collect();
    let action = if destinations.is_empty() {
        shown(&a.summary)
    } else {
        format!("to {}", destinations.join(", "))
    };
    let place = a
        .origin
        .as_ref()
        .and_then(|o| o["location"]["country"].as_str().map(shown));
    let from = match (a.client_ip.as_deref().map(shown), place) {
        (Some(ip), Some(country)) => format!("from {ip} ({country})"),
        (Some(ip), None) => format!("from {ip}"),
        (None, _) => "from an unknown address".into(),
    };
    Message {
        title: format!(
            "{}: {} — {}",
            capitalised(a.severity.as_str()),
            shown(rule_words(&a.rule)),
            shown(&a.tenant_name)
        ),
        body: format!("{}\n{action}\n{from}", shown(&a.target)),
        critical: a.severity == Severity::Critical,
        incident: a.incident_id,
    }
}

pub(crate) fn summary(alerts: &[Alert]) -> Message {
    // Gravest first.
    let mut by_severity: BTreeMap<std::cmp::Reverse<Severity>, usize> = BTreeMap::new();
    let mut tenants: Vec<&str> = Vec::new();
    for a in alerts {
        *by_severity
            .entry(std::cmp::Reverse(a.severity))
            .or_insert(0) += 1;
        if !tenants.contains(&a.tenant_name.as_str()) {
            tenants.push(&a.tenant_name);
        }
    }
    let counts: Vec<String> = by_severity
        .iter()
        .map(|(s, n)| format!("{n} {}", s.0.as_str()))
        .collect();
    Message {
        title: format!("{} new alerts: {}", alerts.len(), counts.join(", ")),
        body: format!(
            "In {}. Open Rulewatch to review them.",
            shown(&tenants.join(", "))
        ),
        critical: by_severity.contains_key(&std::cmp::Reverse(Severity::Critical)),
        incident: None,
    }
}

/// Notification bodies may carry markup; attacker-chosen text must show as written.
fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Customers the partner account reaches that Rulewatch now watches.
pub(crate) fn coverage_grew(app: &AppHandle, names: &[String]) {
    let m = Message {
        title: format!("Rulewatch now watches {} more customer(s)", names.len()),
        body: format!(
            "New through your partner account: {}.",
            shown(&names.join(", "))
        ),
        critical: false,
        incident: None,
    };
    show(app, m, View::Page("tenants"));
}

/// The partner sign-in lapsed (expired or revoked), or is about to.
pub(crate) fn sign_in_needed(app: &AppHandle, why: &str) {
    let m = Message {
        title: "Partner sign-in needed".into(),
        body: format!(
            "{} Click to sign in again; until then the customers reached through it are not watched.",
            shown(why)
        ),
        critical: true,
        incident: None,
    };
    show(app, m, View::Page("tenants"));
}

/// Each incident notified by this process: its notification's id, and how many of its
/// alerts that notification has told of.
#[cfg(all(unix, not(target_os = "macos")))]
static INCIDENTS: Mutex<BTreeMap<i64, (u32, usize)>> = Mutex::new(BTreeMap::new());

/// What clicking each notification opens now: a replaced notification opens its latest
/// alert.
#[cfg(all(unix, not(target_os = "macos")))]
static VIEWS: Mutex<BTreeMap<u32, View>> = Mutex::new(BTreeMap::new());

/// Shows `m`; clicking it (its default action, labelled **Review** where the daemon
/// shows actions as buttons) opens the panel on `view`. An alert of an incident this
/// process notified before replaces that notification, counting the incident's alerts.
/// False when no notification daemon took it.
/// The store cannot be opened at launch (the team's database is out of reach): the app
/// watches nothing until it can, and keeps trying.
pub(crate) fn store_offline(app: &AppHandle, why: &str) {
    let m = Message {
        title: "Rulewatch is not watching".into(),
        body: shown(why),
        critical: true,
        incident: None,
    };
    show(app, m, View::Current);
}

fn show(app: &AppHandle, mut m: Message, view: View) -> bool {
    let mut n = Notification::new();
    #[cfg(all(unix, not(target_os = "macos")))]
    let earlier = m.incident.and_then(|i| {
        INCIDENTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&i)
            .copied()
    });
    #[cfg(all(unix, not(target_os = "macos")))]
    if let Some((id, told)) = earlier {
        n.id(id);
        m.title = format!("{} ({} alerts in this incident)", m.title, told + 1);
    }
    n.appname("Rulewatch")
        .summary(&m.title)
        .body(&escape_markup(&m.body))
        .icon("mail-unread")
        .timeout(Timeout::Milliseconds(if m.critical { 0 } else { 15_000 }));
    #[cfg(all(unix, not(target_os = "macos")))]
    n.urgency(if m.critical {
        notify_rust::Urgency::Critical
    } else {
        notify_rust::Urgency::Normal
    })
    .action("default", "Review");
    match n.show() {
        Ok(handle) => {
            #[cfg(all(unix, not(target_os = "macos")))]
            {
                let id = handle.id();
                if let Some(incident) = m.incident {
                    let told = earlier.map_or(1, |(_, told)| told + 1);
                    INCIDENTS
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(incident, (id, told));
                }
                VIEWS
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(id, view);
            }
            wait_for_click(app.clone(), handle, view);
            true
        }
        Err(e) => {
            tracing::warn!(
                "no notification daemon took the alert; it stays queued for the next scan: {e}"
            );
            false
        }
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn wait_for_click(app: AppHandle, handle: notify_rust::NotificationHandle, view: View) {
    // The D-Bus wait blocks until the notification is clicked or closed. A replaced
    // notification keeps its id, so its click opens what it shows last.
    let id = handle.id();
    std::thread::spawn(move || {
        handle.wait_for_action(|action| {
            if action == "default" {
                let latest = VIEWS
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get(&id)
                    .copied();
                window::open(&app, latest.unwrap_or(view));
            }
        });
    });
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn wait_for_click(_app: AppHandle, _handle: notify_rust::NotificationHandle, _view: View) {}

#[cfg(test)]
mod tests {
    use rulewatch_core::app::AlertStatus;
    use rulewatch_core::detect::evidence::{Evidence, MailboxForwardEvidence};
    use serde_json::json;

    use super::*;

    /// The evidence of mailbox forwarding to `to`.
    fn forwarding_to(to: &str) -> Evidence {
        Evidence::MailboxForward(MailboxForwardEvidence {
            destinations: vec![to.to_string()],
            deliver_to_mailbox_and_forward: Some(false),
            forwarding_smtp_address: Some(format!("smtp:{to}")),
            forwarding_address: None,
        })
    }

    fn alert(severity: &str, tenant: &str) -> Alert {
        Alert {
            assignee: None,
            mailbox: None,
            id: 1,
            tenant_id: "t".into(),
            tenant_name: tenant.into(),
            rule: "mailbox-external-forward".into(),
            severity: Severity::parse(severity).unwrap(),
            record_id: "r".into(),
            operation: "Set-Mailbox".into(),
            target: "adele@contoso.com".into(),
            actor: "adele@contoso.com".into(),
            client_ip: Some("41.58.1.1".into()),
            summary: "s".into(),
            details: forwarding_to("x@evil.example"),
            event_time: None,
            detected_at: None,
            status: AlertStatus::Open,
            content_id: None,
            suppressed_by: None,
            origin: Some(json!({"location": {"country": "Nigeria"}})),
            status_note: None,
            incident_id: Some(1),
        }
    }

    const DESK: Desk<'static> = Desk {
        technician: "bob",
        on_duty: true,
    };

    #[test]
    fn off_duty_nothing_rings_and_a_colleague_s_alert_rings_only_when_asked_for() {
        let mine = Alert {
            id: 1,
            assignee: Some("bob".into()),
            ..alert("high", "Contoso")
        };
        let alice_s = Alert {
            id: 2,
            assignee: Some("alice".into()),
            ..alert("critical", "Contoso")
        };
        let nobody_s = Alert {
            id: 3,
            ..alert("medium", "Contoso")
        };
        let pending = vec![mine, alice_s, nobody_s];
        let rung = |prefs: &NotifyPrefs, desk: Desk<'_>| {
            let mut shown = Vec::new();
            let mut done = deliver_with(pending.clone(), prefs, desk, |_, view| {
                shown.push(format!("{view:?}"));
                true
            });
            done.ids.sort_unstable();
            assert_eq!(done.ids, [1, 2, 3], "every alert is done with, rung or not");
            shown
        };
        let prefs = NotifyPrefs::default();
        assert_eq!(rung(&prefs, DESK), ["Alert(1)", "Alert(3)"]);
        let all = NotifyPrefs {
            colleagues_taken: true,
            ..NotifyPrefs::default()
        };
        assert_eq!(rung(&all, DESK), ["Alert(1)", "Alert(2)", "Alert(3)"]);
        let off = Desk {
            on_duty: false,
            ..DESK
        };
        assert!(rung(&all, off).is_empty(), "off duty, nothing rings");
    }

    /// New alerts of these severities, in order, each with its own id.
    fn queue(severities: &[Severity]) -> Vec<Alert> {
        severities
            .iter()
            .enumerate()
            .map(|(i, s)| Alert {
                id: 10 + i as i64,
                severity: *s,
                ..alert("high", "Contoso")
            })
            .collect()
    }

    #[test]
    fn more_than_three_become_one_summary_and_muted_severities_are_never_shown() {
        let pending = queue(&[
            Severity::High,
            Severity::Low,
            Severity::Critical,
            Severity::High,
            Severity::Medium,
        ]);
        let prefs = NotifyPrefs {
            low: false,
            ..NotifyPrefs::default()
        };
        let mut shown = Vec::new();
        let mut done = deliver_with(pending, &prefs, DESK, |m, view| {
            shown.push((m.title, format!("{view:?}")));
            true
        });
        assert_eq!(
            shown,
            [(
                "4 new alerts: 1 critical, 2 high, 1 medium".to_string(),
                "Current".to_string()
            )]
        );
        done.ids.sort_unstable();
        assert_eq!(
            done.ids,
            [10, 11, 12, 13, 14],
            "the muted low one is done too"
        );
        assert_eq!(done.error, None);
    }

    #[test]
    fn alerts_no_daemon_took_wait_for_the_next_scan() {
        let pending = queue(&[Severity::High, Severity::Critical]);
        let prefs = NotifyPrefs::default();
        let mut tried = 0;
        let done = deliver_with(pending.clone(), &prefs, DESK, |_, _| {
            tried += 1;
            false
        });
        assert_eq!(tried, 1, "no daemon: the rest are not even tried");
        assert!(done.ids.is_empty(), "both stay queued: {done:?}");
        assert_eq!(
            done.error.as_deref(),
            Some("no notification daemon took the notification"),
            "the queue says why it waits"
        );
        let mut views = Vec::new();
        let done = deliver_with(pending, &prefs, DESK, |m, view| {
            views.push((m.critical, format!("{view:?}")));
            true
        });
        assert_eq!(
            views,
            [
                (false, "Alert(10)".to_string()),
                (true, "Alert(11)".to_string())
            ],
            "each opens its own alert"
        );
        assert_eq!(done.ids, [10, 11]);
    }

    #[test]
    fn one_alert_names_severity_rule_tenant_mailbox_destination_and_place() {
        let m = single(&alert("high", "Contoso"));
        assert_eq!(m.title, "High: mail forwarded outside — Contoso");
        assert_eq!(
            m.body,
            "adele@contoso.com\nto x@evil.example\nfrom 41.58.1.1 (Nigeria)"
        );
        assert!(!m.critical);
    }

    #[test]
    fn many_alerts_are_counted_by_severity_and_tenant() {
        let alerts = [
            alert("high", "Contoso"),
            alert("critical", "Fabrikam"),
            alert("high", "Contoso"),
            alert("low", "Contoso"),
        ];
        let m = summary(&alerts);
        assert_eq!(m.title, "4 new alerts: 1 critical, 2 high, 1 low");
        assert_eq!(
            m.body,
            "In Contoso, Fabrikam. Open Rulewatch to review them."
        );
        assert!(m.critical);
    }

    #[test]
    fn escape_sequences_and_bidi_overrides_in_fields_are_shown_not_sent() {
        let hostile = "\u{1b}[2K\r\u{1b}]8;;http://evil.example/\u{7}\u{202E}";
        let mut a = alert("critical", &format!("Contoso{hostile}"));
        a.target = format!("adele{hostile}@contoso.com");
        a.client_ip = Some(format!("41.58.1.1{hostile}"));
        a.details = forwarding_to(&format!("x{hostile}@evil.example"));
        let m = single(&a);
        for text in [&m.title, &m.body] {
            assert_eq!(
                text.chars()
                    .filter(|c| c.is_control() && *c != '\n')
                    .count(),
                0,
                "{text:?}"
            );
            assert!(
                !text.contains('\u{202E}')
                    && text.contains("<U+202E>")
                    && text.contains("\\u{1b}[2K"),
                "{text:?}"
            );
        }
        assert_eq!(m.body.lines().count(), 3, "{:?}", m.body);
        let s = summary(&[a.clone(), a.clone(), a.clone(), a]);
        assert!(
            !s.body.contains('\u{1b}') && s.body.contains("Contoso\\u{1b}"),
            "{:?}",
            s.body
        );
    }

    #[test]
    fn markup_in_attacker_text_is_shown_not_interpreted() {
        assert_eq!(
            escape_markup("<b>x</b> & <img src=x>"),
            "&lt;b&gt;x&lt;/b&gt; &amp; &lt;img src=x&gt;"
        );
    }
}
