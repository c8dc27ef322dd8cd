//! `rulewatch rules list|severity`: the detection rules, and the severity an MSP gives a
//! rule's alerts for one tenant or for every tenant (issue 16 item 5).

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use rulewatch_core::app::SeverityOverride;
use rulewatch_core::detect::Severity;
use rulewatch_core::detect::rules::RULES;

use crate::Global;

#[derive(Subcommand)]
pub(crate) enum RulesCommand {
    /// Every rule: its id, title, how its severity is chosen, and the severities set
    List {
        /// One JSON object per rule per line
        #[arg(long)]
        json: bool,
    },
    /// Give a rule's alerts this severity from now on, for one tenant or every tenant;
    /// `default` gives back the rule's own
    Severity {
        /// The rule's id, as `rulewatch rules list` shows it
        rule: String,
        /// low, medium, high, critical, or default
        severity: String,
        /// The tenant id; every tenant when not given
        #[arg(long)]
        tenant: Option<String>,
    },
}

pub(crate) async fn run(g: &Global, cmd: RulesCommand) -> Result<ExitCode> {
    let session = g.session()?;
    match cmd {
        RulesCommand::List { json } => {
            let set = session.rule_severities().await?;
            for rule in RULES {
                let mine: Vec<&SeverityOverride> =
                    set.iter().filter(|o| o.rule == rule.id).collect();
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"rule": rule, "severity_set": mine})
                    );
                    continue;
                }
                println!("{}  {}", rule.id, rule.title);
                println!("    severity: {}", rule.severity);
                for o in mine {
                    println!("    set to {}: {}", o.severity.as_str(), whom(o));
                }
            }
        }
        RulesCommand::Severity {
            rule,
            severity,
            tenant,
        } => {
            let level = match severity.trim().to_ascii_lowercase().as_str() {
                "default" => None,
                other => match Severity::parse(other) {
                    Some(s) => Some(s),
                    None => bail!(
                        "{} is no severity: give low, medium, high, critical, or default for the rule's own",
                        rulewatch_core::shown::shown(&severity)
                    ),
                },
            };
            session
                .set_rule_severity(&rule, tenant.as_deref(), level)
                .await?;
            let scope =
                tenant.map_or_else(|| "every tenant".to_string(), |t| format!("tenant {t}"));
            match level {
                Some(s) => eprintln!(
                    "Alerts of {rule} for {scope} are {} from now on; stored alerts keep theirs.",
                    s.as_str()
                ),
                None => {
                    eprintln!("Alerts of {rule} for {scope} get the rule's own severity again.")
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn whom(o: &SeverityOverride) -> String {
    o.tenant_id
        .as_deref()
        .map_or_else(|| "every tenant".to_string(), |t| format!("tenant {t}"))
}
