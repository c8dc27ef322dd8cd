// One alert's evidence as the detail view shows it: the facts (who, what, from where),
// what the rule looks for, the other alerts about the mailbox, and every parameter of
// the audit record. Each value is text an attacker may have written; all of it goes
// through h().
import type { AlertDetail, AlertStatus, RuleInfo, Severity } from "../api";
import { h, type Child } from "../h";
import {
  FAMILIARITY_TEXT,
  SEVERITIES,
  SEVERITY_LABEL,
  STATUS_LABEL,
  localDateTime,
  locationText,
} from "../format";

export const severityTag = (s: Severity): HTMLElement =>
  h("span", { class: `sev sev-${SEVERITIES.includes(s) ? s : "low"}` }, SEVERITY_LABEL[s] ?? String(s));
export const statusTag = (s: AlertStatus): HTMLElement =>
  h("span", { class: `status status-${s}` }, STATUS_LABEL[s] ?? String(s));

/** What the rule looks for and what else makes it fire, in its own words. */
export function aboutRule(r: RuleInfo | undefined): Child {
  if (!r) return null;
  return h(
    "section",
    { id: "about-rule", "aria-labelledby": "about-rule-title" },
    h("h3", { id: "about-rule-title" }, "About this rule"),
    h("p", { "data-testid": "rule-description" }, r.description),
    h("p", { "data-testid": "rule-false-positives" }, h("strong", null, "Also fires for: "), r.false_positives),
    h("p", { class: "muted" }, `Severity: ${r.severity}. MITRE ATT&CK ${r.attack}.`),
  );
}

function row(label: string, id: string, ...value: Child[]): HTMLElement[] {
  return [h("dt", null, label), h("dd", { id }, ...value)];
}

/** Who changed what, where from and when; `ruleTitle` names a rule id in words. */
export function evidenceFacts(a: AlertDetail, ruleTitle: (id: string) => string): HTMLElement {
  const loc = a.origin?.location ?? null;
  return h(
    "dl",
    { class: "facts" },
    row("Severity", "alert-severity", SEVERITY_LABEL[a.severity] ?? a.severity),
    row("Rule", "alert-rule", ruleTitle(a.rule), " ", h("span", { class: "muted" }, `(${a.rule})`)),
    row("Status", "alert-status", STATUS_LABEL[a.status] ?? a.status),
    a.status === "suppressed" && a.suppressed_by ? row("Suppressed by", "alert-suppressed-by", a.suppressed_by) : [],
    a.status_note ? row("Note", "alert-status-note", a.status_note) : [],
    row("Tenant", "alert-tenant", a.tenant_name, " ", h("span", { class: "muted" }, `(${a.tenant_id})`)),
    row("Mailbox", "alert-target", a.target, a.mailbox ? h("span", { class: "muted", "data-testid": "alert-mailbox-upn" }, ` (${a.mailbox})`) : null),
    row("Changed by", "alert-actor", a.actor),
    row("Operation", "alert-operation", a.operation),
    row("IP address", "alert-ip", a.client_ip ?? "—"),
    loc ? row("Location", "alert-location", locationText(loc)) : [],
    a.origin && a.client_ip ? row("Familiarity", "alert-familiarity", FAMILIARITY_TEXT[a.origin.familiarity] ?? a.origin.familiarity) : [],
    row("Event time", "alert-event-time", localDateTime(a.event_time)),
    row("Detected", "alert-detected-at", localDateTime(a.detected_at)),
    row("Record id", "alert-record-id", a.record_id),
  );
}

/** Every field of the audit record, `Parameters` entries each a row. */
export function parametersTable(a: AlertDetail): HTMLElement {
  return h(
    "table",
    { id: "alert-parameters", class: "params" },
    h("thead", null, h("tr", null, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Value"))),
    h(
      "tbody",
      null,
      a.parameters.map((p) => h("tr", null, h("th", { scope: "row" }, p.name), h("td", null, p.value))),
    ),
  );
}

/** The other alerts about the same mailbox; `open` shows one of them. */
/**
 * The alert's incident as a timeline, oldest first, under the incident's title (which names
 * a takeover chain when the incident holds one); this alert is marked. Nothing for an alert
 * alone in its incident.
 */
export function incidentTimeline(a: AlertDetail, ruleTitle: (id: string) => string, open: (id: number) => void): HTMLElement | null {
  const inc = a.incident;
  if (!inc || inc.alerts.length < 2) return null;
  return h(
    "section",
    { id: "incident-timeline", "aria-labelledby": "incident-timeline-title" },
    h("h3", { id: "incident-timeline-title" }, "Incident timeline"),
    h("p", { "data-testid": "incident-title", class: "wrap" }, severityTag(inc.severity), " ", inc.title),
    h(
      "ol",
      { class: "timeline" },
      inc.alerts.map((x) =>
        h(
          "li",
          { "data-testid": "timeline-alert", "data-alert-id": x.id, "aria-current": x.id === a.id ? "true" : null },
          h(
            "button",
            { type: "button", class: "link", disabled: x.id === a.id, on: { click: () => open(x.id) } },
            localDateTime(x.event_time ?? x.detected_at),
            " · ",
            severityTag(x.severity),
            " ",
            ruleTitle(x.rule),
          ),
          h("div", { class: "muted wrap" }, x.summary),
        ),
      ),
    ),
  );
}

export function relatedList(a: AlertDetail, ruleTitle: (id: string) => string, open: (id: number) => void): HTMLElement {
  return h(
    "ul",
    { id: "alert-related", class: "related" },
    a.related.length
      ? a.related.map((r) =>
          h(
            "li",
            null,
            h(
              "button",
              { type: "button", class: "link", "data-testid": "related-alert", "data-alert-id": r.id, on: { click: () => open(r.id) } },
              severityTag(r.severity),
              " ",
              localDateTime(r.event_time),
              " · ",
              ruleTitle(r.rule),
              " · ",
              STATUS_LABEL[r.status] ?? r.status,
            ),
            h("div", { class: "muted wrap" }, r.summary),
          ),
        )
      : h("li", { class: "muted" }, "No other alert about this mailbox."),
  );
}
