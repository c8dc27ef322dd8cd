import type {
  AlertDetail,
  AlertPage,
  AlertQuery,
  AlertSummary,
  Customer,
  HistoryEntry,
  Incident,
  IncidentStart,
  LogEntry,
  Overview,
  PartnerAccount,
  PartnerState,
  Plan,
  PlannedStep,
  RuleInfo,
  Settings,
  SeverityOverride,
  TrustEntry,
  TrustRequest,
  StepResult,
  TeamStatus,
  TenantStatus,
} from "../src/api";
import { vi } from "vitest";
import { CHANGE_DEBOUNCE_MS, startApp, type App } from "../src/app";
import { severityRank } from "../src/format";
import { SEARCH_DEBOUNCE_MS } from "../src/pages/alerts";
import { emit } from "./tauri-mock";
import { resetMock, state } from "./tauri-mock";

export const HOSTILE_RULE = "<img src=x onerror=alert(1)>";

/** One rule as the registry describes it. */
export const HIDES_MAIL: RuleInfo = {
  id: "inbox-rule-hides-mail",
  title: "Inbox rule hides mail",
  notification: "inbox rule hides mail",
  description: "An inbox rule deletes mail, moves it to a folder nobody opens, or marks it read.",
  false_positives: "Users' own clean-up rules for newsletters.",
  attack: "T1564.008",
  severity: "critical for all mail",
  quieted_by: ["rule_name", "rule"],
  references: ["https://attack.mitre.org/techniques/T1564/008/"],
};
/** A rule about mail leaving the organisation: only a trusted destination quiets it. */
export const FORWARDS: RuleInfo = {
  id: "inbox-rule-external-forward",
  title: "Inbox rule forwards mail outside",
  notification: "inbox rule forwards mail outside",
  description: "An inbox rule forwards or redirects mail to an address outside the organisation.",
  false_positives: "A user forwarding to their own private mailbox.",
  attack: "T1114.003",
  severity: "high; critical for all mail",
  quieted_by: ["destination"],
  references: ["https://attack.mitre.org/techniques/T1114/003/"],
};
export const HOSTILE_SUMMARY = '<script>alert("summary")</script> forwards mail to evil@example.net';
export const HOSTILE_RAW = '{\n  "Name": "</pre><img src=x onerror=alert(2)>"\n}';

export const T1 = "11111111-1111-1111-1111-111111111111";
export const T2 = "22222222-2222-2222-2222-222222222222";

export function overview(over: Partial<Overview> = {}): Overview {
  return {
    sandbox: false,
    tenants: 2,
    open_alerts: 2,
    scanning: null,
    last_scan_at: "2026-11-27T10:42:00Z",
    next_scan_at: "2026-11-27T10:47:00Z",
    paused_until: null,
    error: false,
    endpoints_override: null,
    log_dir: "/home/tech/.local/share/Rulewatch/logs",
    offline: null,
    elsewhere: 0,
    ...over,
  };
}

export function alert(over: Partial<AlertSummary> & { id: number }): AlertSummary {
  return {
    tenant_id: T1,
    tenant_name: "Contoso",
    rule: "forward_external",
    severity: "high",
    operation: "New-InboxRule",
    target: "ceo@contoso.com",
    actor: "ceo@contoso.com",
    client_ip: "203.0.113.9",
    summary: "A rule forwards mail outside the company",
    event_time: "2026-11-27T10:40:00Z",
    detected_at: "2026-11-27T10:42:00Z",
    status: "open",
    status_note: null,
    assignee: null,
    mailbox: null,
    suppressed_by: null,
    origin: null,
    incident_id: over.id,
    ...over,
  };
}

/** Newest first, as the store holds them (alert_page pages them). */
export function alerts(): AlertSummary[] {
  return [
    alert({ id: 5, severity: "critical", rule: HOSTILE_RULE, summary: HOSTILE_SUMMARY, target: "cfo@contoso.com" }),
    alert({ id: 4, severity: "medium", tenant_id: T2, tenant_name: "Fabrikam", target: "ap@fabrikam.com", client_ip: "198.51.100.7", rule: "inbox-rule-hides-mail" }),
    alert({ id: 3, severity: "low", status: "acknowledged", target: "hr@contoso.com", rule: "mark_read_rule" }),
    alert({ id: 2, severity: "high", status: "false_positive", target: "sales@contoso.com" }),
    alert({ id: 1, severity: "critical", status: "suppressed", suppressed_by: "destination partner.example", target: "ceo@contoso.com" }),
  ];
}

/** An open incident; its key is a UUID made from its id. */
export function incident(over: Partial<Incident> & { id: number }): Incident {
  return {
    key: `00000000-0000-4000-8000-${String(over.id).padStart(12, "0")}`,
    tenant_id: T1,
    tenant_name: "Contoso",
    subject: "ceo@contoso.com",
    title: "A rule forwards mail outside the company",
    severity: "high",
    status: "open",
    first_event: "2026-11-27T10:40:00Z",
    last_event: "2026-11-27T10:40:00Z",
    resolved_at: null,
    resolution_note: null,
    alerts: [],
    ...over,
  };
}

/** One open incident per incident of `alerts()` (each fixture alert is its own), newest first. */
export function incidents(): Incident[] {
  return alerts().flatMap((a) =>
    a.incident_id === null
      ? []
      : [incident({ id: a.incident_id, tenant_id: a.tenant_id, tenant_name: a.tenant_name, subject: a.target.toLowerCase(), title: `${a.summary} (${a.target})`, severity: a.severity, first_event: a.event_time, last_event: a.event_time })],
  );
}

export function detail(over: Partial<AlertDetail> & { id: number }): AlertDetail {
  const base = alerts().find((a) => a.id === over.id) ?? alert({ id: over.id });
  return {
    ...base,
    record_id: `rec-${over.id}`,
    details: { destinations: ["evil@example.net"] },
    destinations: ["evil@example.net"],
    parameters: [
      { name: "Name", value: HOSTILE_RULE },
      { name: "ForwardTo", value: "evil@example.net" },
    ],
    raw_record: HOSTILE_RAW,
    related: [],
    incident: null,
    origin: {
      location: {
        ip: "203.0.113.9",
        country_code: "NL",
        country: "Netherlands",
        region: "North Holland",
        city: "Amsterdam",
        asn: 64500,
        network: "Example Hosting BV",
        hosting: false,
        proxy: true,
        source: "ipstack",
      },
      familiarity: "new_country",
    },
    ...over,
  };
}

export function tenants(): TenantStatus[] {
  return [
    {
      tenant_id: T1,
      name: "Contoso",
      state: "ok",
      problem: null,
      message: null,
      last_attempt_at: "2026-11-27T10:42:00Z",
      last_success_at: "2026-11-27T10:42:00Z",
      data_complete_until: "2026-11-27T10:30:00Z",
      open_alerts: 1,
      partner: false,
      cloud: "global",
    },
    {
      tenant_id: T2,
      name: "Fabrikam",
      state: "error",
      problem: "consent",
      message: "Admin consent was revoked",
      last_attempt_at: "2026-11-27T10:42:00Z",
      last_success_at: null,
      data_complete_until: null,
      open_alerts: 1,
      partner: true,
      cloud: "gcc",
    },
  ];
}

export function settings(over: Partial<Settings> = {}): Settings {
  return {
    scan_interval_minutes: 5,
    backfill_hours: 24,
    raw_retention_days: 180,
    bounds: { scan_interval_minutes: [1, 1440], backfill_hours: [1, 167], raw_retention_days: [7, 3650] },
    notify: { low: false, medium: true, high: true, critical: true, colleagues_taken: false },
    start_at_login: true,
    sign_ins: false,
    geo: { provider: "ipstack", key_stored: true },
    remediation_defaults: ["block-sign-in", "revoke-sessions", "reset-password", "disable-rule", "clear-forwarding"],
    ...over,
  };
}

export const PARTNER_TENANT = "99999999-aaaa-bbbb-cccc-dddddddddddd";
export const PARTNER_CLIENT = "88888888-1111-2222-3333-444444444444";
export const C1 = "c1c1c1c1-0000-0000-0000-000000000001";
export const C2 = "c2c2c2c2-0000-0000-0000-000000000002";
export const C3 = "c3c3c3c3-0000-0000-0000-000000000003";

export function partnerAccount(over: Partial<PartnerAccount> = {}): PartnerAccount {
  return {
    tenant_id: PARTNER_TENANT,
    client_id: PARTNER_CLIENT,
    upn: "tech@msp.example",
    signed_in_at: "2026-11-27T09:00:00Z",
    refreshed_at: "2026-11-27T10:40:00Z",
    refresh_expires_at: "2027-02-25T09:00:00Z",
    ...over,
  };
}

export function customer(over: Partial<Customer> & { tenant_id: string }): Customer {
  return {
    name: "Northwind",
    watched: true,
    excluded: false,
    gdap_roles: ["Exchange Administrator", "User Administrator"],
    access: "ok",
    problem: null,
    message: null,
    ...over,
  };
}

/** Signed out, watch all on (the default), nothing listed: what partner_state answers at first. */
export function partnerState(over: Partial<PartnerState> = {}): PartnerState {
  return { account: null, watch_all: true, customers: [], problem: null, problem_kind: null, ...over };
}

/** Signed in with three customers: watched, excluded, and new and not scanned yet. */
export function signedIn(over: Partial<PartnerState> = {}): PartnerState {
  return partnerState({
    account: partnerAccount(),
    customers: [
      customer({ tenant_id: C1, name: "Northwind" }),
      customer({ tenant_id: C2, name: "Tailspin", watched: false, excluded: true, access: null }),
      customer({ tenant_id: C3, name: "Woodgrove", watched: false, access: null }),
    ],
    ...over,
  });
}

/** The technician at this workstation, as the default alert_review answers. */
export const ME = "me";

/** Who holds each alert and each alert's review steps, as the default triage commands keep
 * them (and alert_page and get_alert show). Emptied by `mount`; a test puts a colleague's
 * hold here, before the panel starts or while it runs. */
export const desk = { holders: new Map<number, string>(), history: new Map<number, HistoryEntry[]>() };

/** Adds a step to an alert's review, a minute after the one before (from 11:00 UTC). */
export function deskStep(id: number, technician: string, action: string, note: string | null = null): void {
  const steps = desk.history.get(id) ?? [];
  steps.push({ at: new Date(Date.UTC(2026, 10, 27, 11, steps.length)).toISOString(), technician, action, note });
  desk.history.set(id, steps);
}

/** The allowlist and rule severities the default tuning commands keep, as core would
 * (scopes and values taken as given: core's checks have their own tests). Emptied by `mount`. */
export const tuningDesk = { entries: [] as TrustEntry[], severities: [] as SeverityOverride[] };

/** The refusal the desktop sends when a colleague holds the alert. */
export function heldBy(id: number, who: string): { kind: string; message: string } {
  return { kind: "held_by_colleague", message: `alert ${id} is held by ${who} since 2026-11-27T10:50:00Z; ask them, or take it over` };
}

const withHolder = <T extends AlertSummary>(a: T): T => ({ ...a, assignee: desk.holders.get(a.id) ?? a.assignee });

/** ASCII letters in lower case, the rest as it is: how the store's search ignores case. */
const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/**
 * The page of `list` (newest first) that `q` asks for, as the desktop's store answers it
 * (crates/core/src/store/alerts.rs `alert_page`): "active" is open or acknowledged, severity is
 * ranked, the tenant is its id, the search finds literal text (ASCII case aside) in the summary,
 * mailbox, actor, tenant name, rule id or IP, "mine" is what `me` holds; an offset past the
 * matches gives the last page; the tenants are every alert's, under its newest name.
 */
export function alertPageOf(list: AlertSummary[], q: AlertQuery, me = ME): AlertPage {
  const needle = asciiLower(q.search.trim());
  const matched = list.filter((a) => {
    if (q.status === "active" ? a.status !== "open" && a.status !== "acknowledged" : q.status !== "all" && a.status !== q.status) return false;
    if (q.severity !== null && severityRank(a.severity) < severityRank(q.severity)) return false;
    if (q.tenant !== null && a.tenant_id !== q.tenant) return false;
    if (q.held_by === "mine" && asciiLower(a.assignee ?? "") !== asciiLower(me)) return false;
    if (q.held_by === "nobody" && a.assignee !== null) return false;
    const fields = [a.summary, a.target, a.actor, a.tenant_name, a.rule, a.client_ip ?? ""];
    return !needle || fields.some((f) => asciiLower(f).includes(needle));
  });
  const limit = Math.max(1, q.limit);
  const total = matched.length;
  const offset = q.offset < total ? q.offset : Math.floor(Math.max(total - 1, 0) / limit) * limit;
  const names = new Map<string, string>();
  for (const a of list) if (!names.has(a.tenant_id)) names.set(a.tenant_id, a.tenant_name);
  const tenants = [...names].map(([tenant_id, tenant_name]) => ({ tenant_id, tenant_name }));
  tenants.sort((x, y) => (x.tenant_name < y.tenant_name ? -1 : x.tenant_name > y.tenant_name ? 1 : x.tenant_id < y.tenant_id ? -1 : 1));
  return { alerts: matched.slice(offset, offset + limit), total, offset, tenants };
}

/**
 * The incidents of `list` begun at or after `since`, oldest first, as the desktop's store
 * answers recent_incidents (crates/core/src/store/incidents.rs): an incident begins at its
 * earliest alert's event time (else when it was detected), is as grave as its gravest
 * alert and carries its newest alert's tenant name; suppressed alerts belong to none.
 */
export function incidentStartsOf(list: AlertSummary[], since: string): IncidentStart[] {
  const by = new Map<number, IncidentStart & { newest: number }>();
  for (const a of list) {
    if (a.incident_id === null) continue;
    const at = a.event_time ?? a.detected_at;
    if (at === null) continue;
    const seen = by.get(a.incident_id);
    if (!seen) {
      by.set(a.incident_id, { id: a.incident_id, tenant_id: a.tenant_id, tenant_name: a.tenant_name, severity: a.severity, first_event: at, newest: a.id });
      continue;
    }
    if (Date.parse(at) < Date.parse(seen.first_event)) seen.first_event = at;
    if (severityRank(a.severity) > severityRank(seen.severity)) seen.severity = a.severity;
    if (a.id > seen.newest) {
      seen.newest = a.id;
      seen.tenant_name = a.tenant_name;
    }
  }
  return [...by.values()]
    .filter((i) => Date.parse(i.first_event) >= Date.parse(since))
    .sort((x, y) => Date.parse(x.first_event) - Date.parse(y.first_event) || x.id - y.id)
    .map(({ newest: _, ...start }) => start);
}

/** Default answers for every command; tests override what they look at. */
export function defaultHandlers(): void {
  // Incidents resolved in this test, by key: list_incidents answers them resolved after.
  const resolved = new Map<string, Incident>();
  desk.holders.clear();
  desk.history.clear();
  tuningDesk.entries = [];
  tuningDesk.severities = [];
  state.handlers = {
    overview: () => overview(),
    // Not a command: the alerts the desktop's store holds. A test replaces it, and
    // alert_page and recent_incidents answer from what it gives.
    stored_alerts: () => alerts().map(withHolder),
    alert_page: async (a) => alertPageOf((await state.handlers.stored_alerts(undefined)) as AlertSummary[], a!.query as AlertQuery),
    recent_incidents: async (a) => incidentStartsOf((await state.handlers.stored_alerts(undefined)) as AlertSummary[], a!.since as string),
    list_incidents: (a) => {
      const ids = a!.ids as number[];
      return incidents()
        .filter((i) => ids.includes(i.id))
        .map((i) => resolved.get(i.key) ?? i);
    },
    resolve_incident: (a) => {
      const key = a!.key as string;
      const open = incidents().find((i) => i.key === key && !resolved.has(key));
      if (!open) throw { kind: "invalid_input", message: `no open incident has the key ${key}; \`rulewatch incidents\` lists them` };
      const done: Incident = { ...open, status: "resolved", resolved_at: "2026-11-27T11:00:00Z", resolution_note: (a!.note as string | null) ?? null };
      resolved.set(key, done);
      return done;
    },
    delivery_channels: () => [
      { name: "desktop", kind: "desktop", queued: 0, last_delivered_at: "2026-11-27T10:42:00Z", last_error: null },
      { name: "scan", kind: "scan", queued: 5, last_delivered_at: null, last_error: null },
    ],
    add_channel: () => null,
    add_email_channel: () => null,
    add_psa_channel: () => null,
    psa_companies: () => [],
    map_companies: () => null,
    test_channel: () => null,
    remove_channel: () => null,
    rules: () => [HIDES_MAIL, FORWARDS],
    tuning: () => ({ allowlist: [...tuningDesk.entries], severities: [...tuningDesk.severities] }),
    set_rule_severity: (a) => {
      const [rule, tenant_id, severity] = [a!.rule as string, a!.tenantId as string | null, a!.severity as SeverityOverride["severity"] | null];
      tuningDesk.severities = tuningDesk.severities.filter((o) => !(o.rule === rule && o.tenant_id === tenant_id));
      if (severity !== null) tuningDesk.severities.push({ rule, tenant_id, severity });
      return [...tuningDesk.severities];
    },
    trust: (a) => {
      const r = a!.request as TrustRequest;
      const entry: TrustEntry = {
        id: tuningDesk.entries.length + 1,
        tenant_id: r.tenant_id,
        account: r.account,
        kind: r.kind,
        value: r.value,
        reason: r.reason,
        added_at: "2026-11-27T11:00:00Z",
        added_by: ME,
        expires_at: r.expires === null ? null : "2027-01-01T00:00:00Z",
      };
      tuningDesk.entries.push(entry);
      return entry;
    },
    untrust: (a) => {
      const gone = tuningDesk.entries.find((e) => e.id === a!.id);
      if (!gone) throw { kind: "invalid_input", message: `no allowlist entry ${a!.id as number}` };
      tuningDesk.entries = tuningDesk.entries.filter((e) => e !== gone);
      return gone;
    },
    get_alert: (a) => withHolder(detail({ id: a!.id as number })),
    set_alert_status: (a) => {
      deskStep(a!.id as number, ME, a!.status as string, (a!.note as string | null) ?? null);
      return null;
    },
    alert_review: (a) => {
      const id = a!.id as number;
      return { technician: ME, assignee: desk.holders.get(id) ?? null, history: [...(desk.history.get(id) ?? [])] };
    },
    take_alert: (a) => {
      const id = a!.id as number;
      const who = desk.holders.get(id);
      if (who === ME) return null;
      if (who !== undefined && !a!.force) throw heldBy(id, who);
      desk.holders.set(id, ME);
      deskStep(id, ME, who === undefined ? "took" : `took over from ${who}`);
      return null;
    },
    release_alert: (a) => {
      const id = a!.id as number;
      const who = desk.holders.get(id);
      if (who === undefined) return null;
      if (who !== ME && !a!.force) throw heldBy(id, who);
      desk.holders.delete(id);
      deskStep(id, ME, "released");
      return null;
    },
    note_alert: (a) => {
      const note = a!.note as string;
      if (!note.trim()) throw { kind: "invalid_input", message: "a note cannot be empty" };
      deskStep(a!.id as number, ME, "note", note);
      return null;
    },
    scan_now: () => null,
    list_tenants: () => tenants(),
    add_tenant: () => "in the commercial (global) cloud",
    msp_tenant: () => ({ msp_tenant_id: null, ask: true }),
    test_connection: () => [],
    remove_tenant: () => null,
    get_settings: () => settings(),
    save_settings: () => null,
    start_sandbox: () => null,
    leave_sandbox: () => null,
    remediation_plan: (a) => plan({ alert_id: a!.alertId as number }),
    remediate: (a) => (a!.keys as string[]).map((key, i) => stepResult({ key, action_id: 100 + i })),
    undo_preview: (a) => ({ action_id: a!.actionId as number, mailbox: MAILBOX, restores: `allow ${MAILBOX} to sign in again`, outside: [] }),
    undo_step: () =>
      stepResult({ key: `block-sign-in:${MAILBOX}`, action: "undo-block-sign-in", action_id: 200, reversible: false, detail: "sign-in is allowed again" }),
    alert_history: () => [],
    export_report: () => ["/home/tech/Rulewatch/reports/alert-5.html"],
    partner_state: () => partnerState(),
    partner_sign_in: () => partnerAccount(),
    partner_sign_out: () => null,
    refresh_customers: () => partnerState(),
    set_watch_all: () => null,
    watch_customer: () => null,
    exclude_customer: () => null,
    team_state: () => null,
    join_team: () => teamStatus(),
    leave_team: () => null,
    copy_to_team: () => ({ tenants: 1, allowlist: 0, alerts: 3, steps: 2 }),
    panel_drawn: () => null,
  };
}

/** A workstation in a team, with a colleague's hostile name on duty. */
export function teamStatus(over: Partial<TeamStatus> = {}): TeamStatus {
  return {
    url: "postgres://rulewatch@db.msp.example:5432/rulewatch",
    sslmode: "verify-full",
    workstation: "0d6f3c1e-3b0a-4c55-9f0e-6f1d2c3b4a59",
    joined_at: "2026-11-27T09:00:00Z",
    technicians: [
      { technician: HOSTILE_RULE, on_duty: true, since: "2026-11-27T09:00:00Z" },
      { technician: "bob", on_duty: false, since: "2026-11-27T09:00:00Z" },
    ],
    leases: [],
    tenants: [],
    ...over,
  };
}

/** Lets every pending promise and zero-delay timer run. */
/**
 * Sends `times` change events on a fake clock and runs out the panel's debounce;
 * `justBefore` runs a millisecond before it ends. No test waits on the wall clock.
 */
export async function changed(times = 1, justBefore?: () => void): Promise<void> {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    for (let i = 0; i < times; i++) emit("rulewatch://changed");
    await vi.advanceTimersByTimeAsync(CHANGE_DEBOUNCE_MS - 1);
    justBefore?.();
    await vi.advanceTimersByTimeAsync(1);
  } finally {
    vi.useRealTimers();
  }
  await flush();
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
}

let current: App | null = null;
/** A fresh panel on default answers; `configure` changes answers before it starts. */
export async function mount(configure?: () => void): Promise<App> {
  current?.destroy();
  resetMock();
  defaultHandlers();
  configure?.();
  document.body.replaceChildren();
  const root = document.createElement("div");
  root.id = "app";
  document.body.appendChild(root);
  current = startApp(root);
  await flush();
  return current;
}

export function unmount(): void {
  current?.destroy();
  current = null;
}

export const $ = <T extends HTMLElement = HTMLElement>(sel: string): T => {
  const el = document.querySelector<T>(sel);
  if (!el) throw new Error(`no element ${sel}`);
  return el;
};
export const $$ = <T extends HTMLElement = HTMLElement>(sel: string): T[] => Array.from(document.querySelectorAll<T>(sel));

/** Is the element shown (itself and no ancestor hidden)? */
export function visible(el: Element | null): boolean {
  for (let e: Element | null = el; e; e = e.parentElement) if ((e as HTMLElement).hidden) return false;
  return !!el && el.isConnected;
}

export function rowIds(): number[] {
  return $$("[data-testid=alert-row]").map((r) => Number(r.dataset.alertId));
}

export function setValue(el: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, value: string): void {
  el.value = value;
  el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? "change" : "input", { bubbles: true }));
}

/** Types `text` in the Alerts page's search box and lets its debounce run out, on a fake clock. */
export async function typeSearch(text: string): Promise<void> {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    setValue($<HTMLInputElement>("#search"), text);
    await vi.advanceTimersByTimeAsync(SEARCH_DEBOUNCE_MS);
  } finally {
    vi.useRealTimers();
  }
  await flush();
}

/** A fresh panel on the Alerts page (it opens on the Overview). */
export async function openAlerts(configure?: () => void): Promise<void> {
  await mount(configure);
  $("#nav-alerts").click();
  await flush();
}

/** A fresh panel on the Tenants page (the partner section and the add form live there). */
export async function openTenants(configure?: () => void): Promise<void> {
  await mount(configure);
  $("#nav-tenants").click();
  await flush();
}

/** Sets inputs by id without an input event, as a form read only on submit sees them (`setValue` fires one). */
export function fill(values: Record<string, string>): void {
  for (const [id, v] of Object.entries(values)) $<HTMLInputElement>(`#${id}`).value = v;
}

export const MAILBOX = "cfo@contoso.com";
export const RULE_ID = "cfo@contoso.com\\123456";

export function step(over: Partial<PlannedStep> & { key: string; action: PlannedStep["action"] }): PlannedStep {
  return {
    account: MAILBOX,
    rule_identity: null,
    rule_name: null,
    label: `${over.action} ${MAILBOX}`,
    current: "sign-in is allowed",
    selected: false,
    warning: null,
    ...over,
  };
}

/** A plan for alert 5: the mailbox's account, its hostile rule, a system rule, forwarding. */
export function plan(over: Partial<Plan> = {}): Plan {
  return {
    alert_id: 5,
    tenant_id: T1,
    tenant_name: "Contoso",
    mailbox: MAILBOX,
    resolved_from: null,
    mailbox_id: null,
    actor: MAILBOX,
    actor_differs: false,
    actor_not_offered: null,
    account_enabled: true,
    synced_from_on_premises: false,
    forwarding: { forwarding_smtp_address: "smtp:evil@example.net", forwarding_address: null, deliver_to_mailbox_and_forward: true },
    rules: [
      {
        identity: RULE_ID,
        name: HOSTILE_RULE,
        enabled: true,
        description: `moves mail to RSS Feeds; ${HOSTILE_RULE}`,
        marks: ["inbox-rule-hidden-folder: moves mail to RSS Feeds"],
        about_alert: true,
        system: false,
      },
      { identity: "junk", name: "Junk E-mail Rule", enabled: true, description: "junk mail", marks: [], about_alert: false, system: true },
    ],
    problems: [],
    steps: [
      step({ key: `block-sign-in:${MAILBOX}`, action: "block-sign-in", label: `Block sign-in for ${MAILBOX}`, selected: true }),
      step({ key: `revoke-sessions:${MAILBOX}`, action: "revoke-sessions", label: `Revoke every session of ${MAILBOX}`, selected: true }),
      step({ key: `reset-password:${MAILBOX}`, action: "reset-password", label: `Reset the password of ${MAILBOX}`, selected: true }),
      step({
        key: `disable-rule:${MAILBOX}:${RULE_ID}`,
        action: "disable-rule",
        rule_identity: RULE_ID,
        rule_name: HOSTILE_RULE,
        label: `Disable inbox rule "${HOSTILE_RULE}" (keeps it as evidence)`,
        current: `enabled: ${HOSTILE_RULE}`,
        selected: true,
      }),
      step({
        key: `remove-rule:${MAILBOX}:${RULE_ID}`,
        action: "remove-rule",
        rule_identity: RULE_ID,
        rule_name: HOSTILE_RULE,
        label: `Remove inbox rule "${HOSTILE_RULE}"`,
        current: `enabled: ${HOSTILE_RULE}`,
      }),
      step({
        key: `clear-forwarding:${MAILBOX}`,
        action: "clear-forwarding",
        label: `Clear mailbox forwarding of ${MAILBOX}`,
        current: "forwards all mail to smtp:evil@example.net, keeping a copy",
        selected: true,
      }),
    ],
    ...over,
  };
}

/** As the core answers: reversible only when done and the action can be put back. */
export function stepResult(over: Partial<StepResult> & { key: string }): StepResult {
  const action = over.key.split(":")[0];
  const outcome = over.outcome ?? "done";
  return {
    action_id: 100,
    action,
    account: MAILBOX,
    rule_name: null,
    outcome: "done",
    detail: `${action}: verified`,
    warning: null,
    reversible: outcome === "done" && action !== "revoke-sessions" && action !== "reset-password",
    password: null,
    ...over,
  };
}

export function logEntry(over: Partial<LogEntry> & { id: number }): LogEntry {
  return {
    at: "2026-11-27T10:50:00Z",
    os_user: "tech",
    machine: "DESK-01",
    operator: null,
    tenant_id: T1,
    mailbox: MAILBOX,
    alert_id: 5,
    action: "block-sign-in",
    request: `PATCH /v1.0/users/${MAILBOX} accountEnabled=false`,
    before: { account_enabled: true },
    after: { account_enabled: false },
    result: "done",
    detail: "sign-in is blocked",
    undoes: null,
    prev_hash: "0",
    hash: "1",
    ...over,
  };
}
